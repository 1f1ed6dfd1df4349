"""Bad input gets a clear error or status, never a crash of the worker."""

from __future__ import annotations

import io
import json

from client.models import Item, Status, TestStatus
from service.sandbox import cli
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool


def _item(code: str, **tests: object) -> Item:
    spec = {"kind": "stdio", "cases": [{"input": "", "output": "1"}], **tests}
    return Item.model_validate({"code": code, "tests": spec})


def test_empty_tests_are_no_tests_without_running(pool: SandboxPool) -> None:
    [result] = evaluate_items(pool, [_item("print(1)", cases=[])])
    assert result.status is Status.NO_TESTS and result.rewards == {} and result.total == 0


def test_nul_bytes_and_surrogates_are_errors_not_crashes(pool: SandboxPool) -> None:
    results = evaluate_items(pool, [_item("print(1)\x00"), _item("print('\ud800')"), _item("print(1)")])
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR, Status.PASS]
    assert results[0].tests[0].status is TestStatus.ERROR


def test_five_megabyte_program_is_judged(pool: SandboxPool) -> None:
    """Compiling 750,000 statements needs more than the default 512 MiB: with the default
    limit that is a clear memory verdict; with room enough the program runs."""
    code = "x = 0\n" + "x += 1\n" * 750_000 + "print(x)\n"
    assert len(code) > 5_000_000
    tests = {"kind": "stdio", "cases": [{"input": "", "output": "750000"}]}
    small = Item.model_validate({"code": code, "limits": {"timeout_s": 20}, "tests": tests})
    roomy = Item.model_validate({"code": code, "limits": {"timeout_s": 20, "memory_mb": 1536}, "tests": tests})
    results = evaluate_items(pool, [small, roomy])
    assert [r.tests[0].status for r in results] == [TestStatus.MEMORY, TestStatus.PASS]


def test_cli_reports_bad_lines_and_judges_the_rest(pool: SandboxPool) -> None:
    good = json.dumps(
        {"id": "ok", "code": "print(1)", "tests": {"kind": "stdio", "cases": [{"input": "", "output": "1"}]}}
    )
    lines = [good, "{not json", json.dumps({"code": "x", "tests": {"kind": "nope"}}), "", good]
    source = io.BytesIO(("\n".join(lines) + "\n").encode() + b"\xff\xfe bad bytes\n")
    out = io.StringIO()
    refused = cli.run(source, out, pool, batch_size=2)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert refused == 3
    assert [r.get("status") or r["line"] for r in rows] == ["pass", 2, 3, "pass", 6]
    assert "tests.kind" in rows[2]["error"]
    assert "UTF-8" in rows[4]["error"]


def test_items_without_tests_mixed_into_a_batch_keep_every_position(pool: SandboxPool) -> None:
    items = [
        _item("print(1)", cases=[]),
        _item("print(1)"),
        _item("print(2)", cases=[]),
        _item("print(2)"),
        _item("print(1)"),
    ]
    results = evaluate_items(pool, items)
    assert [r.status for r in results] == [
        Status.NO_TESTS, Status.PASS, Status.NO_TESTS, Status.FAILURE, Status.PASS,
    ]  # fmt: skip
