"""TRL reward functions backed by the service (``GRPOTrainer``, ``AsyncGRPOTrainer``).

>>> from client.adapters.trl import make_reward_fn, make_async_reward_fn
>>> trainer = GRPOTrainer(model=..., reward_funcs=[make_reward_fn(url)], train_dataset=ds)

TRL calls ``reward_fn(prompts=..., completions=..., completion_ids=..., **columns)``: every
other dataset column arrives as a keyword list aligned with ``completions``, plus
``trainer_state``, ``log_metric`` and ``log_extra``. The tests come from one column
(``tests_column``, a spec as in :func:`client.adapters.item_from_spec`). A completion is a
string or a conversation; the program is the last fenced code block of its last
*assistant* message (a tool's answer after it is not the model's code).

A sample the service could not judge (``infra_error`` after the client's retries,
``no_tests``) gets ``None``, TRL's convention for "leave it out of the group's baseline";
``on_unscored="raise"`` raises :class:`~client.errors.NotScored` instead. The functions
hold only a :class:`~client.adapters.Connection`, so they pickle (AsyncGRPO sends them to
a spawned child); each process makes its own client on first use. TRL is not imported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from client.adapters._clients import Connection
from client.adapters._spec import extract_code, item_from_spec, judged, reward_or_none, rewards_of
from client.client import RewardClient
from client.models import Item, Result

__all__ = [
    "AsyncRewardFunction",
    "OnUnscored",
    "RewardFunction",
    "completion_text",
    "make_async_reward_fn",
    "make_reward_fn",
]

ItemMaker = Callable[[str, dict[str, Any]], Item]


class OnUnscored(StrEnum):
    NONE = "none"  # TRL leaves the sample out of the group baseline
    RAISE = "raise"


def completion_text(completion: str | Sequence[dict[str, Any]]) -> str:
    """The text of a completion: a string, or the last assistant message of a
    conversation (``""`` when there is none)."""
    if isinstance(completion, str):
        return completion
    for message in reversed(completion):
        if message.get("role", "assistant") == "assistant":
            return _content_text(message.get("content", ""))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


class _Base:
    """What the sync and async functions share: items from the batch, rewards and logs."""

    def __init__(
        self, connection: Connection, *, tests_column: str, reward_key: str,
        make_item: ItemMaker | None, on_unscored: OnUnscored | str, name: str,
    ) -> None:
        self.connection = connection
        self.tests_column = tests_column
        self.reward_key = reward_key
        self.make_item = make_item
        self.on_unscored = OnUnscored(on_unscored)
        self.__name__ = name

    def _items(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
        columns = {k: v for k, v in kwargs.items() if _is_column(v, len(completions))}
        make = self.make_item or self._item_from_column
        return [make(extract_code(completion_text(c)), _row(columns, i)) for i, c in enumerate(completions)]

    def _item_from_column(self, code: str, row: dict[str, Any]) -> Item:
        if self.tests_column not in row:
            raise KeyError(f"no dataset column {self.tests_column!r} among {sorted(row)}")
        return item_from_spec(code, row[self.tests_column])

    def _rewards(self, results: Sequence[Result], kwargs: dict[str, Any]) -> list[float | None]:
        _log(self.__name__, results, kwargs.get("log_metric"), kwargs.get("log_extra"))
        if self.on_unscored is OnUnscored.RAISE:
            return list(rewards_of(results, self.reward_key))
        return [reward_or_none(result, self.reward_key) for result in results]


class RewardFunction(_Base):
    """A synchronous TRL reward function; ``__name__`` names it in TRL's logs."""

    def __init__(
        self, connection: Connection | None = None, *, client: RewardClient | None = None,
        tests_column: str = "tests", reward_key: str = "total", make_item: ItemMaker | None = None,
        on_unscored: OnUnscored | str = OnUnscored.NONE, name: str = "utrs",
    ) -> None:
        super().__init__(
            connection or _connection_of(client), tests_column=tests_column, reward_key=reward_key,
            make_item=make_item, on_unscored=on_unscored, name=name,
        )
        self._client = client  # used in this process only; a pickled copy makes its own

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        """One reward (or ``None``) per completion, in order.

        Raises:
            NotScored: a program could not be judged and ``on_unscored="raise"``.
            KeyError: the tests column is not among the keyword arguments.
        """
        del prompts  # the tests, not the prompt, decide the reward
        client = self._client or self.connection.client()
        return self._rewards(client.evaluate(self._items(completions, kwargs)), kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}


class AsyncRewardFunction(_Base):
    """An ``async def`` TRL reward function on ``AsyncRewardClient``: GRPOTrainer runs it
    on its own event loop, concurrently with the other async reward functions."""

    async def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        """One reward (or ``None``) per completion, in order (see ``RewardFunction``)."""
        del prompts
        results = await self.connection.async_client().evaluate(self._items(completions, kwargs))
        return self._rewards(results, kwargs)


def make_reward_fn(
    url: str | None = None, *, api_key: str | None = None, client: RewardClient | None = None,
    tests_column: str = "tests", reward_key: str = "total", make_item: ItemMaker | None = None,
    on_unscored: OnUnscored | str = OnUnscored.NONE, name: str = "utrs",
) -> RewardFunction:
    """A reward function for ``GRPOTrainer(reward_funcs=[...])``.

    Args:
        url: the service (default ``UTRS_URL``, else ``http://127.0.0.1:8000``).
        api_key: the service's key (default ``UTRS_API_KEY``).
        client: a configured client to use in this process instead of making one.
        tests_column: the dataset column holding each row's test spec.
        reward_key: which of ``Result.rewards`` to return (``total``, ``coarse``, ...).
        make_item: ``(code, row) -> Item`` to build items yourself (picklable, for
            AsyncGRPO: a module-level function).
        on_unscored: ``"none"`` (TRL's convention) or ``"raise"``.
        name: the name TRL logs the reward under (``rewards/<name>/mean``).
    """
    connection = Connection(url, api_key) if client is None else None
    return RewardFunction(
        connection, client=client, tests_column=tests_column, reward_key=reward_key,
        make_item=make_item, on_unscored=on_unscored, name=name,
    )


def make_async_reward_fn(
    url: str | None = None, *, api_key: str | None = None, tests_column: str = "tests",
    reward_key: str = "total", make_item: ItemMaker | None = None,
    on_unscored: OnUnscored | str = OnUnscored.NONE, name: str = "utrs_async",
) -> AsyncRewardFunction:
    """An ``async def`` reward function (arguments as :func:`make_reward_fn`)."""
    return AsyncRewardFunction(
        Connection(url, api_key), tests_column=tests_column, reward_key=reward_key,
        make_item=make_item, on_unscored=on_unscored, name=name,
    )


def _connection_of(client: RewardClient | None) -> Connection:
    if client is None:
        return Connection()
    return Connection(client.base_url, client._options.api_key)


def _log(
    name: str, results: Sequence[Result], log_metric: Any, log_extra: Any
) -> None:
    """Pass ratio, outcome and sub-error shares through TRL's ``log_metric`` (averaged per
    logging step) and per-sample columns through ``log_extra`` (the completions table)."""
    if not results:
        return
    if callable(log_metric):
        scored = [r for r in results if judged(r)]
        if scored:
            log_metric(f"{name}/pass_ratio", sum(r.pass_ratio for r in scored) / len(scored))
            log_metric(f"{name}/passed_all", sum(r.pass_ratio == 1.0 for r in scored) / len(scored))
        log_metric(f"{name}/unscored", (len(results) - len(scored)) / len(results))
        for subtype, count in Counter(_subtype(r) for r in results if _subtype(r)).items():
            log_metric(f"{name}/error/{subtype}", count / len(results))
    if callable(log_extra):
        log_extra(f"{name}_status", [str(r.status) for r in results])
        log_extra(f"{name}_error", [_subtype(r) for r in results])


def _subtype(result: Result) -> str:
    error = result.error
    return (error.subtype or error.type) if error is not None else ""


def _is_column(value: Any, rows: int) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == rows


def _row(columns: dict[str, Sequence[Any]], index: int) -> dict[str, Any]:
    return {name: values[index] for name, values in columns.items()}
