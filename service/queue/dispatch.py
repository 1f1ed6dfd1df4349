"""Lanes and fairness, on top of RQ's fixed list of queues.

RQ pops a worker's queues in the order it listens on them, first come first served within
each. So the service decides the order itself, before RQ sees a chunk:

* two **lanes**, each an RQ queue: ``<queue_name>.interactive`` and ``<queue_name>.bulk``.
  Workers listen on ``[interactive, bulk, <queue_name>]`` (the last for jobs queued by the
  previous release), so an interactive chunk is the next any worker takes;
* within a lane, each tenant (API key; ``anon`` when the API is open) has a **backlog**
  (``P:lane:<lane>:t:<tenant>``, chunk job ids) and the lane a **ring** of the tenants with
  a non-empty backlog (``P:lane:<lane>:ring``). :func:`feed` moves chunk ids from the
  backlogs into the lane's RQ queue, one tenant at a time round the ring, keeping at most
  ``DISPATCH_DEPTH`` ids in the RQ queue: so a tenant's 20,000-program job holds one place
  in the rotation, not the queue;
* the API feeds after it queues a batch; a worker feeds before it listens and again right
  after it took a chunk (so that the next idle worker finds one at once).

Both scripts run atomically in Redis (Lua), so several APIs and workers can feed at once.
Chunk jobs are RQ jobs (RQ's hash, serializer, timeout, retries, failure callback); only
the order in which they reach RQ's queues is ours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from client.models import Lane
from service.queue.keys import RedisKeys, rq_queue_key
from service.queue.redis import AsyncRedis, Pipeline, SyncRedis

__all__ = ["DISPATCH_DEPTH", "LANES", "add_to_backlog", "feed", "feed_async", "lane_queue", "queue_feed", "tenant_of"]

#: Lanes in the order workers take them.
LANES = (Lane.INTERACTIVE, Lane.BULK)
#: Chunk ids a lane's RQ queue holds at most (the rest wait in the backlogs, in turn).
DISPATCH_DEPTH = 2

_ENQUEUE = """
-- KEYS[1] backlog, KEYS[2] ring; ARGV[1] tenant, ARGV[2..] job ids
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if not redis.call('LPOS', KEYS[2], ARGV[1]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
return 1
"""

_FEED = """
-- ARGV[1] key prefix, ARGV[2] depth, then per lane: its name and its RQ queue key
local prefix, depth, moved = ARGV[1], tonumber(ARGV[2]), 0
for l = 3, #ARGV, 2 do
  local lane, queue = ARGV[l], ARGV[l + 1]
  local ring = prefix .. ':lane:' .. lane .. ':ring'
  while redis.call('LLEN', queue) < depth do
    local found = false
    for _ = 1, redis.call('LLEN', ring) do
      local tenant = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
      local backlog = prefix .. ':lane:' .. lane .. ':t:' .. tenant
      local id = redis.call('LPOP', backlog)
      if redis.call('LLEN', backlog) == 0 then redis.call('LREM', ring, 0, tenant) end
      if id then
        redis.call('RPUSH', queue, id)
        moved, found = moved + 1, true
        break
      end
    end
    if not found then break end
  end
end
return moved
"""


def lane_queue(queue_name: str, lane: Lane) -> str:
    """The RQ queue of a lane."""
    return f"{queue_name}.{lane.value}"


def tenant_of(api_key: str | None) -> str:
    """The tenant of an API key in Redis key names: a digest, never the key itself."""
    if not api_key:
        return "anon"
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def add_to_backlog(pipe: Pipeline, keys: RedisKeys, lane: Lane, tenant: str, job_ids: Sequence[str]) -> None:
    """Queue the script that appends ``job_ids`` to the tenant's backlog in ``lane``."""
    if job_ids:
        pipe.eval(_ENQUEUE, 2, keys.backlog(lane.value, tenant), keys.ring(lane.value), tenant, *job_ids)


def _feed_args(keys: RedisKeys, queue_name: str) -> list[Any]:
    args: list[Any] = [keys.prefix, DISPATCH_DEPTH]
    for lane in LANES:
        args += [lane.value, rq_queue_key(lane_queue(queue_name, lane))]
    return args


def feed(connection: SyncRedis, keys: RedisKeys, queue_name: str) -> int:
    """Move chunk ids from the backlogs into the lanes' RQ queues (see the module doc);
    how many moved.

    Raises:
        redis.RedisError: the caller translates.
    """
    return int(connection.eval(_FEED, 0, *_feed_args(keys, queue_name)))


def queue_feed(pipe: Pipeline, keys: RedisKeys, queue_name: str) -> None:
    """Queue :func:`feed`'s script on ``pipe`` (its reply: how many moved)."""
    pipe.eval(_FEED, 0, *_feed_args(keys, queue_name))


async def feed_async(aio: AsyncRedis, keys: RedisKeys, queue_name: str) -> int:
    """:func:`feed` on the async client."""
    return int(await aio.eval(_FEED, 0, *_feed_args(keys, queue_name)))
