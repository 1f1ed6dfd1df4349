"""The two sandbox pools the oracle needs: the programs' usual hash seed, and another.

The image pins ``PYTHONHASHSEED`` (``Settings.sandbox_hash_seed``), so a set's order
never varies between two runs in one pool; running the kept inputs again in a pool with
another seed is what shows an output that depends on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from service.errors import InvalidField
from service.sandbox.pool import SandboxPool, Task
from service.sandbox.protocol import RunResult
from service.settings import Settings
from service.testgen.options import TestgenOptions

__all__ = ["OnDemandPool", "OraclePools", "open_pools", "reseeded"]


@dataclass(frozen=True)
class OraclePools:
    main: SandboxPool  # ``settings.sandbox_hash_seed``: the seed the tests will be judged under
    reseeded: SandboxPool  # ``options.reseed``

    def __post_init__(self) -> None:
        if self.main.settings.sandbox_hash_seed == self.reseeded.settings.sandbox_hash_seed:
            raise InvalidField("reseed", "the second pool must run under another hash seed")


class OnDemandPool(SandboxPool):
    """A pool that starts its containers on its first run, not on ``with``: a worker's
    second pool for one job, which a job whose references were all refused on the host
    (unparsable, no such function) never starts."""

    def __init__(self, settings: Settings, *, size: int | None = None) -> None:
        super().__init__(settings, size=size)
        self._started = False
        self._starting = threading.Lock()

    def __enter__(self) -> OnDemandPool:
        return self

    def run(self, tasks: Sequence[Task], group: str | None = None) -> list[RunResult]:
        """Start the pool if this is its first run, then :meth:`SandboxPool.run`.

        Raises:
            SandboxUnavailable, ContainerStartError: as :meth:`SandboxPool.start`.
        """
        with self._starting:
            if not self._started:
                self.start()
                self._started = True
        return super().run(tasks, group)


def reseeded(settings: Settings, seed: int) -> Settings:
    """``settings`` with the programs' hash seed ``seed`` (the second pool's).

    Raises:
        InvalidField: ``seed`` is ``settings.sandbox_hash_seed``.
    """
    if seed == settings.sandbox_hash_seed:
        raise InvalidField("reseed", "must differ from sandbox_hash_seed")
    swapped = {"sandbox_hash_seed": seed, "testgen_reseed": settings.sandbox_hash_seed}
    return Settings.model_validate({**settings.model_dump(), **swapped})


@contextmanager
def open_pools(settings: Settings, options: TestgenOptions, *, size: int | None = None,
               reseeded_size: int | None = None) -> Iterator[OraclePools]:
    """Start both pools (``size`` containers under the settings' seed, ``reseeded_size``
    (default: as many) under ``options.reseed``) and remove their containers at the end.

    Raises:
        InvalidField: ``reseed`` equals ``settings.sandbox_hash_seed``.
        SandboxUnavailable, ContainerStartError: as :meth:`SandboxPool.start`.
    """
    other = reseeded(settings, options.reseed)
    with SandboxPool(settings, size=size) as main, SandboxPool(other, size=reseeded_size or size) as second:
        yield OraclePools(main, second)
