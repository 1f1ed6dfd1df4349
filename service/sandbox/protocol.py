"""The agent protocol (v2) as the worker speaks it: request and reply shapes, and what a
run request can come to in the pool.

One JSON object per line each way over the container's attached stdin/stdout
(``sandbox_images/python/agent/serve.py`` is the other side)::

    {"op": "ping"}   -> {"op": "pong", "version": "2", "pid", "runs", "python", ...}
    {"op": "batch", "group": G, "suites": {SID: Suite}, "runs": [RunSpec, ...]}
                     -> one Reply per run, in order, each within 20 ms of being judged:
                        {"rid", "tests": [RawTest, ...], "trust", "agent_ms", "cpu_ms"}
                        or {"rid", "agent_error": "..."}   (a bug of the agent)
                     and {"hb": t} at least every 0.5 s while the agent works

A suite (the tests, shared by every sample of a problem in the batch) is sent once per
batch; its id is a hash of its content. The programs of one ``group`` (one call of the
pool: one chunk of one request, so one tenant) share a harness in the agent; groups never
do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

__all__ = [
    "AGENT_VERSION",
    "BatchRequest",
    "Op",
    "RawError",
    "RawFrame",
    "RawSyntax",
    "RawTest",
    "Reply",
    "RunOutcome",
    "RunResult",
    "RunSpec",
    "Source",
    "Suite",
]

AGENT_VERSION = "2"


class Op(StrEnum):
    """The ``op`` of a request (and of the ping's answer)."""

    PING = "ping"
    PONG = "pong"
    BATCH = "batch"


class Source(StrEnum):
    """Which text a frame's file is (``src`` of a raw frame)."""

    PROGRAM = "program"  # prompt + code, as one file (in the program's process)
    PROMPT = "prompt"  # the prompt, as the harness runs it for the tests' helpers
    SETUP = "setup"
    CASE = "case"
    OTHER = "other"  # the standard library, ``<string>``


class Suite(TypedDict):
    """The tests of an item, as the harness runs them. ``kind`` is a wire TestKind, or
    ``"probe"`` (internal, for test generation): each case calls ``fn_name`` like a call
    test, nothing is compared, and a case that returns carries its return value in the
    exact-type wire form of the agent's codec (``RawTest["value"]``)."""

    kind: str
    setup: str
    prompt: str
    cases: list[dict[str, Any]]
    fn_name: str | None
    class_name: str | None
    compare: str
    entry_points: list[str]


class RunSpec(TypedDict):
    """One program of a batch (built by the executor); ``suite`` names its tests."""

    rid: str
    suite: str
    program: str
    trust: str
    timeout_s: float
    wall_s: float
    memory_mb: int
    output_kb: int
    max_procs: int
    preview_chars: int
    stop_on_first_failure: bool
    isolate_cases: bool


class BatchRequest(TypedDict):
    op: str
    group: str  # the programs of one request (one tenant): their tests share a harness
    suites: dict[str, Suite]
    runs: list[RunSpec]


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
    """One test's facts as the agent judged them (``value``: a probe's return value)."""

    status: str
    value: Any
    time_ms: float
    stdout: str
    stderr: str
    error: RawError | None


class Reply(TypedDict, total=False):
    """A reply line: the answer to a run (``tests`` or ``agent_error``), a heartbeat
    (``hb``), or the answer to ``ping``."""

    rid: str | None
    tests: list[RawTest]
    trust: str
    agent_ms: float
    cpu_ms: float
    agent_error: str
    hb: float
    op: str
    version: str
    pid: int
    runs: int
    python: str


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
