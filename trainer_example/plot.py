"""Plot runs' per-step metrics to a PNG and print a summary table.

``python -m trainer_example.plot runs/demo/sl runs/demo/coarse --out docs/figures/x.png``
(one line per run, one panel per metric, a moving average over ``--smooth`` steps).
Metrics named ``eval_*`` (the held-out evaluation) come from the run's ``eval.csv``, one
point per evaluation, against the number of optimizer steps taken, unsmoothed:
``--metrics pass_rate,eval_pass_at_1,eval_greedy_pass_rate``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections.abc import Sequence
from pathlib import Path

__all__ = ["load", "main", "summary"]


def load(run: Path, name: str = "metrics.csv") -> dict[str, list[float]]:
    """The run's metrics.csv (or ``name``) as columns (empty cells become NaN)."""
    with (run / name).open() as handle:
        rows = list(csv.DictReader(handle))
    keys = rows[0].keys() if rows else []
    return {k: [float(r[k]) if r[k] != "" else float("nan") for r in rows] for k in keys}


def _smooth(values: list[float], window: int) -> list[float]:
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if v == v]
        out.append(statistics.fmean(part) if part else float("nan"))
    return out


def _series(run: Path, metric: str) -> tuple[list[float], list[float]]:
    """(x, y) of a metric: per step, or per evaluation for ``eval_*``."""
    data = load(run, "eval.csv" if metric.startswith("eval_") else "metrics.csv")
    return data["step"], data[metric]


def _cell(values: list[float], last: int) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    return f"{statistics.fmean(values[:last]):.3f} → {statistics.fmean(values[-last:]):.3f}"


def summary(runs: Sequence[Path], metrics: Sequence[str], *, last: int) -> str:
    """A Markdown table: each metric's mean over the first and the last ``last`` rows."""
    head = "| run | " + " | ".join(f"{m} (first {last} → last {last})" for m in metrics) + " |"
    lines = [head, "|---" * (len(metrics) + 1) + "|"]
    for run in runs:
        cells = [_cell(_series(run, m)[1], last) for m in metrics]
        lines.append(f"| {run.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: Sequence[Path], metrics: Sequence[str], out: Path, *, smooth: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for run in runs:
        for ax, metric in zip(axes[0], metrics, strict=True):
            x, y = _series(run, metric)
            if metric.startswith("eval_"):
                ax.plot(x, y, marker="o", label=run.name)
            else:
                ax.plot(x, _smooth(y, smooth), label=run.name)
    for ax, metric in zip(axes[0], metrics, strict=True):
        held = metric.startswith("eval_")
        ax.set_title(f"{metric} (held-out)" if held else f"{metric} (moving avg {smooth})")
        ax.set_xlabel("optimizer steps" if held else "step")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer_example.plot")
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", default="pass_rate,syntax_error_rate")
    parser.add_argument("--smooth", type=int, default=5)
    parser.add_argument("--last", type=int, default=10)
    args = parser.parse_args(argv)
    metrics = [m for m in args.metrics.split(",") if m]
    plot(args.runs, metrics, args.out, smooth=args.smooth)
    print(summary(args.runs, metrics, last=args.last))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
