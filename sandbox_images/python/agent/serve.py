"""The agent (P): the trusted process of a sandbox container, and its serve loop.

P runs as root with only CAP_SETUID, CAP_SETGID and CAP_KILL, is not dumpable, and runs
no code of a program or a test. It forks the zygote first (before any request arrives),
then reads requests from the worker, one JSON object per line on stdin, and answers one
per line on stdout:

    {"op": "ping"}  ->  {"op": "pong", "version": "2", "pid", "runs", "python", "trust": [...]}
    {"op": "batch", "group": G, "suites": {SID: SUITE}, "runs": [RUN, ...]}
        ->  one {"rid", "tests": [TEST, ...], "trust", "agent_ms", "cpu_ms"} per run, in
            order, each within 20 ms of being judged; {"hb": t} at least every 0.5 s meanwhile
    {"op": "run", "rid", "suite": SUITE, ...RUN}   (a batch of one, a group of its own)

A group's suites share one harness (the worker sends one group per chunk of one request).

docs/sandbox.md has the fields. An agent bug answers ``{"rid", "agent_error"}`` (the
worker's infra_error), never a verdict.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from agent import VERSION
from agent.cleanup import WORK_ROOT, Janitor
from agent.frames import Channel
from agent.harnesses import Harnesses
from agent.hub import REPLY_DELAY_S, Hub, ZygoteGone
from agent.outputs import IODIR, oom_killed
from agent.run import Context, Run, Uids

__all__ = ["Agent", "main"]

RUN_UIDS = 8
HARNESS_UIDS = 16


class Agent:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.hub = ctx.hub
        self.runs = 0

    def serve(self) -> None:
        while (line := self.hub.next_request()) is not None:
            try:
                request = json.loads(line)
            except ValueError as exc:
                self.hub.reply({"agent_error": f"bad request: {exc}"})
                continue
            if type(request) is not dict:
                self.hub.reply({"agent_error": "a request must be a JSON object"})
                continue
            self.handle(request)

    def handle(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        if op == "ping":
            self.hub.reply({"op": "pong", "rid": request.get("rid"), "version": VERSION, "pid": os.getpid(),
                            "runs": self.runs, "python": sys.version.split()[0],
                            "trust": ["harness", "in_process"], "cleanings": self.ctx.janitor.cleanings,
                            "harnesses": len(self.ctx.harnesses)})
        elif op == "batch":
            suites = request.get("suites") or {}
            self.batch(request.get("runs") or [], suites if type(suites) is dict else {}, str(request.get("group", "")))
        elif op == "run":
            suite = request.get("suite") if type(request.get("suite")) is dict else {}
            self.batch([{**request, "suite": "inline"}], {"inline": suite}, str(request.get("rid", "")))
        else:
            self.hub.reply({"rid": request.get("rid"), "agent_error": f"unknown op {op!r}"})

    def batch(self, runs: list[Any], suites: dict[str, Any], group: str) -> None:
        self.hub.busy = True
        try:
            for run in runs:
                self.hub.reply(self.one(run, suites, group))
        finally:
            self.hub.busy = False
            self.hub.flush()
        if self.ctx.uids.exhausted:
            os._exit(0)  # too many uids could not be cleaned: the worker starts a fresh container

    def one(self, run: Any, suites: dict[str, Any], group: str) -> dict[str, Any]:
        if type(run) is not dict:
            return {"agent_error": "a run must be a JSON object"}
        rid = run.get("rid")
        suite = suites.get(str(run.get("suite")))
        if type(suite) is not dict:
            return {"rid": rid, "agent_error": f"run names suite {run.get('suite')!r}, which the batch lacks"}
        self.runs += 1
        t0 = time.perf_counter()
        job = Run(self.ctx, run, {**suite, "sid": str(run["suite"])}, group)
        try:
            tests = job.execute()
        except ZygoteGone as exc:
            self.hub.reply({"rid": rid, "agent_error": f"the zygote died: {exc}"})
            self.hub.flush()
            os._exit(3)  # nothing can run here any more: the worker replaces the container
        except Exception:
            return {"rid": rid, "agent_error": traceback.format_exc()[-4000:]}
        return {"rid": rid, "tests": tests, "trust": job.trust, "agent_ms": (time.perf_counter() - t0) * 1e3,
                "cpu_ms": job.cpu_s * 1e3}


def _directories() -> None:
    os.umask(0o022)
    for path, mode in ((WORK_ROOT, 0o1733), (IODIR, 0o700)):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)


def main(zpid: int, zchan: Channel, infd: int, outfd: int) -> None:
    """P's serve loop, once :func:`agent.boot.boot` set the process up and forked the
    zygote (``python -m agent``)."""
    _directories()
    base = int(os.environ.get("UTRS_UID_BASE", "20000"))
    run_uids = [base + i for i in range(RUN_UIDS)]
    harness_uids = [base + 32 + i for i in range(HARNESS_UIDS)]
    delay = float(os.environ.get("UTRS_REPLY_DELAY_S") or REPLY_DELAY_S)
    hub = Hub(zchan, zpid, infd, outfd, reply_delay_s=min(max(delay, 0.0), 1.0))
    oom_killed()  # the count so far
    janitor = Janitor(hub)
    janitor.prepare(run_uids)
    ctx = Context(hub=hub, janitor=janitor, harnesses=Harnesses(hub, janitor, harness_uids), uids=Uids(run_uids))
    Agent(ctx).serve()
