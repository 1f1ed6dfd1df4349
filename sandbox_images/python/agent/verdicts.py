"""Test records from what P observed: the harness's case events, a process's wait status
and CPU time (from the kernel, through the zygote's ``wait4``), output file sizes.
Pure functions; the record shape is the agent's reply format (docs/sandbox.md)."""

from __future__ import annotations

import os
import signal
from typing import Any

from agent.describe import synthetic

__all__ = ["Record", "clean_error", "death", "from_event", "over_limit", "record", "timeout"]

Record = dict[str, Any]

# What a case event may say; anything else from a channel is treated as a lost case.
_CASE_STATUSES = frozenset({"pass", "fail", "error", "timeout", "memory", "crash", "gone"})


def record(status: str, time_ms: Any = 0.0, stdout: str = "", stderr: str = "",
           error: dict[str, Any] | None = None) -> Record:
    time_ms = float(time_ms) if type(time_ms) in (int, float) and 0 <= time_ms < 1e9 else 0.0
    return {"status": status, "time_ms": round(time_ms, 3), "stdout": stdout, "stderr": stderr,
            "error": clean_error(error)}


_SOURCES = frozenset({"program", "prompt", "setup", "case", "other"})
_LIMITS = {"type": 200, "message": 2000, "traceback": 8192, "file": 500, "function": 200, "msg": 500}


def _text(value: Any, limit: int) -> str:
    """A string of bounded size (lone surrogates are kept: our JSON escapes them, and the
    service replaces and reports them by its one text rule, service/text.py)."""
    if type(value) is not str:
        return ""
    if len(value) > limit:
        value = value[:limit] + "\n...[truncated]"
    return str(value)


def _int(value: Any) -> int | None:
    return value if type(value) is int and -(10**9) < value < 10**9 else None


def _frame(value: Any) -> dict[str, Any]:
    frame = value if type(value) is dict else {}
    src = frame.get("src")
    out: dict[str, Any] = {"file": _text(frame.get("file"), _LIMITS["file"]),
                           "src": src if src in _SOURCES else "other",
                           "function": _text(frame.get("function"), _LIMITS["function"])}
    for key in ("line", "end_line", "col", "end_col"):
        out[key] = _int(frame.get(key))
    return out


def clean_error(error: Any) -> dict[str, Any] | None:
    """An error record every field of which has the type and size the service expects.

    Parts of errors come from the program's process (its exception's class, message and
    frames): whatever they hold, here they become well-formed and bounded."""
    if type(error) is not dict:
        return None
    mro = error.get("mro")
    frames = error.get("frames")
    out: dict[str, Any] = {
        "type": _text(error.get("type"), _LIMITS["type"]) or "Error",
        "mro": [_text(m, _LIMITS["type"]) for m in mro[:64] if type(m) is str] if type(mro) is list else [],
        "message": _text(error.get("message"), _LIMITS["message"]),
        "frames": [_frame(f) for f in frames[:1200]] if type(frames) is list else [],
        "traceback": _text(error.get("traceback"), _LIMITS["traceback"]),
    }
    for key in ("exit_code", "signal"):
        if _int(error.get(key)) is not None:
            out[key] = error[key]
    syntax = error.get("syntax")
    if type(syntax) is dict:
        out["syntax"] = {**_frame(syntax), "msg": _text(syntax.get("msg"), _LIMITS["msg"])}
    return out


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
    if status not in _CASE_STATUSES or status == "gone":
        status = "crash"
    test = record(str(status), event.get("time_ms", 0.0), stdout, stderr, error)
    if status == "pass" and "value" in event:
        test["value"] = event["value"]  # a probe's return value (wire form, decoded by the service)
    return test
