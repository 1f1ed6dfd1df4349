"""Test generation (docs/testgen.md): pure parts on the host, the oracle against the real
sandbox (one session pair of pools: the settings' hash seed and another), the corpus
pipeline on small real corpora, the trainer on a generated dataset. CI sizes are small
(``CI_OPTIONS``); ``UTRS_TESTGEN_FULL=1`` runs the generation tests with the defaults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from client.models import Item, Result, Tests
from service.sandbox.executor import evaluate_items
from service.settings import Settings
from service.testgen import OraclePools, TestgenItem, TestgenOptions, TestgenResult, open_pools, testgen
from tests.support.testgen import CI_OPTIONS


@pytest.fixture(scope="session")
def tg_settings() -> Settings:
    return Settings(pool_size=2, container_max_runs=100_000)


@pytest.fixture(scope="session")
def pools(tg_settings: Settings) -> Iterator[OraclePools]:
    with open_pools(tg_settings, CI_OPTIONS, size=2, reseeded_size=1) as both:
        yield both


@pytest.fixture(scope="session")
def generate(pools: OraclePools) -> Any:
    """``generate(code, fn_name, **item_fields)`` → the item's TestgenResult."""

    def run(code: str, fn_name: str, options: TestgenOptions | None = None, **fields: Any) -> TestgenResult:
        item = TestgenItem(id=fields.pop("id", fn_name), code=code, fn_name=fn_name, **fields)
        [result] = testgen([item], pools, pools.main.settings, options or CI_OPTIONS)
        return result

    return run


@pytest.fixture(scope="session")
def judge(pools: OraclePools) -> Any:
    """``judge(code, tests)`` → the service's Result of ``code`` against ``tests``."""

    def run(code: str, tests: Tests) -> Result:
        [result] = evaluate_items(pools.main, [Item(code=code, tests=tests)])
        return result

    return run
