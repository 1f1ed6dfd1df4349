"""A multi-turn repair environment for TRL's ``environment_factory``.

>>> from client.adapters.trl_env import repair_environment
>>> trainer = GRPOTrainer(model=..., environment_factory=repair_environment(url), ...)

TRL makes one environment per rollout, calls ``reset(**row)`` with the dataset row, offers
every public method but ``reset``/``get_reward`` to the model as a tool (described by its
signature and docstring), and calls ``get_reward()`` once the rollout ends. Here the one
tool is ``run_tests(code)``: the service judges the program against the row's tests and
the model reads :func:`client.feedback_text` of the verdict; the rollout's reward is the
verdict on the last program it ran (``None``, left out of the baseline by TRL, when it ran
none or the service could not judge it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from client.adapters._clients import Connection
from client.adapters.repair import RepairTask

__all__ = ["RepairEnvironment", "repair_environment"]


class RepairEnvironment:
    """One rollout's environment; keep every helper private, or TRL offers it as a tool."""

    def __init__(
        self, connection: Connection | None = None, *, tests_column: str = "tests",
        reward_key: str = "total", max_chars: int = 1500,
    ) -> None:
        self._connection = connection or Connection()
        self._tests_column = tests_column
        self._reward_key = reward_key
        self._max_chars = max_chars
        self._task: RepairTask | None = None

    def reset(self, **row: Any) -> str | None:
        """Start a rollout on ``row`` (TRL passes the dataset row); nothing is added to
        the prompt."""
        if self._tests_column not in row:
            raise KeyError(f"no dataset column {self._tests_column!r} among {sorted(row)}")
        self._task = RepairTask(row[self._tests_column], self._reward_key, self._max_chars)
        return None

    def run_tests(self, code: str) -> str:
        """Run the task's unit tests against a complete Python program.

        Args:
            code: The whole program to test, as it would be submitted.

        Returns:
            Whether all tests passed; otherwise the first failing test, the error and
            the line of the program it happened on.
        """
        task = self._require_task()
        item = task.item(code)
        result = self._connection.client().evaluate([item])[0]
        return task.record(item, result).feedback

    def get_reward(self) -> float | None:
        """The service's reward for the last program this rollout ran."""
        return self._require_task().reward()

    def _require_task(self) -> RepairTask:
        if self._task is None:
            raise RuntimeError("reset() must be called before the environment is used")
        return self._task


def repair_environment(
    url: str | None = None, *, api_key: str | None = None, tests_column: str = "tests",
    reward_key: str = "total", max_chars: int = 1500,
) -> Callable[[], RepairEnvironment]:
    """An ``environment_factory`` for ``GRPOTrainer`` (picklable, for AsyncGRPO)."""
    return functools.partial(
        RepairEnvironment, Connection(url, api_key), tests_column=tests_column,
        reward_key=reward_key, max_chars=max_chars,
    )
