"""Pytest plugin: in CI a skipped test is a failed test.

A live test whose component is missing (Docker, Redis, an extra such as DeepSpeed) must
fail where everything is supposed to be installed, not pass quietly as "skipped". With
``UTRS_STRICT_SKIPS=1`` (scripts/test.sh, hence CI, sets it):

- a test that skips while running is reported as failed, naming the skip's reason;
- a module skipped at collection (``pytest.importorskip`` at module level) is listed at
  the end of the run, and the run's exit status is a failure (collection goes on, so
  the rest of the suite still runs).

Expected failures (``xfail``) are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

ENV = "UTRS_STRICT_SKIPS"


def strict() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def _reason(report: Any) -> str:
    return str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)


class StrictSkips:
    """The plugin's state: modules skipped at collection."""

    def __init__(self) -> None:
        self.skipped_modules: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if report.skipped and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = f"skipped, and skips fail with {ENV}=1: {_reason(report)}"
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.skipped_modules.append(f"{report.nodeid}: {_reason(report)}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.skipped_modules:
            terminalreporter.write_sep("=", f"skipped at collection: failures with {ENV}=1", red=True)
            for line in self.skipped_modules:
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.skipped_modules and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if strict():
        config.pluginmanager.register(StrictSkips(), "utrs-strict-skips")
