"""Problems: a statement, optional reference solution, and unit tests in wire format.

Sources: the bundled MBPP and APPS copies (``trainer_example/data/``, see its README for
attribution), any JSONL of items (wire ``Item`` fields, with ``code`` as the reference
solution), and the synthetic task family (:mod:`trainer_example.synthetic`).
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.models import Case, TestKind, Tests

__all__ = ["DATA_DIR", "Problem", "load_problems"]

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True)
class Problem:
    id: str
    text: str
    tests: Tests
    reference: str | None = None
    examples: tuple[str, ...] = ()

    @property
    def prompt(self) -> str:
        """What the model is given; the program it writes follows this text."""
        lines = [f"# {line}".rstrip() for line in self.text.strip().splitlines()]
        lines += [f"# {example}" for example in self.examples]
        return "\n".join(lines) + "\n"


def _clean(code: str) -> str:
    return code.replace("\r\n", "\n").replace("\t", "    ").rstrip() + "\n"


def _mbpp(row: dict[str, Any]) -> Problem:
    cases = [Case(code=test) for test in row["test_list"]]
    tests = Tests(kind=TestKind.ASSERT, cases=cases, setup=row.get("test_setup_code") or None)
    return Problem(
        id=f"mbpp/{row['task_id']}",
        text=row["text"],
        tests=tests,
        reference=_clean(row["code"]),
        examples=(row["test_list"][0],),
    )


def _joined(outputs: list[Any]) -> str:
    return "\n".join(str(o).rstrip("\n") for o in outputs) + "\n"


def _apps(row: dict[str, Any], index: int) -> Problem | None:
    """APPS stdio problems (call-based ones, with starter code, are skipped)."""
    if row.get("starter_code"):
        return None
    raw = row["test_list"]
    records = ast.literal_eval(raw) if isinstance(raw, str) else raw
    cases = [Case(input=str(r["input"]), output=_joined(r["output"])) for r in records]
    text = row["description"].strip()
    return Problem(id=f"apps/{row.get('id', index)}", text=text, tests=Tests(kind=TestKind.STDIO, cases=cases))


def _item(row: dict[str, Any], index: int) -> Problem:
    """A wire item (``code`` is the reference) or a test-generation row (``prompt``,
    optional ``reference``: docs/testgen.md)."""
    reference = row.get("code") or row.get("reference")
    return Problem(
        id=str(row.get("id", index)),
        text=row.get("text") or row.get("prompt") or "",
        tests=Tests.model_validate(row["tests"]),
        reference=_clean(reference) if reference else None,
    )


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _from_jsonl(path: Path) -> list[Problem]:
    problems: list[Problem] = []
    for index, row in enumerate(_rows(path)):
        if "test_list" in row and "task_id" in row:
            problems.append(_mbpp(row))
        elif "test_list" in row and "description" in row:
            apps = _apps(row, index)
            if apps is not None:
                problems.append(apps)
        else:
            problems.append(_item(row, index))
    return problems


def load_problems(source: str, *, limit: int | None = None, seed: int = 0) -> list[Problem]:
    """Load problems: ``synthetic``, ``mbpp``, ``apps`` or a path to a JSONL file.

    Raises:
        FileNotFoundError: the JSONL file does not exist.
    """
    if source == "synthetic":
        from trainer_example.synthetic import synthetic_problems

        problems = synthetic_problems()
    elif source in ("mbpp", "apps"):
        name = "mbpp.jsonl" if source == "mbpp" else "apps_selected150.jsonl"
        problems = _from_jsonl(DATA_DIR / name)
    else:
        problems = _from_jsonl(Path(source))
    if limit is not None and limit < len(problems):
        problems = random.Random(seed).sample(problems, limit)
    return problems
