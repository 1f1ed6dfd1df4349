"""The oracle: the reference runs in the sandbox on candidate inputs, as the agent's
``probe`` suite kind (:mod:`service.sandbox.protocol`).

A probe program is the reference's source as written with a small entry point appended
(so the reference's own lines keep their numbers). The entry point evaluates the
arguments from the literals the service wrote (tuples, sets and bytes cannot cross as
JSON), calls the function (``class_name().fn_name`` for a method), and returns a tagged
tuple the agent records in its exact-type wire form: what the function returned (a
generator is listed, up to :data:`MAX_ITEMS`), or the class, builtin bases and message
of what it raised; with ``trace``, also the reference's lines that ran, from a
``sys.settrace`` collector, so line coverage is measured inside the sandbox, never on
the host. A value that cannot be recorded (an object of the program's own class) is the
case's ``error`` status.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.budgets import run_budget_s, wall_bound_s
from service.sandbox.pool import SandboxPool, Task
from service.sandbox.protocol import RunOutcome, RunResult, RunSpec, Suite
from service.settings import Settings
from service.testgen.candidates import Candidate
from service.testgen.options import TestgenOptions
from service.testgen.values import Unrepresentable, decode, key, to_source

__all__ = ["PROBE_FN", "Failure", "Outcome", "Probe", "Seen", "literal_chars", "output_key", "probe_program",
           "run_probes"]

PROBE_FN = "_utrs_testgen_probe"
MAX_ITEMS = 1000

_ENTRY = '''

class _UtrsOverBudget(BaseException):
    pass


_utrs_over = [0]


def _utrs_budget(signum, frame):
    raise _UtrsOverBudget()


def {probe}(_utrs_args, _utrs_kwargs):
    import signal as _utrs_signal
    import sys as _utrs_sys
    import types as _utrs_types
    if _utrs_over[0] >= {max_over}:
        return (4, None, [])
    _utrs_names = {{"__builtins__": {{}}, "frozenset": frozenset, "float": float, "complex": complex,
                   "bytearray": bytearray, "set": set}}
    _utrs_a = eval(_utrs_args, _utrs_names)
    _utrs_k = eval(_utrs_kwargs, _utrs_names)
    _utrs_lines = set()
    _utrs_file = _utrs_sys._getframe().f_code.co_filename
    _utrs_last = {last}

    def _utrs_trace(frame, event, arg):
        if frame.f_code.co_filename == _utrs_file and frame.f_lineno <= _utrs_last:
            _utrs_lines.add(frame.f_lineno)
        return _utrs_trace

    _utrs_target = {callee}
    _utrs_signal.signal(_utrs_signal.SIGPROF, _utrs_budget)
    _utrs_signal.signal(_utrs_signal.SIGALRM, _utrs_budget)
    _utrs_signal.setitimer(_utrs_signal.ITIMER_PROF, {budget})
    _utrs_signal.setitimer(_utrs_signal.ITIMER_REAL, {budget} * 2)
    if {trace}:
        _utrs_sys.settrace(_utrs_trace)
    try:
        _utrs_value = _utrs_target(*_utrs_a, **_utrs_k)
        _utrs_tag = 0
        if isinstance(_utrs_value, _utrs_types.GeneratorType):
            _utrs_tag, _utrs_items = 2, []
            for _utrs_item in _utrs_value:
                if len(_utrs_items) >= {max_items}:
                    break
                _utrs_items.append(_utrs_item)
            _utrs_value = _utrs_items
    except _UtrsOverBudget:
        _utrs_sys.settrace(None)
        _utrs_over[0] += 1
        if {stop_on_budget}:
            raise
        return (3, None, [])
    except Exception as _utrs_e:
        _utrs_sys.settrace(None)
        _utrs_cls = type(_utrs_e)
        _utrs_bases = [c.__name__ for c in _utrs_cls.__mro__ if c.__module__ == "builtins"]
        return (1, _utrs_cls.__module__, _utrs_cls.__qualname__, _utrs_bases, str(_utrs_e)[:200],
                sorted(_utrs_lines))
    finally:
        _utrs_sys.settrace(None)
        _utrs_signal.setitimer(_utrs_signal.ITIMER_PROF, 0)
        _utrs_signal.setitimer(_utrs_signal.ITIMER_REAL, 0)
    return (_utrs_tag, _utrs_value, sorted(_utrs_lines))
'''


class Seen(StrEnum):
    """What one call of the reference came to."""

    RETURNED = "returned"
    ITERATED = "iterated"  # returned a generator; ``value`` is the list of its items
    RAISED = "raised"
    TIMEOUT = "timeout"  # over the call budget (the program's own timer)
    HUNG = "hung"  # ran past the sandbox's limit (it defeated the timer): costly, so counted
    CRASHED = "crashed"  # crash, memory or output limit, or a value that cannot be recorded
    SKIPPED = "skipped"  # not run (a probe that stops at its first non-return)


@dataclass(frozen=True)
class Outcome:
    seen: Seen
    value: Any = None
    exc_type: str = ""  # qualified name of what it raised ("ValueError", "mod.MyError")
    exc_bases: tuple[str, ...] = ()  # its builtin classes, most derived first
    lines: frozenset[int] = frozenset()

    def same_as(self, other: Outcome) -> bool:
        """Same observable result (values compared exactly, exceptions by class)."""
        from service.testgen.values import same

        if self.seen is not other.seen:
            return False
        if self.seen is Seen.RAISED:
            return self.exc_type == other.exc_type
        if self.seen in (Seen.RETURNED, Seen.ITERATED):
            return same(other.value, self.value)
        return True


@dataclass(frozen=True)
class Failure:
    """The run as a whole gave no outcomes: ``killed`` (it broke the agent), ``load``
    (the program does not load; ``detail`` says why) or ``infra`` (no sandbox)."""

    why: str
    detail: str = ""


@dataclass
class Probe:
    """One program over some candidates."""

    program: str
    candidates: Sequence[Candidate]
    stop_on_first: bool = False
    timeout_s: float | None = None  # the sandbox's limit per call (default: options.timeout_s)
    outcomes: list[Outcome] | Failure | None = field(default=None)


def probe_program(code: str, fn_name: str, class_name: str | None, *, trace: bool, budget_s: float,
                  max_over: int = 3, stop_on_budget: bool = False) -> str:
    """The reference with the probe's entry point appended. A call gets ``budget_s`` of
    CPU (twice that of wall clock) from timers in the program's own process, so an input
    that runs too long costs that much and not the sandbox's whole limit; after
    ``max_over`` such inputs in one process, the rest are not run (inputs run smallest
    first, so they would only take longer). ``stop_on_budget``: the call over budget
    fails the case instead (a probe that stops at its first failure stops there)."""
    callee = f"{class_name}().{fn_name}" if class_name else fn_name
    last = code.count("\n") + 1
    entry = _ENTRY.format(probe=PROBE_FN, callee=callee, trace=trace, last=last, max_items=MAX_ITEMS,
                          budget=budget_s, max_over=max_over, stop_on_budget=stop_on_budget)
    return code.rstrip("\n") + "\n" + entry


def run_probes(pool: SandboxPool, probes: Sequence[Probe], options: TestgenOptions) -> None:
    """Run every probe (one agent request each, in parallel over the pool's containers)
    and fill in its ``outcomes``."""
    tasks = [_task(p, pool.settings, options) for p in probes]
    runs = pool.run(tasks) if tasks else []
    for probe, run in zip(probes, runs, strict=True):
        probe.outcomes = _outcomes(run, len(probe.candidates))


def _task(probe: Probe, settings: Settings, options: TestgenOptions) -> Task:
    cases = [{"args": list(c.literals())} for c in probe.candidates]
    timeout_s = probe.timeout_s or options.timeout_s
    suite: Suite = {"kind": "probe", "setup": "", "prompt": "", "cases": cases, "fn_name": PROBE_FN,
                    "class_name": None, "compare": "exact", "entry_points": [PROBE_FN]}
    sid = hashlib.sha256(json.dumps(suite, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    spec: RunSpec = {
        "rid": "", "suite": sid, "program": probe.program, "trust": "harness",
        "timeout_s": timeout_s, "wall_s": wall_bound_s(timeout_s, settings),
        "memory_mb": options.memory_mb, "output_kb": options.output_kb, "max_procs": settings.agent_max_procs,
        "preview_chars": 0, "stop_on_first_failure": probe.stop_on_first, "isolate_cases": False,
    }
    budget = run_budget_s(len(cases), timeout_s, wall_factor=settings.wall_factor,
                          slack_s=settings.agent_slack_s)
    return Task(spec=spec, suite=suite, budget_s=budget)


def _outcomes(run: RunResult, n: int) -> list[Outcome] | Failure:
    if run.outcome is RunOutcome.UNSERVED:
        return Failure("infra", "no sandbox container could take the reference")
    if run.outcome is RunOutcome.KILLED_AGENT:
        return Failure("killed", run.detail)
    reply = run.reply or {}
    if "agent_error" in reply:
        return Failure("infra", f"sandbox agent error: {str(reply['agent_error'])[:300]}")
    tests = list(reply.get("tests") or [])
    if len(tests) != n:
        return Failure("infra", f"the agent answered {len(tests)} cases of {n}")
    load = _load_error(tests)
    if load is not None:
        return Failure("load", load)
    return [_outcome(t) for t in tests]


def _load_error(tests: list[Any]) -> str | None:
    """What stopped the program loading, when every case failed on it."""
    if not tests or any(t.get("status") not in ("error", "crash", "timeout", "memory") for t in tests):
        return None
    first = tests[0].get("error") or {}
    frames = first.get("frames") or []
    message = str(first.get("message") or "")
    at_top = bool(frames and frames[-1].get("function") == "<module>") or message.startswith("loading the program") \
        or "before the test" in message
    same = all((t.get("error") or {}).get("message") == first.get("message") for t in tests)
    if not (at_top and same):
        return None
    return f"{first.get('type')}: {str(first.get('message'))[:300]}"


def _outcome(test: Any) -> Outcome:
    status = test.get("status")
    if status == "timeout":
        return Outcome(Seen.HUNG)
    if status == "skipped":
        return Outcome(Seen.SKIPPED)
    if status != "pass" or "value" not in test:
        return Outcome(Seen.CRASHED)
    try:
        record = decode(test["value"])
    except (Unrepresentable, ValueError, TypeError, OverflowError):
        return Outcome(Seen.CRASHED)
    if type(record) is not tuple or not record or record[0] not in (0, 1, 2, 3, 4):
        return Outcome(Seen.CRASHED)
    if record[0] in (3, 4):
        return Outcome(Seen.TIMEOUT if record[0] == 3 else Seen.SKIPPED)
    lines = frozenset(x for x in record[-1] if type(x) is int) if type(record[-1]) is list else frozenset()
    if record[0] == 1 and len(record) == 6:
        bases = tuple(str(b) for b in record[3]) if type(record[3]) is list else ()
        module, qualname = str(record[1]), str(record[2])
        name = qualname if module == "builtins" else f"{module}.{qualname}"
        return Outcome(Seen.RAISED, exc_type=name, exc_bases=bases, lines=lines)
    if record[0] in (0, 2) and len(record) == 3:
        return Outcome(Seen.ITERATED if record[0] == 2 else Seen.RETURNED, value=record[1], lines=lines)
    return Outcome(Seen.CRASHED)


def output_key(outcome: Outcome) -> str:
    """A canonical text of what the reference did (equal outputs, equal texts)."""
    if outcome.seen is Seen.RAISED:
        return f"raises {outcome.exc_type}"
    return f"{outcome.seen.value} {key(outcome.value)}"


def literal_chars(outcome: Outcome) -> int:
    """How long the expected value is as a literal (the size of its test)."""
    try:
        return len(to_source(outcome.value))
    except Unrepresentable:
        return 1 << 30
