"""A sandbox container killed from outside (``docker kill``) in the middle of a batch: the
worker replaces it and runs the programs it held again, so every item still gets its
right verdict; the time the batch took past the kill is printed."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import docker
import httpx

from tests.support.redis_proc import start_redis
from tests.support.stack import run_stack
from tests.support.waiting import wait_until

Json = dict[str, Any]


def _items(tag: str, n: int, sleep_s: float) -> list[Json]:
    return [{"id": str(i), "code": f"import time\ntime.sleep({sleep_s})\nx = {i}  # {tag}\n",
             "tests": {"kind": "assert", "cases": [{"code": f"assert x == {i}"}]}} for i in range(n)]  # fmt: skip


def test_a_killed_sandbox_container_costs_no_verdict() -> None:
    client = docker.from_env()
    with start_redis() as server, run_stack(server.url, workers=1, UTRS_POOL_SIZE="2") as stack:
        (worker,) = stack.live_workers()
        owner = f"{socket.gethostname()}:{worker.pid}:"

        def mine() -> list[Any]:
            return [c for c in client.containers.list(filters={"label": "utrs.sandbox.owner"})
                    if c.labels.get("utrs.sandbox.owner", "").startswith(owner)]  # fmt: skip

        wait_until(lambda: len(mine()) == 2, 60, "the worker's two containers")
        tag = uuid.uuid4().hex
        job_id = httpx.post(f"{stack.url}/v1/jobs", json={"items": _items(tag, 30, 0.3)}, timeout=30).json()["job_id"]
        wait_until(lambda: httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()["done"] >= 4, 60, "the batch to run")
        victim = mine()[0]
        victim.kill()
        killed = time.monotonic()
        wait_until(lambda: httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()["status"] in ("done", "failed"), 120,
                   "the batch to finish")  # fmt: skip
        state = httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()
        print(f"\nsandbox container killed mid-batch: the batch finished {time.monotonic() - killed:.1f} s later")
        assert [r["status"] for r in state["results"]] == ["pass"] * 30
        assert victim.id not in [c.id for c in mine()]  # replaced
        assert len(mine()) == 2
    client.close()
