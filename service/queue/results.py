"""A batch's results in Redis: published by workers, waited for and read back by the API.

A chunk's job writes its results as one JSON array into the batch's results hash and
pushes the chunk index onto the batch's ``done`` list, in one transaction
(:func:`publish_chunk`). The sync API waits with ``BLPOP`` on that list, then one
script pops whatever else is on it and reads those chunks, so collecting a batch costs
two Redis round trips per wake-up, at most two per chunk;
``GET /v1/jobs/{id}`` reads the plan, the results hash and the pending chunks' RQ
statuses in two pipelines (:meth:`ResultReader.state`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rq.job import JobStatus

from service.budgets import LULL_FRACTION, LULL_MAX_S, REDIS_RECONNECT_PAUSE_S
from service.errors import ConnectionLost, JobNotFound
from service.queue.envelope import ReplyTo, parse_field
from service.queue.keys import RedisKeys, chunk_job_id, rq_job_key
from service.queue.lines import Line, pack, unpack
from service.queue.plan import BatchPlan
from service.queue.redis import AsyncRedis, Pipeline, translate_redis_errors
from service.settings import Settings

__all__ = ["BatchState", "Chunks", "ResultReader", "follow_results", "lull", "merge_fields", "publish_chunk"]

log = logging.getLogger(__name__)

#: The results read so far, per chunk: the chunk's result lines in order, ``None`` for
#: those of a part (a chunk split after its worker died twice) not published yet.
Chunks = dict[int, list[Line | None]]

# RQ job statuses of a chunk that will never publish its results.
_LOST = frozenset({JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})

_UNREAD = object()  # a token whose value is still to be read

_POP_READ = """
-- KEYS[1] done list, KEYS[2] results hash; ARGV[1] most entries to pop, ARGV[2] the entry
-- BLPOP took. Returns the tokens (a follower field, or a chunk's index for its field or
-- its parts', as _token) and the results hash's value for each (nil: not there).
local entries = redis.call('LPOP', KEYS[1], ARGV[1]) or {}
table.insert(entries, 1, ARGV[2])
local seen, tokens, values = {}, {}, {}
for _, e in ipairs(entries) do
  local t = (string.sub(e, 1, 1) == 'f') and e or string.match(e, '^(%d+)')
  if t and not seen[t] then seen[t] = true; tokens[#tokens + 1] = t end
end
for i = 1, #tokens, 1000 do
  local part = redis.call('HMGET', KEYS[2], unpack(tokens, i, math.min(i + 999, #tokens)))
  for j = 1, #part do values[#values + 1] = part[j] end
end
return {tokens, values}
"""


def publish_chunk(pipe: Pipeline, reply: ReplyTo, field: str, lines: Sequence[bytes]) -> None:
    """Queue the writes that publish one chunk's (or part's) results (worker side), on
    ``pipe``; ``field`` is :attr:`ChunkJob.field`, ``lines`` are ``served_line`` of
    each result, in order (:mod:`service.queue.lines`). A field already published is not overwritten (a chunk run twice,
    e.g. by a worker thought dead, answers with its first run)."""
    pipe.hsetnx(reply.results, field, pack(lines))
    pipe.expire(reply.results, reply.ttl)
    pipe.rpush(reply.done, field)
    pipe.expire(reply.done, reply.ttl)


def merge_fields(
    plan: BatchPlan, raw: Mapping[Any, Any], into: Chunks, *, only: set[int] | None = None
) -> None:
    """Put the published fields of a batch's results hash (``raw``) into ``into``: a whole
    chunk's array as it is, a part's into its chunk's places (``None`` where not yet)."""
    sizes = plan.chunk_sizes()
    for name, value in raw.items():
        if _is_follow(name):
            continue
        chunk, offset = parse_field(name)
        if (only is not None and chunk not in only) or chunk >= len(sizes):
            continue
        results: list[Line | None] = list(unpack(value))
        if offset is None:
            into[chunk] = results
            continue
        slots = into.setdefault(chunk, [None] * sizes[chunk])
        slots[offset : offset + len(results)] = results


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _token(entry: str | bytes) -> str:
    """A done-list entry as a waiter's token: a follower field, or its chunk's index."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    return text if _is_follow(text) else str(parse_field(text)[0])


def _is_follow(name: str | bytes) -> bool:
    return (name[:1] == b"f") if isinstance(name, bytes) else name.startswith("f")


def follow_results(raw: Mapping[Any, Any]) -> dict[str, Line]:
    """The followers' result lines among a batch's results-hash fields (one each)."""
    out: dict[str, Line] = {}
    for name, value in raw.items():
        if _is_follow(name):
            text = name.decode() if isinstance(name, bytes) else name
            out[text] = unpack(value)[0]
    return out


@dataclass
class BatchState:
    """What GET /v1/jobs/{id} needs: the plan, the finished chunks, and lost chunks."""

    plan: BatchPlan
    chunks: Chunks
    started: bool
    lost: list[int]
    cancelled: bool = False
    follows: dict[str, Line] = field(default_factory=dict)


def lull(plan: BatchPlan, pending: set[str], started: float) -> float:
    """How long a waiter may sleep before it waits for the next chunk of ``plan`` without
    delaying its end: 0 unless more of its chunks are left than can run at once
    (``plan.concurrency``); then the batch cannot end before its last wave has started,
    in about ``(left - concurrency) / rate`` at its own pace so far (chunks done since
    ``started``), and the waiter sleeps :data:`LULL_FRACTION` of that, at most
    :data:`LULL_MAX_S` (each API wake-up, a chunk's read, cost ~0.5-1 ms of its CPU)."""
    left = sum(1 for token in pending if not _is_follow(token))
    done = plan.n_chunks - left
    if not plan.concurrency or left <= plan.concurrency or done < plan.concurrency:
        return 0.0
    rate = done / max(time.monotonic() - started, 1e-3)
    return min(LULL_MAX_S, LULL_FRACTION * (left - plan.concurrency) / rate)


class ResultReader:
    """The API side of a batch's results: wait for chunks, read a batch's state."""

    def __init__(self, settings: Settings, aio: AsyncRedis) -> None:
        self.keys = RedisKeys(settings.key_prefix)
        self.aio = aio

    async def wait(
        self, plan: BatchPlan, deadline: float, into: Chunks, follows: dict[str, Line] | None = None
    ) -> None:
        """Collect finished chunks into ``into`` (and the results of the runs the batch
        follows into ``follows``) until all are there or ``deadline`` passes; between two
        wake-ups it sleeps while the batch cannot end yet (:func:`lull`).

        A lost connection (Redis restarting) is retried until the deadline; after one, every
        pending chunk is re-read, since a pop whose answer was lost is not popped again.

        Raises:
            BackendUnavailable: Redis answered with an error.
        """
        got = {} if follows is None else follows
        pending = {str(c) for c in range(plan.n_chunks) if c not in into} | (set(plan.follows.values()) - set(got))
        resync = False
        started = time.monotonic()
        while pending and time.monotonic() < deadline:
            try:
                with translate_redis_errors("waiting for results"):
                    ready = await self._next_done(plan, pending, deadline, resync=resync)
                    resync = False
                    if ready is None:
                        return
                    await self._read(plan, ready, into, got, pending)
                if pause := lull(plan, pending, started):
                    await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            except ConnectionLost as exc:
                log.warning("batch %s: lost Redis while waiting (%s); retrying", plan.batch_id, exc.__cause__)
                resync = True
                await asyncio.sleep(REDIS_RECONNECT_PAUSE_S)

    async def _next_done(
        self, plan: BatchPlan, pending: set[str], deadline: float, *, resync: bool
    ) -> dict[str, Any] | None:
        """What has something newly published: chunk indexes (as text) and follower
        fields, each with its results-hash value as the script read it (all pending ones
        after a reconnect, with ``_UNREAD``); None when nothing came before ``deadline``."""
        if resync:
            return dict.fromkeys(pending, _UNREAD)
        done_key = self.keys.done(plan.batch_id)
        remaining = max(deadline - time.monotonic(), 0.01)
        popped = await self.aio.blpop([done_key], timeout=remaining)
        if popped is None:
            return None
        most = 4 * plan.n_chunks + len(plan.follows)
        keys = (done_key, self.keys.results(plan.batch_id))
        tokens, values = await self.aio.eval(_POP_READ, 2, *keys, most, popped[1])
        return {_token(t): v for t, v in zip(tokens, values, strict=True)}

    async def _read(
        self, plan: BatchPlan, ready: dict[str, Any], into: Chunks, follows: dict[str, Line], pending: set[str]
    ) -> None:
        """Take what is published of the pending ones of ``ready`` (whole chunks, or the
        parts of a split one: those are few, so the whole hash is read for them) and
        followed runs; values ``_UNREAD`` are read here."""
        order = sorted(t for t in ready if t in pending)
        if not order:
            return
        key = self.keys.results(plan.batch_id)
        raw = [ready[t] for t in order]
        if any(value is _UNREAD for value in raw):
            raw = await self.aio.hmget(key, order)
        split = [int(t) for t, value in zip(order, raw, strict=True) if value is None and not _is_follow(t)]
        for token, value in zip(order, raw, strict=True):
            if value is None:
                continue
            if _is_follow(token):
                follows[token] = unpack(_bytes(value))[0]
                pending.discard(token)
            else:
                into[int(token)] = list(unpack(_bytes(value)))
        if split:
            merge_fields(plan, await self.aio.hgetall(key), into, only=set(split))
        pending.difference_update(t for t in order if not _is_follow(t) and int(t) in into and None not in into[int(t)])

    async def state(self, batch_id: str) -> BatchState:
        """Everything GET /v1/jobs/{id} reports.

        Raises:
            JobNotFound: no plan under that id (never made, or expired).
            BackendUnavailable: Redis failed.
        """
        with translate_redis_errors("reading a job"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.get(self.keys.plan(batch_id))
                pipe.hgetall(self.keys.results(batch_id))
                pipe.exists(self.keys.cancelled(batch_id))
                text, raw, cancelled = await pipe.execute()
            if text is None:
                raise JobNotFound(batch_id)
            plan = BatchPlan.from_json(text)
            chunks: Chunks = {}
            merge_fields(plan, raw, chunks)
            pending = [c for c in range(plan.n_chunks) if c not in chunks or None in chunks[c]]
            statuses = await self._rq_statuses(batch_id, pending)
        lost = [c for c, s in zip(pending, statuses, strict=True) if (s is None or s in _LOST) and c not in chunks]
        started = bool(chunks) or JobStatus.STARTED in statuses
        follows = follow_results(raw)
        return BatchState(plan, chunks, started, lost, cancelled=bool(cancelled), follows=follows)

    async def _rq_statuses(self, batch_id: str, chunks: Sequence[int]) -> list[str | None]:
        """RQ's status (a :class:`rq.job.JobStatus` value) of each chunk's job; None: gone."""
        if not chunks:
            return []
        async with self.aio.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                pipe.hget(rq_job_key(chunk_job_id(batch_id, chunk)), "status")
            values = await pipe.execute()
        return [v.decode() if v is not None else None for v in values]
