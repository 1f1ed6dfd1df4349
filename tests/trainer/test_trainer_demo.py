"""The learning demo's parts: its pools of problems, its statistics, its command line.

Pure units (no service): the live run of the demo entry is in ``test_trainer_demo_live.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from trainer_example import demo, demo_report
from trainer_example.build import load_split
from trainer_example.config import Algo, BaselineMode, TrainConfig, parse_args
from trainer_example.data import load_problems
from trainer_example.demo_data import FAMILIES, POOLS, Split, distinguishes, split, write_pools


def test_pools_are_disjoint_and_only_the_labelled_one_has_solutions(tmp_path: Path) -> None:
    config = Split()
    pools = split(config)
    per_family = len(config.ks)
    assert [len(pools[p]) for p in POOLS] == [
        len(FAMILIES) * config.labelled,
        len(FAMILIES) * (per_family - config.labelled - config.heldout),
        len(FAMILIES) * config.heldout,
    ]
    ids = [row["id"] for pool in POOLS for row in pools[pool]]
    assert len(ids) == len(set(ids)) == len(FAMILIES) * per_family
    assert all("code" in row for row in pools["labelled"])
    assert not any("code" in row for pool in ("unlabelled", "heldout") for row in pools[pool])
    for family in FAMILIES:  # every family is in every pool
        for pool in POOLS:
            assert any(row["id"].split("/")[1] == family.name for row in pools[pool])
    paths = write_pools(tmp_path, config)
    train = load_problems(str(paths["train"]))
    assert len(train) == len(pools["labelled"]) + len(pools["unlabelled"])
    assert sum(p.reference is not None for p in train) == len(pools["labelled"])


def test_the_split_is_seeded() -> None:
    assert Split(seed=1).assign() == Split(seed=1).assign() != Split(seed=2).assign()


def test_a_problem_reads_like_the_synthetic_ones(tmp_path: Path) -> None:
    paths = write_pools(tmp_path, Split())
    problem = next(p for p in load_problems(str(paths["labelled"])) if p.id.startswith("demo/plus/"))
    k = int(problem.id.rsplit("/", 1)[1])
    assert problem.prompt == f"# Write a function add(x) that returns x plus {k}.\n# assert add(0) == {k}\n"
    assert problem.reference == f"def add(x):\n    return x + {k}\n"
    assert [c.code for c in problem.tests.cases] == [f"assert add(0) == {k}", f"assert add(4) == {4 + k}",
                                                     f"assert add(-3) == {-3 + k}"]  # fmt: skip


def test_the_tests_pin_the_constant_down() -> None:
    for family in FAMILIES:
        for k in Split().ks:
            assert distinguishes(family, k, range(1, 100)), (family.name, k)
    greater = next(f for f in FAMILIES if f.name == "greater")
    assert [c.code for c in greater.cases(5)] == [
        "assert greater(6) == True",
        "assert greater(5) == False",
        "assert greater(0) == False",
    ]


def test_held_out_problems_from_their_own_file(tmp_path: Path) -> None:
    paths = write_pools(tmp_path, Split())
    config = TrainConfig(tiny=True, data=str(paths["train"]), eval_data=str(paths["heldout"]), eval_problems=1000)
    train, held = load_split(config)
    assert len(train) == len(split(Split())["labelled"]) + len(split(Split())["unlabelled"])  # all of --data
    assert {p.id for p in held} == {row["id"] for row in split(Split())["heldout"]}
    few = load_split(TrainConfig(tiny=True, data=config.data, eval_data=config.eval_data, eval_problems=5))[1]
    assert len(few) == 5
    off = load_split(TrainConfig(tiny=True, data=config.data, eval_data=config.eval_data, eval_every=0))[1]
    assert off == []
    with pytest.raises(ValueError, match="also training problems"):
        load_split(TrainConfig(tiny=True, data=config.data, eval_data=config.data))


def test_estimate_is_mean_and_standard_error() -> None:
    e = demo_report.estimate([0.2, 0.4, 0.6])
    assert e.mean == pytest.approx(0.4)
    assert e.se == pytest.approx(0.2 / math.sqrt(3))  # stdev 0.2
    assert str(e) == "0.400 ± 0.115"
    assert demo_report.estimate([0.3]).se is None


COLUMNS = ("step", *demo_report.METRICS)


def _eval_csv(run: Path, rows: list[tuple[int, float, float]]) -> Path:
    """An eval.csv with pass@1 and the syntax share given (pass@5/10 and greedy derived)."""
    run.mkdir(parents=True)
    lines = [",".join(COLUMNS)] + [f"{s},{p},{min(1, 2 * p)},{min(1, 3 * p)},{p},{e}" for s, p, e in rows]
    (run / "eval.csv").write_text("\n".join(lines) + "\n")
    return run


def _runs(tmp_path: Path) -> dict[str, dict[int, Path]]:
    finals = {"sl_only": [0.20, 0.30, 0.25], "rltf_coarse": [0.2, 0.3, 0.25], "rltf_full": [0.40, 0.45, 0.50]}
    syntax = {"sl_only": 0.3, "rltf_coarse": 0.3, "rltf_full": 0.1}
    return {
        arm: {
            seed: _eval_csv(tmp_path / f"{arm}_s{seed}", [(0, 0.2, 0.3), (10, value, syntax[arm] + seed / 100)])
            for seed, value in enumerate(values)
        }
        for arm, values in finals.items()
    }


def _stats(runs: dict[str, dict[int, Path]]) -> dict[str, demo_report.ArmStats]:
    return demo_report.collect(demo_report.load_runs(runs))


def test_arms_are_compared_with_sl_only_over_the_seeds(tmp_path: Path) -> None:
    stats = _stats(_runs(tmp_path))
    sl, full = stats["sl_only"], stats["rltf_full"]
    assert sl.seeds == full.seeds == (0, 1, 2)
    assert full.start["eval_pass_at_1"] == [0.2, 0.2, 0.2]
    assert full.final["eval_pass_at_10"] == [1.0, 1.0, 1.0]
    assert full.final_estimate("eval_syntax_error_rate").mean == pytest.approx(0.11)
    # by hand: finals 0.40/0.45/0.50 and 0.20/0.30/0.25, both with stdev 0.05
    c = demo_report.compare(full, sl, "eval_pass_at_1")
    se = math.hypot(0.05 / math.sqrt(3), 0.05 / math.sqrt(3))
    assert (c.diff.mean, c.diff.se) == (pytest.approx(0.2), pytest.approx(se))
    assert c.z() == pytest.approx(0.2 / se)
    assert (c.paired.mean, c.paired.se) == (pytest.approx(0.2), pytest.approx(0.05 / math.sqrt(3)))  # 0.2, 0.15, 0.25
    assert full.change("eval_syntax_error_rate").mean == pytest.approx(0.11 - 0.3)
    table = demo_report.markdown(stats)
    assert "| rltf_full | 3 | 0.200 ± 0.000 | 0.450 ± 0.029 | +0.200 ± 0.041 | +4.9 | +0.200 ± 0.029 |" in table
    lines = demo_report.lines(stats)
    assert [line.split()[0] for line in lines] == ["sl_only", "rltf_coarse", "rltf_full"]
    assert lines[2].startswith("rltf_full    held-out pass@1 0.450 ± 0.029  syntax-error share 0.110 ± 0.006")
    assert "pass@5 0.900 ± 0.058  pass@10 1.000 ± 0.000" in lines[2]


def test_pass_at_k_may_be_missing_pass_at_1_may_not(tmp_path: Path) -> None:
    curves = demo_report.load_runs(_runs(tmp_path))
    few = {a: {s: dict(c, eval_pass_at_5=[math.nan] * 2) for s, c in r.items()} for a, r in curves.items()}
    stats = demo_report.collect(few)  # with fewer than 5 samples per problem
    assert "pass@5 -  pass@10 1.000 ± 0.000" in demo_report.lines(stats)[2]
    none = {a: {s: dict(c, eval_pass_at_1=[0.1, math.nan]) for s, c in r.items()} for a, r in curves.items()}
    with pytest.raises(ValueError, match="eval_pass_at_1 is missing"):
        demo_report.collect(none)


def test_the_verdict_applies_the_two_standard_error_bar(tmp_path: Path) -> None:
    stats = _stats(_runs(tmp_path))
    verdict = demo_report.verdict(stats)
    assert verdict[1].startswith("  rltf_full vs sl_only: +0.200 ± 0.041 (z +4.9): holds")
    assert verdict[2] == "  actor_critic vs sl_only: not run"
    assert verdict[4] == "  rltf_fine vs rltf_coarse: not run"
    assert verdict[5].startswith("  rltf_full vs rltf_coarse: -0.200 ± ") and verdict[5].endswith(": holds")
    same = _stats({a: r for a, r in _runs(tmp_path / "b").items() if a != "rltf_full"})
    worse = dict(same, rltf_full=dataclasses.replace(same["rltf_coarse"], arm="rltf_full"))
    assert demo_report.verdict(worse)[1] == "  rltf_full vs sl_only: +0.000 ± 0.041 (z +0.0): does not hold"
    one = {arm: {0: run[0]} for arm, run in _runs(tmp_path / "c").items()}
    assert "one seed: no standard error, untested" in demo_report.verdict(_stats(one))[1]


def test_results_json_keeps_every_evaluation_and_remakes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    curves = demo_report.load_runs(_runs(tmp_path))
    path = tmp_path / "results.json"
    settings = {"steps": 10, "problems_per_step": 8, "samples_per_problem": 4, "seeds": [0, 1, 2]}
    demo_report.write_results(path, curves, settings=settings)
    again, read = demo_report.read_results(path)
    assert again == curves and read == settings
    assert demo_report.main([str(path), "--figure", str(tmp_path / "demo.png")]) == 0
    printed = capsys.readouterr().out
    assert "| rltf_full | 3 |" in printed and "criterion 1" in printed
    assert (tmp_path / "demo.png").stat().st_size > 0


def test_compare_needs_the_same_seeds(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    runs["sl_only"].pop(2)
    stats = _stats(runs)
    with pytest.raises(ValueError, match="different seeds"):
        demo_report.compare(stats["rltf_full"], stats["sl_only"], "eval_pass_at_1")


def test_the_demo_command_line(tmp_path: Path) -> None:
    args = demo._parser().parse_args(["--quick", "--steps", "3", "--seeds", "4,5", "--lr", "0.01"])
    preset = demo._preset(args)
    assert (preset.steps, preset.seeds, preset.lr, preset.warm_steps) == (3, (4, 5), 0.01, demo.QUICK.warm_steps)
    assert demo._preset(demo._parser().parse_args([])) == demo.FULL
    assert len(demo.FULL.seeds) >= 3
    assert "--eval-problems" in preset.train_args("sl_only")
    with pytest.raises(SystemExit, match="unknown arms"):
        demo.main(["--arms", "sl_only,nope", "--out", str(tmp_path / "x")])


def test_one_output_folder_holds_one_setting(tmp_path: Path) -> None:
    demo._check_settings(tmp_path, demo.QUICK, None)
    demo._check_settings(tmp_path, demo.QUICK, None)  # the same settings again: resumes
    settings = json.loads((tmp_path / "demo.json").read_text())
    assert settings["steps"] == demo.QUICK.steps and "seeds" not in settings
    with pytest.raises(SystemExit, match="other settings"):
        demo._check_settings(tmp_path, demo.FULL, None)


def test_pools_from_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "given"
    write_pools(source, Split(seed=3))
    pools = demo._pools(source, tmp_path / "out")
    assert pools["labelled"] == source / "labelled.jsonl"
    train = pools["train"].read_text().splitlines()
    assert len(train) == len((source / "labelled.jsonl").read_text().splitlines()) + len(
        (source / "unlabelled.jsonl").read_text().splitlines()
    )
    (source / "heldout.jsonl").unlink()
    with pytest.raises(SystemExit, match="missing"):
        demo._pools(source, tmp_path / "out2")


def _commands(tmp_path: Path) -> tuple[dict[str, Path], list[str], dict[str, TrainConfig]]:
    pools = write_pools(tmp_path / "data", Split())
    warm = demo.warm_command(demo.FULL, pools, 3, tmp_path / "warm")
    runs = {
        arm: parse_args(
            demo.train_command(arm, 3, warm=tmp_path / "warm", preset=demo.FULL, pools=pools, url="U", run=tmp_path)[3:]
        )
        for arm in demo.ARMS
    }
    return pools, warm, runs


def test_the_arms_are_configured_as_intended(tmp_path: Path) -> None:
    _, _, configs = _commands(tmp_path)
    components = {arm: sorted(c.active_components) for arm, c in configs.items()}
    assert components == {
        "sl_only": ["sl"],
        "rltf_coarse": ["coarse", "sl"],
        "rltf_fine": ["coarse", "fine", "sl"],
        "rltf_full": ["adaptive", "coarse", "fine", "sl"],
        "actor_critic": [],  # RL only, as in the paper
    }
    assert {arm: c.algo for arm, c in configs.items()} == {
        **dict.fromkeys(components, Algo.RLTF),
        "actor_critic": Algo.ACTOR_CRITIC,
    }
    assert all(c.baseline is BaselineMode.LATEST_GREEDY for c in configs.values())
    # the same budget, start and problem order for every arm of a seed
    shared = {(c.steps, c.problems_per_step, c.samples_per_problem, c.seed, c.model, c.data) for c in configs.values()}
    assert shared == {(demo.FULL.steps, 8, 4, 3, str(tmp_path / "warm"), str(tmp_path / "data" / "train.jsonl"))}
    assert configs["rltf_full"].lr == demo.FULL.lr
    assert configs["actor_critic"].lr == demo.FULL.lr_actor_critic


def test_the_held_out_pool_is_never_trained_on(tmp_path: Path) -> None:
    pools, warm, configs = _commands(tmp_path)
    assert warm[warm.index("--data") + 1] == str(pools["labelled"])  # the warm-up sees the labelled pool only
    assert warm[warm.index("--eval-problems") + 1] == "0"  # all of it (nothing of it is held out)
    held = {p.id for p in load_problems(str(pools["heldout"]))}
    for config in configs.values():
        assert config.eval_data == str(pools["heldout"]) and config.eval_problems >= len(held)
        train, evaluated = load_split(config)
        assert {p.id for p in evaluated} == held
        assert held.isdisjoint(p.id for p in train)
    labelled = {p.id for p in load_problems(str(pools["labelled"]))}
    assert labelled <= {p.id for p in load_problems(str(pools["train"]))}


def test_the_held_out_problems_do_not_depend_on_the_labelled_size() -> None:
    held = Split(labelled=2).assign()["heldout"]
    assert held == Split(labelled=6).assign()["heldout"] == Split().assign()["heldout"]
    assert set(Split(labelled=2).assign()["labelled"]["plus"]) < set(Split(labelled=6).assign()["labelled"]["plus"])
