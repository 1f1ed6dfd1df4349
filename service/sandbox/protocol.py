"""The agent protocol as the worker speaks it today, named (not changed): the shapes of
requests and replies, and what a run request can come to in the pool.

One JSON object per line each way over the container's attached stdin/stdout, answered
in order (``sandbox_images/python/agent.py`` is the other side)::

    {"op": "ping"}                    -> {"op": "pong", "version", "pid", "runs", "python"}
    {"op": "run", "rid": ..., ...}    -> {"rid": ..., "tests": [RawTest, ...], "agent_ms": ...}
                                      or {"rid": ..., "agent_error": "..."}   (a bug of the agent)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

__all__ = [
    "Op",
    "RawError",
    "RawFrame",
    "RawSyntax",
    "RawTest",
    "Reply",
    "RunOutcome",
    "RunRequest",
    "RunResult",
    "Source",
    "with_rid",
]


class Op(StrEnum):
    """The ``op`` of a request (and of the ping's answer)."""

    PING = "ping"
    PONG = "pong"
    RUN = "run"


class Source(StrEnum):
    """Which text a frame's file is (``src`` of a raw frame)."""

    PROGRAM = "program"  # prompt + code, as one file
    SETUP = "setup"
    CASE = "case"
    OTHER = "other"  # the standard library, the harness, ``<string>``


class RunRequest(TypedDict):
    """``op: run``: one program and its tests (built by the executor)."""

    op: str
    kind: str
    program: str
    setup: str
    cases: list[dict[str, Any]]
    fn_name: str | None
    class_name: str | None
    compare: str
    timeout_s: float
    wall_s: float
    memory_mb: int
    output_kb: int
    max_procs: int
    preview_chars: int
    stop_on_first_failure: bool
    isolate_cases: bool
    rid: NotRequired[str]


class RawFrame(TypedDict, total=False):
    """One traceback frame, in the coordinates of the file it names."""

    file: str
    src: str
    function: str
    line: int | None
    end_line: int | None
    col: int | None
    end_col: int | None


class RawSyntax(RawFrame, total=False):
    """A SyntaxError's own position (``lineno``/``offset``...) and the compiler's message."""

    msg: str


class RawError(TypedDict, total=False):
    """What the agent saw of an error: class, MRO, frames, SyntaxError fields, exit."""

    type: str
    mro: list[str]
    message: str
    frames: list[RawFrame]
    traceback: str
    syntax: RawSyntax
    signal: int
    exit_code: int


class RawTest(TypedDict, total=False):
    """One test's facts as the agent judged them."""

    status: str
    time_ms: float
    stdout: str
    stderr: str
    error: RawError | None


class Reply(TypedDict, total=False):
    """A reply line: the answer to ``run`` (``tests`` or ``agent_error``) or to ``ping``."""

    rid: str | None
    tests: list[RawTest]
    agent_ms: float
    agent_error: str
    op: str
    version: str
    pid: int
    runs: int
    python: str


def with_rid(request: RunRequest, rid: str) -> RunRequest:
    """``request`` tagged with the id its reply must echo."""
    return {**request, "rid": rid}


class RunOutcome(StrEnum):
    """What became of one run request in the pool."""

    ANSWERED = "answered"  # the agent replied (with tests, or with its own agent_error)
    KILLED_AGENT = "killed_agent"  # the program broke the agent on every attempt
    UNSERVED = "unserved"  # no container could take it


@dataclass(frozen=True)
class RunResult:
    """One request's fate: the agent's reply when ``ANSWERED``, why it broke when
    ``KILLED_AGENT``."""

    outcome: RunOutcome
    reply: Reply | None = None
    detail: str = ""
