"""The zygote's own page faults per blank it forks, beside plain fork loops.

    .venv/bin/python bench/zygote_faults.py [--rounds 6]

Runs inside a throwaway container of the sandbox image (one CPU): forks a real zygote
(``agent.zygote.start()``, as P does), asks it for blanks eight at a time as P asks, and
reads its minor faults from ``/proc`` around each step. Every page a process writes after
a fork is copied, so what a forking process touches between two forks is paid once per
fork. Beside it, in the same container and image, the parent's faults per fork of a plain
fork loop, of one that makes a Python socketpair and closes one end between forks (what
``Zygote._blanks`` did until 2026-12-02), and of one whose pairs are made before the loop
and closed as raw descriptors (what it does now).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _faults(pid: int | str = "self") -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def _loop(n: int, way: str) -> float:
    """The calling process's faults per fork over ``n`` forks made ``way``."""
    ends = [socket.socketpair() for _ in range(n)] if way == "pairs first" else []
    raw = [(a.detach(), b.detach()) for a, b in ends]
    pids, kept, start = [], [], _faults()
    for k in range(n):
        pair = socket.socketpair() if way == "socketpair between" else None
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        if pair is not None:  # as _blanks did: one end closed, the other kept to be sent
            pair[0].close()
            kept.append(pair[1])
        if raw:
            os.close(raw[k][0])
            os.close(raw[k][1])
        pids.append(pid)
    used = _faults() - start
    for sock in kept:
        sock.close()
    for pid in pids:
        os.waitpid(pid, 0)
    return used / n


def inside(rounds: int) -> None:
    import gc

    from agent import program, zygote

    zpid, chan = zygote.start()
    time.sleep(0.3)
    per_blank = []
    for ident in range(1, rounds + 1):
        before = _faults(zpid)
        chan.send({"op": "blanks", "n": 8, "id": ident, "nfds": 0})
        while (reply := chan.recv()) is not None and reply.get("id") != ident:
            pass
        assert reply is not None
        per_blank.append((_faults(zpid) - before) / len(reply["pids"]))
        for fd in chan.take_fds(len(reply["pids"])):
            os.close(fd)  # a blank given back ends
    print(f"zygote: {', '.join(f'{x:.0f}' for x in per_blank)} faults per blank forked (rounds of 8)")
    program.prepare()
    program.warm_up()
    gc.collect()
    gc.freeze()
    for way in ("plain", "socketpair between", "pairs first"):
        runs = [_loop(8, way) for _ in range(rounds)]
        print(f"fork loop, {way}: {', '.join(f'{x:.0f}' for x in runs)} faults per fork (zygote's image)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        sys.path.insert(0, "/opt/sandbox")
        inside(args.rounds)
        return
    from service.settings import Settings

    image = Settings().sandbox_image
    cmd = ["docker", "run", "--rm", "--network", "none", "--cpus", "1", "-v", f"{ROOT / 'bench'}:/bench:ro",
           image, "python", "/bench/zygote_faults.py", "--inside", "--rounds", str(args.rounds)]  # fmt: skip
    print(f"image {image}", flush=True)
    subprocess.run(cmd, check=True, timeout=300)


if __name__ == "__main__":
    main()
