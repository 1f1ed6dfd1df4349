"""Sends generated programs to the scorer in the background and fills the online buffer.

An asyncio loop in a daemon thread owns the scorer (:mod:`trainer_example.scorer`: the
service through :class:`client.AsyncRewardClient`, or recorded results); the training
thread hands it batches and goes on optimising while they are judged (RLTF's online
framework). Batches enter the buffer in the order they were submitted, so step ``k``
trains on batch ``k`` whatever order the service finishes them in. ``infra_error``
results are re-sent up to ``infra_retries`` times and then left out, ``no_tests`` results
and replay misses are left out: none of them is ever scored (each is counted).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from client.models import Result, Status
from trainer_example.buffer import OnlineBuffer
from trainer_example.config import TrainConfig
from trainer_example.rollout import Sample, Scored, to_item
from trainer_example.scorer import Scorer, make_scorer

__all__ = ["RewardFeeder"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_UNSCORED = (Status.INFRA_ERROR, Status.NO_TESTS)


def _scored(result: Result | None) -> bool:
    return result is not None and result.status not in _UNSCORED


class RewardFeeder:
    """Context manager: ``submit`` batches; scored samples appear in ``buffer``."""

    def __init__(
        self,
        config: TrainConfig,
        buffer: OnlineBuffer,
        *,
        rank: int = 0,
        scorer: Callable[[], Scorer] | None = None,
    ) -> None:
        """``scorer`` makes the scorer inside the loop (default: what ``config`` asks for)."""
        self._config = config
        self._make = scorer or (lambda: make_scorer(config, rank=rank))
        self.buffer = buffer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._batches = 0
        self._previous: asyncio.Future[None] | None = None

    def __enter__(self) -> RewardFeeder:
        self._thread.start()
        self._scorer = self._run(self._open())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scorer is not None:
            self._run(self._scorer.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _open(self) -> Scorer:
        return self._make()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def misses(self) -> int:
        """Replay misses so far (0 against the service)."""
        return self._scorer.misses if self._scorer is not None else 0

    def take_counts(self) -> Counter[str]:
        """Counts since the last call (unscored programs, service seconds x 1000)."""
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def submit(self, samples: Sequence[Sample], greedy: Sequence[Sample] = ()) -> None:
        """Queue one batch (and its greedy baseline programs) for judging."""
        self.buffer.begin()
        self._batches += 1
        asyncio.run_coroutine_threadsafe(self._score(list(samples), list(greedy), self._batches), self._loop)

    def judge(self, samples: Sequence[Sample]) -> list[Result | None]:
        """Judge programs now (blocking; the held-out evaluation); None: not scored."""
        self._batches += 1
        results = self._run(self._judge(list(samples), self._batches))
        return [r if _scored(r) else None for r in results]

    async def _score(self, samples: list[Sample], greedy: list[Sample], batch: int) -> None:
        previous, done = self._previous, self._loop.create_future()
        self._previous = done
        outcome: list[Result | None] | BaseException
        try:
            outcome = await self._judge(samples + greedy, batch)
        except BaseException as exc:  # the trainer re-raises it from buffer.take
            log.error("batch %d could not be judged: %s", batch, exc)
            outcome = exc
        if previous is not None:
            await previous  # keep the submission order
        if isinstance(outcome, BaseException):
            self.buffer.fail(outcome)
        else:
            self._count(outcome[: len(samples)])
            self.buffer.put_many(self._pair(samples, greedy, outcome))
        done.set_result(None)

    def _pair(self, samples: list[Sample], greedy: list[Sample], results: list[Result | None]) -> list[Scored]:
        by_problem = {s.problem.id: r for s, r in zip(greedy, results[len(samples) :], strict=True)}
        return [
            Scored(sample=s, result=r, greedy=by_problem.get(s.problem.id))
            for s, r in zip(samples, results[: len(samples)], strict=True)
            if r is not None and _scored(r)
        ]

    def _count(self, results: Sequence[Result | None]) -> None:
        with self._lock:
            for r in results:
                if r is None:
                    self.counts["unscored_replay_miss"] += 1
                elif r.status in _UNSCORED:
                    self.counts[f"unscored_{r.status.value}"] += 1

    async def _judge(self, samples: list[Sample], batch: int) -> list[Result | None]:
        assert self._scorer is not None
        items = [
            to_item(s, scheme=self._config.scheme, timeout_s=self._config.program_timeout_s, item_id=f"{batch}-{i}")
            for i, s in enumerate(samples)
        ]
        started = time.monotonic()
        results = await self._scorer.evaluate(items)
        for _ in range(self._config.infra_retries):
            retry = [i for i, r in enumerate(results) if r is not None and r.status is Status.INFRA_ERROR]
            if not retry:
                break
            again = await self._scorer.evaluate([items[i] for i in retry])
            for i, r in zip(retry, again, strict=True):
                results[i] = r
        with self._lock:
            self.counts["service_ms"] += int(1000 * (time.monotonic() - started))
        return results
