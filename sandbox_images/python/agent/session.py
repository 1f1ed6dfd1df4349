"""Following one session from P: the harness's (or, in legacy mode, X's) report."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agent.describe import synthetic
from agent.frames import Channel, ChannelError
from agent.harnesses import Harness
from agent.outputs import Outputs, oom_killed
from agent.verdicts import Record, death, from_event, over_limit, record, timeout

if TYPE_CHECKING:
    from agent.run import Run

__all__ = ["CASE_MARGIN_S", "LOAD_MARGIN_S", "Follower"]

LOAD_MARGIN_S = 1.0  # P's deadline for loading = the wall limit + this
CASE_MARGIN_S = 0.1  # ... for a case (the fork and the messages in between)


class Follower:
    """Waits for one session's report (from H, or from X itself in legacy mode), kills X
    when H asks, and turns the report into records. A session that ends without a report
    (H crashed or hung in the test's own code, or a legacy X died) is re-run one case per
    session, so the case at fault is found and the others keep their verdicts."""

    def __init__(self, run: Run, chan: Channel, harness: Harness | None, pid: int, files: Outputs,
                 spec: dict[str, Any]) -> None:
        self.run_ = run
        self.hub = run.hub
        self.chan = chan
        self.harness = harness
        self.pid = pid
        self.files = files
        self.start = int(spec["start"])
        self.stop = int(spec["stop"])
        self.session = spec["s"]
        self.killed = False

    def backstop(self) -> float:
        r = self.run_
        return time.monotonic() + r.wall + LOAD_MARGIN_S + (self.stop - self.start) * (r.wall + CASE_MARGIN_S) + 2.0

    def run(self) -> int:
        """Follow the session; the index of the next case to run."""
        report = self._report(self.backstop())
        if report is None:
            return self._no_report()
        return self._records(report)

    def _report(self, deadline: float) -> dict[str, Any] | None:
        while True:
            chan = self.hub.wait([self.chan], deadline)
            if chan is None:
                return None
            try:
                message = chan.pop() if chan.has_frame() else None
            except ChannelError:
                return None
            if message is None:
                return None  # the channel ended
            if type(message) is not dict or (self.harness is not None and message.get("s") != self.session):
                continue  # a late message of an earlier session
            if message.get("ev") == "kill":
                self._kill_x()
            elif message.get("ev") == "done":
                return message

    def _no_report(self) -> int:
        r = self.run_
        self._kill_x()
        timed_out = not self.chan.eof
        if self.harness is not None:
            self._drop_harness()
        if self.stop - self.start > 1:
            r.isolate_until = self.stop  # find the case at fault, one case per session
            return self.start
        self.files.mark()
        out, err, size = self.files.last(r.preview)
        if self.harness is not None:
            kind = "HarnessTimeout" if timed_out else "HarnessCrash"
            what = "did not finish in time" if timed_out else "crashed the test harness"
            test = record("error", 0.0, out, err, synthetic(kind, f"the test's own code {what}"))
        elif timed_out:
            test = record("timeout", r.wall * 1e3, out, err, timeout(r.wall, wall=True))
        else:
            kind, error = self._death(size > r.cap)
            test = record(kind, 0.0, out, err, error)
        r.tests[self.start] = test
        return self.stop

    # --------------------------------------------------------------- outcomes
    def _slices(self, marks: list[Any]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for mark in marks:
            if type(mark) is list and len(mark) == 2 and all(type(x) is int and x >= 0 for x in mark):
                out.append((mark[0], mark[1]))
        return out

    def _records(self, report: dict[str, Any]) -> int:
        r = self.run_
        self.files.marks.extend(self._slices(report.get("marks") or []))
        cursor = 1
        load = report.get("load")
        if type(load) is dict:
            self._load_failure(load)
            return self.stop
        cursor += 1
        nxt = self.start
        for event in report.get("cases") or []:
            index = event.get("i") if type(event) is dict else None
            if type(index) is not int or not nxt <= index < self.stop or cursor >= len(self.files.marks):
                break
            out, err, size = self.files.slice(cursor, r.preview)
            cursor += 1
            r.tests[index] = self._record(event, out, err, size)
            nxt = index + 1
        claimed = report.get("next")
        if type(claimed) is int and nxt <= claimed <= self.stop:
            nxt = claimed  # past cases skipped after a failure (stop_on_first_failure)
        return max(nxt, self.start + 1)

    def _record(self, event: dict[str, Any], out: str, err: str, size: int) -> Record:
        r = self.run_
        time_ms = event.get("time_ms", 0.0)  # record() keeps it only if it is a sane number
        if event.get("status") == "gone":
            kind, error = self._death(size > r.cap)
            return record(kind, time_ms, out, err, error)
        if size > r.cap:
            return record("output_limit", time_ms, out, err, over_limit(r.cap))
        return from_event(event, out, err)

    def _load_failure(self, load: dict[str, Any]) -> None:
        r = self.run_
        out, err, size = self.files.slice(1, r.preview) if len(self.files.marks) > 1 else ("", "", 0)
        status = str(load.get("status") or "error")
        error = load.get("error") if type(load.get("error")) is dict else None
        if status == "gone":
            status, error = self._death(size > r.cap)
            if error.get("type") == "Exit":
                error["message"] = f"exited with status {error.get('exit_code', 0)} before the tests ran"
        elif size > r.cap:
            status, error = "output_limit", over_limit(r.cap)
        elif status == "crash" and error is not None and error.get("exit_code") is not None:
            error = {**error, "message": f"exited with status {error['exit_code']} before the tests ran"}
        elif status not in ("error", "memory", "crash", "timeout"):
            status = "error"
        for i in range(self.start, self.stop):
            r.tests[i] = record(status, load.get("time_ms", 0.0), out, err, error)

    def _death(self, over: bool) -> tuple[str, dict[str, Any]]:
        r = self.run_
        done = self.hub.await_exit(self.pid, time.monotonic() + 2.0)
        if done is not None:
            self.hub.exits[self.pid] = done  # Run._finish reaps it again
        status = int(done["status"]) if done is not None else None
        cpu = float(done.get("cpu_s") or 0.0) if done is not None else None
        return death(status, cpu_s=cpu, timeout_s=r.timeout, oom=oom_killed(), over=over, cap=r.cap)

    def _kill_x(self) -> None:
        if not self.killed:
            self.killed = True
            self.hub.kill(self.pid)

    def _drop_harness(self) -> None:
        if self.harness is not None:
            self.run_.ctx.harnesses.drop(self.harness.group)
