"""Redis at its maxmemory (policy noeviction, as deployed): the API refuses new work with
429 once Redis passes ``UTRS_REDIS_MEMORY_HIGH_WATER`` of it, before Redis refuses writes;
at the limit itself requests get 429/503, never a 500; the batch in flight when Redis
filled up loses nothing (its worker keeps the results Redis refused and writes them once
memory is freed), and the service serves again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import redis

from tests.support.redis_proc import start_redis
from tests.support.stack import run_stack

Json = dict[str, Any]
JUNK = "junk-not-utrs"


def _items(tag: str, n: int, sleep_s: float) -> list[Json]:
    return [{"id": str(i), "code": f"import time\ntime.sleep({sleep_s})\nx = {i}  # {tag}\n",
             "tests": {"kind": "assert", "cases": [{"code": f"assert x == {i}"}]}} for i in range(n)]  # fmt: skip


def _fill(conn: redis.Redis, until: float) -> int:  # type: ignore[type-arg]
    """Write junk until Redis uses ``until`` of its maxmemory (or refuses); keys written.
    Past the limit (``until`` > 1) it ends with Redis over its maxmemory, where every write
    is refused: a refused 64 KiB write can leave it a few KiB under, where a small write
    (a chunk's results) would still pass."""
    limit = int(conn.info("memory")["maxmemory"])
    n, size = 0, 65536
    while int(conn.info("memory")["used_memory"]) < until * limit:
        try:
            conn.set(f"{JUNK}:{n}", b"x" * size)
        except redis.exceptions.OutOfMemoryError:
            if until <= 1 or int(conn.info("memory")["used_memory"]) > limit:
                break
            size = 1024  # under the limit again: small writes until it is over
        n += 1
    return n


def test_redis_at_maxmemory_refuses_before_it_breaks_and_loses_nothing() -> None:
    options = ("--maxmemory", "48mb", "--maxmemory-policy", "noeviction")
    with start_redis(extra=options) as server, run_stack(server.url, workers=1) as stack:
        conn = redis.Redis.from_url(server.url)
        tag = uuid.uuid4().hex
        in_flight = httpx.post(f"{stack.url}/v1/jobs", json={"items": _items(tag, 12, 0.3)}, timeout=30)
        assert in_flight.status_code == 202
        _fill(conn, 0.9)
        refused = httpx.post(f"{stack.url}/v1/evaluate", json={"items": _items(tag + "a", 1, 0)}, timeout=30)
        assert refused.status_code == 429 and "UTRS_REDIS_MEMORY_HIGH_WATER" in refused.json()["detail"]
        assert refused.headers["Retry-After"]
        _fill(conn, 1.2)  # to the limit: Redis itself refuses writes now
        full = [httpx.post(f"{stack.url}/v1/jobs", json={"items": _items(tag + f"b{i}", 1, 0)}, timeout=30)
                for i in range(5)]  # fmt: skip
        assert {r.status_code for r in full} <= {429, 503}, [r.text for r in full]
        time.sleep(6)  # the batch in flight (12 x 0.3 s) finishes while Redis is full
        freed = time.monotonic()
        for key in conn.scan_iter(f"{JUNK}:*", count=1000):
            conn.delete(key)
        job_id = in_flight.json()["job_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = httpx.get(f"{stack.url}/v1/jobs/{job_id}", timeout=30).json()
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        print(f"\nredis at maxmemory: the batch in flight done {time.monotonic() - freed:.1f} s after memory was freed")
        assert state["status"] == "done" and [r["status"] for r in state["results"]] == ["pass"] * 12
        # Its results were kept and written once memory was freed, not judged again.
        log = "".join(path.read_text() for path in stack.logdir.glob("w*.log"))
        assert "redis is full; writing again" in log and "attempt failed" not in log, log[-3000:]
        served = httpx.post(f"{stack.url}/v1/evaluate", json={"items": _items(tag + "c", 2, 0)}, timeout=60)
        assert served.status_code == 200 and [r["status"] for r in served.json()["results"]] == ["pass"] * 2
        conn.close()
