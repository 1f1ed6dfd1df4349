"""Learning demonstration: SL-only versus RLTF (coarse, +fine, +adaptive), equal budgets.

Warms up one tiny policy on the synthetic tasks (:mod:`trainer_example.pretrain`), then
trains each arm from that checkpoint with the same steps, problems and samples per step
against a running service, and plots pass rate and syntax-error rate per step::

    python -m trainer_example.demo --service-url http://127.0.0.1:8000 --out runs/demo
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from trainer_example import plot

__all__ = ["ARMS", "main"]

ARMS: dict[str, str] = {
    "sl_only": "sl",
    "rltf_coarse": "sl,coarse",
    "rltf_coarse_fine": "sl,coarse,fine",
    "rltf_full": "sl,coarse,fine,adaptive",
}


def _run(command: list[str]) -> None:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("DS_ACCELERATOR", "cpu")
    print("+", " ".join(command), flush=True)
    subprocess.run(command, env=env, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer_example.demo")
    parser.add_argument("--service-url", required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--warm-steps", type=int, default=100)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--warm", type=Path, help="warm-up checkpoint (default: OUT/warm)")
    parser.add_argument("extra", nargs="*", help="more train.py arguments (after --)")
    args = parser.parse_args(argv)
    warm = args.warm or args.out / "warm"
    if not (warm / "config.json").exists():
        _run(
            [
                sys.executable,
                "-m",
                "trainer_example.pretrain",
                "--steps",
                str(args.warm_steps),
                "--seed",
                str(args.seed),
                "--out",
                str(warm),
            ]
        )
    runs = []
    for arm in args.arms.split(","):
        out = args.out / f"{arm}_s{args.seed}"
        runs.append(out)
        if (out / "final" / "config.json").exists():
            continue
        _run(
            [
                sys.executable,
                "-m",
                "trainer_example.train",
                "--model",
                str(warm),
                "--components",
                ARMS[arm],
                "--steps",
                str(args.steps),
                "--seed",
                str(args.seed),
                "--service-url",
                args.service_url,
                "--out-dir",
                str(out),
                "--kl-coef",
                "0",
                "--save-every",
                str(args.steps),
                *args.extra,
            ]
        )
    png = args.out / f"demo_s{args.seed}.png"
    plot.plot(runs, ["pass_rate", "syntax_error_rate"], png, smooth=5)
    print(plot.summary(runs, ["pass_rate", "syntax_error_rate", "reward_coarse"], last=10))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
