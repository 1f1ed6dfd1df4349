"""``utrs evaluate`` on the MBPP sample against the real service, and against none (its
pure parts: tests/unit/test_cli_units.py): the summary, results streamed as they are
judged and kept when a later request fails, ``--resume``, ``UTRS_URL``/``UTRS_API_KEY``,
and the progress bar (programs/s, status mix)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client.cli import ExitCode, main
from client.models import Result
from tests.support.paths import DATA, ROOT

MBPP = DATA / "mbpp_head50.jsonl"


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
    bar = run.stderr.replace("\r", "\n").splitlines()[-1]  # the progress bar's last state
    assert "evaluate" in bar and "programs/s" in bar and f"pass {passed}" in bar


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


def stdio_items(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"id": f"{tag}{i}", "code": f"print(int(input()) + {i})",
             "tests": {"kind": "stdio", "cases": [{"input": "1\n", "output": f"{i + 1}\n"}]}}
            for i in range(n)]


@pytest.mark.slow
def test_results_are_kept_when_a_later_request_fails_and_resume_finishes_them(
    live_service: str, tmp_path: Path
) -> None:
    items = stdio_items(12, "r")
    rejected = {**items[9], "limits": {"timeout_s": 10_000}}  # the server refuses it: 422
    source, out = tmp_path / "items.jsonl", tmp_path / "results.jsonl"
    source.write_text("\n".join(json.dumps(i) for i in [*items[:9], rejected, *items[10:]]))
    env = {**os.environ, "UTRS_URL": live_service}  # no --url: the environment's
    args = [sys.executable, "-m", "client.cli", "evaluate", str(source), "-o", str(out),
            "--chunk", "4", "--concurrency", "1", "--no-progress"]
    first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert first.returncode == ExitCode.SERVICE_ERROR, first.stderr
    assert "items[1].limits.timeout_s" in first.stderr and "--resume" in first.stderr
    kept = [Result.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [r.id for r in kept] == [f"r{i}" for i in range(8)]  # the two chunks before it

    source.write_text("\n".join(json.dumps(i) for i in items))
    second = subprocess.run([*args, "--resume"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert second.returncode == ExitCode.OK, second.stderr
    assert "resumed after 8 result(s)" in second.stdout
    assert "items         4" in second.stdout  # only the rest was sent
    results = [Result.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [(r.id, r.status) for r in results] == [(f"r{i}", "pass") for i in range(12)]
