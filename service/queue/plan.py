"""A batch's plan: which items run, which come from the cache, and how results reassemble.

The API splits a request into *unique* programs (identical items inside one batch run
once) and cache hits, runs the unique ones in chunks (one RQ job each: at most
``chunk_size`` programs, fewer when their budgets add up, see
:func:`service.budgets.chunk_sizes`) and puts the answer back together in the request's
order. The plan is stored in Redis as JSON so ``GET /v1/jobs/{id}`` (possibly served by
another API process) can reassemble the same answer. Pure data; no I/O here.
"""

from __future__ import annotations

import bisect
import itertools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client.models import Item, Result, Stats, Status
from service.budgets import chunk_sizes
from service.queue.envelope import ResultData
from service.queue.lines import Line, patch, result_line
from service.settings import Settings

__all__ = ["FOLLOWS", "BatchPlan", "infra_error", "pending", "plan_batch"]

#: The slot of an item that follows another batch's run of it (``BatchPlan.follows``).
FOLLOWS = -(2**31)


@dataclass
class BatchPlan:
    """How the items of one batch map onto executed programs and cache hits.

    ``slots[i] >= 0`` is the index of item ``i``'s program among the unique programs
    that run; ``slots[i] < 0`` means hit ``-slots[i] - 1`` of ``hits``. ``repeats[i]`` marks
    an item that repeats an earlier one of the batch (answered with ``cached: true``).
    ``chunks`` are the sizes of the chunks the unique programs run in, in order.
    ``repaired`` maps an item's index (as text) to the paths of the request where a lone
    surrogate was replaced (:mod:`service.text`); they join the result's own.
    """

    batch_id: str
    ids: list[str | None]
    slots: list[int]
    repeats: list[bool]
    hits: list[str]  # result lines (service.queue.lines), as text
    chunks: list[int]
    created: float = field(default_factory=time.time)
    repaired: dict[str, list[str]] = field(default_factory=dict)
    lane: str = "bulk"
    tenant: str = "anon"
    # Items that follow an identical program another batch is running (service.queue.
    # claims): item index (as text) -> the results-hash field its result arrives in.
    follows: dict[str, str] = field(default_factory=dict)
    # Chunks that can run at once when it was admitted (live workers; not stored): see
    # ResultReader.wait.
    concurrency: int = 0

    @property
    def total(self) -> int:
        return len(self.slots)

    @property
    def n_unique(self) -> int:
        return sum(self.chunks)

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def chunk_sizes(self) -> list[int]:
        """Programs in each chunk."""
        return list(self.chunks)

    def chunk_starts(self) -> list[int]:
        """Index of each chunk's first program among the unique programs."""
        return [0, *itertools.accumulate(self.chunks[:-1])] if self.chunks else []

    def n_reused(self) -> int:
        """Items answered without running for them (cache hits and in-batch repeats)."""
        return sum(1 for slot, rep in zip(self.slots, self.repeats, strict=True) if slot < 0 or rep)

    def stats(self, elapsed_ms: float) -> Stats:
        """The batch's ``stats`` in a response body."""
        return Stats(cached=self.n_reused(), executed=self.n_unique, elapsed_ms=round(elapsed_ms, 3))

    def reused(self, index: int) -> bool:
        """Whether item ``index`` is answered without a run for it (cache, repeat, follow)."""
        return self.slots[index] < 0 or self.repeats[index]

    def assemble(
        self, chunks: Mapping[int, Sequence[Line | None]], follows: Mapping[str, Line] | None = None
    ) -> list[Line | None]:
        """Result lines in request order, each patched with its item's ``id`` and
        ``cached`` flag (:func:`service.queue.lines.patch`); ``None`` where the item's
        chunk (or the run it follows) has not finished."""
        starts = self.chunk_starts()
        out: list[Line | None] = []
        for index, slot in enumerate(self.slots):
            cached = True
            followed = self.follows.get(str(index))
            base: Line | None
            if followed is not None:
                base = (follows or {}).get(followed)
            elif slot < 0:
                base = self.hits[-slot - 1].encode()
            else:
                chunk = bisect.bisect_right(starts, slot) - 1
                results = chunks.get(chunk)
                base = results[slot - starts[chunk]] if results is not None else None
                cached = self.repeats[index]
            if base is None:
                out.append(None)
                continue
            out.append(patch(base, item_id=self.ids[index], cached=cached, repaired=self.repaired.get(str(index), ())))
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "ids": self.ids,
                "slots": self.slots,
                "repeats": self.repeats,
                "hits": self.hits,
                "chunks": self.chunks,
                "created": self.created,
                "repaired": self.repaired,
                "lane": self.lane,
                "tenant": self.tenant,
                "follows": self.follows,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchPlan:
        """A plan as :meth:`to_json` wrote it, or as a previous release did (a fixed
        ``chunk_size`` and ``n_unique`` instead of ``chunks``; cache hits as data)."""
        data: dict[str, Any] = json.loads(text)
        data["hits"] = [h if isinstance(h, str) else result_line(h).decode() for h in data.get("hits", [])]
        if "chunks" not in data:
            size = data.pop("chunk_size")
            full, rest = divmod(data.pop("n_unique"), size)
            data["chunks"] = [size] * full + ([rest] if rest else [])
        return cls(**data)


def plan_batch(
    items: Sequence[Item],
    keys: Sequence[str],
    hits: Mapping[str, Line],
    *,
    settings: Settings,
    chunk_limit: int | None = None,
    follows: Mapping[str, str] | None = None,
    batch_id: str | None = None,
) -> tuple[BatchPlan, list[Item], list[str]]:
    """Split a batch into cache hits and unique programs to run, in chunks.

    Args:
        items: The request's items, in order.
        keys: Each item's cache key (equal keys mean identical items).
        hits: Cached results found for some of the keys.
        settings: ``chunk_size`` and the budgets that size the chunks.
        chunk_limit: at most this many programs per chunk (the bulk lane's, by time).
        follows: keys whose program another batch runs now -> the field its result
            arrives in (:func:`service.queue.claims.claim`); they do not run here.
        batch_id: the batch's id (a new one when None).

    Returns:
        The plan, the unique items to run and their cache keys (same order).
    """
    slots: list[int] = []
    repeats: list[bool] = []
    seen: dict[str, int] = {}
    hit_index: dict[str, int] = {}
    hit_list: list[str] = []
    unique: list[Item] = []
    unique_keys: list[str] = []
    follows = follows or {}
    followed: dict[str, str] = {}
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        if key in follows:
            followed[str(index)] = follows[key]
            slots.append(FOLLOWS)
            repeats.append(False)
            continue
        if key in hits:
            if key not in hit_index:
                hit_index[key] = len(hit_list)
                hit_list.append(hits[key].decode())
            slots.append(-hit_index[key] - 1)
            repeats.append(False)
            continue
        repeats.append(key in seen)
        if key not in seen:
            seen[key] = len(unique)
            unique.append(item)
            unique_keys.append(key)
        slots.append(seen[key])
    plan = BatchPlan(
        batch_id=batch_id or uuid.uuid4().hex,
        follows=followed,
        ids=[item.id for item in items],
        slots=slots,
        repeats=repeats,
        hits=hit_list,
        chunks=chunk_sizes(unique, settings, limit=chunk_limit),
    )
    return plan, unique, unique_keys


def pending(detail: str, *, item_id: str | None = None) -> Line:
    """A ``pending`` result line: still running when the request's wait ran out."""
    return Result(id=item_id, status=Status.PENDING, detail=detail).model_dump_json().encode()


def infra_error(detail: str, *, item_id: str | None = None) -> ResultData:
    """An ``infra_error`` result (JSON data): the service could not judge the program."""
    return Result(id=item_id, status=Status.INFRA_ERROR, detail=detail).model_dump(mode="json")
