"""The agent alone (no pool, no worker): CPU and page faults per MBPP program, by process.

    .venv/bin/python bench/agent_profile.py [--limit 400] [--cases 3|100] [--isolate] [--legacy] [--trivial]

Starts one sandbox container as the pool does (pinned to one CPU, the agent as root with three
capabilities, programs under run uids), sends it MBPP reference solutions in batches of
32 as the worker does (each 32 a group: a chunk of one request), and reads every
process's CPU time and page faults from /proc inside the container before and after.
Prints, per program: the agent (P), the zygote (Z, and what its children used: the
program processes X and the harnesses H, once they ended), each live harness, beside the
bare loop (fork per program; program + setup + asserts in the child, no isolation) run
in a second container of the same image. ``--cases 100`` repeats each problem's asserts
to 100 cases (how the cost grows with cases); ``--trivial`` judges ``--limit`` programs
``def f(x): return x + 1`` with one assert instead (what a program costs the agent when
the program itself costs nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_sandbox import in_container, load_mbpp, source_of, with_cases  # noqa: E402

from client.builders import from_mbpp  # noqa: E402
from service.sandbox.docker import AGENT_CAPS, SANDBOX_SYSCTLS  # noqa: E402
from service.sandbox.executor import build_task  # noqa: E402
from service.sandbox.scheduler import batch_request  # noqa: E402
from service.settings import Settings  # noqa: E402

_WRAP = os.environ.get("UTRS_PROFILE_WRAP")  # a script to run as the agent instead (profilers)
_STATS = "for f in /proc/[0-9]*/stat; do cat $f 2>/dev/null; echo; done"


def _start(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    caps = [a for cap in AGENT_CAPS for a in ("--cap-add", cap)]
    sysctls = [a for k, v in SANDBOX_SYSCTLS.items() for a in ("--sysctl", f"{k}={v}")]
    cmd = ["docker", "run", "--rm", "-i", "--init", "--name", name, "--network", "none", "--read-only",
           "--tmpfs", "/sandbox:rw,exec,nosuid,nodev,size=512m,uid=0,gid=0,mode=0755", "--memory", "2g",
           "--memory-swap", "2g", "--pids-limit", "256", "--cpus", "1", "--cpuset-cpus", "0",
           "--cap-drop", "ALL", *caps,
           "--security-opt", "no-new-privileges", *sysctls, "-e", "UTRS_UID_BASE=200000",
           *(["-v", f"{_WRAP}:/wrap.py:ro"] if _WRAP else []), settings.sandbox_image,
           *(["python", "/wrap.py"] if _WRAP else [])]  # fmt: skip
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _ask(proc: subprocess.Popen[bytes], message: dict[str, Any], n: int) -> list[dict[str, Any]]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()
    out: list[dict[str, Any]] = []
    while len(out) < n:
        reply = json.loads(proc.stdout.readline())
        if "hb" not in reply:
            out.append(reply)
    return out


def _stats(name: str) -> dict[int, tuple[str, float, float, int, int, float, float]]:
    """pid -> (comm, own CPU ms, reaped children's CPU ms, own faults, children's faults,
    own system CPU ms, children's system CPU ms)."""
    text = subprocess.run(["docker", "exec", name, "sh", "-c", _STATS], capture_output=True, text=True).stdout
    rows = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        head, _, tail = line.rpartition(")")
        f = tail.split()
        rows[int(head.split()[0])] = (head.split("(", 1)[1], (int(f[11]) + int(f[12])) * 10.0,
                                      (int(f[13]) + int(f[14])) * 10.0, int(f[7]), int(f[8]),
                                      int(f[12]) * 10.0, int(f[14]) * 10.0)
    return rows


def _messages(items: list[Any], settings: Settings) -> list[dict[str, Any]]:
    tasks = [build_task(item, settings) for item in items]
    messages = []
    for start in range(0, len(tasks), 32):
        chunk = tasks[start : start + 32]
        for slot, task in enumerate(chunk, start):
            task.slot = slot
        messages.append(dict(batch_request(chunk, uuid.uuid4().hex)))
    return messages


def profile(items: list[Any], settings: Settings) -> tuple[float, dict[int, tuple[Any, ...]], int]:
    name = f"utrs-profile-{uuid.uuid4().hex[:8]}"
    proc = _start(settings, name)
    try:
        _ask(proc, {"op": "ping"}, 1)
        for message in _messages(items[:40], settings):  # warm-up
            _ask(proc, message, len(message["runs"]))
        before = _stats(name)
        t0 = time.perf_counter()
        failed = 0
        for message in _messages(items, settings):
            for reply in _ask(proc, message, len(message["runs"])):
                failed += any(t["status"] != "pass" for t in reply.get("tests") or [{"status": "?"}])
        wall = time.perf_counter() - t0
        after = _stats(name)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    delta = {pid: (row[0], *(a - b for a, b in zip(row[1:], before.get(pid, (row[0], 0, 0, 0, 0, 0, 0))[1:],
                                                   strict=True)))
             for pid, row in after.items()}
    return wall, delta, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--cases", type=int, default=3, help="asserts per program (MBPP's, repeated)")
    parser.add_argument("--isolate", action="store_true", help="isolate_cases=true: a process per case")
    parser.add_argument("--legacy", action="store_true", help='trust="in_process"')
    parser.add_argument("--trivial", action="store_true", help="programs that do nothing, one assert each")
    args = parser.parse_args()
    settings = Settings()
    rows, _ = load_mbpp(args.limit)
    rows = with_cases(rows, args.cases)
    if args.trivial:
        rows = [{**row, "code": f"def f(x):\n    return x + 1  # {k}\n", "test_list": ["assert f(1) == 2"],
                 "test_setup_code": ""} for k, row in enumerate(rows)]  # fmt: skip
    items = [from_mbpp(r, isolate_cases=args.isolate, trust="in_process" if args.legacy else "harness") for r in rows]
    n = len(items)
    wall, delta, failed = profile(items, settings)
    kind, cases = ("trivial", 1) if args.trivial else ("MBPP", args.cases)
    print(f"{n} {kind} programs, {cases} cases each, isolate_cases={args.isolate}, "
          f"trust={'in_process' if args.legacy else 'harness'}, image {settings.sandbox_image}; {failed} not passing")
    print(f"agent: {wall / n * 1e3:.2f} ms/program wall (one container, one CPU)")
    total = 0.0
    for pid, (_comm, own, kids, faults, kid_faults, own_sys, kids_sys) in sorted(delta.items()):
        if own <= 0 and kids <= 0:
            continue
        role = {1: "init"}.get(pid, "P (agent)" if pid == min(p for p in delta if p > 1) else "")
        role = role or ("Z (zygote) + its reaped children" if kids else "H (harness)")
        total += own + kids
        print(f"  {role:34s} own {own / n:5.2f} ms (sys {own_sys / n:4.2f}) {faults / n:5.0f} faults | "
              f"children {kids / n:5.2f} ms (sys {kids_sys / n:4.2f}) {kid_faults / n:5.0f} faults  (per program)")
    print(f"  {'all of the agent':34s} {total / n:5.2f} ms CPU per program")
    bare = in_container("bare", [source_of(r) for r in rows], 1, settings)
    kids = bare["children"]
    print(f"bare loop, same image, one loop: {bare['wall_s'] / n * 1e3:.2f} ms/program "
          f"({bare['passed']} of {n} passed); each child {(kids['user_s'] + kids['sys_s']) / n * 1e3:.2f} ms CPU "
          f"(sys {kids['sys_s'] / n * 1e3:.2f}), {kids['faults'] / n:.0f} faults")


if __name__ == "__main__":
    main()
