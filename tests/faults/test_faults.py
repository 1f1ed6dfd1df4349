"""Nothing lost: a worker SIGKILLed in the middle of a chunk, and a Redis restart (AOF).

* Worker killed: its heartbeat in ``P:workers`` stops; within ``worker_dead_after_s`` +
  ``worker_maintenance_s`` another worker takes its chunk back (service/worker/recovery.py)
  and runs it. An in-flight sync request just waits a few seconds longer and gets every
  result; the recovery time is printed and must stay under 15 s with the default
  heartbeat settings. With no retries left, the chunk's items get ``infra_error``.
* Redis restarted with AOF: queued jobs survive; an in-flight sync request keeps waiting
  (it reconnects) and returns the results once a worker has run them; the requests sent
  right after the restart are served (pooled connections are checked and retried), not
  refused with a 503.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.redis_proc import start_redis
from tests.support.stack import Stack, run_stack, serve_app
from tests.support.waiting import wait_until

Json = dict[str, Any]


def _sleepy(n: int, tag: str, sleep_s: float) -> Json:
    return {
        "id": str(n),
        "code": f"import time\ntime.sleep({sleep_s})\nx = {n}  # {tag}\n",
        "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"}]},
    }


class _Call(threading.Thread):
    """A sync /v1/evaluate request in flight while the test breaks things."""

    def __init__(self, url: str, body: Json) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.response: httpx.Response | None = None

    def run(self) -> None:
        self.response = httpx.post(f"{self.url}/v1/evaluate", json=self.body, timeout=120)

    def answer(self) -> Json:
        self.join(timeout=120)
        assert self.response is not None and self.response.status_code == 200
        data: Json = self.response.json()
        return data


# The service's default heartbeat settings (stack_env speeds them up for other tests).
_DEFAULT_BEATS = {"UTRS_WORKER_HEARTBEAT_S": "2", "UTRS_WORKER_DEAD_AFTER_S": "8", "UTRS_WORKER_MAINTENANCE_S": "1"}


@pytest.fixture(scope="module")
def two_workers(redis_server: str) -> Iterator[Stack]:
    with run_stack(redis_server, workers=2, UTRS_CHUNK_SIZE="4", **_DEFAULT_BEATS) as stack:
        wait_until(lambda: len(httpx.get(f"{stack.url}/readyz").json()["problems"]) == 0, 30,
                   "both workers")  # fmt: skip
        yield stack


def _kill_a_busy_worker(stack: Stack) -> float:
    """SIGKILL a worker while it runs a chunk; when it died (monotonic)."""
    busy: list[Any] = []
    wait_until(lambda: busy.extend(stack.busy_workers()) or busy, 30, "a busy worker")
    victim = busy[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    return time.monotonic()


def test_sigkilled_worker_chunk_is_finished_by_another(two_workers: Stack) -> None:
    tag = uuid.uuid4().hex
    call = _Call(two_workers.url, {"items": [_sleepy(n, tag, 0.6) for n in range(16)]})
    call.start()
    killed = _kill_a_busy_worker(two_workers)
    answer = call.answer()
    recovery_s = time.monotonic() - killed
    print(f"\nworker SIGKILLed mid-chunk: every result back {recovery_s:.1f} s after the kill")
    assert [r["status"] for r in answer["results"]] == ["pass"] * 16
    assert [r["id"] for r in answer["results"]] == [str(n) for n in range(16)]
    # 8 s to be declared dead + 1 s sweep + the re-run chunk (4 x 0.6 s) + what the
    # surviving worker still had queued before it.
    assert recovery_s < 15, recovery_s
    two_workers.start_worker()  # back to two (its pool also removes the dead one's containers)


def test_killed_chunk_without_retries_left_is_infra_error(two_workers: Stack) -> None:
    settings = two_workers.settings.model_copy(update={"job_retries": 0})
    tag = uuid.uuid4().hex
    with serve_app(settings) as url:
        call = _Call(url, {"items": [_sleepy(n, tag, 0.6) for n in range(8)]})
        call.start()
        _kill_a_busy_worker(two_workers)
        results = call.answer()["results"]
    statuses = [r["status"] for r in results]
    assert statuses.count("infra_error") == 4 and statuses.count("pass") == 4
    lost = [r for r in results if r["status"] == "infra_error"]
    assert all("worker running it died" in r["detail"] for r in lost)
    assert all(r["rewards"] == {} for r in lost)  # never scored
    two_workers.start_worker()


def test_redis_restart_with_aof_keeps_queued_jobs() -> None:
    with start_redis(aof=True) as server, run_stack(server.url, workers=1) as stack:
        (worker,) = stack.live_workers()
        worker.send_signal(signal.SIGSTOP)  # registered, but consumes nothing
        try:
            tag = uuid.uuid4().hex
            created = httpx.post(f"{stack.url}/v1/jobs", json={"items": [_sleepy(n, tag, 0) for n in range(6)]})
            assert created.status_code == 202, created.text
            call = _Call(stack.url, {"items": [_sleepy(n, tag + "s", 0) for n in range(3)]})
            call.start()
            time.sleep(0.5)  # the sync request is queued and waiting
            server.restart(signal.SIGKILL)  # appendfsync always: nothing acknowledged is lost
        finally:
            worker.send_signal(signal.SIGCONT)
        sync_answer = call.answer()
        assert [r["status"] for r in sync_answer["results"]] == ["pass"] * 3
        # Right after the restart: served on checked connections, not a 503.
        fresh = httpx.post(f"{stack.url}/v1/evaluate", json={"items": [_sleepy(9, tag + "f", 0)]}, timeout=60)
        assert fresh.status_code == 200, fresh.text
        queued = httpx.post(f"{stack.url}/v1/jobs", json={"items": [_sleepy(8, tag + "f", 0)]}, timeout=60)
        assert queued.status_code == 202, queued.text
        job_id = created.json()["job_id"]

        def done() -> bool:
            state = httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()
            return bool(state["status"] == "done")

        wait_until(done, 30, "the job queued before the restart")
        state = httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()
        assert [r["status"] for r in state["results"]] == ["pass"] * 6
