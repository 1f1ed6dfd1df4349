"""Plot runs' per-step metrics to a PNG and print a summary table.

``python -m trainer_example.plot runs/demo/sl runs/demo/coarse --out docs/figures/x.png``
(one line per run, one panel per metric, a moving average over ``--smooth`` steps).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections.abc import Sequence
from pathlib import Path

__all__ = ["load", "main", "summary"]


def load(run: Path) -> dict[str, list[float]]:
    """The run's metrics.csv as columns (empty cells become NaN)."""
    with (run / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    keys = rows[0].keys() if rows else []
    return {k: [float(r[k]) if r[k] != "" else float("nan") for r in rows] for k in keys}


def _smooth(values: list[float], window: int) -> list[float]:
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if v == v]
        out.append(statistics.fmean(part) if part else float("nan"))
    return out


def summary(runs: Sequence[Path], metrics: Sequence[str], *, last: int) -> str:
    """A Markdown table: each metric's mean over the first and the last ``last`` steps."""
    head = "| run | " + " | ".join(f"{m} (first {last} → last {last})" for m in metrics) + " |"
    lines = [head, "|---" * (len(metrics) + 1) + "|"]
    for run in runs:
        data = load(run)
        cells = []
        for m in metrics:
            values = [v for v in data[m] if v == v]
            first, end = statistics.fmean(values[:last]), statistics.fmean(values[-last:])
            cells.append(f"{first:.3f} → {end:.3f}")
        lines.append(f"| {run.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: Sequence[Path], metrics: Sequence[str], out: Path, *, smooth: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for run in runs:
        data = load(run)
        for ax, metric in zip(axes[0], metrics, strict=True):
            ax.plot(data["step"], _smooth(data[metric], smooth), label=run.name)
    for ax, metric in zip(axes[0], metrics, strict=True):
        ax.set_title(f"{metric} (moving avg {smooth})")
        ax.set_xlabel("step")
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
