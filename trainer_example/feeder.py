"""Sends generated programs to the service in the background and fills the online buffer.

An asyncio loop in a daemon thread owns one :class:`client.AsyncRewardClient`; the
training thread hands it batches and goes on optimising while the service judges them
(RLTF's online framework). ``infra_error`` results are re-sent up to ``infra_retries``
times and then left out, and ``no_tests`` results are left out: neither is ever scored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from client import AsyncRewardClient
from client.models import Result, Status
from trainer_example.buffer import OnlineBuffer
from trainer_example.config import TrainConfig
from trainer_example.rollout import Sample, Scored, to_item

__all__ = ["RewardFeeder"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_UNSCORED = (Status.INFRA_ERROR, Status.NO_TESTS)


class RewardFeeder:
    """Context manager: ``submit`` batches; scored samples appear in ``buffer``."""

    def __init__(self, config: TrainConfig, buffer: OnlineBuffer) -> None:
        self._config = config
        self.buffer = buffer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._client: AsyncRewardClient | None = None
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._batches = 0

    def __enter__(self) -> RewardFeeder:
        self._thread.start()
        self._client = self._run(self._open())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _open(self) -> AsyncRewardClient:
        return AsyncRewardClient(
            self._config.service_url,
            timeout_s=self._config.request_timeout_s,
            concurrency=self._config.concurrency,
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

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

    async def _score(self, samples: list[Sample], greedy: list[Sample], batch: int) -> None:
        try:
            results = await self._judge(samples + greedy, batch)
        except BaseException as exc:  # the trainer re-raises it from buffer.take
            log.error("batch %d could not be judged: %s", batch, exc)
            self.buffer.fail(exc)
            return
        by_problem = {s.problem.id: r for s, r in zip(greedy, results[len(samples) :], strict=True)}
        scored = [
            Scored(sample=s, result=r, greedy=by_problem.get(s.problem.id))
            for s, r in zip(samples, results[: len(samples)], strict=True)
            if r.status not in _UNSCORED
        ]
        self._count(results[: len(samples)])
        self.buffer.put_many(scored)

    def _count(self, results: list[Result]) -> None:
        with self._lock:
            for r in results:
                if r.status in _UNSCORED:
                    self.counts[f"unscored_{r.status.value}"] += 1

    async def _judge(self, samples: list[Sample], batch: int) -> list[Result]:
        assert self._client is not None
        items = [
            to_item(
                s,
                scheme=self._config.scheme,
                timeout_s=self._config.program_timeout_s,
                item_id=f"{batch}-{i}",
            )
            for i, s in enumerate(samples)
        ]
        started = time.monotonic()
        results = await self._client.evaluate(items)
        for _ in range(self._config.infra_retries):
            retry = [i for i, r in enumerate(results) if r.status is Status.INFRA_ERROR]
            if not retry:
                break
            again = await self._client.evaluate([items[i] for i in retry])
            for i, r in zip(retry, again, strict=True):
                results[i] = r
        with self._lock:
            self.counts["service_ms"] += int(1000 * (time.monotonic() - started))
        return results
