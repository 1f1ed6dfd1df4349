"""The harness (H): runs a suite's test code against one program at a time.

H never runs program code. For each session (one program's process X, some of its
cases) it builds the test namespace: the prompt (HumanEval's helpers such as ``poly``) and
the setup are executed here; the program's entry points and the other names the tests
take from it are bound to handles on X (:mod:`agent.proxy`); builtins and modules are
H's own. Then it runs the cases in order. H keeps each case's budget itself: its wall
clock, and X's CPU time as the kernel counts it; when a case runs out, H asks P to kill
X. Test code that hangs in H is interrupted by a timer. At the end of the session H
reports every case to P in one message.

The same code runs the legacy ``trust: "in_process"`` mode inside X itself, on the
program's own namespace (:func:`run_in_process`): there the program can forge anything,
which is what that mode's label says.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from agent.codec import CodecError, Encoder, Opaque
from agent.compare import compare_value, json_value
from agent.describe import synthetic
from agent.frames import Channel, ChannelError, unix_socket
from agent.namespace import plain_deep, proxy_namespace
from agent.outcomes import HarnessTimeout, case_outcome, load_event, timed_out
from agent.proxy import LoadFailed, ProgramGone, Remote
from agent.suite import Suite
from agent.watch import CpuClock, Watch

__all__ = ["Harness", "Session", "run_in_process"]

Report = Callable[[dict[str, Any]], None]
_SAFE_MODULES = frozenset({"numpy", "scipy", "sortedcontainers", "networkx"})
_ALARM_SLACK_S = 0.25  # the test's own code gets this much past the case's wall limit


# ------------------------------------------------------------------ sessions
class Session:
    """Cases ``start..stop`` of a suite against one program; the report in ``done``."""

    def __init__(self, suite: Suite, spec: dict[str, Any], watch: Watch | None, outputs: list[int]) -> None:
        self.suite = suite
        self.start = int(spec.get("start", 0))
        self.stop = int(spec.get("stop", len(suite.cases)))
        self.timeout_s = float(spec.get("timeout_s", 4.0))
        self.wall_s = float(spec.get("wall_s", self.timeout_s))
        self.stop_on_failure = bool(spec.get("stop_on_first_failure"))
        self.watch = watch
        self.outputs = outputs
        self.done: dict[str, Any] = {"ev": "done", "load": None, "cases": [], "next": self.stop, "marks": []}
        self.value: Any = None  # a probe case's return value, in wire form

    def mark(self) -> None:
        marks = []
        for fd in self.outputs:
            try:
                marks.append(os.fstat(fd).st_size)
            except OSError:
                marks.append(0)
        self.done["marks"].append(marks)

    def load_failed(self, status: str, error: dict[str, Any] | None, time_ms: float = 0.0) -> None:
        self.mark()
        self.done["load"] = {"status": status, "error": error, "time_ms": time_ms}

    def run_cases(self, ns: dict[str, Any]) -> None:
        for index in range(self.start, self.stop):
            status, gone = self._case(ns, index)
            if gone:
                self.done["next"] = index + 1
                return
            if self.stop_on_failure and status != "pass":
                return

    def _case(self, ns: dict[str, Any], index: int) -> tuple[str, bool]:
        watch = self.watch
        if watch is not None:
            watch.begin(self.wall_s, self.timeout_s)
        cpu0 = time.process_time() if watch is None else 0.0
        t0 = time.perf_counter()
        error: dict[str, Any] | None = None
        gone = False
        _arm(self.wall_s + _ALARM_SLACK_S)
        try:
            status = self._run_one(ns, index)
        except ProgramGone as exc:
            gone = True
            if exc.timeout is not None and watch is not None:
                status, error = timed_out(exc, self, watch.used_ms())
            else:
                status, error = "gone", {"message": exc.why}
        except BaseException as exc:
            status, error = case_outcome(exc)
        finally:
            _arm(0)
        time_ms = (time.perf_counter() - t0) * 1e3
        if status != "timeout" and not gone:
            status, error = self._cpu_check(status, error, time_ms, cpu0)
        self.mark()
        event = {"i": index, "status": status, "time_ms": time_ms, "error": error}
        if self.value is not None and status == "pass":
            event["value"] = self.value
        self.value = None
        self.done["cases"].append(event)
        return status, gone

    def _cpu_check(self, status: str, error: dict[str, Any] | None, time_ms: float,
                   cpu0: float) -> tuple[str, dict[str, Any] | None]:
        """A case that finished may still have used more CPU than its limit."""
        if time_ms < self.timeout_s * 500:  # on at most 2 CPUs it cannot have
            return status, error
        used = self.watch.used_ms() if self.watch is not None else (time.process_time() - cpu0) * 1e3
        if used > self.timeout_s * 1e3:
            return "timeout", synthetic(
                "Timeout", f"used {used / 1e3:.2f}s of CPU time, over the limit of {self.timeout_s:g}s")
        return status, error

    def _run_one(self, ns: dict[str, Any], index: int) -> str:
        suite = self.suite
        if suite.kind == "assert":
            exec(suite.case_codes[index], ns)
            return "pass"
        case = suite.cases[index]
        fn = self._function(ns)
        # a fresh copy each time: a program that mutates its arguments must not change
        # them for the next program of the suite
        args, kwargs = copy.deepcopy((case.get("args") or [], case.get("kwargs") or {}))
        value = fn(*args, **kwargs)
        if suite.kind == "probe":
            self.value = record_value(plain_deep(value))
            return "pass"
        got = json_value(plain_deep(value))
        return "pass" if compare_value(got, case.get("expected"), suite.compare) else "fail"

    def _function(self, ns: dict[str, Any]) -> Any:
        suite = self.suite
        name = suite.class_name or suite.fn_name or ""
        if name not in ns:
            raise NameError(f"name {name!r} is not defined", name=name)
        target = ns[name]
        if suite.class_name:
            return getattr(target(), suite.fn_name or "")
        return target


def record_value(value: Any) -> Any:
    """A probe's return value in the exact-type wire form (:mod:`agent.codec`).

    Raises:
        TypeError: it holds an object of the program (no value to record).
    """
    try:
        return Encoder(_no_handles).encode(value)
    except (Opaque, CodecError) as exc:
        raise TypeError(f"the return value cannot be recorded: {exc}") from None


def _no_handles(value: Any) -> Any:
    raise Opaque(value)


_CURRENT: list[Remote | None] = [None]


def _on_alarm(signum: int, frame: Any) -> None:
    remote = _CURRENT[0]
    if remote is not None and remote.waiting:
        return  # waiting for X: the watch deals with it
    raise HarnessTimeout()


_ALARMS = [False]  # only H installs the timer's handler (in X it would kill the process)


def _arm(seconds: float) -> None:
    if _ALARMS[0]:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.0))


class Harness:
    """H's main loop: suites by id, one session at a time, reports to P."""

    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.suites: dict[str, Suite] = {}
        self.current: Any = None  # the session id P gave; every message carries it
        signal.signal(signal.SIGALRM, _on_alarm)
        _ALARMS[0] = True

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.chan.send({**message, "s": self.current})
        except ChannelError:
            os._exit(0)  # P is gone

    def serve(self) -> None:
        while True:
            try:
                message = self.chan.recv()
            except ChannelError:
                return
            if message is None:
                return
            op = message.get("op")
            if op == "suite":
                suite = Suite.build(message)
                self.suites[suite.sid] = suite
            elif op == "session":
                fds = self.chan.take_fds(int(message.get("nfds", 1)))
                self.session(message, fds)
            elif op == "exit":
                return

    def session(self, spec: dict[str, Any], fds: list[int]) -> None:
        self.current = spec.get("s")
        chan = Channel(unix_socket(fds[0]), fds=False)
        cpu = CpuClock(spec.get("xpid"), spec.get("xuid"))
        watch = Watch(cpu.ms, lambda reason: self.send({"ev": "kill", "why": reason}), spec.get("xpid"), cpu.deep)
        remote = Remote(chan, watch)
        _CURRENT[0] = remote
        session = Session(self.suites[str(spec["sid"])], spec, watch, fds[1:])
        try:
            self._session(session, remote)
        finally:
            _CURRENT[0] = None
            with contextlib.suppress(ChannelError):
                chan.send({"op": "bye"})
            chan.close()
            watch.close()  # its pidfd and X's stat: H serves a whole group, thousands of sessions
            cpu.close()
            for fd in fds[1:]:
                os.close(fd)
        self.send(session.done)

    def _session(self, session: Session, remote: Remote) -> None:
        suite = session.suite
        if suite.error is not None:
            session.load_failed("error", suite.error)
            return
        assert remote.watch is not None
        remote.watch.begin(session.wall_s, session.timeout_s, cpu0=0.0)
        t0 = time.perf_counter()
        _arm(session.wall_s + _ALARM_SLACK_S)
        try:
            ns = proxy_namespace(suite, remote)
        except LoadFailed as exc:
            event = load_event(exc.report)
            session.load_failed(event["status"], event["error"])
            return
        except ProgramGone as exc:
            if exc.timeout is not None:
                status, error = timed_out(exc, session, remote.watch.used_ms())
                error["message"] = "loading the program " + error["message"]
                session.load_failed(status, error)
            else:
                session.load_failed("gone", {"message": exc.why})
            return
        except BaseException as exc:
            status, error = case_outcome(exc)
            session.load_failed("error" if status == "fail" else status, error)
            return
        finally:
            _arm(0)
        session.mark()
        session.done["load_ms"] = (time.perf_counter() - t0) * 1e3
        session.run_cases(ns)


def run_in_process(suite: Suite, spec: dict[str, Any], ns: dict[str, Any], report: Report) -> None:
    """Legacy ``trust: "in_process"``: the tests run in the program's own namespace (X)."""
    session = Session(suite, spec, None, [1, 2])
    if suite.error is not None:
        session.load_failed("error", suite.error)
    else:
        try:
            if suite.setup is not None:
                exec(suite.setup, ns)
        except BaseException as exc:
            status, error = case_outcome(exc)
            session.load_failed("error" if status == "fail" else status, error)
        else:
            session.mark()
            session.run_cases(ns)
    report(session.done)
