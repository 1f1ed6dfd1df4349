"""Structured facts about an exception: class, MRO, frames (with the text each lies in),
SyntaxError fields, exit code. Used wherever code runs: the program's process (X), the
harness (H) and the zygote (compile errors). The agent's own frames are left out."""

from __future__ import annotations

import os
import traceback
from typing import Any

__all__ = [
    "CASE_PREFIX",
    "PROGRAM_FILE",
    "PROMPT_FILE",
    "SETUP_FILE",
    "clip",
    "describe",
    "exit_code",
    "label",
    "qualname",
    "safe_str",
    "synthetic",
]

PROGRAM_FILE = "/sandbox/work/main.py"  # the name the program runs under (never a real file)
SETUP_FILE = "<tests:setup>"
PROMPT_FILE = "<tests:prompt>"
CASE_PREFIX = "<tests:case "
AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_FRAMES = 1200
MESSAGE_CHARS = 2000
TB_CHARS = 8192


def qualname(cls: type) -> str:
    module = str(getattr(cls, "__module__", "") or "")
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module == "builtins" else f"{module}.{name}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n...[truncated]"


def label(filename: str) -> str:
    """Which text a frame's file is: program, setup, case, prompt or other."""
    if filename == PROGRAM_FILE:
        return "program"
    if filename == SETUP_FILE:
        return "setup"
    if filename == PROMPT_FILE:
        return "prompt"
    if filename.startswith(CASE_PREFIX):
        return "case"
    return "other"


def safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:  # a program's exception may refuse to print itself
        return f"<unprintable {type(exc).__name__}>"


def exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool) or not isinstance(code, int):
        return 1  # sys.exit("msg") prints msg and exits 1, as Python does
    return code & 0xFF


def _ours(filename: str) -> bool:
    return filename.startswith(AGENT_DIR)


def frames_of(exc: BaseException) -> list[dict[str, Any]]:
    """The traceback's frames outside the agent, outermost first."""
    out: list[dict[str, Any]] = []
    for fs in traceback.extract_tb(exc.__traceback__):
        if _ours(fs.filename):
            continue
        out.append({
            "file": fs.filename,
            "src": label(fs.filename),
            "function": fs.name,
            "line": fs.lineno,
            "end_line": getattr(fs, "end_lineno", None),
            "col": getattr(fs, "colno", None),
            "end_col": getattr(fs, "end_colno", None),
        })
    if len(out) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        out = out[:half] + out[-half:]
    return out


def format_tb(exc: BaseException) -> str:
    """The traceback text, without the agent's own frames."""
    try:
        te = traceback.TracebackException.from_exception(exc, capture_locals=False)
        _drop_ours(te)
        return "".join(te.format())
    except BaseException:
        return f"{qualname(type(exc))}: {safe_str(exc)}"


def _drop_ours(te: traceback.TracebackException) -> None:
    seen: set[int] = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        kept = [fs for fs in te.stack if not _ours(fs.filename)]
        te.stack = traceback.StackSummary.from_list(kept)
        te = te.__cause__ or te.__context__  # type: ignore[assignment]


def describe(exc: BaseException, *, frames: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Class, MRO, message, frames, traceback text (and SyntaxError/SystemExit fields)."""
    cls = type(exc)
    info: dict[str, Any] = {
        "type": qualname(cls),
        "mro": [qualname(c) for c in cls.__mro__ if c not in (object, BaseException)],
        "message": clip(safe_str(exc), MESSAGE_CHARS),
        "frames": frames_of(exc) if frames is None else frames,
        "traceback": clip(format_tb(exc), TB_CHARS),
    }
    if isinstance(exc, SyntaxError):
        filename = exc.filename or ""
        info["syntax"] = {
            "file": filename,
            "src": label(filename),
            "line": exc.lineno,
            "col": exc.offset,
            "end_line": getattr(exc, "end_lineno", None),
            "end_col": getattr(exc, "end_offset", None),
            "msg": exc.msg,
        }
    if isinstance(exc, SystemExit):
        info["exit_code"] = exit_code(exc)
    return info


def synthetic(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error the agent observed from outside (a timeout, a signal, an exit)."""
    return {"type": type_, "mro": [type_], "message": message, "frames": [], "traceback": "", **extra}
