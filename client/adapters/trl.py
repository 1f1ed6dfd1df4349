"""A TRL GRPO-style reward function backed by the service.

>>> from client.adapters.trl import make_reward_fn
>>> trainer = GRPOTrainer(model=..., reward_funcs=[make_reward_fn(url)], train_dataset=ds)

TRL calls ``reward_fn(prompts=..., completions=..., completion_ids=..., **columns)`` where
every other dataset column arrives as a keyword list aligned with ``completions``; the
tests come from one of them (``tests_column``, a spec as in
:func:`client.adapters.item_from_spec`). Completions may be strings or conversations
(lists of ``{"role", "content"}`` messages); the program is the last fenced code block.
TRL itself is not imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from client.adapters._clients import shared_client
from client.adapters._spec import extract_code, item_from_spec, rewards_of
from client.client import RewardClient
from client.models import Item

__all__ = ["RewardFunction", "completion_text", "make_reward_fn"]

ItemMaker = Callable[[str, dict[str, Any]], Item]


def completion_text(completion: str | Sequence[dict[str, Any]]) -> str:
    """The text of a completion: a string, or the last message of a conversation."""
    if isinstance(completion, str):
        return completion
    if not completion:
        return ""
    content = completion[-1].get("content", "")
    return content if isinstance(content, str) else str(content)


class RewardFunction:
    """Callable as a TRL reward function; ``__name__`` names it in TRL's logs."""

    def __init__(
        self,
        client: RewardClient,
        *,
        tests_column: str = "tests",
        reward_key: str = "total",
        make_item: ItemMaker | None = None,
        name: str = "utrs",
    ) -> None:
        self.client = client
        self.tests_column = tests_column
        self.reward_key = reward_key
        self.make_item = make_item or self._item_from_column
        self.__name__ = name

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float]:
        """One reward per completion, in order.

        Raises:
            NotScored: a program could not be judged (no reward is invented for it).
            KeyError: the tests column is not among the keyword arguments.
        """
        del prompts  # the tests, not the prompt, decide the reward
        columns = {k: v for k, v in kwargs.items() if _is_column(v, len(completions))}
        items = [
            self.make_item(extract_code(completion_text(c)), _row(columns, i))
            for i, c in enumerate(completions)
        ]
        return rewards_of(self.client.evaluate(items), self.reward_key)

    def _item_from_column(self, code: str, row: dict[str, Any]) -> Item:
        if self.tests_column not in row:
            raise KeyError(f"no dataset column {self.tests_column!r} among {sorted(row)}")
        return item_from_spec(code, row[self.tests_column])


def make_reward_fn(
    url: str | None = None,
    *,
    client: RewardClient | None = None,
    tests_column: str = "tests",
    reward_key: str = "total",
    make_item: ItemMaker | None = None,
) -> RewardFunction:
    """A reward function for ``GRPOTrainer(reward_funcs=[...])``.

    Args:
        url: the service (default ``UTRS_URL`` or ``http://127.0.0.1:8000``).
        client: a configured client to use instead of the shared one for ``url``.
        tests_column: the dataset column holding each row's test spec.
        reward_key: which of ``Result.rewards`` to return (``total``, ``coarse``, ...).
        make_item: ``(code, row) -> Item`` to build items yourself.
    """
    return RewardFunction(
        client or shared_client(url), tests_column=tests_column, reward_key=reward_key,
        make_item=make_item,
    )


def _is_column(value: Any, rows: int) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == rows


def _row(columns: dict[str, Sequence[Any]], index: int) -> dict[str, Any]:
    return {name: values[index] for name, values in columns.items()}
