"""The online buffer between the generation side and the training side (RLTF §3.2).

A bounded FIFO: the generation side puts scored samples as the service returns them, the
training side takes the oldest. When it is full the oldest samples are dropped (and
counted), so the trainer always learns from recent policies.
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
    """Thread-safe FIFO of scored samples with in-flight accounting."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[Scored] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._inflight = 0
        self._error: BaseException | None = None
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def inflight(self) -> int:
        """Batches sent to the service and not yet put back."""
        with self._cond:
            return self._inflight

    def begin(self) -> None:
        """A batch has been sent to the service."""
        with self._cond:
            self._inflight += 1

    def put_many(self, items: list[Scored]) -> None:
        """A batch came back (possibly smaller: unscored programs are left out)."""
        with self._cond:
            self._items.extend(items)
            overflow = len(self._items) - self._maxlen
            for _ in range(max(overflow, 0)):
                self._items.popleft()
                self.dropped += 1
            self._inflight -= 1
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        """The generation side failed: wake the trainer and re-raise there."""
        with self._cond:
            self._error = error
            self._inflight -= 1
            self._cond.notify_all()

    def take(self, n: int, *, timeout_s: float | None = None) -> list[Scored]:
        """Take the ``n`` oldest samples, waiting while fewer are there and more will come.

        Returns fewer than ``n`` when nothing more is in flight.

        Raises:
            BufferClosed: the generation side failed, or nothing is there nor in flight.
            TimeoutError: ``timeout_s`` passed first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while len(self._items) < n and self._inflight > 0 and self._error is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no {n} samples within {timeout_s} s")
                self._cond.wait(left)
            if self._error is not None:
                raise BufferClosed("the generation side failed") from self._error
            if not self._items:
                raise BufferClosed("the buffer is empty and nothing is in flight")
            return [self._items.popleft() for _ in range(min(n, len(self._items)))]
