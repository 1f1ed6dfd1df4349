"""The CLI's files: input records as items, results appended one per line as they come,
and the resumption of an output file that a failed run left behind."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from client import builders
from client.models import Item, Result

__all__ = ["BadRecord", "Format", "read_items", "resume_point", "write_result"]


class Format(StrEnum):
    ITEMS = "items"
    HUMANEVAL = "humaneval"
    MBPP = "mbpp"
    APPS = "apps"


class BadRecord(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


def _apps_program(record: Mapping[str, Any]) -> str:
    if "completion" in record:
        return str(record["completion"])
    solutions = record.get("solutions") or []
    if isinstance(solutions, str):
        solutions = json.loads(solutions)
    if not solutions:
        raise ValueError("no 'completion' and no 'solutions' to evaluate")
    return str(solutions[0])


_READERS: dict[Format, Callable[[dict[str, Any]], Item]] = {
    Format.ITEMS: Item.model_validate,
    Format.HUMANEVAL: lambda r: builders.from_humaneval(
        r, r["completion"] if "completion" in r else r["canonical_solution"]
    ),
    Format.MBPP: lambda r: builders.from_mbpp(r, r.get("completion")),
    Format.APPS: lambda r: builders.from_apps(r, _apps_program(r)),
}


def read_items(path: Path, fmt: Format, limit: int | None = None) -> list[Item]:
    """The file's records as items (blank lines skipped).

    Raises:
        BadRecord: a line is not JSON or not a valid record of ``fmt``.
    """
    reader = _READERS[fmt]
    items: list[Item] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(items) >= limit:
                break
            if not line.strip():
                continue
            try:
                items.append(reader(json.loads(line)))
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise BadRecord(number, f"{type(exc).__name__}: {exc}") from exc
    return items


def write_result(result: Result, out: TextIO) -> None:
    out.write(result.model_dump_json(exclude_none=True) + "\n")
    out.flush()  # a run that dies later keeps every result written so far


def resume_point(path: Path, items: Sequence[Item]) -> int:
    """How many results ``path`` already holds for ``items`` (a cut-off last line, left by
    a run that died mid-write, is removed).

    Raises:
        BadRecord: a complete line is not a result, or its id is not the matching item's
            (the file belongs to another input).
    """
    if not path.exists():
        return 0
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # ``tail`` is "" when the file ends in a newline
    for number, line in enumerate(complete, start=1):
        try:
            result = Result.model_validate_json(line)
        except ValidationError as exc:
            raise BadRecord(number, f"{path} has a line that is not a result: {exc}") from exc
        expected = items[number - 1].id if number <= len(items) else None
        if number > len(items) or result.id != expected:
            raise BadRecord(number, f"{path} holds result {result.id!r} where item {expected!r} is")
    if tail:
        path.write_text("".join(line + "\n" for line in complete), encoding="utf-8")
    return len(complete)
