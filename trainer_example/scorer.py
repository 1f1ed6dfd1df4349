"""Who judges the programs: the service, the service with a recorder, or a recording.

- :class:`ServiceScorer`: the real service through :class:`client.AsyncRewardClient`.
- :class:`RecordingScorer` (``--record-results FILE``): the same, and every judged result
  (not ``infra_error``: that is no verdict on the program) is appended to a JSONL file,
  one ``{"key", "result"}`` line per distinct item.
- :class:`ReplayScorer` (``--replay-results FILE``): answers from such a file, for machines
  where the service cannot run (a GPU machine with no network and no Docker). An item is
  found by :func:`item_key`, a hash of everything the service judges (code, tests,
  finish reason, limits, reward spec ...; not the id). An item that is not in the file
  is a **miss**: ``None`` comes back in its place, it is counted (``misses``) and the
  trainer leaves it out, so a miss never becomes a reward.

Under several ranks each rank records to its own file, ``FILE`` for rank 0 and
``FILE.rank<N>`` for the others; replay reads ``FILE`` and every ``FILE.rank*``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from client import AsyncRewardClient
from client.models import Item, Result, Status
from trainer_example.config import TrainConfig

__all__ = ["RecordingScorer", "ReplayScorer", "Scorer", "ServiceScorer", "item_key", "make_scorer"]

log = logging.getLogger(__name__)


def item_key(item: Item) -> str:
    """A hash of the item's content (everything but its id)."""
    payload = item.model_dump(mode="json", exclude={"id"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Scorer(Protocol):
    misses: int

    async def evaluate(self, items: Sequence[Item]) -> list[Result | None]: ...

    async def close(self) -> None: ...


class ServiceScorer:
    """The service; create it inside the event loop that will use it."""

    def __init__(self, config: TrainConfig) -> None:
        self.misses = 0
        self._client = AsyncRewardClient(
            config.service_url, timeout_s=config.request_timeout_s, concurrency=config.concurrency
        )

    async def evaluate(self, items: Sequence[Item]) -> list[Result | None]:
        return list(await self._client.evaluate(list(items)))

    async def close(self) -> None:
        await self._client.close()


class RecordingScorer(ServiceScorer):
    """The service, and a JSONL record of what it said."""

    def __init__(self, config: TrainConfig, path: Path) -> None:
        super().__init__(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seen = set(_load(path)) if path.exists() else set()
        self._file = path.open("a", encoding="utf-8")

    async def evaluate(self, items: Sequence[Item]) -> list[Result | None]:
        results = await super().evaluate(items)
        for item, result in zip(items, results, strict=True):
            key = item_key(item)
            if result is None or result.status is Status.INFRA_ERROR or key in self._seen:
                continue
            self._seen.add(key)
            self._file.write(json.dumps({"key": key, "result": result.model_dump(mode="json")}) + "\n")
        self._file.flush()
        return results

    async def close(self) -> None:
        self._file.close()
        await super().close()


def _load(path: Path) -> dict[str, Result]:
    table: dict[str, Result] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                table.setdefault(row["key"], Result.model_validate(row["result"]))
    return table


def _files(path: Path) -> list[Path]:
    return [path, *sorted(path.parent.glob(path.name + ".rank*"))]


class ReplayScorer:
    """Results recorded from the service; ``None`` (a counted miss) for anything else.

    Raises:
        FileNotFoundError: ``path`` does not exist (at construction).
    """

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no recorded results at {path}")
        self._table: dict[str, Result] = {}
        for file in _files(path):
            for key, result in _load(file).items():
                self._table.setdefault(key, result)
        self.misses = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._table)

    async def evaluate(self, items: Sequence[Item]) -> list[Result | None]:
        out: list[Result | None] = []
        for item in items:
            found = self._table.get(item_key(item))
            out.append(None if found is None else found.model_copy(update={"id": item.id}))
        missed = sum(r is None for r in out)
        self.misses += missed
        self.hits += len(out) - missed
        if missed:
            log.warning("replay: %d of %d items not in the recorded results (left out)", missed, len(out))
        return out

    async def close(self) -> None:
        return None


def make_scorer(config: TrainConfig, *, rank: int) -> Scorer:
    """The scorer the options ask for (call inside the event loop that will use it)."""
    if config.replay_results is not None:
        return ReplayScorer(Path(config.replay_results))
    if config.record_results is not None:
        path = Path(config.record_results)
        return RecordingScorer(config, path if rank == 0 else path.with_name(f"{path.name}.rank{rank}"))
    return ServiceScorer(config)
