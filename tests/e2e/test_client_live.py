"""The client against the real service: uvicorn + RQ worker + Docker sandbox.

HumanEval canonical solutions and wrong variants through the sync and async clients,
the jobs API, chunking past the server's batch limit, and the retry rules: a real 429
from a lowered high-water mark, a real 503 with Redis stopped, and no retry on 422.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client import (
    AsyncRewardClient,
    Item,
    RequestRejected,
    RewardClient,
    ServiceUnavailable,
    Status,
)
from client.builders import from_humaneval, item
from tests.support.redis_proc import start_redis
from tests.support.stack import Stack, run_stack

pytestmark = pytest.mark.slow

WRONG = {
    "none": "    return None\n",
    "syntax": "    return (\n",
    "name": "    return undefined_name\n",
}


def canonical(records: list[dict[str, Any]]) -> list[Item]:
    return [from_humaneval(r, r["canonical_solution"]) for r in records]


def wrong(records: list[dict[str, Any]], kind: str) -> list[Item]:
    return [from_humaneval(r, WRONG[kind], id=f"{r['task_id']}:{kind}") for r in records]


class Requests:
    """Counts the requests a client really sends (an httpx event hook)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, response: httpx.Response) -> None:
        with self._lock:
            self.seen.append(
                (response.request.method, response.request.url.path, response.status_code)
            )

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for _, p, s in self.seen if p == path and status in (None, s))


def counted_client(url: str, **kwargs: Any) -> tuple[RewardClient, Requests]:
    requests = Requests()
    http = httpx.Client(base_url=url, timeout=120, event_hooks={"response": [requests]})
    return RewardClient(url, http=http, **kwargs), requests


def sleepy(n: int, seconds: float, tag: str) -> list[Item]:
    """Distinct slow programs (no cache hits, no in-batch dedup)."""
    return [
        item(f"import time\ntime.sleep({seconds})  # {tag}-{i}\n", ["assert True"], id=f"{tag}{i}")
        for i in range(n)
    ]


# --------------------------------------------------------------------------- sync


def test_sync_humaneval_canonical_all_pass_in_order(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    items = canonical(humaneval)
    with RewardClient(live_service, max_batch=64) as client:
        results = client.evaluate(items)
    assert [r.id for r in results] == [r["task_id"] for r in humaneval]
    failed = {r.id: (r.status, r.error) for r in results if r.status is not Status.PASS}
    assert failed == {}
    assert all(r.passed == r.total == 1 and r.rewards for r in results)


def test_sync_humaneval_wrong_variants_never_pass(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    records = humaneval[:40]
    items = [x for kind in WRONG for x in wrong(records, kind)]
    with RewardClient(live_service) as client:
        results = client.evaluate(items)
    assert [r.id for r in results] == [x.id for x in items]
    by_kind = {kind: results[i * 40:(i + 1) * 40] for i, kind in enumerate(WRONG)}
    assert all(r.status in (Status.FAILURE, Status.ERROR) for r in results)
    syntax = by_kind["syntax"]
    assert all(r.status is Status.ERROR and r.error and r.error.subtype == "syntax" for r in syntax)
    name = by_kind["name"]
    assert all(r.error and r.error.subtype == "name" for r in name)
    assert all(r.rewards.get("coarse") is not None for r in results)


# -------------------------------------------------------------------------- async


def test_async_client_interleaved_right_and_wrong(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    records = humaneval[40:100]
    items = [x for pair in zip(canonical(records), wrong(records, "none"), strict=True)
             for x in pair]

    async def run() -> list[Any]:
        async with AsyncRewardClient(live_service, max_batch=16, concurrency=3) as client:
            return await client.evaluate(items)

    results = asyncio.run(run())
    assert [r.id for r in results] == [x.id for x in items]
    assert [r.status is Status.PASS for r in results] == [True, False] * len(records)


def test_async_jobs_api(live_service: str, humaneval: list[dict[str, Any]]) -> None:
    items = canonical(humaneval[100:110])

    async def run() -> tuple[Any, list[Any], list[Any]]:
        async with AsyncRewardClient(live_service) as client:
            job_id = await client.submit(items)
            results = await client.wait(job_id, poll_s=0.1, timeout_s=120)
            again = [r async for r in client.iter_results(job_id)]
            return await client.status(job_id), results, again

    status, results, again = asyncio.run(run())
    assert status.status == "done"
    assert status.done == status.total == 10
    assert [r.id for r in results] == [x.id for x in items] == [r.id for r in again]
    assert all(r.status is Status.PASS for r in results)


# --------------------------------------------------------------------------- jobs


def test_sync_jobs_api_streams_results_in_order(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    items = canonical(humaneval[110:140]) + wrong(humaneval[110:120], "syntax")
    with RewardClient(live_service) as client:
        job_id = client.submit(items)
        first = client.status(job_id)
        assert first.status in ("queued", "running", "done")
        assert first.total == 40
        streamed = list(client.iter_results(job_id, poll_s=0.05, timeout_s=120))
        waited = client.wait(job_id, timeout_s=30)
        with pytest.raises(RequestRejected) as caught:
            client.status("no-such-job")
    assert caught.value.status_code == 404
    assert [r.id for r in streamed] == [x.id for x in items] == [r.id for r in waited]
    assert Counter(r.status for r in streamed) == {Status.PASS: 30, Status.ERROR: 10}


# ---------------------------------------------------------------- refusals (422)


def test_server_side_422_is_not_retried_and_names_the_field(live_service: str) -> None:
    too_long = item("x = 1\n", ["assert x == 1"], limits={"timeout_s": 10_000})
    client, requests = counted_client(live_service, max_batch=8, max_retries=5)
    with client, pytest.raises(RequestRejected) as caught:
        client.evaluate([item("y = 1\n", ["assert y"]), too_long])
    assert caught.value.status_code == 422
    assert "items[1].limits.timeout_s" in caught.value.detail
    assert requests.count("/v1/evaluate") == 1


# --------------------------------------------- a small server: chunking and 429


@pytest.fixture(scope="module")
def small_stack(redis_server: str) -> Iterator[Stack]:
    """max_batch=8, high-water mark 24 programs, 4 programs per RQ job, Retry-After 1."""
    with run_stack(
        redis_server,
        UTRS_MAX_BATCH="8",
        UTRS_QUEUE_HIGH_WATER="24",
        UTRS_CHUNK_SIZE="4",
        UTRS_RETRY_AFTER_S="1",
    ) as stack:
        yield stack


def test_batch_larger_than_the_server_limit_is_chunked(
    small_stack: Stack, humaneval: list[dict[str, Any]]
) -> None:
    items = canonical(humaneval[:30])
    client, requests = counted_client(small_stack.url, max_batch=8, concurrency=2)
    with client:
        results = client.evaluate(items)
    assert [r.id for r in results] == [x.id for x in items]
    assert all(r.status is Status.PASS for r in results)
    assert requests.count("/v1/evaluate", 200) == 4  # 8 + 8 + 8 + 6
    assert requests.count("/v1/evaluate", 413) == 0


def test_server_limit_is_asked_from_v1_limits(small_stack: Stack, humaneval: list[dict[str, Any]]) -> None:
    items = canonical(humaneval[30:60])
    client, requests = counted_client(small_stack.url)  # max_batch=None: ask the server
    with client:
        results = client.evaluate(items)
        assert client.max_batch() == 8
    assert [r.id for r in results] == [x.id for x in items]
    assert all(r.status is Status.PASS for r in results)
    assert requests.count("/v1/limits", 200) == 1
    assert requests.count("/v1/evaluate", 413) == 0


def test_chunks_over_the_server_limit_are_halved_on_413_and_remembered(
    small_stack: Stack, humaneval: list[dict[str, Any]]
) -> None:
    items = canonical(humaneval[60:90])
    client, requests = counted_client(small_stack.url, max_batch=64)  # wrong: the server takes 8
    with client:
        results = client.evaluate(items)
        assert client.max_batch() <= 8
    assert [r.id for r in results] == [x.id for x in items]
    assert all(r.status is Status.PASS for r in results)
    assert requests.count("/v1/evaluate", 413) >= 1


def test_429_from_the_high_water_mark_is_retried_after_retry_after(small_stack: Stack) -> None:
    tag = uuid.uuid4().hex[:6]
    with RewardClient(small_stack.url, max_retries=0) as filler:
        jobs = [filler.submit(sleepy(8, 1.0, f"{tag}-fill{j}-")) for j in range(3)]
        # 24 slow programs in 6 RQ jobs; the worker holds one: >= 20 still queued.
        with pytest.raises(ServiceUnavailable) as refused:
            filler.evaluate(sleepy(8, 0.0, f"{tag}-late-"))
    assert refused.value.status_code == 429
    assert refused.value.retry_after == 1.0

    # Each refused attempt claimed its programs before admission said no: the claims must
    # go with the refusal, or the retry follows a run that never comes (it hung until
    # wait_s before the fix).
    client, requests = counted_client(small_stack.url, max_batch=8, max_retries=30)
    started = time.monotonic()
    with client:
        results = client.evaluate(sleepy(8, 0.0, f"{tag}-patient-"))
        for job_id in jobs:
            client.wait(job_id, timeout_s=120)
    assert all(r.status is Status.PASS for r in results)
    refusals = requests.count("/v1/evaluate", 429)
    assert refusals >= 1
    assert requests.count("/v1/evaluate", 200) == 1
    assert time.monotonic() - started >= refusals * 1.0  # honoured Retry-After: 1


# ------------------------------------------------------------- 503: Redis stopped


def test_503_with_redis_stopped_is_retried_until_it_is_back(
    humaneval: list[dict[str, Any]],
) -> None:
    items = canonical(humaneval[60:64])
    with start_redis() as redis_proc, run_stack(redis_proc.url) as stack:
        with RewardClient(stack.url) as warm:
            assert all(r.status is Status.PASS for r in warm.evaluate(items[:1]))
        redis_proc.stop()
        with RewardClient(stack.url, max_retries=0) as impatient, \
                pytest.raises(ServiceUnavailable) as refused:
            impatient.evaluate(items)
        assert refused.value.status_code == 503

        def come_back() -> None:
            # Longer than the API's own retries on a dropped connection (~1.8 s,
            # service/budgets.py), which would otherwise bridge the outage: the client
            # must see the 503 and retry it.
            time.sleep(5.0)
            redis_proc.start()
            stack.start_worker(wait=False)  # the old worker may not survive the outage

        restarter = threading.Thread(target=come_back)
        restarter.start()
        client, requests = counted_client(stack.url, max_retries=10)
        with client:
            results = client.evaluate(items)
        restarter.join()
    assert all(r.status is Status.PASS for r in results)
    assert requests.count("/v1/evaluate", 503) >= 1
    assert requests.count("/v1/evaluate", 200) == 1


# ------------------------- idempotency and pending, client and server together
#
# The client sends Idempotency-Key on POST /v1/jobs and finishes "pending" results by
# polling their job (tests/unit/test_client_transport.py, scripted); here the real server
# dedupes the key and answers unfinished items "pending".


def test_a_retried_submission_with_the_same_key_makes_one_job(live_service: str) -> None:
    items = sleepy(2, 0.0, f"{uuid.uuid4().hex[:6]}-idem-")
    with RewardClient(live_service) as client:
        key = uuid.uuid4().hex
        first = client.submit(items, idempotency_key=key)
        again = client.submit(items, idempotency_key=key)  # a POST retried after a lost answer
        client.wait(first, timeout_s=60)
    assert again == first


def test_a_batch_that_outlives_wait_s_is_finished_not_lost(live_service: str) -> None:
    """The unfinished items come back 'pending' and are polled from the job: every item
    ends judged."""
    tag = uuid.uuid4().hex[:6]
    client, requests = counted_client(live_service, max_batch=16, max_retries=10)
    with client:
        results = client.evaluate(sleepy(4, 1.5, f"{tag}-late-"), wait_s=0.5)
    assert [r.status for r in results] == [Status.PASS] * 4
    assert requests.count("/v1/evaluate", 200) >= 1


def test_a_batch_that_outlives_wait_s_is_polled_never_resent(live_service: str) -> None:
    tag = uuid.uuid4().hex[:6]
    client, requests = counted_client(live_service, max_batch=16, max_retries=1)
    with client:
        results = client.evaluate(sleepy(4, 1.0, f"{tag}-pending-"), wait_s=0.5)
    assert [r.status for r in results] == [Status.PASS] * 4
    assert requests.count("/v1/evaluate") == 1  # the rest came from GET /v1/jobs/{job_id}
    assert sum(1 for _, path, _ in requests.seen if path.startswith("/v1/jobs/")) >= 1
