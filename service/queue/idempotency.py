"""Idempotency keys of the job POSTs (``POST /v1/jobs``, ``POST /v1/testgen/jobs``).

A key (an ``Idempotency-Key`` header, or ``idempotency_key`` in an evaluate job's body)
names one job of its tenant for ``UTRS_JOB_TTL_S``:

    P:idem:<t>:<sha256(space + key)>  ->  "<job id> <fingerprint of the request body>"

A retry with the same key and body answers the job made then and queues nothing; the
same key with another body is refused (422 naming the key's field): answering the old
job there would hand a trainer the verdicts of programs it did not send. The endpoints'
keys live apart (``space``). A refused submit frees the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from service.errors import InvalidField
from service.queue.producer import ChunkQueue
from service.queue.redis import translate_redis_errors

__all__ = ["idempotent"]


async def idempotent(
    queue: ChunkQueue,
    tenant: str,
    key: str | None,
    body: bytes,
    submit: Callable[[str], Awaitable[str]],
    *,
    new_id: Callable[[], str],
    space: str = "",
    field: str = "Idempotency-Key",
) -> str:
    """The job id for a job POST: with ``key``, the one this tenant's key made within the
    job TTL (the request ``body`` must be the same then: its bytes' digest is kept with
    the job id; a retry sends the same bytes), else ``submit(new_id())``.

    Raises:
        InvalidField: the key was used with another body (``field`` names the key).
        as ``submit``; BackendUnavailable: Redis failed.
    """
    batch_id = new_id()
    if key is None:
        return await submit(batch_id)
    digest = hashlib.sha256(f"{space}{key}".encode("utf-8", "surrogatepass")).hexdigest()
    redis_key = queue.keys.idempotency(tenant, digest)
    made_for = hashlib.sha256(body).hexdigest()[:32]  # hashed only when a key came (bodies reach 64 MiB)
    with translate_redis_errors("checking the idempotency key"):
        if not await queue.aio.set(redis_key, f"{batch_id} {made_for}", nx=True, ex=queue.settings.job_ttl_s):
            existing = await queue.aio.get(redis_key)
            if existing is not None:
                text = existing.decode() if isinstance(existing, bytes) else str(existing)
                job_id, _, made_with = text.partition(" ")
                if made_with and made_with != made_for:  # (a value without one: made before fingerprints)
                    raise InvalidField(field, f"was used for another request body (job {job_id}) within "
                                              "UTRS_JOB_TTL_S; a new request needs a new key",
                                       kind="idempotency_key_reused")  # fmt: skip
                return job_id
    try:
        return await submit(batch_id)
    except BaseException:
        with translate_redis_errors("releasing the idempotency key"):
            await queue.aio.delete(redis_key)
        raise
