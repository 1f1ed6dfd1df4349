"""No double runs: an item still running when ``wait_s`` runs out comes back ``pending``
and the client finishes it by polling the job (it is run once); DELETE /v1/jobs/{id}
cancels what has not started, and nothing cancelled runs afterwards."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from client import RewardClient
from client.models import Status
from tests.support.stack import Stack

Json = dict[str, Any]


def _sleepy(n: int, tag: str, sleep_s: float) -> Json:
    return {"id": str(n), "code": f"import time\ntime.sleep({sleep_s})\nx = {n}  # {tag}\n",
            "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"}]}}  # fmt: skip


def test_pending_items_are_finished_by_polling_not_resubmitting(live_stack: Stack) -> None:
    tag = uuid.uuid4().hex
    items = [_sleepy(n, tag, 0.5) for n in range(4)]
    before = live_stack.programs_run()
    raw = httpx.post(f"{live_stack.url}/v1/evaluate", json={"items": items, "wait_s": 0.2}, timeout=60).json()
    assert {r["status"] for r in raw["results"]} == {"pending"}
    assert all(r["rewards"] == {} and raw["job_id"] in r["detail"] for r in raw["results"])
    with RewardClient(live_stack.url, timeout_s=60) as rc:
        results = rc.evaluate([_sleepy(n, tag + "c", 0.5) for n in range(4)], wait_s=0.2)
    assert [r.status for r in results] == [Status.PASS] * 4 and [r.id for r in results] == ["0", "1", "2", "3"]
    deadline = time.monotonic() + 30
    while live_stack.programs_run() < before + 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert live_stack.programs_run() == before + 8  # each program ran exactly once


def test_delete_cancels_what_has_not_started(live_stack: Stack) -> None:
    tag = uuid.uuid4().hex
    n = 60  # bulk chunks of ~100 ms of work: many chunks; one worker with two containers
    body = {"items": [_sleepy(i, tag, 0.3) for i in range(n)]}
    job_id = httpx.post(f"{live_stack.url}/v1/jobs", json=body, timeout=30).json()["job_id"]
    time.sleep(0.5)  # the first chunk has started
    answer = httpx.delete(f"{live_stack.url}/v1/jobs/{job_id}", timeout=30)
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert cancelled["job_id"] == job_id and cancelled["cancelled"] >= n // 2
    assert cancelled["cancelled"] + cancelled["started"] <= n
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = httpx.get(f"{live_stack.url}/v1/jobs/{job_id}", timeout=30).json()
        if state["done"] == n - cancelled["cancelled"]:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    state = httpx.get(f"{live_stack.url}/v1/jobs/{job_id}", timeout=30).json()
    assert state["status"] == "cancelled"
    assert state["done"] == n - cancelled["cancelled"]  # nothing cancelled ran
    assert sum(r is None for r in state["results"]) == cancelled["cancelled"]
    assert httpx.delete(f"{live_stack.url}/v1/jobs/nope", timeout=30).status_code == 404


@pytest.mark.parametrize("lane", ["interactive", "bulk"])
def test_lane_is_accepted_on_both_endpoints(live_stack: Stack, lane: str) -> None:
    body = {"items": [_sleepy(1, uuid.uuid4().hex, 0)], "lane": lane}
    assert httpx.post(f"{live_stack.url}/v1/evaluate", json=body, timeout=60).status_code == 200
    assert httpx.post(f"{live_stack.url}/v1/jobs", json=body, timeout=60).status_code == 202


def test_post_jobs_with_an_idempotency_key_is_safe_to_retry(live_stack: Stack) -> None:
    tag = uuid.uuid4().hex
    body = {"items": [_sleepy(1, tag, 0)], "idempotency_key": f"step-{tag}"}
    first = httpx.post(f"{live_stack.url}/v1/jobs", json=body, timeout=30)
    again = httpx.post(f"{live_stack.url}/v1/jobs", json=body, timeout=30)
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]
    other = httpx.post(f"{live_stack.url}/v1/jobs", json={**body, "idempotency_key": f"other-{tag}"}, timeout=30)
    assert other.json()["job_id"] != first.json()["job_id"]
    # the same key with another body is refused, naming the key: answering the old job
    # would give the caller verdicts of programs it did not send
    changed = {**body, "items": [_sleepy(2, tag, 0)]}
    header = {"Idempotency-Key": f"step-{tag}"}
    for sent in ({"json": changed}, {"json": {"items": changed["items"]}, "headers": header}):
        reused = httpx.post(f"{live_stack.url}/v1/jobs", timeout=30, **sent)  # type: ignore[arg-type]
        assert reused.status_code == 422, reused.text
        assert [e["field"] for e in reused.json()["errors"]] == ["idempotency_key"]
        assert first.json()["job_id"] in reused.json()["errors"][0]["message"]
    deadline = time.monotonic() + 30
    job_url = f"{live_stack.url}/v1/jobs/{first.json()['job_id']}"
    while (done := httpx.get(job_url, timeout=30).json())["status"] != "done":
        assert time.monotonic() < deadline, done
        time.sleep(0.1)
    assert done["total"] == 1 and [(r["id"], r["status"]) for r in done["results"]] == [("1", "pass")]
