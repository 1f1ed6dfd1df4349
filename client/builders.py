"""Build ``Item``s from the records of common code benchmarks.

Each builder only rearranges data: nothing here runs, imports or compiles the code or
the tests (that happens in the service's sandbox). Code given by the caller is kept
verbatim, so error positions the service reports stay in the caller's coordinates.

>>> from client.builders import from_humaneval
>>> item = from_humaneval(record, completion)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from client.models import Compare, Item, Tests

__all__ = ["APPS_PRELUDE", "from_apps", "from_humaneval", "from_mbpp", "item"]

# The standard-library part of the import header APPS's testing_util puts before every
# solution; APPS references (and LeetCode-style ``List[int]`` annotations) rely on it.
APPS_PRELUDE = (
    "import sys\nimport time\nimport itertools\n"
    "from itertools import accumulate, product, permutations, combinations\n"
    "import collections\n"
    "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
    "from functools import lru_cache\nimport math\n"
    "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\n"
    "import fractions\nfrom typing import List, Tuple\nimport random\nimport heapq\n"
    "from heapq import *\n"
)

_SOLUTION_CLASS = re.compile(r"^\s*class\s+Solution\b", re.MULTILINE)


def item(
    code: str, tests: Tests | Mapping[str, Any] | Sequence[str], **fields: Any
) -> Item:
    """An item from a program and its tests.

    ``tests`` is a ``Tests``, its JSON form, or a list of assert statements (one case
    each). ``fields`` are other ``Item`` fields (``id``, ``prompt``, ``limits``, ...).

    Raises:
        pydantic.ValidationError: the fields do not make a valid item.
    """
    if isinstance(tests, Tests):
        spec: Any = tests.model_dump(mode="json", exclude_unset=True)
    elif isinstance(tests, Mapping):
        spec = dict(tests)
    elif isinstance(tests, str):
        raise TypeError("tests must be a Tests, a mapping or a list of assert statements")
    else:
        spec = {"kind": "assert", "cases": [{"code": case} for case in tests]}
    return Item.model_validate({**fields, "code": code, "tests": spec})


def from_humaneval(record: Mapping[str, Any], completion: str, **fields: Any) -> Item:
    """HumanEval: the program is ``prompt + completion``; the test defines ``check`` and
    one case calls it on the entry point. Pass ``prompt=""`` when the completion is a
    whole program (a chat answer) rather than a continuation of the prompt."""
    tests = {
        "kind": "assert",
        "setup": record["test"],
        "cases": [{"code": f"check({record['entry_point']})"}],
    }
    _default_id(fields, record.get("task_id"))
    fields.setdefault("prompt", record.get("prompt") or "")
    fields.setdefault("entry_points", [record["entry_point"]])
    return Item.model_validate({**fields, "code": completion, "tests": tests})


def from_mbpp(
    record: Mapping[str, Any], code: str | None = None, *, challenge: bool = False,
    **fields: Any,
) -> Item:
    """MBPP (original or sanitized): one assert case per ``test_list`` entry.

    ``code`` defaults to the record's reference solution, sent as is (MBPP's ``\\r\\n``
    line ends and tabs included). ``test_setup_code`` (or the sanitized split's
    ``test_imports``) becomes the setup; ``challenge`` adds ``challenge_test_list``.
    """
    asserts = list(record["test_list"])
    if challenge:
        asserts += list(record.get("challenge_test_list") or [])
    setup = record.get("test_setup_code") or "\n".join(record.get("test_imports") or [])
    tests: dict[str, Any] = {"kind": "assert", "cases": [{"code": a} for a in asserts]}
    if setup:
        tests["setup"] = setup
    _default_id(fields, record.get("task_id"))
    program = record["code"] if code is None else code
    return Item.model_validate({**fields, "code": program, "tests": tests})


def from_apps(
    problem: str | os.PathLike[str] | Mapping[str, Any],
    code: str,
    *,
    compare: Compare | None = None,
    prelude: str = APPS_PRELUDE,
    **fields: Any,
) -> Item:
    """APPS: a problem directory (``input_output.json``, optional ``starter_code.py``) or
    a record with ``input_output`` (dict or JSON text) and optional ``starter_code``.

    With ``fn_name``: call cases (``args = inputs[i]``, ``expected = outputs[i]``), on
    ``Solution()`` when the starter code or ``code`` defines ``class Solution`` (as
    APPS's testing_util decides), compared with
    ``"apps"`` by default (APPS wraps some expected values in a one-element list).
    Without: stdio cases, compared with ``"tokens"`` by default. ``prelude`` (APPS's
    standard-library imports) is sent as the item's ``prompt``.
    """
    record = _apps_record(problem)
    io = record["input_output"]
    if isinstance(io, str):
        io = json.loads(io)
    # As APPS's testing_util: a ``class Solution`` in the starter or in the program itself.
    tests = _apps_tests(io, (record.get("starter_code") or "") + "\n" + code)
    default = Compare.APPS if tests["kind"] == "call" else Compare.TOKENS
    _default_id(fields, record.get("problem_id"))
    fields.setdefault("compare", compare or default)
    return Item.model_validate({**fields, "prompt": prelude, "code": code, "tests": tests})


def _default_id(fields: dict[str, Any], record_id: object) -> None:
    if record_id is not None:
        fields.setdefault("id", str(record_id))


def _apps_record(problem: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(problem, Mapping):
        record = dict(problem)
        if "problem_id" not in record and "id" in record:
            record["problem_id"] = record["id"]
        return record
    folder = Path(problem)
    starter = folder / "starter_code.py"
    return {
        "problem_id": folder.name,
        "input_output": (folder / "input_output.json").read_text(encoding="utf-8"),
        "starter_code": starter.read_text(encoding="utf-8") if starter.exists() else "",
    }


def _apps_tests(io: Mapping[str, Any], source: str) -> dict[str, Any]:
    inputs, outputs = list(io["inputs"]), list(io["outputs"])
    if len(inputs) != len(outputs):
        raise ValueError(f"APPS input_output: {len(inputs)} inputs for {len(outputs)} outputs")
    fn_name = io.get("fn_name")
    if not fn_name:
        cases = [
            {"input": _lines(given), "output": _lines(wanted)}
            for given, wanted in zip(inputs, outputs, strict=True)
        ]
        return {"kind": "stdio", "cases": cases}
    tests: dict[str, Any] = {
        "kind": "call",
        "fn_name": fn_name,
        "cases": [
            {"args": args if isinstance(args, list) else [args], "expected": wanted}
            for args, wanted in zip(inputs, outputs, strict=True)
        ],
    }
    if _SOLUTION_CLASS.search(source):
        tests["class_name"] = "Solution"
    return tests


def _lines(value: str | Sequence[str]) -> str:
    """APPS stores some stdio inputs/outputs as lists of lines (testing_util joins them)."""
    return value if isinstance(value, str) else "\n".join(value)
