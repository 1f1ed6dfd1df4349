"""Pure units: no Docker, no Redis, no server; the whole directory runs in seconds.

The sandbox agent's pure parts (its value codec, comparisons, verdicts, name resolution)
are tested here too: ``sandbox_images/python`` is put on the path so ``agent`` imports.
"""

from __future__ import annotations

import sys

import pytest

from tests.support.paths import ROOT

sys.path.insert(0, str(ROOT / "sandbox_images" / "python"))

from service.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(pool_size=2, container_max_runs=100_000)
