"""Test records from what P observed: the harness's case events, a process's wait status
and CPU time (from the kernel, through the zygote's ``wait4``), output file sizes.
Pure functions; the record shape is the agent's reply format (docs/sandbox.md)."""

from __future__ import annotations

import os
import signal
from typing import Any

from agent.describe import synthetic

__all__ = ["Record", "death", "from_event", "over_limit", "record", "timeout"]

Record = dict[str, Any]

# What a case event may say; anything else from a channel is treated as a lost case.
_CASE_STATUSES = frozenset({"pass", "fail", "error", "timeout", "memory", "crash", "gone"})


def record(status: str, time_ms: float = 0.0, stdout: str = "", stderr: str = "",
           error: dict[str, Any] | None = None) -> Record:
    return {"status": status, "time_ms": round(float(time_ms), 3), "stdout": stdout, "stderr": stderr,
            "error": error}


def timeout(limit_s: float, *, wall: bool, used_s: float | None = None) -> dict[str, Any]:
    if wall:
        return synthetic("Timeout", f"exceeded the wall-clock limit of {limit_s:g}s")
    if used_s is not None:
        return synthetic("Timeout", f"used {used_s:.2f}s of CPU time, over the limit of {limit_s:g}s")
    return synthetic("Timeout", f"exceeded the CPU time limit of {limit_s:g}s")


def over_limit(cap: int) -> dict[str, Any]:
    return synthetic("OutputLimit", f"output exceeded {cap // 1024} KiB")


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def death(wstatus: int | None, *, cpu_s: float | None, timeout_s: float, oom: bool,
          over: bool, cap: int, phase: str = "test") -> tuple[str, dict[str, Any]]:
    """Status and error of a process that ended without finishing its work."""
    if wstatus is None:
        return "crash", synthetic("Exit", "the program ended without a result")
    if os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        limit = max(1, int(-(-timeout_s // 1)))
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s is not None and cpu_s >= limit):
            return "timeout", timeout(timeout_s, wall=False)
        if sig == signal.SIGXFSZ or over:
            return "output_limit", over_limit(cap)
        if sig == signal.SIGKILL and oom:
            return "memory", synthetic("MemoryLimit", "killed by the memory limit")
        return "crash", synthetic("Signal", f"killed by {_signame(sig)}", signal=sig)
    code = os.WEXITSTATUS(wstatus)
    if code == 0:
        return "crash", synthetic("Exit", f"exited with status 0 before the {phase} finished", exit_code=0)
    return "crash", synthetic("Exit", f"exited with status {code} without finishing the {phase}", exit_code=code)


def from_event(event: dict[str, Any], stdout: str, stderr: str) -> Record:
    """The record of a case the harness (or, in legacy mode, the program) reported."""
    status = event.get("status")
    error = event.get("error") if type(event.get("error")) is dict else None
    time_ms = event.get("time_ms")
    if not isinstance(time_ms, (int, float)):
        time_ms = 0.0
    if status not in _CASE_STATUSES or status == "gone":
        status = "crash"
    test = record(str(status), float(time_ms), stdout, stderr, error)
    if status == "pass" and "value" in event:
        test["value"] = event["value"]  # a probe's return value (wire form, decoded by the service)
    return test
