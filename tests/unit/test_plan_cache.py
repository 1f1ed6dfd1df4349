"""The pure parts of the queue layer: cache keys, what is cached, a batch's plan.
(With a real Redis: tests/queue/test_queue.py.)"""

from __future__ import annotations

import json
import time

import pytest

from client.models import Result
from service.budgets import LULL_FRACTION, LULL_MAX_S
from service.queue.cache import ResultCache, cacheable
from service.queue.lines import served_line
from service.queue.plan import BatchPlan, plan_batch
from service.queue.results import lull
from service.settings import Settings
from tests.support.items import adder as _item


def _served(status: str) -> bytes:
    return served_line(Result.model_validate({"status": status}))


def test_cache_key_ignores_id_but_not_what_changes_the_result() -> None:
    cache = ResultCache(prefix="p", ttl_s=10)
    base = _item(1)
    assert cache.key(base, "v1") == cache.key(_item(1, id="other"), "v1")
    different = [
        _item(2),
        _item(1, expect=3),
        _item(1, limits={"timeout_s": 1.0}),
        _item(1, compare="exact"),
        _item(1, prompt="# header\n"),
        _item(1, reward={"scheme": "rltf", "params": {"alpha": 0.5}}),
    ]
    keys = {cache.key(item, "v1") for item in different}
    assert cache.key(base, "v1") not in keys and len(keys) == len(different)
    assert cache.key(base, "v2") != cache.key(base, "v1")


def test_timeouts_and_infra_errors_are_not_cached() -> None:
    assert cacheable({"status": "pass", "tests": [{"status": "pass"}]})
    assert not cacheable({"status": "error", "tests": [{"status": "timeout"}]})
    assert not cacheable({"status": "infra_error", "tests": []})


def test_plan_runs_duplicates_once_and_reassembles_in_order() -> None:
    items = [_item(n % 4, id=str(n)) for n in range(10)]
    keys = [f"k{n % 4}" for n in range(10)]
    hits = {"k3": _served("pass")}
    plan, unique, unique_keys = plan_batch(items, keys, hits, settings=Settings(chunk_size=2))
    assert unique_keys == ["k0", "k1", "k2"] and len(unique) == 3
    assert plan.n_chunks == 2 and plan.chunk_sizes() == [2, 1]
    chunks: dict[int, list[bytes | None]] = {0: [_served("pass"), _served("failure")], 1: [_served("error")]}
    out = [json.loads(line) if line else None for line in plan.assemble(chunks)]
    assert [r["status"] for r in out if r] == ["pass", "failure", "error", "pass"] * 2 + [
        "pass",
        "failure",
    ]
    assert [r["id"] for r in out if r] == [str(n) for n in range(10)]
    assert [r["cached"] for r in out if r][:5] == [False, False, False, True, True]
    assert plan.n_reused() == 7
    assert plan.assemble({0: chunks[0]})[2] is None
    assert BatchPlan.from_json(plan.to_json()) == plan


def test_a_waiter_sleeps_only_while_its_batch_cannot_end_within_the_sleep() -> None:
    """``lull``: nothing while no more chunks are left than can run at once (the last wave
    may end any moment), before a first wave ended (no pace yet), or when the
    concurrency is unknown; otherwise half the time until the last wave can start at the
    batch's pace so far, capped."""
    plan = BatchPlan("b", [None] * 80, list(range(80)), [False] * 80, [], [4] * 20, concurrency=2)
    now = time.monotonic()
    left = lambda n: {str(c) for c in range(20 - n, 20)}  # noqa: E731
    assert lull(plan, left(2), now - 1.0) == 0.0  # the last wave: it may end at once
    assert lull(plan, left(19), now - 1.0) == 0.0  # one chunk done: no wave yet
    assert lull(plan, left(5) | {"f0", "f1", "f2"}, now - 1.0) == pytest.approx(
        LULL_FRACTION * (5 - 2) / (15 / 1.0), rel=0.05
    )  # 15 done in 1 s: 3 chunks before the last wave, 0.2 s; followed runs do not count
    assert lull(plan, left(8), now - 100.0) == LULL_MAX_S  # slow: capped
    unknown = BatchPlan("b", [None] * 80, list(range(80)), [False] * 80, [], [4] * 20)
    assert lull(unknown, left(8), now - 1.0) == 0.0  # concurrency 0: a plan read back from Redis
    assert "concurrency" not in json.loads(plan.to_json())  # not stored
