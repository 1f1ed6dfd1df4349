"""Result cache: identical items are answered from Redis without running.

Two items are identical when everything that can change their result is equal: the code,
prompt, tests, limits, compare mode, reward spec and other options (everything but the
client's ``id``), the sandbox image version and the service's result schema. The key is a
SHA-256 of that, so a new image or a new release never answers from stale entries.

The API looks keys up (one ``MGET`` per batch, :meth:`ResultCache.lookup`); the worker
that ran a chunk stores its results (in the same pipeline that publishes the chunk). Not
stored: ``infra_error`` results (the service could not judge them) and results with a
timed-out test (a timeout depends on the load of the machine at the time, so a re-run may
well differ). What is stored is the worker's strict UTF-8 line (:mod:`service.text`), and
every entry is validated as a ``Result`` when it is read: an entry that does not validate
(written by a release with another rule, or damaged) is a miss and is deleted, never served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pydantic import ValidationError

from client.models import Item, Result, Status, TestStatus
from service.queue.envelope import ResultData
from service.queue.keys import RedisKeys
from service.queue.lines import Line
from service.queue.redis import AsyncRedis, Pipeline, translate_redis_errors

__all__ = ["RESULT_SCHEMA", "ResultCache", "cacheable"]

# Bump when the meaning of a cached Result changes (feedback, rewards, wire fields).
RESULT_SCHEMA = "utrs-result-2"  # 2: agent v2 (harness trust, shared cases by default)

_STORE = """
-- KEYS: cache keys; ARGV[1] ttl, then the lines, in the keys' order
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
"""


def cacheable(result: ResultData | Result) -> bool:
    """Whether a result (a ``Result`` or its JSON data) may be answered again from the cache."""
    if isinstance(result, Result):
        if result.status in (Status.INFRA_ERROR, Status.PENDING):
            return False
        return all(test.status is not TestStatus.TIMEOUT for test in result.tests)
    if result.get("status") in (Status.INFRA_ERROR, Status.PENDING):
        return False
    return all(test.get("status") != TestStatus.TIMEOUT for test in result.get("tests") or ())


class ResultCache:
    """Key scheme and TTL of the result cache; stateless apart from its settings."""

    def __init__(self, *, prefix: str, ttl_s: int, enabled: bool = True) -> None:
        self.keys = RedisKeys(prefix)
        self.ttl_s = ttl_s
        self.enabled = enabled

    def key(self, item: Item, image_version: str) -> str:
        """The Redis key under which ``item``'s result is cached.

        Raises:
            PydanticSerializationError: the item holds a lone surrogate (scrub it first).
        """
        return self.key_of(item.model_dump_json(exclude={"id"}), image_version)

    def key_of(self, payload: str, image_version: str) -> str:
        """The key of an item given as its JSON without ``id`` (``payload``)."""
        digest = hashlib.sha256()
        digest.update(f"{RESULT_SCHEMA}\0{image_version}\0".encode())
        digest.update(payload.encode())
        return self.keys.cache(digest.hexdigest())

    async def lookup(self, aio: AsyncRedis, keys: Sequence[str]) -> dict[str, Line]:
        """Cached result lines for those of ``keys`` that have one (one ``MGET``).

        Raises:
            BackendUnavailable: Redis failed.
        """
        if not keys or not self.enabled:
            return {}
        with translate_redis_errors("reading the result cache"):
            values = await aio.mget(keys)
        found: dict[str, Line] = {}
        bad: list[str] = []
        for key, value in zip(keys, values, strict=True):
            if not value:
                continue
            data = _valid(value)
            if data is None:
                bad.append(key)
            else:
                found[key] = data
        if bad:
            with translate_redis_errors("dropping bad cache entries"):
                await aio.delete(*bad)
        return found

    def store(
        self,
        pipe: Pipeline,
        keys: Sequence[str | None],
        results: Sequence[ResultData | Result],
        lines: Sequence[bytes],
    ) -> int:
        """Queue ``SET key line EX ttl`` on ``pipe`` for each cacheable result, in one
        script (``lines`` are the results as served: :func:`service.queue.results.served_line`).

        Returns:
            How many results were queued for storing.
        """
        if not self.enabled:
            return 0
        pairs = [(k, line) for k, result, line in zip(keys, results, lines, strict=True) if k and cacheable(result)]
        if pairs:  # one script for the chunk: a command each cost the worker ~15 us of CPU
            pipe.eval(_STORE, len(pairs), *(k for k, _ in pairs), self.ttl_s, *(line for _, line in pairs))
        return len(pairs)


def _valid(value: bytes | str) -> Line | None:
    """A cache entry (a result line) if it validates as a servable ``Result``, else None."""
    try:
        result = Result.model_validate_json(value)
    except (ValidationError, ValueError):
        return None
    if not cacheable(result):
        return None
    return value if isinstance(value, bytes) else value.encode()
