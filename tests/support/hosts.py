"""Two worker groups on two Docker engines sharing one Redis over TCP, each group (its
worker and its engine's containers) pinned to one core: the stand-in for two hosts that
tests/load/test_two_hosts.py and bench/bench_hosts.py measure."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from tests.support.dockerd import PrivateDockerd, private_dockerd
from tests.support.redis_proc import start_redis
from tests.support.stack import Stack, run_stack

__all__ = ["Hosts", "throughput", "two_hosts"]


@dataclass
class Hosts:
    stack: Stack
    engines: list[PrivateDockerd]

    def start_group(self, index: int) -> None:
        """One worker on engine ``index``, pinned to core ``index`` like its containers."""
        self.stack.start_worker(docker_socket=self.engines[index].socket, cpus=str(index))


@contextlib.contextmanager
def two_hosts(*, pool_size: int = 1) -> Iterator[Hosts]:
    """The API and Redis (loopback TCP) plus two private engines on cores 0 and 1; no
    worker yet (:meth:`Hosts.start_group`)."""
    image = os.environ.get("UTRS_SANDBOX_IMAGE", "utrs-sandbox-python:latest")
    with (
        private_dockerd(image=image, cpus="0") as first,
        private_dockerd(image=image, cpus="1") as second,
        start_redis() as server,
        # each engine pins its containers (its cgroup parent): the pools do not pin them again
        run_stack(server.url, workers=0, UTRS_POOL_SIZE=str(pool_size), UTRS_LOG_LEVEL="WARNING",
                  UTRS_CONTAINER_PIN_CPU="0") as stack,
    ):
        yield Hosts(stack, [first, second])


def _item(i: int, tag: str) -> dict[str, object]:
    return {"code": f"def f():\n    return {i} + 1  # {tag}\n",
            "tests": {"kind": "assert", "cases": [{"code": f"assert f() == {i + 1}"}]}}  # fmt: skip


def throughput(stack: Stack, n: int, *, workers: int) -> tuple[float, list[str]]:
    """Programs per second of one cold bulk job of ``n`` unique programs once ``workers``
    are live; and their statuses."""
    with httpx.Client(base_url=stack.url, timeout=600) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").json().get("workers", 0) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        tag = uuid.uuid4().hex
        items = [_item(i, tag) for i in range(n)]
        started = time.perf_counter()
        job_id = http.post("/v1/jobs", json={"items": items}).json()["job_id"]
        while (state := http.get(f"/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
            time.sleep(0.1)
        wall = time.perf_counter() - started
    return n / wall, [r["status"] for r in state["results"]]
