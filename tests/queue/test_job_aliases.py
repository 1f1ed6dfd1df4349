"""Jobs queued by the previous release (import strings ``service.jobs.*``, the envelope
it wrote) still run on this release's workers, through the alias module service.jobs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rq import Callback, Queue
from rq.serializers import JSONSerializer

from service.sandbox.pool import SandboxPool
from service.settings import Settings
from service.worker.main import build_worker

OLD_RUN_CHUNK = "service.jobs.run_chunk"
OLD_ON_CHUNK_FAILURE = "service.jobs.on_chunk_failure"


@pytest.fixture()
def qsettings(redis_server: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(redis_url=redis_server, queue_name=f"old-{tag}", key_prefix=f"old-{tag}")


@pytest.fixture()
def conn(redis_server: str) -> Iterator[redis.Redis[bytes]]:
    client = redis.Redis.from_url(redis_server)
    yield client
    client.close()


def _enqueue_as_previous_release(settings: Settings, conn: redis.Redis[bytes], image: str) -> dict[str, Any]:
    """Exactly what the previous release's ChunkQueue.enqueue put in Redis for one chunk."""
    batch_id = uuid.uuid4().hex
    reply = {"results": f"{settings.key_prefix}:batch:{batch_id}:results",
             "done": f"{settings.key_prefix}:batch:{batch_id}:done", "ttl": 60, "attempts": 1}
    items = [{"id": "a", "code": "x = 1\n", "tests": {"kind": "assert", "cases": [{"code": "assert x == 1"}]}},
             {"id": "b", "code": "x = 2\n", "tests": {"kind": "assert", "cases": [{"code": "assert x == 1"}]}}]
    kwargs = {"batch_id": batch_id, "chunk": 0, "items": items, "cache_keys": [None, None],
              "image": image, "reply": reply}
    queue = Queue(settings.queue_name, connection=conn, serializer=JSONSerializer)
    queue.enqueue(OLD_RUN_CHUNK, kwargs=kwargs, job_timeout=120, result_ttl=60, failure_ttl=60,
                  job_id=f"{batch_id}-0", on_failure=Callback(OLD_ON_CHUNK_FAILURE))
    return reply  # fmt: skip


def _published(conn: redis.Redis[bytes], reply: dict[str, Any]) -> list[dict[str, Any]]:
    assert conn.lrange(reply["done"], 0, -1) == [b"0"]
    raw = conn.hget(reply["results"], "0")
    assert raw is not None
    results: list[dict[str, Any]] = json.loads(raw)
    return results


def test_a_job_queued_under_the_old_import_string_runs(
    qsettings: Settings, conn: redis.Redis[bytes], pool: SandboxPool
) -> None:
    reply = _enqueue_as_previous_release(qsettings, conn, pool.image_version)
    build_worker(qsettings, conn, f"new-{uuid.uuid4().hex[:6]}", pool=pool).work(burst=True, with_scheduler=False)
    assert [r["status"] for r in _published(conn, reply)] == ["pass", "failure"]


def test_the_old_failure_callback_answers_infra_error(qsettings: Settings, conn: redis.Redis[bytes]) -> None:
    reply = _enqueue_as_previous_release(qsettings, conn, "v")
    build_worker(qsettings, conn, f"new-{uuid.uuid4().hex[:6]}").work(burst=True, with_scheduler=False)  # no pool
    results = _published(conn, reply)
    assert [r["status"] for r in results] == ["infra_error"] * 2
    assert "after 1 attempts" in results[0]["detail"] and "no sandbox pool installed" in results[0]["detail"]
