"""Fixtures of the layers that run programs in the real sandbox (real Docker, real image).

Imported by the conftests of tests/sandbox, tests/security and tests/queue; each of
those directories gets its own session pool. Nothing here skips: a missing Docker engine
or image is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.sandbox.pool import SandboxPool
from service.settings import Settings

__all__ = ["pool", "settings"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(pool_size=2, container_max_runs=100_000)


@pytest.fixture(scope="session")
def pool(settings: Settings) -> Iterator[SandboxPool]:
    with SandboxPool(settings) as p:
        yield p
