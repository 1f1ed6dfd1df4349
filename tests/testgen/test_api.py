"""Test generation over the wire: a real API and a real worker (its sandbox pool, a second
pool under another hash seed per job) on a private queue, driven by httpx, the client and
``utrs testgen``. CI sizes: the stack's ``testgen_*`` settings are small."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client import AsyncRewardClient, RewardClient
from client.cli import main as utrs
from client.models import Item, Reason, Status, TestgenResult, TestgenStatus
from tests.support.stack import Stack, run_stack

SQUARE = '''def square_sum(nums):
    """Return the sum of the squares of a list of integers.

    >>> square_sum([1, 2, 3])
    14
    """
    return sum(n * n for n in nums)
'''
CONSTANT = "def answer(x):\n    return 42\n"
HANGS = "def spin(n: int) -> int:\n    while True:\n        n += 1\n"
CRASHES = "import os\n\ndef die(n: int) -> int:\n    os._exit(3)\n"


@pytest.fixture(scope="module")
def stack(redis_server: str) -> Iterator[Stack]:
    with run_stack(redis_server, workers=1, UTRS_TESTGEN_MAX_CANDIDATES="60", UTRS_TESTGEN_MUTANTS="8",
                   UTRS_TESTGEN_MAX_ITEMS="8", UTRS_TESTGEN_MAX_CODE_BYTES="4096", UTRS_TESTGEN_CHUNK_ITEMS="3",
                   UTRS_CONTAINER_MAX_RUNS="100000") as running:
        yield running


def _post(stack: Stack, body: Any, path: str = "/v1/testgen") -> httpx.Response:
    return httpx.post(f"{stack.url}{path}", json=body, timeout=300)


def test_references_come_back_ok_rejected_with_the_filter_and_hostile_ones_never_lost(stack: Stack) -> None:
    items = [{"id": "sq", "code": SQUARE, "fn_name": "square_sum", "n_tests": 5},
             {"id": "const", "code": CONSTANT, "fn_name": "answer", "inputs": [[1], [2], [3]]},
             {"id": "hang", "code": HANGS, "fn_name": "spin"},
             {"id": "crash", "code": CRASHES, "fn_name": "die"}]
    answer = _post(stack, {"items": items, "wait_s": 240})
    assert answer.status_code == 200, answer.text
    results = {r["id"]: TestgenResult.model_validate(r) for r in answer.json()["results"]}
    assert list(results) == ["sq", "const", "hang", "crash"]
    ok = results["sq"]
    assert ok.status is TestgenStatus.OK and ok.tests is not None and 2 <= ok.stats.tests <= 5
    assert results["const"].status is TestgenStatus.REJECTED and results["const"].reason is Reason.CONSTANT_OUTPUT
    for hostile in ("hang", "crash"):  # rejected (no test survived) or infra_error: never ok, never missing
        assert results[hostile].status in (TestgenStatus.REJECTED, TestgenStatus.INFRA_ERROR), results[hostile]
        assert results[hostile].detail
    with RewardClient(stack.url, timeout_s=120) as rc:  # the tests go unchanged into /v1/evaluate
        right, wrong = rc.evaluate([Item(code=SQUARE, tests=ok.tests),
                                    Item(code=SQUARE.replace("n * n", "n + n"), tests=ok.tests)])
    assert right.status is Status.PASS and wrong.status is not Status.PASS
    # /metrics counts the workers' test generation, rejections by their filter
    samples = {(m.name, tuple(sorted(m.labels.items()))): m.value
               for family in text_string_to_metric_families(httpx.get(f"{stack.url}/metrics", timeout=30).text)
               for m in family.samples}  # fmt: skip
    results_total = "utrs_worker_testgen_results_total"
    assert samples[(results_total, (("reason", ""), ("status", "ok")))] >= 1
    assert samples[(results_total, (("reason", "constant_output"), ("status", "rejected")))] >= 1
    assert samples[("utrs_worker_testgen_chunks_total", ())] >= 2  # 4 items in chunks of 3
    assert samples[("utrs_worker_testgen_seconds_total", ())] > 0


@pytest.mark.parametrize(("body", "status", "named"), [
    ({"items": [{"id": "a", "code": SQUARE}]}, 422, "fn_name"),
    ({"items": [{"id": "a", "code": SQUARE, "fn_name": "not a name"}]}, 422, "fn_name"),
    ({"items": [{"id": "a", "code": SQUARE, "fn_name": "f", "n_tests": 1}]}, 422, "n_tests"),
    ({"items": [{"id": "a", "code": SQUARE, "fn_name": "f", "colour": 1}]}, 422, "colour"),
    ({"items": []}, 422, "items"),
    ({"items": [{"id": str(i), "code": SQUARE, "fn_name": "f"} for i in range(9)]}, 413, "at most 8"),
    ({"items": [{"id": "a", "code": "x = 1\n" * 1000, "fn_name": "f"}]}, 422, "testgen_max_code_bytes"),
])
def test_bad_bodies_and_limits_are_refused_naming_the_field(stack: Stack, body: Any, status: int, named: str) -> None:
    answer = _post(stack, body)
    assert answer.status_code == status, answer.text
    assert named in answer.text


def test_a_testgen_job_is_polled_on_the_jobs_api(stack: Stack) -> None:
    created = _post(stack, {"items": [{"id": "j", "code": SQUARE, "fn_name": "square_sum"}]}, "/v1/testgen/jobs")
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    deadline = time.monotonic() + 240
    while True:
        state = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
        if state["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert state["kind"] == "testgen" and state["status"] == "done" and state["done"] == state["total"] == 1
    assert state["results"][0]["id"] == "j" and state["results"][0]["status"] == "ok"
    assert httpx.get(f"{stack.url}/v1/jobs/tg-{'0' * 32}", timeout=30).status_code == 404


def _poll(stack: Stack, job_id: str, until: set[str], timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state: dict[str, Any] = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
        if state["status"] in until or time.monotonic() > deadline:
            return state
        time.sleep(0.3)


def _numbered(n: int) -> list[dict[str, Any]]:
    """``n`` distinct references (their own code: nothing is shared between items)."""
    return [{"id": f"n{i}", "code": SQUARE.replace("square_sum", f"sq_{i}"), "fn_name": f"sq_{i}"} for i in range(n)]


def test_a_testgen_job_is_cancelled_and_its_unstarted_chunks_never_run(stack: Stack) -> None:
    # 8 items in chunks of 3 on one worker: the first chunk starts, the last has not when
    # the DELETE comes (each chunk takes seconds).
    created = _post(stack, {"items": _numbered(8)}, "/v1/testgen/jobs")
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    cancel = httpx.delete(f"{stack.url}/v1/jobs/{job_id}", timeout=30)
    assert cancel.status_code == 200, cancel.text
    body = cancel.json()
    assert body["job_id"] == job_id and body["cancelled"] + body["started"] == 8 and body["cancelled"] >= 2, body
    deadline = time.monotonic() + 240
    while True:  # the started chunks finish; the rest never comes
        state = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
        if state["done"] >= body["started"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    time.sleep(3)  # time enough for a chunk that would still (wrongly) run to publish
    state = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
    assert state["kind"] == "testgen" and state["status"] == "cancelled" and state["done"] == body["started"], state
    results = state["results"]
    assert sum(r is None for r in results) == body["cancelled"]
    assert all(r is None for r in results[-body["cancelled"]:])  # the last chunks, not started
    assert all(r["status"] == "ok" for r in results if r is not None)
    again = httpx.delete(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
    assert again["cancelled"] == 0  # nothing left to cancel
    assert httpx.delete(f"{stack.url}/v1/jobs/tg-{'0' * 32}", timeout=30).status_code == 404
    # the worker and the in-flight counts are fine: the next job runs to the end
    after = _post(stack, {"items": _numbered(1)}, "/v1/testgen/jobs").json()["job_id"]
    assert _poll(stack, after, {"done"})["status"] == "done"


def test_an_idempotency_key_makes_a_testgen_job_once(stack: Stack) -> None:
    def post(items: list[dict[str, Any]], key: str) -> str:
        answer = httpx.post(f"{stack.url}/v1/testgen/jobs", json={"items": items}, timeout=60,
                            headers={"Idempotency-Key": key})
        assert answer.status_code == 202, answer.text
        job_id: str = answer.json()["job_id"]
        return job_id

    key = f"tg-step-{time.time_ns()}"
    first = post(_numbered(2), key)
    assert post(_numbered(2), key) == first  # a retry: the same job, nothing queued again
    # the same key with another body: refused, naming the key (the old job's results
    # would not be this request's); as POST /v1/jobs
    reused = httpx.post(f"{stack.url}/v1/testgen/jobs", json={"items": _numbered(1)}, timeout=60,
                        headers={"Idempotency-Key": key})
    assert reused.status_code == 422, reused.text
    assert [e["field"] for e in reused.json()["errors"]] == ["Idempotency-Key"]
    assert first in reused.json()["errors"][0]["message"]
    assert post(_numbered(2), key + "-other") != first
    state = _poll(stack, first, {"done"})
    assert state["status"] == "done" and state["total"] == 2 and [r["id"] for r in state["results"]] == ["n0", "n1"]
    # the evaluate jobs' keys are their own: the same key there makes an evaluate batch
    tests = {"kind": "assert", "cases": [{"code": "assert f() == 1"}]}
    evaluate = httpx.post(f"{stack.url}/v1/jobs", timeout=60, headers={"Idempotency-Key": key},
                          json={"items": [{"code": "def f():\n    return 1\n", "tests": tests}]})
    assert evaluate.status_code == 202, evaluate.text
    assert not evaluate.json()["job_id"].startswith("tg-")
    too_long = httpx.post(f"{stack.url}/v1/testgen/jobs", json={"items": _numbered(1)}, timeout=60,
                          headers={"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.text


def test_pending_items_are_finished_by_the_client_from_the_job(stack: Stack) -> None:
    item = {"id": "p", "code": SQUARE.replace("square_sum", "sq2"), "fn_name": "sq2"}
    raw = _post(stack, {"items": [item], "wait_s": 0.05}).json()
    assert raw["results"][0]["status"] == "pending" and raw["job_id"] in raw["results"][0]["detail"]
    with RewardClient(stack.url, timeout_s=240) as rc:
        [result] = rc.testgen([item], wait_s=0.05)
    assert result.id == "p" and result.status is TestgenStatus.OK


def test_the_async_client_generates_too(stack: Stack) -> None:
    async def run() -> list[TestgenResult]:
        async with AsyncRewardClient(stack.url, timeout_s=240) as rc:
            return await rc.testgen([{"id": "a", "code": CONSTANT, "fn_name": "answer", "inputs": [[1], [2]]}])

    [result] = asyncio.run(run())
    assert result.status is TestgenStatus.REJECTED and result.reason is Reason.CONSTANT_OUTPUT


def test_utrs_testgen_writes_the_pipeline_rows_and_resumes(stack: Stack, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mod.py").write_text(SQUARE + "\n\n" + '''def shout(word):
    """Return the word in upper case with an exclamation mark, e.g. shout("hi") == "HI!"."""
    return word.upper() + "!"


def tiny():
    """Too short."""
    return 1
''')
    out = tmp_path / "rows.jsonl"
    args = [str(corpus), "--out", str(out), "--url", stack.url, "--no-language-filter", "--no-decontaminate",
            "--min-tokens", "5", "-q"]
    assert utrs(["testgen", *args]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"].rsplit(":", 1)[-1] for r in rows) == ["shout", "square_sum"]
    assert {"id", "description", "signature", "prompt", "tests", "reference", "source"} <= set(rows[0])
    funnel = json.loads(out.with_name("rows.jsonl.funnel.json").read_text())
    assert funnel["functions_extracted"] == 3 and funnel["after_filters"] == 2
    assert utrs(["testgen", *args]) == 0  # resumed: nothing done twice
    assert len(out.read_text().splitlines()) == 2
