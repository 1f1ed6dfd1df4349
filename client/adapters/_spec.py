"""What every adapter needs: the program in a model's answer, an item from a dataset's
test spec, and rewards from results (never a made-up 0 for an unjudged program)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from client import builders
from client.errors import NotScored
from client.models import Item, Result, Status

__all__ = ["extract_code", "item_from_spec", "judged", "reward_or_none", "rewards_of"]

# A fenced block; an unclosed last fence (a truncated answer) runs to the end.
_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = frozenset({"python", "python3", "py", "py3"})


def extract_code(text: str) -> str:
    """The program in a model's answer.

    The last ```` ```python ```` block (or ```` ```py ````); else the last untagged
    block; else the text itself (a HumanEval-style continuation has no fence).
    """
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    for wanted in (_PYTHON_TAGS, frozenset({""})):
        chosen = [body for tag, body in blocks if tag in wanted]
        if chosen:
            return str(chosen[-1])
    return text


def item_from_spec(code: str, spec: Any, **fields: Any) -> Item:
    """An item for ``code`` from a dataset's test spec (a mapping or its JSON text):

    - ``Tests``: ``{"kind": "assert"|"stdio"|"call", "cases": [...], ...}``;
    - an item template: ``{"tests": {...}, "compare": ..., "limits": ..., ...}``;
    - APPS / verl ``prime_code`` style: ``{"inputs": [...], "outputs": [...],
      "fn_name"?}`` (see :func:`client.builders.from_apps`);
    - a HumanEval record (``test`` + ``entry_point``) or an MBPP record (``test_list``);
    - a list of assert statements.

    ``fields`` (``id``, ``finish_reason``, ...) are added to the item.

    Raises:
        TypeError, ValueError: the spec is none of these.
        pydantic.ValidationError: the spec does not make a valid item.
    """
    data = json.loads(spec) if isinstance(spec, str | bytes) else spec
    if hasattr(data, "tolist"):  # a numpy array, as parquet struct columns come back in verl
        data = data.tolist()
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return builders.item(code, [str(case) for case in data], **fields)
    if not isinstance(data, Mapping):
        raise TypeError(f"a test spec is a mapping or a list of asserts, not {type(data).__name__}")
    if "kind" in data:
        return builders.item(code, data, **fields)
    if "tests" in data:
        return Item.model_validate({**data, **fields, "code": code})
    if "inputs" in data and "outputs" in data:
        return builders.from_apps({"input_output": data}, code, **fields)
    if "test" in data and "entry_point" in data:
        return builders.from_humaneval(data, code, **fields)
    if "test_list" in data:
        return builders.from_mbpp(data, code, **fields)
    raise ValueError(f"unrecognised test spec with keys {sorted(data)[:8]}")


def rewards_of(results: Sequence[Result], key: str = "total") -> list[float]:
    """``result.rewards[key]`` for each result.

    Raises:
        NotScored: a result is ``infra_error`` (after the client's retries) or
            ``no_tests``, or has no ``key`` reward; no score is invented for it.
    """
    values = [r.rewards.get(key) for r in results]
    bad = [
        i for i, (r, value) in enumerate(zip(results, values, strict=True))
        if r.status in (Status.INFRA_ERROR, Status.NO_TESTS) or value is None
    ]
    if bad:
        details = {detail for i in bad if (detail := results[i].detail)}
        raise NotScored(
            bad, [str(results[i].status) for i in bad],
            f"no {key!r} reward; " + ("; ".join(sorted(details))[:500] or "see the results"),
        )
    return [float(value) for value in values if value is not None]


def judged(result: Result) -> bool:
    """The service gave a verdict (not ``infra_error`` after the retries, not ``no_tests``)."""
    return result.status not in (Status.INFRA_ERROR, Status.NO_TESTS)


def reward_or_none(result: Result, key: str = "total") -> float | None:
    """``result.rewards[key]``, or ``None`` when the result has no verdict or no such
    reward (TRL's convention for a sample that cannot be scored)."""
    value = result.rewards.get(key)
    return float(value) if judged(result) and value is not None else None
