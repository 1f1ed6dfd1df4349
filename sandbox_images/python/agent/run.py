"""One program run as P sees it: spawn, follow, keep every deadline, judge, clean up.

assert/call tests (trust "harness"): a *session* is one program process X (forked by the
zygote, under a run uid) serving the suite's harness H, which runs cases ``start..stop``
and reports each. With ``isolate_cases`` a session has one case; otherwise all, and a
case that kills or hangs X ends the session: the next session (a fresh X) goes on with
the following case, so no case costs the later ones their results. P gives each case the
wall-clock budget itself; at its end P kills X, and H (whose call into X then fails)
reports the case; an H that stays silent is stuck in test code and is replaced.

stdio tests: each case is a fresh X with the case's input on stdin; P reads the output
files itself and compares. trust "in_process" (legacy): X runs the tests itself and
reports; forgeable, and labelled so in every result.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from agent.cleanup import Janitor, workdir
from agent.compare import compare_text
from agent.describe import PROGRAM_FILE, describe
from agent.frames import Channel, ChannelError
from agent.harnesses import Harnesses
from agent.hub import Hub
from agent.outputs import IODIR, Outputs, oom_killed
from agent.session import CASE_MARGIN_S, Follower
from agent.verdicts import Record, clean_error, death, over_limit, record, timeout
from agent.watch import process_cpu_ms, uid_cpu_ms

__all__ = ["Context", "Run"]

_MIN_UIDS = 4
_LONG_COMPARE = 1 << 20  # characters of output beyond which comparing keeps the heartbeat up
PRECOMPILE_CHARS = 256 * 1024  # larger programs compile in X, under its limits
class Uids:
    """Run uids in rotation: a uid's leftovers are gone before it comes round again."""

    def __init__(self, uids: list[int]) -> None:
        self.uids = list(uids)
        self.next_index = 0
        self.exhausted = False

    def take(self) -> int:
        uid = self.uids[self.next_index % len(self.uids)]
        self.next_index = (self.next_index + 1) % len(self.uids)
        return uid

    def retire(self, uid: int) -> None:
        """Stop using a uid that could not be made clean; with too few left, the
        container should go (the agent exits after its batch; the worker replaces it)."""
        if uid in self.uids and len(self.uids) > 1:
            self.uids.remove(uid)
        self.exhausted = len(self.uids) < _MIN_UIDS



_DEVNULL: list[int] = []


def devnull() -> int:
    """P's /dev/null, opened once: the standard input of every assert-mode program."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY))
    return _DEVNULL[0]

@dataclass
class Context:
    hub: Hub
    janitor: Janitor
    harnesses: Harnesses
    uids: Uids
    sessions: int = 0


class Run:
    """One program against its suite. ``execute()`` returns a record per case."""

    def __init__(self, ctx: Context, req: dict[str, Any], suite: dict[str, Any], group: str = "") -> None:
        self.ctx = ctx
        self.group = group
        self.hub = ctx.hub
        self.req = req
        self.suite = suite
        self.kind = str(suite.get("kind") or "assert")
        self.cases: list[dict[str, Any]] = list(suite.get("cases") or [])
        self.n = len(self.cases)
        self.program = str(req.get("program") or "")
        self.blob = b""
        self.timeout = float(req.get("timeout_s") or 4.0)
        self.wall = float(req.get("wall_s") or self.timeout)
        self.cap = int(req.get("output_kb") or 1024) * 1024
        self.memory = int(req.get("memory_mb") or 512) << 20
        self.procs = int(req.get("max_procs") or 64)
        self.preview = int(req.get("preview_chars", 2048))
        self.trust = "in_process" if req.get("trust") == "in_process" else "harness"
        self.isolate = bool(req.get("isolate_cases", False))
        self.stop_on_failure = bool(req.get("stop_on_first_failure"))
        self.tests: list[Record | None] = [None] * self.n
        self.cpu_s = 0.0
        self.isolate_until = 0  # cases before this run one per session (after a harness failure)

    # ------------------------------------------------------------------ driver
    def execute(self) -> list[Record]:
        if self.n and not self._compile():
            return [t if t is not None else record("skipped") for t in self.tests]
        if self.kind == "stdio":
            self._stdio()
        else:
            start = 0
            while start < self.n:
                start = self._session(start)
                if self.stop_on_failure and any(t and t["status"] != "pass" for t in self.tests[:start]):
                    break
        return [t if t is not None else record("skipped") for t in self.tests]

    def _compile(self) -> bool:
        """Compile the program here (warm, a tenth of the cost in a fresh fork; nothing
        runs) unless it is large; False if it does not compile (every case is filled)."""
        if len(self.program) > PRECOMPILE_CHARS:
            return True  # compiled by X, under X's limits (compiling can take gigabytes)
        try:
            code = compile(self.program, PROGRAM_FILE, "exec", dont_inherit=True)
        except BaseException as exc:
            self._fill_compile_error(describe(exc))
            return False
        self.blob = marshal.dumps(code)
        return True

    def _limits(self, cases: int) -> dict[str, Any]:
        return {"cpu_s": max(1, -(-self.timeout // 1)) * (cases + 1), "as_bytes": self.memory,
                "fsize": self.cap * max(cases, 1) + 1, "nproc": self.procs}

    def _spawn(self, mode: str, uid: int, fds: list[int], cases: int, **extra: Any) -> int:
        """Hand the program to a blank of the zygote's, which becomes X; X's pid.

        Raises:
            ZygoteGone: no blank can be had.
        """
        spec = {"op": "x", "uid": uid, "mode": mode, "src": self.program, "workdir": workdir(uid),
                "limits": self._limits(cases), "oom_score": 1000, "nfds": len(fds), **extra}
        while True:
            pid, chan = self.hub.blank()
            try:
                chan.send(spec, fds, self.blob)
                return pid
            except ChannelError:  # the blank died (it is nobody's run): take another
                self.hub.kill(pid)
                self.hub.abandon(pid)
            finally:
                chan.close()

    def _fill_compile_error(self, error: dict[str, Any]) -> None:
        status = "memory" if "MemoryError" in (error.get("mro") or []) else "error"
        for i in range(self.n):
            if self.tests[i] is None:
                self.tests[i] = record(status, error=error)

    def _finish(self, pid: int | None, uid: int) -> None:
        """End X (it has nothing more to do), reap it, and clean its uid if needed."""
        if pid is not None:
            done = self.hub.forget(pid)
            if done is None:  # not reaped yet: the zygote reaps it, nobody waits for that
                self.hub.kill(pid)
                self.hub.abandon(pid)
            else:
                self.cpu_s += float(done.get("cpu_s") or 0.0)
        if not self.ctx.janitor.after_run(uid, len(self.hub.unreaped)):  # harnesses and blanks included
            self.ctx.uids.retire(uid)

    # --------------------------------------------------------------- sessions
    def _session(self, start: int) -> int:
        stop = start + 1 if self.isolate or start < self.isolate_until else self.n
        uid = self.ctx.uids.take()
        files = Outputs()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid: int | None = None
        self.ctx.sessions += 1
        spec = {"start": start, "stop": stop, "timeout_s": self.timeout, "wall_s": self.wall, "xuid": uid,
                "s": self.ctx.sessions, "stop_on_first_failure": self.stop_on_failure}
        try:
            extra = {"suite": self.suite, **spec} if self.trust == "in_process" else {}
            mode = "legacy" if self.trust == "in_process" else "serve"
            pid = self._spawn(mode, uid, [devnull(), files.out, files.err, theirs.fileno()], stop - start, **extra)
            theirs.close()
            if self.trust == "in_process":
                follower = Follower(self, Channel(mine), None, pid, files, spec)
            else:
                harness = self.ctx.harnesses.get(self.group, self.suite)
                harness.chan.send({"op": "session", "sid": str(self.suite["sid"]), "xpid": pid, "nfds": 3, **spec},
                                  [mine.fileno(), files.out, files.err])
                mine.close()
                follower = Follower(self, harness.chan, harness, pid, files, spec)
            return follower.run()
        finally:
            theirs.close()
            self._finish(pid, uid)
            files.close()

    # ------------------------------------------------------------------ stdio
    def _stdio(self) -> None:
        for index, case in enumerate(self.cases):
            test = self._stdio_case(case)
            self.tests[index] = test
            if self.stop_on_failure and test["status"] != "pass":
                return

    def _stdio_case(self, case: dict[str, Any]) -> Record:
        uid = self.ctx.uids.take()
        files = Outputs()
        path = f"{IODIR}/in"
        with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
            fh.write(str(case.get("input") or ""))
        stdin = os.open(path, os.O_RDONLY)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid: int | None = None
        try:
            t0 = time.monotonic()
            orphans0 = process_cpu_ms(1)  # what init has reaped so far (orphans' CPU lands there)
            pid = self._spawn("stdio", uid, [stdin, files.out, files.err, theirs.fileno()], 1)
            theirs.close()
            chan = Channel(mine, limit=1 << 20)
            report, status, cpu_s, timed_out = self._await_stdio(chan, pid, t0)
            pid = None if status is not None else pid
            if cpu_s is not None:  # wait4 counts X and what it reaped; its other descendants too:
                cpu_s += (self._leftover_cpu_ms(uid) + max(0.0, process_cpu_ms(1) - orphans0)) / 1e3
            elapsed_ms = (time.monotonic() - t0) * 1e3
            self.cpu_s += cpu_s or 0.0
            return self._judge_stdio(case, files, report, status, cpu_s, timed_out, elapsed_ms)
        finally:
            os.close(stdin)
            mine.close()
            self._finish(pid, uid)
            files.close()

    def _beating(self, work: Any, long: bool) -> Any:
        """``work()``; when it may take seconds (a comparison of megabytes), in a thread
        while this one keeps the worker's heartbeat going."""
        if not long:
            return work()
        import threading  # not at import time: the zygote, forked from P, stays free of it

        out: list[Any] = []
        thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            self.hub.beat()
        return out[0] if out else False

    def _leftover_cpu_ms(self, uid: int) -> float:
        """CPU of the run's processes still alive (only looked for when the task count says
        some are)."""
        if not self.ctx.janitor.dirty_besides(len(self.hub.unreaped)):
            return 0.0
        return uid_cpu_ms(uid)

    def _await_stdio(self, chan: Channel, pid: int, t0: float) -> tuple[Any, int | None, float | None, bool]:
        """X's error report (if it sent one), its wait status and CPU time, and whether P
        had to stop it at the wall-clock limit. X's channel ends when X does."""
        deadline = t0 + self.wall + CASE_MARGIN_S
        report = None
        try:
            pidfd = os.pidfd_open(pid)  # readable when X ends (its children may keep its channel)
        except ProcessLookupError:
            pidfd = -1
        try:
            while pidfd >= 0 and not _readable(pidfd):
                ready = self.hub.wait([chan] if not chan.eof else [], deadline, (pidfd,))
                if ready is not None and ready.has_frame():
                    try:
                        message = ready.pop()
                    except ChannelError:
                        message, chan.eof = None, True
                    if report is None and type(message) is dict:
                        report = message.get("error")
                elif time.monotonic() >= deadline:
                    break
            ended = pidfd < 0 or _readable(pidfd)
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        if ended and report is None:  # what X wrote just before it ended
            with contextlib.suppress(ChannelError):
                while not chan.eof and not chan.has_frame() and _readable(chan.fileno()):
                    chan.pump()
                message = chan.pop()
                report = message.get("error") if type(message) is dict else None
        done = self.hub.await_exit(pid, deadline + 1.0) if ended else None
        if done is None:  # still running at the limit (or it closed its channel and went on)
            self.hub.kill(pid)
            done = self.hub.await_exit(pid, time.monotonic() + 2.0)
            return report, done["status"] if done else None, done["cpu_s"] if done else None, True
        return report, int(done["status"]), float(done["cpu_s"]), False

    def _judge_stdio(self, case: dict[str, Any], files: Outputs, report: Any, status: int | None,
                     cpu_s: float | None, timed_out: bool, elapsed_ms: float) -> Record:
        files.mark()
        out, err, size = files.last(self.preview)
        over = size > self.cap
        if timed_out:
            return record("timeout", self.wall * 1e3, out, err, timeout(self.wall, wall=True))
        if over:
            return record("output_limit", elapsed_ms, out, err, over_limit(self.cap))
        if cpu_s is not None and cpu_s > self.timeout:
            return record("timeout", elapsed_ms, out, err, timeout(self.timeout, wall=False, used_s=cpu_s))
        if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            got = files.text(self.cap + 1)
            want = str(case.get("output") or "")
            ok = self._beating(lambda: compare_text(got, want, str(self.suite.get("compare") or "tokens")),
                               len(got) + len(want) > _LONG_COMPARE)
            return record("pass" if ok else "fail", elapsed_ms, out, err)
        report = clean_error(report)  # X's own words: any shape, made well-formed first
        if report is not None:
            mro = report["mro"]
            kind = "crash" if "SystemExit" in mro else "memory" if "MemoryError" in mro else "error"
            return record(kind, elapsed_ms, out, err, report)
        kind, error = death(status, cpu_s=cpu_s, timeout_s=self.timeout, oom=oom_killed(),
                            over=over, cap=self.cap)
        return record(kind, elapsed_ms, out, err, error)


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])
