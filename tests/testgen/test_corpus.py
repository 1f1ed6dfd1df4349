"""The corpus pipeline end to end on real Python (standard-library modules), resumed;
corpora as JSONL and as a Hugging Face dataset from local files; the description
filters and decontamination; rows that the trainer example reads."""

from __future__ import annotations

import fnmatch as fnmatch_module
import json
import shlex as shlex_module
import shutil
import subprocess
import sys
import textwrap as textwrap_module
from pathlib import Path
from typing import Any

from service.testgen.corpus import read_corpus
from service.testgen.decontam import Decontaminator, benchmark_texts
from service.testgen.language import LanguageFilter, length_ok
from tests.support.paths import ROOT
from trainer_example.data import load_problems

MODULES = [fnmatch_module, shlex_module, textwrap_module]


def _corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "pkg").mkdir(parents=True)
    for module in MODULES:
        shutil.copy(str(module.__file__), root / "pkg" / Path(str(module.__file__)).name)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "skip.py").write_text("def f(x):\n    '''Never read: a dotted directory.'''\n")
    return root


def _run(corpus: Path, out: Path, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "service.testgen", str(corpus), "--out", str(out), "--pool-size", "1",
               "--max-candidates", "60", "--mutants", "6", "-q", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    funnel: dict[str, Any] = json.loads(done.stdout)
    assert json.loads(out.with_name(out.name + ".funnel.json").read_text()) == funnel
    return funnel


def test_the_pipeline_on_standard_library_modules_is_resumable(tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path), tmp_path / "rows.jsonl"
    funnel = _run(corpus, out)
    extracted = len(list(read_corpus(corpus)))
    assert funnel["functions_extracted"] == extracted > 10
    assert extracted >= funnel["english_docstring"] >= funnel["length_10_512"] >= funnel["not_contaminated"] \
        >= funnel["tests_generated"] >= funnel["after_filters"] > 3
    assert sum(funnel["rejected_by"].values()) == funnel["not_contaminated"] - funnel["after_filters"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == funnel["after_filters"]
    assert {"id", "description", "signature", "prompt", "tests", "reference", "source"} <= set(rows[0])
    assert all(r["id"].startswith("pkg/") and r["signature"] in r["prompt"] for r in rows)
    problems = load_problems(str(out))  # what trainer_example --data reads
    assert len(problems) == len(rows) and all(p.reference and p.tests.cases for p in problems)
    again = _run(corpus, out)  # resumed: nothing is done twice
    assert again == funnel and len(out.read_text().splitlines()) == len(rows)


def test_rows_without_the_reference(tmp_path: Path) -> None:
    corpus = tmp_path / "one.py"
    corpus.write_text("def double(n: int) -> int:\n    '''Return twice the given integer n, for any integer value"
                      " you like.'''\n    return 2 * n\n")
    out = tmp_path / "rows.jsonl"
    funnel = _run(corpus, out, "--drop-reference", "--no-language-filter")
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert funnel["after_filters"] == 1 and "reference" not in row and row["tests"]["kind"] == "call"
    [problem] = load_problems(str(out))
    assert problem.reference is None  # the replay buffer starts empty, as the paper's converted Java


def test_corpora_as_jsonl_and_as_a_hugging_face_dataset(tmp_path: Path) -> None:
    import datasets

    module = "def area(w: float, h: float) -> float:\n    '''Area of a w by h rectangle.'''\n    return w * h\n"
    rows = [{"id": "fn/1", "code": "def sq(x):\n    return x * x\n", "fn_name": "sq", "description": "Square x."},
            {"content": module, "path": "geo.py"}, {"other": "no code"}]
    jsonl = tmp_path / "functions.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_jsonl = list(read_corpus(jsonl))
    assert [(i.id, i.fn_name, i.description) for i in from_jsonl] == [
        ("fn/1", "sq", "Square x."), ("geo.py:area", "area", "Area of a w by h rectangle.")]
    columns = ("id", "code", "fn_name", "description", "content", "path")  # a dataset's columns are uniform
    datasets.Dataset.from_list([{c: r.get(c) for c in columns} for r in rows[:2]]).save_to_disk(str(tmp_path / "hf"))
    from_disk = list(read_corpus(tmp_path / "hf"))
    assert [i.id for i in from_disk] == [i.id for i in from_jsonl]
    datasets.Dataset.from_list([rows[1]]).to_parquet(str(tmp_path / "code.parquet"))
    assert [i.fn_name for i in read_corpus(tmp_path / "code.parquet")] == ["area"]


def test_description_filters_english_and_length() -> None:
    lang = LanguageFilter()
    assert lang.english("Return the number of words in the given text, ignoring punctuation.")
    assert not lang.english("Gibt die Anzahl der Wörter im gegebenen Text zurück, ohne Satzzeichen.")
    assert not lang.english(">>> f(1)\n2")  # examples only: no prose to judge
    assert length_ok("one two three four five six seven eight nine ten") and not length_ok("too short")
    assert not length_ok("word " * 513)


def test_decontamination_drops_benchmark_problems(humaneval: list[dict[str, Any]]) -> None:
    data = ROOT / "trainer_example" / "data"
    index = Decontaminator(benchmark_texts([data / "mbpp.jsonl", data / "apps_selected150.jsonl"]))
    assert index.problems > 164 * 2
    first = humaneval[0]
    assert index.match(first["prompt"]) == "HumanEval/0"
    assert index.match("something else", first["canonical_solution"] + first["prompt"]) == "HumanEval/0"
    mbpp = json.loads((data / "mbpp.jsonl").read_text().splitlines()[5])
    assert index.match(mbpp["text"]) is not None
    assert index.match(str(textwrap_module.dedent.__doc__)) is None
