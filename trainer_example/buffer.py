"""The online buffer between the generation side and the training side (RLTF §3.2).

A FIFO of judged batches: the generation side puts each batch's scored samples as the
scorer returns them (in submission order, see :mod:`trainer_example.feeder`), the
training side takes the oldest batch, so step ``k`` trains on what came back of batch
``k`` (fewer samples when some were not scored, none when no sample was). When more than
``maxlen`` samples are waiting the oldest are dropped (and counted), so the trainer
always learns from recent policies.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from trainer_example.rollout import Scored

__all__ = ["BufferClosed", "OnlineBuffer"]


class BufferClosed(RuntimeError):
    """Nothing is in flight and the buffer is empty, or the generation side failed."""


class OnlineBuffer:
    """Thread-safe FIFO of judged batches with in-flight accounting."""

    def __init__(self, maxlen: int) -> None:
        self._batches: deque[list[Scored]] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._inflight = 0
        self._error: BaseException | None = None
        self.dropped = 0

    def __len__(self) -> int:
        """Samples waiting to be trained on."""
        with self._cond:
            return sum(len(b) for b in self._batches)

    @property
    def inflight(self) -> int:
        """Batches sent to the scorer and not yet put back."""
        with self._cond:
            return self._inflight

    def begin(self) -> None:
        """A batch has been sent to the scorer."""
        with self._cond:
            self._inflight += 1

    def put_many(self, items: list[Scored]) -> None:
        """A batch came back (possibly smaller, or empty: unscored programs are left out)."""
        with self._cond:
            self._batches.append(list(items))
            overflow = sum(len(b) for b in self._batches) - self._maxlen
            for batch in self._batches:
                cut = min(max(overflow, 0), len(batch))
                del batch[:cut]
                overflow -= cut
                self.dropped += cut
            self._inflight -= 1
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        """The generation side failed: wake the trainer and re-raise there."""
        with self._cond:
            self._error = error
            self._inflight -= 1
            self._cond.notify_all()

    def take(self, *, timeout_s: float | None = None) -> list[Scored]:
        """The oldest judged batch, waiting while none is back and one is in flight.

        Raises:
            BufferClosed: the generation side failed, or nothing is there nor in flight.
            TimeoutError: ``timeout_s`` passed first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while not self._batches and self._inflight > 0 and self._error is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no batch within {timeout_s} s")
                self._cond.wait(left)
            if self._error is not None:
                raise BufferClosed("the generation side failed") from self._error
            if not self._batches:
                raise BufferClosed("the buffer is empty and nothing is in flight")
            return self._batches.popleft()
