"""Timing robustness: more sandbox containers than cores (4 workers of one container on
2 cores). ``limits.timeout_s`` bounds a program's CPU time, which contention does not
stretch; only the wall-clock bound (``UTRS_WALL_FACTOR`` x ``timeout_s``) can turn a
correct program into a ``timeout`` when containers share cores. The rule (docs/sandbox.md):
the wall factor must cover the oversubscription, ``UTRS_WALL_FACTOR`` >= 2 x (sandbox
containers on the host x ``UTRS_CONTAINER_CPUS``) / cores. With it, programs that use
half of their CPU limit never flip to ``timeout``; with the default factor of 2 at twice
as many containers as cores they may (printed, not asserted: it depends on the machine's
other load)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest

from tests.support.redis_proc import start_redis
from tests.support.stack import run_stack

WORKERS, CORES = 4, os.cpu_count() or 2
PER_WORKER = 4
Json = dict[str, Any]


def _burner(n: int, tag: str) -> Json:
    """A correct program that spends 0.5 s of CPU, half of its 1 s limit."""
    code = f"import time\n_t = time.process_time()\nwhile time.process_time() - _t < 0.5:\n    pass\nx = {n}  # {tag}\n"
    return {"id": str(n), "code": code, "limits": {"timeout_s": 1.0},
            "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"}]}}  # fmt: skip


def _timeouts(wall_factor: float) -> tuple[int, list[str]]:
    env = {"UTRS_POOL_SIZE": "1", "UTRS_WALL_FACTOR": str(wall_factor), "UTRS_MAX_TIMEOUT_S": "5",
           "UTRS_LOG_LEVEL": "WARNING"}  # fmt: skip
    with start_redis() as server, run_stack(server.url, workers=WORKERS, **env) as stack:
        tag = uuid.uuid4().hex
        items = [_burner(n, tag) for n in range(WORKERS * PER_WORKER)]
        answer = httpx.post(f"{stack.url}/v1/evaluate", json={"items": items, "lane": "bulk"}, timeout=300).json()
    tests = [t["status"] for r in answer["results"] for t in r["tests"]]
    return tests.count("timeout"), [r["status"] for r in answer["results"]]


@pytest.mark.parametrize("rule", [True, False], ids=["wall-factor-by-the-rule", "default-wall-factor"])
def test_programs_at_half_their_cpu_limit_do_not_flip_to_timeout(rule: bool) -> None:
    factor = max(2.0, 2.0 * WORKERS / CORES) if rule else 2.0
    timeouts, statuses = _timeouts(factor)
    print(f"\n{WORKERS} containers on {CORES} cores, wall factor {factor:g}: {timeouts} of {len(statuses)} "
          f"programs at 50% of their CPU limit timed out (load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    assert set(statuses) <= {"pass", "error"}
    if rule:
        assert timeouts == 0 and statuses == ["pass"] * len(statuses)
