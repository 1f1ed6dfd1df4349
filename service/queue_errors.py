"""Errors of the queue layer (API admission, Redis, RQ).

Exception tree::

    QueueError                 root; never a program's verdict
    ├── BackendUnavailable     Redis could not be reached or answered with an error (503)
    ├── NoWorkers              no live worker is registered (503)
    ├── QueueFull              queued programs over the high-water mark (429 + Retry-After)
    └── JobNotFound            no batch with that id (expired or never made) (404)

Redis' own exceptions are translated into these in exactly one place,
:func:`service.queue.translate_redis_errors`.
"""

from __future__ import annotations

__all__ = ["BackendUnavailable", "JobNotFound", "NoWorkers", "QueueError", "QueueFull"]


class QueueError(Exception):
    """Root of the queue layer's errors."""


class BackendUnavailable(QueueError):
    """Redis could not be reached, or failed a command."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoWorkers(QueueError):
    """No worker has sent a heartbeat recently, so nothing would run the batch."""

    def __init__(self) -> None:
        super().__init__("no live worker is registered")


class QueueFull(QueueError):
    """Admitting the batch would put the queue over its high-water mark."""

    def __init__(self, *, queued: int, high_water: int, retry_after_s: int) -> None:
        super().__init__(f"{queued} programs queued; high-water mark is {high_water}")
        self.queued = queued
        self.high_water = high_water
        self.retry_after_s = retry_after_s


class JobNotFound(QueueError):
    """The batch id is unknown (never made, or its results expired)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} (unknown or expired)")
        self.job_id = job_id
