"""The RQ job envelope: what the API puts in a chunk's job, and what the worker answers.

A chunk's job is enqueued by import string (:data:`RUN_CHUNK`, failure callback
:data:`ON_CHUNK_FAILURE`) with RQ's JSON serializer; its keyword arguments are a
:class:`ChunkJob` dumped with ``model_dump(mode="json")`` and validated back with
``model_validate`` by the worker. The field names are the job's keyword names, unchanged
since the first release, so jobs queued by a previous release still run.

A chunk's results are published as one JSON array of ``Result`` data (:data:`ResultData`)
into the keys named by its :class:`ReplyTo`, so a worker writes where the API that made
the job reads, whatever its own settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from client.models import Item

__all__ = [
    "ON_CHUNK_FAILURE",
    "RUN_CHUNK",
    "ChunkDone",
    "ChunkJob",
    "ReplyTo",
    "ResultData",
    "failed_chunk",
    "parse_field",
    "part_field",
]

#: Import strings of the worker's job functions (:mod:`service.worker.jobs`).
RUN_CHUNK = "service.worker.jobs.run_chunk"
ON_CHUNK_FAILURE = "service.worker.jobs.on_chunk_failure"

#: One ``client.models.Result`` as JSON data. The API never re-validates what workers
#: wrote: it only puts results in the request's order.
ResultData = dict[str, Any]


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ReplyTo(_Envelope):
    """Where a chunk's results go, for how long, and how many attempts it gets."""

    results: str = Field(description="hash: chunk index -> JSON array of results")
    done: str = Field(description="list the chunk index is pushed onto when published")
    ttl: int = Field(ge=1, description="seconds both keys live")
    attempts: int = Field(default=1, ge=1, description="runs of the chunk, retries included")


class ChunkJob(_Envelope):
    """The keyword arguments of :data:`RUN_CHUNK` for one chunk of a batch, or for a part
    of one (``part``: the items from ``offset`` on; made when a chunk whose worker died
    twice is split, :mod:`service.worker.recovery`)."""

    batch_id: str
    chunk: int = Field(ge=0)
    items: list[Item]
    cache_keys: list[str | None]
    image: str = Field(description="the image version the API keyed the cache with")
    reply: ReplyTo
    offset: int = Field(default=0, ge=0)
    part: bool = False
    interrupts: int = Field(default=0, ge=0, description="runs of it (or its chunk) cut short by a dead worker")
    tenant: str = Field(default="anon", description="whose quota its programs count against")

    @property
    def field(self) -> str:
        """Its field in the batch's results hash (and its entry on the done list)."""
        return part_field(self.chunk, self.offset) if self.part else str(self.chunk)

    def job_kwargs(self) -> dict[str, Any]:
        """The JSON keyword arguments RQ stores: the fields that were set (an item's as it
        came, its defaults left out; without comparing every field with its default, which
        cost the API twice the time of the dump itself)."""
        return self.model_dump(mode="json", exclude_unset=True)


def part_field(chunk: int, offset: int) -> str:
    """The results-hash field of the part of ``chunk`` that starts at ``offset``."""
    return f"{chunk}@{offset}"


def parse_field(field: str | bytes) -> tuple[int, int | None]:
    """``"3"`` -> (3, None), a whole chunk; ``"3@16"`` -> (3, 16), a part of it."""
    text = field.decode() if isinstance(field, bytes) else field
    chunk, _, offset = text.partition("@")
    return int(chunk), int(offset) if offset else None


def failed_chunk(kwargs: Mapping[str, Any]) -> tuple[ReplyTo, str, int]:
    """Where to answer a chunk (or part) that failed for good, its field, how many items.

    Reads only what the answer needs: a job that failed may carry items that no longer
    validate (a newer API's fields on an older worker), and it must still be answered.
    """
    chunk, offset = int(kwargs["chunk"]), int(kwargs.get("offset", 0))
    field = part_field(chunk, offset) if kwargs.get("part") else str(chunk)
    return ReplyTo.model_validate(kwargs["reply"]), field, len(kwargs["items"])


class ChunkDone(_Envelope):
    """The job's own return value (not stored: results live in the batch keys)."""

    programs: int
    seconds: float
    image: str
