"""Pure units: no Docker, no Redis, no server; the whole directory runs in seconds."""

from __future__ import annotations

import pytest

from service.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(pool_size=2, container_max_runs=100_000)
