"""The learning demo's numbers: per arm, the held-out evaluation over seeds, mean ± s.e.

Each run (one arm, one seed) leaves an ``eval.csv`` (:mod:`trainer_example.evaluation`);
its last row is the trained policy, its first the warm start. The demo gathers them into
one ``results.json`` (:func:`write_results`: per arm, per seed, every evaluation), from
which the table, the verdict and the plot are made again with::

    python -m trainer_example.demo_report runs/demo/results.json [--figure fig.png]

Per arm the final held-out pass@k and syntax-error share are averaged over the seeds,
with the standard error of the mean (sample standard deviation / sqrt(n)). An arm is
compared with ``sl_only`` by the difference of the means and its standard error
``sqrt(se_a^2 + se_b^2)`` (unpaired, the conservative one) and, since every arm of a seed
starts from the same warm model, the paired difference over the seeds, mean ± s.e.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer_example.plot import load

__all__ = [
    "ArmStats",
    "Comparison",
    "Curves",
    "Estimate",
    "collect",
    "compare",
    "estimate",
    "lines",
    "load_runs",
    "main",
    "markdown",
    "plot_arms",
    "read_results",
    "report",
    "title",
    "verdict",
    "write_results",
]

PASS1, SYNTAX = "eval_pass_at_1", "eval_syntax_error_rate"
METRICS = (PASS1, "eval_pass_at_5", "eval_pass_at_10", "eval_greedy_pass_rate", SYNTAX)
LABELS = {PASS1: "held-out pass@1", SYNTAX: "held-out syntax-error share"}

#: arm -> seed -> column (``step`` and :data:`METRICS`) -> one value per evaluation
Curves = Mapping[str, Mapping[int, Mapping[str, Sequence[float]]]]


@dataclass(frozen=True)
class Estimate:
    mean: float
    se: float | None  # None with one value
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f}" + (f" ± {self.se:.3f}" if self.se is not None else "")


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and standard error of the mean (``stdev / sqrt(n)``; None for one value)."""
    if not values:
        raise ValueError("no values")
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return Estimate(statistics.fmean(values), se, len(values))


def _signed(e: Estimate) -> str:
    return f"{e.mean:+.3f}" + (f" ± {e.se:.3f}" if e.se is not None else "")


def load_runs(runs: Mapping[str, Mapping[int, Path]]) -> dict[str, dict[int, dict[str, list[float]]]]:
    """Every run's ``eval.csv``: the step and :data:`METRICS` columns."""
    out: dict[str, dict[int, dict[str, list[float]]]] = {}
    for arm, by_seed in runs.items():
        out[arm] = {}
        for seed, run in sorted(by_seed.items()):
            columns = load(run, "eval.csv")
            out[arm][seed] = {key: columns[key] for key in ("step", *METRICS)}
    return out


def write_results(path: Path, curves: Curves, *, settings: Mapping[str, Any]) -> None:
    """``results.json``: the settings and every evaluation of every run."""
    runs = {arm: {str(seed): {k: list(v) for k, v in c.items()} for seed, c in s.items()} for arm, s in curves.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"settings": dict(settings), "runs": runs}, indent=1) + "\n")


def read_results(path: Path) -> tuple[dict[str, dict[int, dict[str, list[float]]]], dict[str, Any]]:
    """(curves, settings) from a ``results.json``."""
    data = json.loads(path.read_text())
    curves = {arm: {int(seed): cols for seed, cols in s.items()} for arm, s in data["runs"].items()}
    return curves, data["settings"]


@dataclass(frozen=True)
class ArmStats:
    arm: str
    seeds: tuple[int, ...]
    start: dict[str, list[float]]  # metric -> per seed, the first evaluation (warm start)
    final: dict[str, list[float]]  # metric -> per seed, the last evaluation

    def final_estimate(self, metric: str) -> Estimate:
        return estimate(self.final[metric])

    def final_text(self, metric: str) -> str:
        """The final estimate as text, ``-`` where a seed lacks the metric (NaN)."""
        values = self.final[metric]
        return "-" if any(v != v for v in values) else str(estimate(values))

    def start_estimate(self, metric: str) -> Estimate:
        return estimate(self.start[metric])

    def change(self, metric: str) -> Estimate:
        """Final minus warm start, per seed (paired), mean ± s.e."""
        return estimate([b - a for a, b in zip(self.start[metric], self.final[metric], strict=True)])


def _value(values: Sequence[float], index: int, metric: str) -> float:
    """One evaluation's value; pass@1 and the syntax share must be there (NaN: nothing
    was scored), the others may be NaN (pass@k with fewer than k samples)."""
    value = values[index]
    if value != value and metric in (PASS1, SYNTAX):
        raise ValueError(f"{metric} is missing")
    return value


def collect(curves: Curves) -> dict[str, ArmStats]:
    """Per arm, the first and last held-out evaluation of each seed's run."""
    out: dict[str, ArmStats] = {}
    for arm, by_seed in curves.items():
        seeds = tuple(sorted(by_seed))
        start = {m: [_value(by_seed[s][m], 0, m) for s in seeds] for m in METRICS}
        final = {m: [_value(by_seed[s][m], -1, m) for s in seeds] for m in METRICS}
        out[arm] = ArmStats(arm, seeds, start, final)
    return out


@dataclass(frozen=True)
class Comparison:
    """``arm`` minus the reference arm on one metric."""

    diff: Estimate  # unpaired: difference of means, sqrt(se_a^2 + se_b^2)
    paired: Estimate  # per-seed differences (the same warm start), mean ± s.e.

    def z(self) -> float | None:
        """The difference in units of its (unpaired) standard error."""
        if self.diff.se is None or self.diff.se == 0:
            return None
        return self.diff.mean / self.diff.se


def compare(arm: ArmStats, reference: ArmStats, metric: str) -> Comparison:
    """``arm`` against ``reference`` on ``metric`` (final evaluations, seeds paired).

    Raises:
        ValueError: the two arms were not run with the same seeds.
    """
    if arm.seeds != reference.seeds:
        raise ValueError(f"{arm.arm} and {reference.arm} have different seeds")
    a, b = arm.final_estimate(metric), reference.final_estimate(metric)
    se = math.hypot(a.se, b.se) if a.se is not None and b.se is not None else None
    paired = estimate([x - y for x, y in zip(arm.final[metric], reference.final[metric], strict=True)])
    return Comparison(Estimate(a.mean - b.mean, se, a.n), paired)


def lines(stats: Mapping[str, ArmStats]) -> list[str]:
    """One line per arm: final held-out pass@1, pass@5/10 and syntax-error share (mean ± s.e.)."""
    width = max(len(arm) for arm in stats)
    out = []
    for arm, s in stats.items():
        p, e = s.final_estimate(PASS1), s.final_estimate(SYNTAX)
        k5, k10 = s.final_text("eval_pass_at_5"), s.final_text("eval_pass_at_10")
        out.append(
            f"{arm:<{width}}  held-out pass@1 {p}  syntax-error share {e}  pass@5 {k5}  pass@10 {k10}  "
            f"({p.n} seed{'s' if p.n > 1 else ''}; warm start pass@1 {s.start_estimate(PASS1).mean:.3f})"
        )
    return out


def _z(c: Comparison) -> str:
    z = c.z()
    return "-" if z is None else f"{z:+.1f}"


def markdown(stats: Mapping[str, ArmStats], reference: str = "sl_only") -> str:
    """A Markdown table: per arm start and final values, and the difference to ``reference``."""
    head = (
        "| arm | seeds | pass@1 start | pass@1 final | Δ vs SL-only (unpaired) | z | Δ paired "
        "| pass@10 final | syntax share start | syntax share final |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    ref = stats.get(reference)
    for arm, s in stats.items():
        cells = [arm, str(len(s.seeds)), str(s.start_estimate(PASS1)), str(s.final_estimate(PASS1))]
        if ref is not None and arm != reference:
            c = compare(s, ref, PASS1)
            cells += [_signed(c.diff), _z(c), _signed(c.paired)]
        else:
            cells += ["-", "-", "-"]
        cells += [s.final_text("eval_pass_at_10")]
        cells += [str(s.start_estimate(SYNTAX)), str(s.final_estimate(SYNTAX))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _beats(stats: Mapping[str, ArmStats], arm: str, reference: str, metric: str, sign: int) -> str:
    """``arm`` vs ``reference``: holds when ``sign * difference`` exceeds two standard errors."""
    if arm not in stats or reference not in stats:
        return f"{arm} vs {reference}: not run"
    c = compare(stats[arm], stats[reference], metric)
    if c.diff.se is None:
        return f"{arm} vs {reference}: {_signed(c.diff)} (one seed: no standard error, untested)"
    holds = sign * c.diff.mean > 2 * c.diff.se
    return f"{arm} vs {reference}: {_signed(c.diff)} (z {_z(c)}): {'holds' if holds else 'does not hold'}"


def verdict(stats: Mapping[str, ArmStats]) -> list[str]:
    """The demo's two criteria, each as one line (a difference of more than two s.e.)."""
    out = ["criterion 1, held-out pass@1 above SL-only by > 2 s.e.:"]
    out += ["  " + _beats(stats, arm, "sl_only", PASS1, +1) for arm in ("rltf_full", "actor_critic")]
    out.append("criterion 2, syntax-error share lower under fine-grained feedback by > 2 s.e.:")
    out += ["  " + _beats(stats, arm, "rltf_coarse", SYNTAX, -1) for arm in ("rltf_fine", "rltf_full")]
    for arm in ("rltf_fine", "rltf_full"):
        if arm in stats:
            out.append(f"  {arm}, final minus warm start (paired): {_signed(stats[arm].change(SYNTAX))}")
    return out


Series = tuple[list[float], list[float], list[float]]


def _curve(by_seed: Mapping[int, Mapping[str, Sequence[float]]], metric: str) -> Series:
    """Steps, mean and s.e. over the seeds of one arm's evaluations."""
    series = list(by_seed.values())
    steps = list(series[0]["step"])
    means, ses = [], []
    for i in range(len(steps)):
        e = estimate([s[metric][i] for s in series if i < len(s[metric])])
        means.append(e.mean)
        ses.append(e.se or 0.0)
    return steps, means, ses


def plot_arms(curves: Curves, out: Path, *, title: str) -> None:
    """Held-out pass@1 and syntax-error share per evaluation: mean over seeds, ± 1 s.e. band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = (PASS1, SYNTAX)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for arm, by_seed in curves.items():
        for ax, metric in zip(axes[0], metrics, strict=True):
            steps, means, ses = _curve(by_seed, metric)
            (line,) = ax.plot(steps, means, marker="o", markersize=3, label=f"{arm} (n={len(by_seed)})")
            low = [m - s for m, s in zip(means, ses, strict=True)]
            high = [m + s for m, s in zip(means, ses, strict=True)]
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    for ax, metric in zip(axes[0], metrics, strict=True):
        ax.set_title(LABELS[metric] + " (mean ± s.e. over seeds)", fontsize=10)
        ax.set_xlabel("optimizer steps")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def title(settings: Mapping[str, Any], seeds: int) -> str:
    """The plot's title: seeds and the per-arm budget."""
    return (
        f"{seeds} seed(s) per arm, {settings['steps']} steps x {settings['problems_per_step']} problems x "
        f"{settings['samples_per_problem']} samples"
    )


def report(curves: Curves, settings: Mapping[str, Any], *, figures: Sequence[Path]) -> tuple[str, list[str]]:
    """(Markdown table, printed lines: one per arm, then the verdict); writes the plots."""
    stats = collect(curves)
    seeds = max(len(s.seeds) for s in stats.values())
    for figure in figures:
        plot_arms(curves, figure, title=title(settings, seeds))
    return markdown(stats), [*lines(stats), *verdict(stats)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer_example.demo_report", description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="a results.json written by the demo")
    parser.add_argument("--figure", type=Path, action="append", default=[], help="write the plot here")
    args = parser.parse_args(argv)
    curves, settings = read_results(args.results)
    table, printed = report(curves, settings, figures=args.figure)
    print(table)
    print("\n".join(printed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
