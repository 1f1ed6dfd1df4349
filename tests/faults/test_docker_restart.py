"""The Docker engine restarted under a running worker (a private ``dockerd``, the
worker's ``DOCKER_HOST``, so the machine's engine
and its containers are never touched): the batch in flight loses nothing, and since the
engine was back within ``engine_wait_s`` every program of it gets its verdict (the
chunks wait for a container instead of answering ``infra_error``); the worker serves
again once the engine is back, without being restarted itself. Recovery times printed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.dockerd import PrivateDockerd, private_dockerd
from tests.support.redis_proc import start_redis
from tests.support.stack import Stack, run_stack

Json = dict[str, Any]
SERVE_AGAIN_S = 45  # one chunk's container wait (30 s) and a container start, with room
ENGINE_WAIT_S = 60  # the worker's engine_wait_s: far longer than the engine's restart


def _items(tag: str, n: int, sleep_s: float) -> list[Json]:
    return [{"id": str(i), "code": f"import time\ntime.sleep({sleep_s})\nx = {i}  # {tag}\n",
             "tests": {"kind": "assert", "cases": [{"code": f"assert x == {i}"}]}} for i in range(n)]  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateDockerd]:
    with private_dockerd(image=os.environ.get("UTRS_SANDBOX_IMAGE", "utrs-sandbox-python:latest")) as d:
        yield d


@pytest.fixture(scope="module")
def stack(engine: PrivateDockerd) -> Iterator[Stack]:
    with start_redis() as server, run_stack(server.url, workers=0, UTRS_POOL_SIZE="1",
                                            UTRS_ENGINE_WAIT_S=str(ENGINE_WAIT_S)) as s:
        s.start_worker(docker_socket=engine.socket)  # this worker's engine is the private one
        yield s


def _job(stack: Stack, job_id: str) -> Json:
    state: Json = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
    return state


@pytest.fixture(scope="module")
def restarted(engine: PrivateDockerd, stack: Stack) -> float:
    """Restart the engine in the middle of a batch; when it was back (monotonic)."""
    assert engine.client().containers.list(), "the worker's containers are not on the private engine"
    tag = uuid.uuid4().hex
    job_id = httpx.post(f"{stack.url}/v1/jobs", json={"items": _items(tag, 24, 0.25)}, timeout=30).json()["job_id"]
    deadline = time.monotonic() + 60
    while _job(stack, job_id)["done"] < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    stopping = time.monotonic()
    engine.restart()
    back = time.monotonic()
    while _job(stack, job_id)["status"] not in ("done", "failed") and time.monotonic() < back + 120:
        time.sleep(0.2)
    state = _job(stack, job_id)
    statuses = [r["status"] if r else None for r in state["results"]]
    print(f"\ndocker engine down and up again in {back - stopping:.1f} s; the batch settled "
          f"{time.monotonic() - back:.1f} s later: {statuses.count('pass')} pass, "
          f"{statuses.count('infra_error')} infra_error, {statuses.count(None)} lost")  # fmt: skip
    assert None not in statuses, statuses  # nothing lost
    assert back - stopping < ENGINE_WAIT_S / 2, "the engine's restart took too long for this test"
    assert statuses == ["pass"] * 24, statuses  # the chunks waited for the engine: no infra_error
    return back


def test_batch_in_flight_loses_nothing(restarted: float) -> None:
    assert restarted > 0


def test_the_worker_serves_again_once_the_engine_is_back(
    restarted: float, engine: PrivateDockerd, stack: Stack
) -> None:
    served_at = None
    while time.monotonic() < restarted + SERVE_AGAIN_S:
        answer = httpx.post(f"{stack.url}/v1/evaluate", json={"items": _items(uuid.uuid4().hex, 2, 0)}, timeout=120)
        if answer.status_code == 200 and [r["status"] for r in answer.json()["results"]] == ["pass"] * 2:
            served_at = time.monotonic()
            break
        time.sleep(1)
    assert served_at is not None, f"the worker never served again after the engine came back (logs in {stack.logdir})"
    print(f"\nserved again {served_at - restarted:.1f} s after the engine was back")
    assert engine.client().containers.list()
