"""Result cache: identical items are answered from Redis without running.

Two items are identical when everything that can change their result is equal: the code,
prompt, tests, limits, compare mode, reward spec and other options (everything but the
client's ``id``), the sandbox image version and the service's result schema. The key is a
SHA-256 of that, so a new image or a new release never answers from stale entries.

The API looks keys up (one ``MGET`` per batch, :meth:`ResultCache.lookup`); the worker
that ran a chunk stores its results (in the same pipeline that publishes the chunk). Not stored: ``infra_error``
results (the service could not judge them) and results with a timed-out test (a timeout
depends on the load of the machine at the time, so a re-run may well differ).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from client.models import Item, Status, TestStatus
from service.queue.envelope import ResultData
from service.queue.keys import RedisKeys
from service.queue.redis import AsyncRedis, Pipeline, translate_redis_errors

__all__ = ["RESULT_SCHEMA", "ResultCache", "cacheable"]

# Bump when the meaning of a cached Result changes (feedback, rewards, wire fields).
RESULT_SCHEMA = "utrs-result-2"  # 2: agent v2 (harness trust, shared cases by default)


def cacheable(result: ResultData) -> bool:
    """Whether a result (as JSON data) may be answered again from the cache."""
    if result.get("status") == Status.INFRA_ERROR:
        return False
    return all(test.get("status") != TestStatus.TIMEOUT for test in result.get("tests") or ())


class ResultCache:
    """Key scheme and TTL of the result cache; stateless apart from its settings."""

    def __init__(self, *, prefix: str, ttl_s: int, enabled: bool = True) -> None:
        self.keys = RedisKeys(prefix)
        self.ttl_s = ttl_s
        self.enabled = enabled

    def key(self, item: Item, image_version: str) -> str:
        """The Redis key under which ``item``'s result is cached."""
        digest = hashlib.sha256()
        digest.update(f"{RESULT_SCHEMA}\0{image_version}\0".encode())
        digest.update(item.model_dump_json(exclude={"id"}).encode())
        return self.keys.cache(digest.hexdigest())

    async def lookup(self, aio: AsyncRedis, keys: Sequence[str]) -> dict[str, ResultData]:
        """Cached results for those of ``keys`` that have one (one ``MGET``).

        Raises:
            BackendUnavailable: Redis failed.
        """
        if not keys or not self.enabled:
            return {}
        with translate_redis_errors("reading the result cache"):
            values = await aio.mget(keys)
        return {key: json.loads(value) for key, value in zip(keys, values, strict=True) if value}

    def store(
        self,
        pipe: Pipeline,
        keys: Sequence[str | None],
        results: Sequence[ResultData],
    ) -> int:
        """Queue ``SET key result EX ttl`` on ``pipe`` for each cacheable result.

        Returns:
            How many results were queued for storing.
        """
        if not self.enabled:
            return 0
        stored = 0
        for key, result in zip(keys, results, strict=True):
            if key is None or not cacheable(result):
                continue
            entry = {**result, "id": None, "cached": False}
            pipe.set(key, json.dumps(entry, separators=(",", ":")), ex=self.ttl_s)
            stored += 1
        return stored
