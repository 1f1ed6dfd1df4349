"""What a worker hands the jobs it runs: its settings and its sandbox pool.

RQ calls job functions by import string, so the pool cannot be an argument. The worker
(:class:`service.worker.main.PoolWorker`) sets its :class:`WorkerContext` for as long as
it works (:func:`using`); a job reads it with :func:`current`. Outside a worker there is
no context, and a job that needs the pool raises :class:`SandboxUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from service.errors import SandboxUnavailable
from service.sandbox.pool import SandboxPool
from service.settings import Settings

__all__ = ["WorkerContext", "current", "using"]

_CURRENT: ContextVar[WorkerContext | None] = ContextVar("utrs_worker_context", default=None)
_NO_POOL = "no sandbox pool installed; run jobs with the utrs-worker entry"


@dataclass
class WorkerContext:
    """One worker's settings and pool, and what its jobs have reported of the pool."""

    settings: Settings
    pool: SandboxPool | None = None
    _restarts_seen: int = field(default=0, init=False)
    _pace_ms: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._restarts_seen = self.pool.restarts if self.pool is not None else 0

    def require_pool(self) -> SandboxPool:
        """The pool.

        Raises:
            SandboxUnavailable: the worker has none (jobs run outside ``utrs-worker``).
        """
        if self.pool is None:
            raise SandboxUnavailable(_NO_POOL)
        return self.pool

    @property
    def image_version(self) -> str:
        """The version of the pool's sandbox image (part of every cache key)."""
        version = self.pool.image_version if self.pool is not None else ""
        return version or self.settings.sandbox_image

    def pace(self, chunk_ms_per_program: float) -> float:
        """This worker's wall ms per program over its recent chunks (a moving average)."""
        old = self._pace_ms
        self._pace_ms = chunk_ms_per_program if not old else 0.7 * old + 0.3 * chunk_ms_per_program
        return self._pace_ms

    def take_restarts(self) -> int:
        """Containers the pool replaced since the last call (a counter for /metrics)."""
        restarts = self.pool.restarts if self.pool is not None else 0
        new, self._restarts_seen = restarts - self._restarts_seen, restarts
        return new


@contextmanager
def using(context: WorkerContext) -> Iterator[WorkerContext]:
    """Make ``context`` the current one for the block (the worker's working life)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def current() -> WorkerContext:
    """The running worker's context.

    Raises:
        SandboxUnavailable: no worker context (the job runs outside ``utrs-worker``).
    """
    context = _CURRENT.get()
    if context is None:
        raise SandboxUnavailable(_NO_POOL)
    return context
