"""Redis at its maxmemory (policy noeviction, as deployed): the API refuses new work with
429 once Redis passes ``UTRS_REDIS_MEMORY_HIGH_WATER`` of it, before Redis refuses writes;
at the limit itself requests get 429/503, never a 500; the batch in flight when Redis
filled up loses nothing (its worker keeps the results Redis refused and writes them once
memory is freed), and the service serves again."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
import redis

import service.queue.redis as redis_clients
import service.worker.main as worker_main
from service.errors import RedisFull
from tests.support.redis_proc import start_redis
from tests.support.stack import run_stack

Json = dict[str, Any]
JUNK = "junk-not-utrs"
SQUEEZE = 1 << 20


def _items(tag: str, n: int, sleep_s: float) -> list[Json]:
    return [{"id": str(i), "code": f"import time\ntime.sleep({sleep_s})\nx = {i}  # {tag}\n",
             "tests": {"kind": "assert", "cases": [{"code": f"assert x == {i}"}]}} for i in range(n)]  # fmt: skip


def _fill(conn: redis.Redis, until: float) -> int:  # type: ignore[type-arg]
    """Write junk until Redis uses ``until`` (< 1) of its maxmemory; keys written."""
    limit = int(conn.info("memory")["maxmemory"])
    n = 0
    while int(conn.info("memory")["used_memory"]) < until * limit:
        conn.set(f"{JUNK}:{n}", b"x" * 65536)
        n += 1
    return n


def _squeeze(conn: redis.Redis) -> int:  # type: ignore[type-arg]
    """Put Redis over its maxmemory by ``SQUEEZE`` bytes, by lowering the limit below what
    it uses: every write is refused until :func:`_release`. (Writing junk up to the limit
    leaves Redis a refused write's size under it, give or take keys that expire
    meanwhile; a small write may still pass, and whether the next refusal comes at once
    depends on the machine.) Returns the limit it had."""
    memory = conn.info("memory")
    conn.config_set("maxmemory", int(memory["used_memory"]) - SQUEEZE)
    return int(memory["maxmemory"])


def _release(conn: redis.Redis, limit: int) -> None:  # type: ignore[type-arg]
    for key in conn.scan_iter(f"{JUNK}:*", count=1000):
        conn.delete(key)
    conn.config_set("maxmemory", limit)


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
        limit = _squeeze(conn)  # past the limit: Redis itself refuses writes now
        full = [httpx.post(f"{stack.url}/v1/jobs", json={"items": _items(tag + f"b{i}", 1, 0)}, timeout=30)
                for i in range(5)]  # fmt: skip
        assert {r.status_code for r in full} <= {429, 503}, [r.text for r in full]
        time.sleep(6)  # the batch in flight (12 x 0.3 s) finishes while Redis is full
        freed = time.monotonic()
        _release(conn, limit)
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


def test_a_worker_waits_out_a_full_redis_however_long_instead_of_exiting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """After its work loop quit on a refused write, a worker waits for Redis to take writes
    again, past the window a chunk's results are held for (``PUBLISH_WHILE_FULL_S``, here
    shortened to 0.2 s): it used to raise there and exit with its warm pool. The endless
    wait logs at attempts 1, 2, 4, ..., not at every one."""
    monkeypatch.setattr(redis_clients, "PUBLISH_WHILE_FULL_S", 0.2)
    options = ("--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
    with start_redis(extra=options) as server:
        conn = redis.Redis.from_url(server.url)
        _fill(conn, 0.5)
        limit = _squeeze(conn)
        with pytest.raises(RedisFull):  # the shortened window, as a chunk's publish sees it
            for attempt in redis_clients.while_full():
                with attempt, redis_clients.translate_redis_errors("a test write"):
                    conn.set("probe", b"1")
        releaser = threading.Timer(1.5, _release, (conn, limit))
        releaser.start()
        started = time.monotonic()
        caplog.clear()
        try:
            with caplog.at_level(logging.WARNING, logger=redis_clients.log.name):
                worker_main._await_writes(conn, "utrs-test:probe")
        finally:
            releaser.join()
        assert time.monotonic() - started >= 1.4 and conn.get("utrs-test:probe") == b"1"
        logged = [int(r.getMessage().rsplit(" ", 1)[1].rstrip(")")) for r in caplog.records]
        assert logged[:3] == [1, 2, 4] and all(n & (n - 1) == 0 for n in logged), logged
        conn.close()
