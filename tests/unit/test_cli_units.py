"""The pure parts of ``utrs evaluate``: the input formats, the summary, argument checks,
resuming an output file. (Against the real service, and against none:
tests/e2e/test_cli_client.py.)"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from client._jsonl import resume_point
from client._summary import Summary
from client.cli import BadRecord, ExitCode, Format, main, read_items
from client.models import ErrorInfo, Result
from tests.support.paths import DATA

MBPP = DATA / "mbpp_head50.jsonl"
APPS = DATA / "apps_train_sample"


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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--chunk", "0"], "--chunk"),
        (["--concurrency", "-1"], "--concurrency"),
        (["--timeout", "0"], "--timeout"),
        (["--limit", "many"], "--limit"),
        (["--format", "csv"], "--format"),
        (["--resume"], "--resume"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("")
    assert main(["evaluate", str(source), *args]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert f"argument {named}" in err
    assert "Traceback" not in err


def test_resume_point_counts_whole_results_and_drops_a_cut_off_line(tmp_path: Path) -> None:
    items = read_items(MBPP, Format.MBPP, limit=4)
    out = tmp_path / "results.jsonl"
    assert resume_point(out, items) == 0  # no file yet
    lines = [Result(id=item.id, status="pass").model_dump_json() for item in items[:2]]
    out.write_text("\n".join(lines) + '\n{"id": "' + str(items[2].id) + '", "sta')
    assert resume_point(out, items) == 2
    assert out.read_text() == "\n".join(lines) + "\n"
    out.write_text(Result(id="someone-else", status="pass").model_dump_json() + "\n")
    with pytest.raises(BadRecord, match="someone-else"):
        resume_point(out, items)
