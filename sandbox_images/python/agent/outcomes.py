"""How a case (or a session's loading) came out, from what it raised: shared by the
harness and the legacy in-process mode. An exception that stands for one raised in the
program is the program's error; only the test's own AssertionError is a failed test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.describe import describe, format_tb, frames_of, synthetic
from agent.proxy import ProgramGone, remote_info
from agent.verdicts import clean_error

if TYPE_CHECKING:
    from agent.harness import Session

__all__ = ["HarnessTimeout", "case_outcome", "load_event", "merged_error", "timed_out"]


class HarnessTimeout(BaseException):
    """The test's own code ran past the case's wall-clock limit."""


# ------------------------------------------------------------------ outcomes
def merged_error(exc: BaseException) -> dict[str, Any]:
    """The error of a case: H's frames, then (for an exception of the program) X's."""
    raw = remote_info(exc)
    if raw is None:
        return describe(exc)
    remote = clean_error(raw) or {}  # X's own report: any shape, made well-formed first
    text = format_tb(exc).rstrip("\n").rsplit("\n", 1)[0]
    info: dict[str, Any] = {**remote, "mro": remote.get("mro") or [remote.get("type", "Error")]}
    info["frames"] = frames_of(exc) + remote.get("frames", [])
    info["traceback"] = f"{text}\n  -- in the program --\n{remote.get('traceback', '')}"
    return info


def case_outcome(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """Status and error of a case that raised ``exc``."""
    if isinstance(exc, HarnessTimeout):
        return "error", synthetic("HarnessTimeout", "the test's own code did not finish in time")
    error = merged_error(exc)
    mro = [m for m in error.get("mro") or [] if isinstance(m, str)]
    if "MemoryError" in mro:
        return "memory", error
    if "SystemExit" in mro:
        return "crash", error
    frames = error.get("frames") or []
    if remote_info(exc) is None and "AssertionError" in mro and frames and frames[-1].get("src") in ("case", "setup"):
        return "fail", error
    return "error", error


def load_event(message: dict[str, Any]) -> dict[str, Any]:
    """The session's load outcome for X's report that the program did not load."""
    error = clean_error(message.get("error"))
    status = "crash" if message.get("exit") else "error"
    if error is not None and "MemoryError" in error["mro"]:
        status = "memory"
    return {"status": status, "error": error}


def timed_out(exc: ProgramGone, session: Session, used_ms: float) -> tuple[str, dict[str, Any]]:
    if exc.timeout == "cpu":
        return "timeout", synthetic(
            "Timeout", f"used {used_ms / 1e3:.2f}s of CPU time, over the limit of {session.timeout_s:g}s")
    return "timeout", synthetic("Timeout", f"exceeded the wall-clock limit of {session.wall_s:g}s")
