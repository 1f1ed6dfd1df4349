"""Learning demo: does unit-test feedback teach what SL cannot? Five arms, several seeds.

PanguCoder-RL's setting (:mod:`trainer_example.demo_data`): a small labelled pool
(problems with reference solutions), a larger unlabelled pool (tests only) and held-out
problems of the same task families. Per seed, one tiny GPT-2 is warmed up by SL on the
labelled pool alone (:mod:`trainer_example.pretrain`); from it every arm trains with the
same budget (steps, problems and samples per step, problem order) on labelled +
unlabelled problems against the service:

- ``sl_only``: cross-entropy on the reference solutions of the batch's labelled
  problems (the unlabelled ones give it nothing);
- ``rltf_coarse``, ``rltf_fine``, ``rltf_full``: the same SL term plus RLTF's coarse,
  + fine, + adaptive terms on every sampled program (``latest_greedy`` baseline);
- ``actor_critic``: PanguCoder-RL (RL only; replay buffer seeded with the labelled
  solutions, then every program that passes).

Each run evaluates the held-out problems before, during and after training; the demo
prints one line per arm (final held-out pass@1, syntax-error share, pass@5 and pass@10,
mean ± s.e. over the seeds) and the verdict on the claim (:func:`demo_report.verdict`),
and writes ``OUT/results.json`` (every evaluation of every run), ``OUT/summary.md`` and a
plot::

    python -m trainer_example.demo --quick                 # 1 seed, 60 steps; its own stack
    python -m trainer_example.demo --out runs/demo         # seeds 0, 1, 2, 120 steps
    python -m trainer_example.demo --service-url URL --seeds 0,1,2,3 --steps 200 --out ...

Without ``--service-url`` a private stack is started for the run (a ``redis-server``,
the API and one worker with the real sandbox, from ``tests/support``; a repository
checkout is needed, with Docker and the sandbox image) and stopped at the end. ``--data
DIR`` takes the three pools from ``DIR/{labelled,unlabelled,heldout}.jsonl`` (item JSONL
as ``--data`` reads it; only labelled rows carry ``code``) instead of the synthetic ones.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer_example import demo_report
from trainer_example.demo_data import POOLS, Split, write_pools

__all__ = ["ARMS", "FULL", "QUICK", "Preset", "main", "train_command", "warm_command"]

ARMS: dict[str, tuple[str, ...]] = {
    "sl_only": ("--components", "sl"),
    "rltf_coarse": ("--components", "sl,coarse"),
    "rltf_fine": ("--components", "sl,coarse,fine"),
    "rltf_full": ("--components", "sl,coarse,fine,adaptive"),
    "actor_critic": ("--algo", "actor_critic"),
}


@dataclass(frozen=True, kw_only=True)
class Preset:
    """The demo's settings; every arm of every seed runs with the same ones."""

    seeds: tuple[int, ...]
    warm_steps: int
    steps: int
    eval_every: int
    problems_per_step: int = 8
    samples_per_problem: int = 4
    lr: float = 1e-4
    lr_actor_critic: float = 2e-5  # the actor-critic arm's policy lr (1e-4 diverged: see docs/trainer.md)
    critic_lr: float = 2e-4
    max_new_tokens: int = 48
    eval_samples: int = 10
    eval_problems: int = 1000  # all of the held-out pool
    tiny_layers: int = 4
    tiny_dim: int = 128

    def train_args(self, arm: str) -> list[str]:
        """The trainer's options for ``arm`` (all but the data, model, seed and outputs)."""
        lr = self.lr_actor_critic if arm == "actor_critic" else self.lr
        return [
            *("--problems-per-step", str(self.problems_per_step)),
            *("--samples-per-problem", str(self.samples_per_problem)),
            *("--lr", str(lr), "--critic-lr", str(self.critic_lr)),
            *("--max-new-tokens", str(self.max_new_tokens)),
            *("--eval-every", str(self.eval_every), "--eval-samples", str(self.eval_samples)),
            *("--eval-problems", str(self.eval_problems)),
            *("--steps", str(self.steps), "--save-every", str(self.steps)),
        ]


QUICK = Preset(seeds=(0,), warm_steps=300, steps=60, eval_every=30)
FULL = Preset(seeds=(0, 1, 2), warm_steps=300, steps=120, eval_every=20)


def _run(command: list[str], log: Path) -> None:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("DS_ACCELERATOR", "cpu")
    env.setdefault("OMP_NUM_THREADS", "1")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({done.returncode}); see {log}")


def _pools(data: Path | None, out: Path) -> dict[str, Path]:
    """The labelled, unlabelled and held-out pools, and ``train`` (labelled + unlabelled)."""
    if data is None:
        return write_pools(out / "data", Split())
    paths = {pool: data / f"{pool}.jsonl" for pool in POOLS}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SystemExit(f"--data {data}: missing {', '.join(missing)}")
    train = out / "data" / "train.jsonl"
    train.parent.mkdir(parents=True, exist_ok=True)
    train.write_text(paths["labelled"].read_text() + paths["unlabelled"].read_text())
    return paths | {"train": train}


def _sandbox_image(root: Path) -> str:
    """The sandbox image this checkout builds (as ``scripts/test.sh`` picks it)."""
    given = os.environ.get("UTRS_SANDBOX_IMAGE")
    if given:
        return given
    command = ["bash", str(root / "sandbox_images" / "build.sh"), "--tag"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@contextlib.contextmanager
def _service(url: str | None) -> Iterator[str]:
    """``url``, or a private stack (Redis, API, one worker) for the demo's duration.

    The stack is the one the tests start (``tests/support``, imported by name: it is
    repository tooling, not part of this package).
    """
    if url is not None:
        yield url
        return
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    redis_proc = importlib.import_module("tests.support.redis_proc")
    stacks = importlib.import_module("tests.support.stack")
    image = _sandbox_image(root)
    with redis_proc.start_redis() as redis, stacks.run_stack(redis.url, workers=1, UTRS_SANDBOX_IMAGE=image) as stack:
        print(f"service: {stack.url} (a private stack, logs in {stack.logdir})", flush=True)
        yield stack.url


def warm_command(preset: Preset, pools: dict[str, Path], seed: int, warm: Path) -> list[str]:
    """The SL warm-up of one seed: the labelled pool only (``--eval-problems 0``: all of it)."""
    command = [sys.executable, "-m", "trainer_example.pretrain", "--data", str(pools["labelled"])]
    command += ["--eval-problems", "0", "--steps", str(preset.warm_steps), "--seed", str(seed)]
    command += ["--tiny-layers", str(preset.tiny_layers), "--tiny-dim", str(preset.tiny_dim)]
    return [*command, "--out", str(warm)]


def train_command(
    arm: str, seed: int, *, warm: Path, preset: Preset, pools: dict[str, Path], url: str, run: Path
) -> list[str]:
    """One arm of one seed: labelled + unlabelled problems, the held-out pool as ``--eval-data``."""
    command = [sys.executable, "-m", "trainer_example.train", "--model", str(warm), "--seed", str(seed)]
    command += ["--data", str(pools["train"]), "--eval-data", str(pools["heldout"])]
    return [*command, *preset.train_args(arm), *ARMS[arm], "--service-url", url, "--out-dir", str(run)]


def _warm(preset: Preset, pools: dict[str, Path], seed: int, out: Path) -> Path:
    warm = out / f"warm_s{seed}"
    if not (warm / "config.json").exists():
        _run(warm_command(preset, pools, seed, warm), out / "logs" / f"warm_s{seed}.log")
    return warm


def _train(arm: str, seed: int, *, warm: Path, preset: Preset, pools: dict[str, Path], url: str, out: Path) -> Path:
    run = out / f"{arm}_s{seed}"
    if (run / "final" / "config.json").exists():
        return run
    started = time.monotonic()
    command = train_command(arm, seed, warm=warm, preset=preset, pools=pools, url=url, run=run)
    _run(command, out / "logs" / f"{arm}_s{seed}.log")
    print(f"  {arm} seed {seed}: {time.monotonic() - started:.0f} s", flush=True)
    return run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer_example.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, a short run (the CPU check)")
    parser.add_argument("--service-url", help="a running service (default: start a private stack)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/demo_quick or runs/demo)")
    parser.add_argument("--data", type=Path, help="DIR with labelled/unlabelled/heldout.jsonl (default: synthetic)")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--seeds", help="comma list (default: the preset's)")
    parser.add_argument("--figure", type=Path, help="also write the plot here (e.g. docs/figures/...)")
    for field in ("warm_steps", "steps", "eval_every", "problems_per_step", "samples_per_problem", "eval_problems"):
        parser.add_argument("--" + field.replace("_", "-"), type=int)
    for field in ("tiny_layers", "tiny_dim", "max_new_tokens", "eval_samples"):
        parser.add_argument("--" + field.replace("_", "-"), type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--lr-actor-critic", type=float)
    parser.add_argument("--critic-lr", type=float)
    return parser


def _preset(args: argparse.Namespace) -> Preset:
    base = QUICK if args.quick else FULL
    names = [f.name for f in dataclasses.fields(Preset)]
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if args.seeds:
        given["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    return dataclasses.replace(base, **given)


def _settings(preset: Preset, data: Path | None) -> dict[str, Any]:
    """What every run of an output folder shares: the preset (less the seeds) and the data."""
    settings = dataclasses.asdict(preset) | {"data": str(data) if data else "synthetic"}
    settings.pop("seeds")
    return settings


def _check_settings(out: Path, preset: Preset, data: Path | None) -> None:
    """Refuse to mix runs of different settings in one output folder."""
    settings = _settings(preset, data)
    path = out / "demo.json"
    if path.exists() and json.loads(path.read_text()) != settings:
        raise SystemExit(f"{out} holds runs with other settings ({path}); use another --out")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    preset = _preset(args)
    arms = [a for a in args.arms.split(",") if a]
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise SystemExit(f"unknown arms: {sorted(unknown)} (known: {', '.join(ARMS)})")
    out = args.out or Path("runs/demo_quick" if args.quick else "runs/demo")
    _check_settings(out, preset, args.data)
    pools = _pools(args.data, out)
    started = time.monotonic()
    runs: dict[str, dict[int, Path]] = {arm: {} for arm in arms}
    with _service(args.service_url) as url:
        for seed in preset.seeds:
            warm = _warm(preset, pools, seed, out)
            for arm in arms:
                runs[arm][seed] = _train(arm, seed, warm=warm, preset=preset, pools=pools, url=url, out=out)
    curves = demo_report.load_runs(runs)
    settings = _settings(preset, args.data) | {"seeds": list(preset.seeds), "arms": {a: list(ARMS[a]) for a in arms}}
    demo_report.write_results(out / "results.json", curves, settings=settings)
    figures = [out / "demo.png", *([args.figure] if args.figure else [])]
    table, printed = demo_report.report(curves, settings, figures=figures)
    (out / "summary.md").write_text(table + "\n")
    print("\n".join(printed))
    print(f"wall time {time.monotonic() - started:.0f} s; per-seed results in {out / 'results.json'}, ", end="")
    print(f"table in {out / 'summary.md'}, plot {out / 'demo.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
