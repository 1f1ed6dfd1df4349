"""The learning demo's numbers: per arm, the held-out evaluation over seeds, mean ± s.e.

Each run (one arm, one seed) leaves an ``eval.csv`` (:mod:`trainer_example.evaluation`);
its last row is the trained policy, its first the warm start. Per arm the final held-out
pass@1 and syntax-error share are averaged over the seeds, with the standard error of
the mean (sample standard deviation / sqrt(n)). An arm is compared with ``sl_only`` by
the difference of the means and its standard error ``sqrt(se_a^2 + se_b^2)`` (unpaired,
the conservative one) and, since every arm of a seed starts from the same warm model,
the paired difference over the seeds, mean ± s.e.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer_example.plot import load

__all__ = ["ArmStats", "Comparison", "Estimate", "collect", "compare", "estimate", "lines", "markdown", "plot_arms"]

METRICS = ("eval_pass_at_1", "eval_syntax_error_rate")
LABELS = {"eval_pass_at_1": "held-out pass@1", "eval_syntax_error_rate": "held-out syntax-error share"}


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


@dataclass(frozen=True)
class ArmStats:
    arm: str
    seeds: tuple[int, ...]
    start: dict[str, list[float]]  # metric -> per seed, the first evaluation (warm start)
    final: dict[str, list[float]]  # metric -> per seed, the last evaluation

    def final_estimate(self, metric: str) -> Estimate:
        return estimate(self.final[metric])

    def start_estimate(self, metric: str) -> Estimate:
        return estimate(self.start[metric])


def _value(row: Mapping[str, float], metric: str) -> float:
    value = row[metric]
    if value != value:  # NaN: nothing was scored
        raise ValueError(f"{metric} is missing")
    return value


def collect(runs: Mapping[str, Mapping[int, Path]]) -> dict[str, ArmStats]:
    """Per arm, the first and last held-out evaluation of each seed's run."""
    out: dict[str, ArmStats] = {}
    for arm, by_seed in runs.items():
        start: dict[str, list[float]] = {m: [] for m in METRICS}
        final: dict[str, list[float]] = {m: [] for m in METRICS}
        for seed in sorted(by_seed):
            columns = load(by_seed[seed], "eval.csv")
            first = {k: v[0] for k, v in columns.items()}
            last = {k: v[-1] for k, v in columns.items()}
            for metric in METRICS:
                start[metric].append(_value(first, metric))
                final[metric].append(_value(last, metric))
        out[arm] = ArmStats(arm, tuple(sorted(by_seed)), start, final)
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
    """One line per arm: final held-out pass@1 and syntax-error share (mean ± s.e.)."""
    width = max(len(arm) for arm in stats)
    out = []
    for arm, s in stats.items():
        p, e = s.final_estimate(METRICS[0]), s.final_estimate(METRICS[1])
        start = s.start_estimate(METRICS[0])
        out.append(
            f"{arm:<{width}}  held-out pass@1 {p}  syntax-error share {e}  "
            f"({p.n} seed{'s' if p.n > 1 else ''}; warm start pass@1 {start.mean:.3f})"
        )
    return out


def _z(c: Comparison) -> str:
    z = c.z()
    return "-" if z is None else f"{z:+.1f}"


def markdown(stats: Mapping[str, ArmStats], reference: str = "sl_only") -> str:
    """A Markdown table: per arm start and final values, and the difference to ``reference``."""
    head = (
        "| arm | seeds | pass@1 start | pass@1 final | Δ vs SL-only (unpaired) | z | Δ paired "
        "| syntax share start | syntax share final |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|---|"]
    ref = stats.get(reference)
    for arm, s in stats.items():
        p, e = METRICS
        cells = [arm, str(len(s.seeds)), str(s.start_estimate(p)), str(s.final_estimate(p))]
        if ref is not None and arm != reference:
            c = compare(s, ref, p)
            cells += [f"{c.diff.mean:+.3f}" + (f" ± {c.diff.se:.3f}" if c.diff.se is not None else ""), _z(c)]
            cells.append(f"{c.paired.mean:+.3f}" + (f" ± {c.paired.se:.3f}" if c.paired.se is not None else ""))
        else:
            cells += ["-", "-", "-"]
        cells += [str(s.start_estimate(e)), str(s.final_estimate(e))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _curves(runs: Mapping[int, Path], metric: str) -> tuple[list[float], list[float], list[float]]:
    """Steps, mean and s.e. over the seeds of one arm's evaluations."""
    series = [load(run, "eval.csv") for run in runs.values()]
    steps = series[0]["step"]
    means, ses = [], []
    for i in range(len(steps)):
        e = estimate([s[metric][i] for s in series if i < len(s[metric])])
        means.append(e.mean)
        ses.append(e.se or 0.0)
    return steps, means, ses


def plot_arms(runs: Mapping[str, Mapping[int, Path]], out: Path, *, title: str) -> None:
    """Held-out pass@1 and syntax-error share per evaluation: mean over seeds, ± 1 s.e. band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(5.5 * len(METRICS), 3.8), squeeze=False)
    for arm, by_seed in runs.items():
        for ax, metric in zip(axes[0], METRICS, strict=True):
            steps, means, ses = _curves(by_seed, metric)
            (line,) = ax.plot(steps, means, marker="o", markersize=3, label=f"{arm} (n={len(by_seed)})")
            low = [m - s for m, s in zip(means, ses, strict=True)]
            high = [m + s for m, s in zip(means, ses, strict=True)]
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    for ax, metric in zip(axes[0], METRICS, strict=True):
        ax.set_title(LABELS[metric] + " (mean ± s.e. over seeds)", fontsize=10)
        ax.set_xlabel("optimizer steps")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
