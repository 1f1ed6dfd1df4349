"""Identical items in flight run once: a later batch waits for the run already going.

When a batch is admitted, each program it is about to run *claims* its cache key
(``P:claim:<digest>``, value: the batch id). A program whose key another batch already
claimed does not run again: it *follows* that run, listed under the claim
(``P:claim:<digest>:f``: where its result goes). When the claiming batch's worker
publishes the program's result (or its ``infra_error``, when the chunk failed for good or
was cancelled), the same script copies the result line to every follower's results hash
and done list and removes the claim, so a batch admitted later either follows a run still
going, or finds the result in the cache (or runs it afresh when it was not cacheable).

Both sides are single Lua scripts, so a follower is never added after the result was
copied. A claim lives no longer than a job (``job_ttl_s``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.queue.envelope import ReplyTo
from service.queue.keys import RedisKeys
from service.queue.redis import AsyncRedis, Pipeline, SyncRedis

__all__ = ["Settlement", "claim", "follow_field", "settle"]

_CLAIM = """
-- ARGV[1] batch id, ARGV[2] ttl, ARGV[3] the head of a follower entry ("results\\tdone\\t"),
-- then claim keys. Returns the positions (0-based) of the keys another batch runs now,
-- whose entry's field is follow_field(position): 'f' .. position.
local out = {}
for i = 4, #ARGV do
  local key = ARGV[i]
  local owner = redis.call('GET', key)
  if owner and owner ~= ARGV[1] then
    local position = i - 4
    redis.call('RPUSH', key .. ':f', ARGV[3] .. 'f' .. position .. '\\t' .. ARGV[2])
    redis.call('EXPIRE', key .. ':f', ARGV[2])
    out[#out + 1] = position
  else
    redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
  end
end
return out
"""

_RELEASE = """
-- ARGV[1] batch id, then claim keys: drop each claim of the batch that nobody follows;
-- the positions (1-based) of those that have followers (they are kept for _SETTLE)
local out = {}
for i = 2, #ARGV do
  local key = ARGV[i]
  if redis.call('GET', key) == ARGV[1] then
    if redis.call('EXISTS', key .. ':f') == 1 then out[#out + 1] = i - 1 else redis.call('DEL', key) end
  end
end
return out
"""

_SETTLE = """
-- ARGV[1] batch id, then per program: claim key, result line
local copied = 0
for i = 2, #ARGV, 2 do
  local key, line = ARGV[i], ARGV[i + 1]
  if redis.call('GET', key) == ARGV[1] then
    for _, entry in ipairs(redis.call('LRANGE', key .. ':f', 0, -1)) do
      local results, done, field, ttl = string.match(entry, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$')
      if results and redis.call('HSETNX', results, field, '[\\n' .. line .. '\\n]') == 1 then
        redis.call('EXPIRE', results, ttl)
        redis.call('RPUSH', done, field)
        redis.call('EXPIRE', done, ttl)
        copied = copied + 1
      end
    end
    redis.call('DEL', key, key .. ':f')
  end
end
return copied
"""


def follow_field(index: int) -> str:
    """The results-hash field (and done-list entry) of a batch's ``index``-th follower (the
    claim script writes the same: ``'f' .. position``)."""
    return f"f{index}"


async def claim(
    aio: AsyncRedis, keys: RedisKeys, batch_id: str, reply: ReplyTo, cache_keys: Sequence[str]
) -> list[bool]:
    """Claim the programs a batch is about to run; True for each that follows a run of
    another batch instead (its result will arrive as field :func:`follow_field` of its
    position among the followers, in order).

    Raises:
        redis.RedisError: the caller translates.
    """
    if not cache_keys:
        return []
    # The script answers only the followers' positions (a batch of 2,000 fresh programs
    # used to get 2,000 flags back, parsed one by one), and makes their entries itself.
    head = f"{reply.results}\t{reply.done}\t"
    positions: Any = await aio.eval(_CLAIM, 0, batch_id, reply.ttl, head, *(keys.claim(key) for key in cache_keys))
    follows = [False] * len(cache_keys)
    for position in positions:
        follows[int(position)] = True
    return follows


class Settlement:
    """The end of a batch's claims on the programs it published (:func:`settle`)."""

    def __init__(self, keys: RedisKeys, batch_id: str, pairs: list[tuple[str, bytes]], index: int | None) -> None:
        self.keys, self.batch_id, self.pairs, self.index = keys, batch_id, pairs, index

    def finish(self, connection: SyncRedis, results: Sequence[Any]) -> int:
        """With the publishing pipeline's ``results``: copy the lines of the programs that
        have followers to them (a second script, only then). How many were copied."""
        if self.index is None or not results[self.index]:
            return 0
        args: list[str | bytes] = [self.batch_id]
        for position in results[self.index]:
            args += list(self.pairs[int(position) - 1])
        return int(connection.eval(_SETTLE, 0, *args))


def settle(
    pipe: Pipeline, keys: RedisKeys, batch_id: str, cache_keys: Sequence[str | None], lines: Sequence[bytes]
) -> Settlement:
    """Queue, on the worker's publishing pipeline, the release of the batch's claims on
    these programs: a claim nobody follows is dropped there; call ``finish`` with the
    pipeline's results to copy the others' lines to their followers. Lines cross to Redis
    again only for programs with followers; a follower that comes between the two scripts
    is in the list the second copies to."""
    pairs = [(keys.claim(key), line) for key, line in zip(cache_keys, lines, strict=True) if key is not None]
    if not pairs:
        return Settlement(keys, batch_id, pairs, None)
    pipe.eval(_RELEASE, 0, batch_id, *(key for key, _ in pairs))
    return Settlement(keys, batch_id, pairs, len(pipe) - 1)
