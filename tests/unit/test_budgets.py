"""Budgets: timeouts nest for every batch admission accepts (chunks sized by budget,
items over max_wait_s refused), and the start-up check."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from client.models import Item
from service.budgets import JOB_MARGIN_S, check_fits_wait, check_item, chunk_sizes, item_budget_s, job_timeout_s
from service.errors import InvalidField
from service.queue.lines import result_line
from service.queue.plan import BatchPlan, plan_batch
from service.settings import Settings

DEFAULTS = Settings()


def _item(cases: int, timeout_s: float = 4.0) -> Item:
    return Item.model_validate(
        {
            "code": "x = 1\n",
            "limits": {"timeout_s": timeout_s},
            "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"} for n in range(cases)]},
        }
    )


def _chunks(items: list[Item], s: Settings) -> list[list[Item]]:
    out, start = [], 0
    for size in chunk_sizes(items, s):
        out.append(items[start : start + size])
        start += size
    return out


def test_the_issues_example_no_longer_needs_more_than_max_wait_s() -> None:
    """32 ten-case items at the default limits needed 3,710 s in one chunk."""
    items = [_item(10) for _ in range(32)]
    assert item_budget_s(items[0], DEFAULTS) == 115.0
    assert job_timeout_s(items, DEFAULTS) == 3710  # what one chunk of 32 needed
    chunks = _chunks(items, DEFAULTS)
    assert [len(c) for c in chunks] == [31, 1]
    assert max(job_timeout_s(c, DEFAULTS) for c in chunks) <= DEFAULTS.max_wait_s


def test_small_items_still_fill_chunks_by_count() -> None:
    assert chunk_sizes([_item(1) for _ in range(70)], DEFAULTS) == [32, 32, 6]
    assert chunk_sizes([], DEFAULTS) == []


def test_an_item_over_max_wait_s_alone_is_refused_naming_the_field_and_the_limit() -> None:
    fits = _item(355)  # 356 * 10 s + 5 s slack + 30 s margin = 3,595 s
    check_fits_wait(fits, DEFAULTS, field="items[0]")
    with pytest.raises(InvalidField) as refused:
        check_fits_wait(_item(356), DEFAULTS, field="items[1]")
    assert refused.value.field == "items[1].limits.timeout_s"
    assert "max_wait_s=3600" in refused.value.message and "356 cases" in refused.value.message


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from([0.1, 1.0, 4.0, 10.0, 30.0])), max_size=80),
    st.integers(1, 64),
)
def test_every_chunk_of_an_admitted_batch_fits_max_wait_s(specs: list[tuple[int, float]], chunk_size: int) -> None:
    s = Settings(chunk_size=chunk_size)
    items = [_item(cases, timeout) for cases, timeout in specs]
    admitted = []
    for item in items:
        try:
            check_item(item, s)
            check_fits_wait(item, s)
        except InvalidField:
            continue
        admitted.append(item)
    chunks = _chunks(admitted, s)
    assert sum(len(c) for c in chunks) == len(admitted)
    assert all(1 <= len(c) <= chunk_size for c in chunks)
    assert all(job_timeout_s(c, s) <= s.max_wait_s for c in chunks)


def test_plans_are_chunked_by_budget() -> None:
    items = [_item(10, timeout_s=float(n % 3 + 1)) for n in range(40)]
    plan, unique, _ = plan_batch(items, [str(n) for n in range(40)], {}, settings=DEFAULTS)
    assert plan.n_unique == len(unique) == 40
    starts = plan.chunk_starts()
    assert all(
        job_timeout_s(unique[start : start + size], DEFAULTS) <= DEFAULTS.max_wait_s
        for start, size in zip(starts, plan.chunks, strict=True)
    )


def test_a_batch_answered_from_the_cache_has_no_chunks() -> None:
    items = [_item(1), _item(2)]
    hits = {"a": result_line({"status": "pass"}), "b": result_line({"status": "pass"})}
    plan, unique, _ = plan_batch(items, ["a", "b"], hits, settings=DEFAULTS)
    assert (unique, plan.chunks, plan.chunk_starts(), plan.n_chunks) == ([], [], [], 0)
    assert [json.loads(r)["cached"] for r in plan.assemble({}) if r] == [True, True]


def test_a_plan_stored_by_the_previous_release_is_read() -> None:
    old = ('{"batch_id":"b","ids":["x","y","z"],"slots":[0,1,2],"repeats":[false,false,false],'
           '"hits":[],"n_unique":3,"chunk_size":2,"created":1.0}')  # fmt: skip
    plan = BatchPlan.from_json(old)
    assert plan.chunks == [2, 1] and plan.n_unique == 3
    line = plan.assemble({1: [result_line({"status": "pass"})]})[2]
    assert line is not None and json.loads(line) == {"status": "pass", "id": "z", "cached": False}
    assert BatchPlan.from_json(plan.to_json()) == plan


def test_start_up_check_names_what_does_not_nest() -> None:
    Settings()  # the defaults nest
    with pytest.raises(ValidationError, match="timeouts must nest"):
        Settings(job_timeout_s=100)  # a one-test program at max_timeout_s may take 129 s
    with pytest.raises(ValidationError, match=f"max_wait_s=150.0 must fit a one-test program .*{129 + JOB_MARGIN_S} s"):
        Settings(job_timeout_s=130, wait_s=140, max_wait_s=150)
    # A chunk never waits for the engine past half its RQ job's timeout.
    assert Settings(job_timeout_s=200, wait_s=300).engine_wait() == 20.0
    assert Settings(engine_wait_s=600, job_timeout_s=200, wait_s=300).engine_wait() == 100.0
