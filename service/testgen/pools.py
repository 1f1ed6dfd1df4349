"""The two sandbox pools the oracle needs: the programs' usual hash seed, and another.

The image pins ``PYTHONHASHSEED`` (``Settings.sandbox_hash_seed``), so a set's order
never varies between two runs in one pool; running the kept inputs again in a pool with
another seed is what shows an output that depends on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from service.errors import InvalidField
from service.sandbox.pool import SandboxPool
from service.settings import Settings
from service.testgen.options import TestgenOptions

__all__ = ["OraclePools", "open_pools"]


@dataclass(frozen=True)
class OraclePools:
    main: SandboxPool  # ``settings.sandbox_hash_seed``: the seed the tests will be judged under
    reseeded: SandboxPool  # ``options.reseed``

    def __post_init__(self) -> None:
        if self.main.settings.sandbox_hash_seed == self.reseeded.settings.sandbox_hash_seed:
            raise InvalidField("reseed", "the second pool must run under another hash seed")


@contextmanager
def open_pools(settings: Settings, options: TestgenOptions, *, size: int | None = None,
               reseeded_size: int | None = None) -> Iterator[OraclePools]:
    """Start both pools (``size`` containers under the settings' seed, ``reseeded_size``
    (default: as many) under ``options.reseed``) and remove their containers at the end.

    Raises:
        InvalidField: ``reseed`` equals ``settings.sandbox_hash_seed``.
        SandboxUnavailable, ContainerStartError: as :meth:`SandboxPool.start`.
    """
    if options.reseed == settings.sandbox_hash_seed:
        raise InvalidField("reseed", "must differ from sandbox_hash_seed")
    other = Settings.model_validate({**settings.model_dump(), "sandbox_hash_seed": options.reseed})
    with SandboxPool(settings, size=size) as main, SandboxPool(other, size=reseeded_size or size) as reseeded:
        yield OraclePools(main, reseeded)
