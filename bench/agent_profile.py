"""The agent alone (no pool, no worker): wall time, CPU and page faults per MBPP program.

    .venv/bin/python bench/agent_profile.py [--shared-cases] [--limit 400]

Builds the agent's run requests for MBPP reference solutions on the host, then drives the
agent's ``Agent.handle`` in a throwaway container of the sandbox image (one CPU) and
prints, per program: wall time, and the faults and CPU time of the agent and of the
processes it forked (loader and cases), beside the bare loop (fork per program, no
isolation) in the same container.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INSIDE = r"""
import importlib.util, json, os, resource, sys, time
spec = importlib.util.spec_from_file_location("agent", "/opt/sandbox/agent.py")
agent = importlib.util.module_from_spec(spec); spec.loader.exec_module(agent)
os.environ["TMPDIR"] = os.environ["HOME"] = agent.WORKDIR
agent.gc.collect(); agent.gc.freeze()
data = json.load(sys.stdin)
reqs, sources = data["requests"], data["sources"]

def usage():
    return resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

def line(name, t, u0, u1, n):
    (s0, c0), (s1, c1) = u0, u1
    cpu = lambda a, b: (b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime) / n * 1e3
    print("%-28s %6.2f ms/program | parent %4.0f faults %5.2f ms CPU | children %5.0f faults %5.2f ms CPU" % (
        name, t / n * 1e3, (s1.ru_minflt - s0.ru_minflt) / n, cpu(s0, s1),
        (c1.ru_minflt - c0.ru_minflt) / n, cpu(c0, c1)))

a = agent.Agent.__new__(agent.Agent); a.seq = 0
for r in reqs[:50]:
    a.handle(r)
u0 = usage(); t0 = time.perf_counter()
for r in reqs:
    reply = a.handle(r)
    assert all(t["status"] == "pass" for t in reply["tests"]), reply
line("agent", time.perf_counter() - t0, u0, usage(), len(reqs))

def child(src):
    try:
        exec(compile(src, "<p>", "exec"), {"__name__": "__main__"})
    except BaseException:
        os._exit(1)
    os._exit(0)

u0 = usage(); t0 = time.perf_counter()
for src in sources:
    pid = os.fork()
    if pid == 0:
        child(src)
    os.waitpid(pid, 0)
line("bare loop (fork per program)", time.perf_counter() - t0, u0, usage(), len(sources))
"""


def main() -> None:
    from bench_sandbox import load_mbpp, source_of

    from client.builders import from_mbpp
    from service.sandbox.executor import build_request
    from service.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-cases", action="store_true", help="isolate_cases=false")
    parser.add_argument("--limit", type=int, default=400)
    args = parser.parse_args()
    settings = Settings()
    rows, _ = load_mbpp(args.limit)
    requests = []
    for i, row in enumerate(rows):
        request = build_request(from_mbpp(row, isolate_cases=not args.shared_cases), settings)
        requests.append({**request, "rid": str(i)})
    payload = json.dumps({"requests": requests, "sources": [source_of(r) for r in rows]})
    cmd = ["docker", "run", "--rm", "-i", "--network", "none", "--init", "--cpus", "1",
           "--tmpfs", "/sandbox:rw,exec,uid=1000,gid=1000", settings.sandbox_image, "python", "-c", INSIDE]  # fmt: skip
    print(f"{len(rows)} MBPP programs, isolate_cases={not args.shared_cases}")
    subprocess.run(cmd, input=payload, text=True, check=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
