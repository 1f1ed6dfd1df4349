"""``utrs evaluate`` on the MBPP sample against the real service, and its pure parts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from client._summary import Summary
from client.cli import BadRecord, ExitCode, Format, main, read_items
from client.models import ErrorInfo, Result

ROOT = Path(__file__).resolve().parent.parent
MBPP = Path(__file__).parent / "data" / "mbpp_head50.jsonl"
APPS = Path(__file__).parent / "data" / "apps_train_sample"


@pytest.mark.slow
def test_cli_on_mbpp_prints_the_summary_and_writes_one_result_per_line(
    live_service: str, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "client.cli", "evaluate", str(MBPP), "--url", live_service,
         "--format", "mbpp", "-o", str(out), "--chunk", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == ExitCode.OK, run.stderr
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in MBPP.read_text().splitlines()]
    assert len(lines) == len(records) == 50
    results = [Result.model_validate_json(line) for line in lines]
    assert [r.id for r in results] == [str(r["task_id"]) for r in records]
    passed = sum(r.status == "pass" for r in results)
    assert passed >= 45  # the MBPP references, judged honestly (a few fail their tests)
    summary = run.stdout
    for label in ("pass rate", "outcomes", "sub-errors", "cache hits", "throughput"):
        assert label in summary
    assert f"({passed}/50 judged)" in summary
    assert "evaluate" in run.stderr  # the progress bar


@pytest.mark.slow
def test_cli_to_stdout_with_items_format(live_service: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "items.jsonl"
    items = [
        {"id": "ok", "code": "print(int(input()) * 2)",
         "tests": {"kind": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]}},
        {"id": "bad", "code": "print(int(input()) + 2",
         "tests": {"kind": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]}},
    ]
    source.write_text("\n".join(json.dumps(i) for i in items) + "\n\n")
    code = main(["evaluate", str(source), "--url", live_service, "--no-progress"])
    captured = capsys.readouterr()
    assert code == ExitCode.OK
    results = [Result.model_validate_json(line) for line in captured.out.splitlines()]
    assert [(r.id, r.status) for r in results] == [("ok", "pass"), ("bad", "error")]
    assert "syntax 1" in captured.err


def test_cli_reports_bad_input_and_unreachable_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"code": "x", "tests": {"kind": "assert"}}\nnot json\n')
    assert main(["evaluate", str(broken)]) == ExitCode.BAD_INPUT
    assert "line 2" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"code": "x", "tests": {"kind": "assert", "cases": [{"code": "1"}]}}\n')
    assert main(["evaluate", str(good), "--url", "http://127.0.0.1:9", "--no-progress",
                 "--timeout", "5"]) == ExitCode.SERVICE_ERROR
    assert "ServiceUnreachable" in capsys.readouterr().err


def test_read_items_for_each_format(humaneval: list[dict[str, object]], tmp_path: Path) -> None:
    he = tmp_path / "he.jsonl"
    he.write_text("\n".join(json.dumps(r) for r in humaneval[:3]))
    assert [i.code for i in read_items(he, Format.HUMANEVAL)] == [
        r["canonical_solution"] for r in humaneval[:3]
    ]
    assert len(read_items(MBPP, Format.MBPP, limit=7)) == 7
    folder = APPS / "4184"
    record = {
        "problem_id": "4184",
        "input_output": (folder / "input_output.json").read_text(),
        "starter_code": (folder / "starter_code.py").read_text(),
        "solutions": (folder / "solutions.json").read_text(),
    }
    apps = tmp_path / "apps.jsonl"
    apps.write_text(json.dumps(record) + "\n" + json.dumps({**record, "completion": "x"}) + "\n")
    first, second = read_items(apps, Format.APPS)
    assert first.code == json.loads(record["solutions"])[0]
    assert second.code == "x"
    with pytest.raises(BadRecord, match="line 1"):
        read_items(apps, Format.HUMANEVAL)


def test_summary_counts() -> None:
    def error(subtype: str) -> ErrorInfo:
        return ErrorInfo(type="X", subtype=subtype)

    results = [
        Result(status="pass", passed=3, total=3, cached=True),
        Result(status="pass", passed=3, total=3),
        Result(status="failure", passed=1, total=3, error=error("else")),
        Result(status="error", total=3, error=error("index")),
        Result(status="error", total=3, error=error("index")),
        Result(status="infra_error", detail="lost"),
    ]
    summary = Summary.of(results, elapsed_s=2.0)
    assert summary.judged == 5
    assert summary.pass_rate == pytest.approx(0.4)
    assert summary.subtypes == Counter({"index": 2, "else": 1})
    assert summary.throughput == pytest.approx(3.0)
    table = summary.table()
    assert "pass, 2" not in table
    assert "pass 2, failure 1, error 2, infra_error 1" in table
    assert "index 2, else 1" in table
    assert "1  (16.7%)" in table
