"""Chunks of dead workers, taken back within seconds from the service's own heartbeats.

RQ notices an abandoned job only when its registry cleaning runs, under a lock that a dead
worker may hold for up to 15 minutes. So the service does it itself: every worker records
the chunk job it runs in ``P:running`` (worker name -> job id) while it runs it, and beats
in ``P:workers``; every ``worker_maintenance_s`` each worker's presence thread calls
:func:`reap`. A worker whose last beat is older than ``worker_dead_after_s`` is dead, and
whoever takes its ``P:running`` entry (atomically: one reaper wins) takes its chunk back:

* interrupted as many times as its batch allows attempts (``ReplyTo.attempts``, from the
  API's ``job_retries``): its items get ``infra_error``;
* the first time, it is queued again whole, at the front;
* every later time, it is split in two halves (``ChunkJob.part``), each queued at the
  front with one interruption counted: a program that takes its worker down with it ends
  up in a part of its own after a few more deaths, and the others are judged;
* taken off its queue but never started (its worker died between RQ's dequeue and its
  start: RQ's status still says queued): queued again whole, at the front, with nothing
  counted (no program of it ran).

The interrupted job is marked finished (its work lives on in the new jobs), so RQ's own
cleaning, should it come by later, leaves it alone.
"""

from __future__ import annotations

import logging
import time
import uuid

from pydantic import ValidationError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from service.metrics import WorkerCounter
from service.queue.claims import settle
from service.queue.envelope import ChunkJob, failed_chunk
from service.queue.keys import RedisKeys
from service.queue.lines import result_line
from service.queue.plan import infra_error
from service.queue.producer import chunk_job, count_inflight
from service.queue.redis import SyncRedis
from service.queue.results import publish_chunk
from service.settings import Settings

__all__ = ["reap", "recover"]

log = logging.getLogger(__name__)

# HGET + HDEL in one step: of several reapers, exactly one gets the dead worker's job.
_TAKE = "local v = redis.call('HGET', KEYS[1], ARGV[1]) if v then redis.call('HDEL', KEYS[1], ARGV[1]) end return v"


def reap(connection: SyncRedis, settings: Settings, keys: RedisKeys) -> list[str]:
    """Take back the chunks of workers whose heartbeat stopped; their job ids.

    Raises:
        redis.RedisError: the caller translates (it runs in the presence thread).
    """
    cutoff = time.time() - settings.worker_dead_after_s
    dead = [_text(name) for name in connection.zrangebyscore(keys.workers, "-inf", cutoff)]
    taken: list[str] = []
    for name in dead:
        job_id = connection.eval(_TAKE, 1, keys.running, name)
        connection.zrem(keys.workers, name)
        if job_id is None:
            continue
        text = _text(job_id)
        log.warning("worker %s stopped beating; taking back job %s", name, text)
        try:
            recover(connection, settings, keys, text)
        except BaseException:
            connection.hset(keys.running, name, text)  # the next sweep tries again
            raise
        taken.append(text)
    return taken


def recover(connection: SyncRedis, settings: Settings, keys: RedisKeys, job_id: str) -> None:
    """Queue an interrupted chunk job again, split, or answer it (see the module doc)."""
    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return
    queue = Queue(job.origin, connection=connection, serializer=JSONSerializer)
    status = job.get_status()
    # Its worker may have died after taking it off the queue, before RQ marked it started.
    started = status == JobStatus.STARTED
    if not started and (status != JobStatus.QUEUED or connection.lpos(queue.key, job_id) is not None):
        return  # finished meanwhile, another path took it, or still waiting its turn
    try:
        envelope = ChunkJob.model_validate(job.kwargs)
    except ValidationError:
        _give_up(connection, keys, job, "its worker died and its items no longer validate")
        return
    if started:
        interrupts = envelope.interrupts + 1
        n_items = len(envelope.items)
        if interrupts >= envelope.reply.attempts:  # the batch's own retry budget (the API's setting)
            _give_up(connection, keys, job, f"the worker running it died ({interrupts} times)")
            return
        if n_items > 1 and interrupts >= 2:
            half = n_items // 2
            parts = [_part(envelope, 0, half), _part(envelope, half, n_items)]
        else:
            parts = [envelope.model_copy(update={"interrupts": interrupts})]
        suffix = ""
    else:  # no program of it ran: nothing counted, so its new id needs a suffix of its own
        interrupts, parts = envelope.interrupts, [envelope]
        suffix = f"_q{uuid.uuid4().hex[:6]}"
    datas = [chunk_job(p, settings, job_id=_new_id(job_id, p, interrupts) + suffix, at_front=True) for p in parts]
    with connection.pipeline() as pipe:
        queue.enqueue_many(reversed(datas), pipeline=pipe)  # each goes to the front: first part first
        job.set_status(JobStatus.FINISHED, pipeline=pipe)
        pipe.zrem(queue.started_job_registry.key, *_entries(connection, queue, job_id))
        pipe.execute()
    why = f"interruption {interrupts}" if started else "its worker died before it started: not counted"
    log.warning("job %s: re-queued as %s (%s)", job_id, [d.job_id for d in datas], why)


def _part(envelope: ChunkJob, start: int, stop: int) -> ChunkJob:
    return envelope.model_copy(
        update={
            "items": envelope.items[start:stop],
            "cache_keys": envelope.cache_keys[start:stop],
            "offset": envelope.offset + start,
            "part": True,
            "interrupts": 1,
        }
    )


def _give_up(connection: SyncRedis, keys: RedisKeys, job: Job, reason: str) -> None:
    reply, field, n_items = failed_chunk(job.kwargs)
    detail = f"chunk could not be judged: {reason}"
    log.error("job %s: giving up: %s", job.id, detail)
    lines = [result_line(infra_error(detail))] * n_items
    cache_keys = list(job.kwargs.get("cache_keys") or [None] * n_items)
    with connection.pipeline() as pipe:
        publish_chunk(pipe, reply, field, lines)
        settled = settle(pipe, keys, str(job.kwargs.get("batch_id", "")), cache_keys, lines)
        count_inflight(pipe, keys, str(job.kwargs.get("tenant", "anon")), -n_items)
        pipe.hincrby(keys.stats, WorkerCounter.CHUNKS_FAILED, 1)
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        settled.finish(connection, pipe.execute())


def _entries(connection: SyncRedis, queue: Queue, job_id: str) -> list[str]:
    """The started-registry entries (``job_id:execution_id``) of ``job_id``."""
    members = connection.zrange(queue.started_job_registry.key, 0, -1)
    found = [_text(m) for m in members if _text(m).split(":", 1)[0] == job_id]
    return found or [job_id]


def _new_id(job_id: str, part: ChunkJob, interrupts: int) -> str:
    """``<batch>-<chunk>_r<interrupts>_<offset>`` (RQ ids: letters, digits, ``_``, ``-``)."""
    return f"{job_id.split('_r', 1)[0]}_r{interrupts}_{part.offset}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
