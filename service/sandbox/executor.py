"""From request items to results: build agent requests, run them in the pool, read the
agent's facts into the wire model, then hand them to the feedback stage.

Nothing here raises for what a program does. A program that could not be judged (no
container could be started, the agent broke on it) becomes ``Status.INFRA_ERROR`` with a
``detail``, never a score.

The one place the service reads an error *message*: a SyntaxError's, for the
``ErrorInfo.syntax_unclosed`` hint (the compiler said something was never closed at EOF).
Feedback prefers lexing the program for that question and falls back on this hint only
for programs too long to lex (:mod:`service.feedback.truncation`); sub-errors are never
decided by a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence

from client.models import ErrorInfo, Frame, Item, Result, Status, TestResult, TestStatus, Trust, Where
from service.budgets import item_budget_s, wall_bound_s
from service.feedback import annotate
from service.feedback.coordinates import ProgramMap
from service.feedback.taxonomy import ERROR_STATUSES
from service.sandbox.pool import SandboxPool, Task
from service.sandbox.protocol import RawError, RawFrame, RawTest, RunOutcome, RunResult, RunSpec, Source, Suite
from service.settings import Settings

__all__ = ["build_suite", "build_task", "evaluate_items", "summarise", "to_result"]

log = logging.getLogger(__name__)

# SyntaxError messages that mean "the text ended inside something still open".
_UNCLOSED = ("was never closed", "unexpected EOF", "unterminated", "expected an indented block")


def build_suite(item: Item) -> tuple[str, Suite]:
    """The item's tests as the agent's harness runs them, and their id (a hash of them:
    samples of one problem share one suite, and one harness in the agent)."""
    tests = item.tests
    suite: Suite = {
        "kind": tests.kind.value,
        "setup": tests.setup or "",
        "prompt": item.prompt,
        "cases": [c.model_dump(mode="json", exclude_unset=True) for c in tests.cases],
        "fn_name": tests.fn_name,
        "class_name": tests.class_name,
        "compare": item.compare.value,
        "entry_points": list(item.entry_points or []),
    }
    text = json.dumps(suite, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32], suite


def build_task(item: Item, settings: Settings, on_answer: Callable[[RunResult], None] | None = None) -> Task:
    """The agent's run for one item (``sandbox_images/python/agent``), with its suite
    (``on_answer``: see :class:`~service.sandbox.scheduler.Task`)."""
    sid, suite = build_suite(item)
    spec: RunSpec = {
        "rid": "",
        "suite": sid,
        "program": item.prompt + item.code,
        "trust": item.trust.value,
        "timeout_s": item.limits.timeout_s,
        "wall_s": wall_bound_s(item.limits.timeout_s, settings),
        "memory_mb": item.limits.memory_mb,
        "output_kb": item.limits.output_kb,
        "max_procs": settings.agent_max_procs,
        "preview_chars": settings.preview_chars,
        "stop_on_first_failure": item.stop_on_first_failure,
        "isolate_cases": item.isolate_cases,
    }
    return Task(spec=spec, suite=suite, budget_s=item_budget_s(item, settings), on_answer=on_answer)


def evaluate_items(pool: SandboxPool, items: Sequence[Item]) -> list[Result]:
    """Judge every item and annotate it (feedback, rewards); results in the same order.

    A result is read and annotated as soon as its agent answered, while the agent runs
    the next programs (so the container does not idle through that work after the last
    answer); what was not read then (unserved, or a failure there) is read at the end."""
    settings = pool.settings
    done: list[Result | None] = [None] * len(items)

    def reader(index: int) -> Callable[[RunResult], None]:
        def read(run: RunResult) -> None:
            item = items[index]
            done[index] = annotate(item, to_result(item, run, image=pool.image_version, settings=settings))

        return read

    runnable = [i for i, item in enumerate(items) if item.tests.cases]
    tasks = [build_task(items[i], settings, reader(i)) for i in runnable]
    runs = dict(zip(runnable, pool.run(tasks) if tasks else [], strict=True))
    results = []
    for index, item in enumerate(items):
        result = done[index]
        if result is None:
            if index in runs:
                result = to_result(item, runs[index], image=pool.image_version, settings=settings)
            else:
                result = Result(id=item.id, status=Status.NO_TESTS, image=pool.image_version)
            result = annotate(item, result)
        results.append(result)
    return results


def to_result(item: Item, run: RunResult, *, image: str, settings: Settings) -> Result:
    """Read what came of one run request into a Result (not annotated yet)."""
    t0 = time.perf_counter()
    reply = run.reply or {}
    if run.outcome is RunOutcome.UNSERVED:
        return _infra(item, "no sandbox container could take the program", image)
    if "agent_error" in reply:
        log.error("agent error on item %s: %s", item.id, reply["agent_error"])
        return _infra(item, f"sandbox agent error: {str(reply['agent_error'])[:500]}", image)
    if run.outcome is RunOutcome.KILLED_AGENT:
        tests = [_killed(run.detail) for _ in item.tests.cases]
    else:
        pmap = ProgramMap(item.prompt, item.code)
        try:
            tests = [_test(raw, pmap, settings) for raw in reply["tests"]]
        except Exception as exc:  # a reply the agent should never send: this item only
            log.error("unreadable reply for item %s: %r", item.id, exc)
            return _infra(item, f"unreadable sandbox reply: {exc!r}"[:500], image)
    result = summarise(item, tests)
    result.image = image
    trust = reply.get("trust")
    result.trust = Trust(trust) if trust in (Trust.HARNESS, Trust.IN_PROCESS) else None
    result.duration_ms = float(reply.get("agent_ms", 0.0)) + (time.perf_counter() - t0) * 1e3
    return result


def summarise(item: Item, tests: list[TestResult]) -> Result:
    """Program outcome from per-test outcomes (pass / failure / error)."""
    passed = sum(t.status is TestStatus.PASS for t in tests)
    total = len(tests)
    if any(t.status in ERROR_STATUSES for t in tests):
        status = Status.ERROR
    elif passed == total:
        status = Status.PASS
    else:
        status = Status.FAILURE
    return Result(
        id=item.id,
        status=status,
        passed=passed,
        total=total,
        pass_ratio=round(passed / total, 6) if total else 0.0,
        tests=tests,
    )


def _infra(item: Item, detail: str, image: str) -> Result:
    return Result(id=item.id, status=Status.INFRA_ERROR, total=len(item.tests.cases), detail=detail, image=image)


def _killed(why: str) -> TestResult:
    error = ErrorInfo(type="SandboxKilled", message=f"the program killed the sandbox agent ({why})")
    return TestResult(status=TestStatus.CRASH, error=error)


def _test(raw: RawTest, pmap: ProgramMap, settings: Settings) -> TestResult:
    error = raw.get("error")
    return TestResult(
        status=TestStatus(raw["status"]),
        time_ms=float(raw.get("time_ms") or 0.0),
        stdout=raw.get("stdout") or "",
        stderr=raw.get("stderr") or "",
        error=_error(error, pmap, settings) if error else None,
    )


def _error(raw: RawError, pmap: ProgramMap, settings: Settings) -> ErrorInfo:
    syntax = raw.get("syntax")
    frames = [_frame(f, pmap) for f in raw.get("frames") or []]
    unclosed = None
    if syntax:
        # The SyntaxError's own position is the innermost frame; for a compile error of
        # the program there are no others, for eval() inside the code the callers stay.
        frames.append(_frame(syntax, pmap))
        unclosed = any(marker in (syntax.get("msg") or "") for marker in _UNCLOSED)
    return ErrorInfo(
        type=str(raw.get("type") or "Error"),
        message=str(raw.get("message") or ""),
        traceback=str(raw.get("traceback") or "")[: settings.traceback_chars],
        exception_mro=[str(m) for m in raw.get("mro") or []],
        frames=frames,
        signal=raw.get("signal"),
        exit_code=raw.get("exit_code"),
        syntax_unclosed=unclosed,
    )


def _frame(raw: RawFrame, pmap: ProgramMap) -> Frame:
    src = raw.get("src")
    line = raw.get("line")
    where, mapped = Where.NONE, line
    if src == Source.PROGRAM and isinstance(line, int):
        where, mapped = pmap.locate(line, raw.get("col"))
    elif src == Source.PROMPT:
        where = Where.PROMPT  # the harness ran the prompt alone: its lines are the prompt's
    elif src in (Source.SETUP, Source.CASE):
        where = Where.TESTS
    end_line = raw.get("end_line")
    if where is Where.CODE and isinstance(line, int) and isinstance(end_line, int) and mapped is not None:
        end_line = end_line - line + mapped
    return Frame(
        where=where,
        file=str(raw.get("file") or ""),
        function=str(raw.get("function") or ""),
        line=mapped,
        end_line=end_line,
        col=raw.get("col"),
        end_col=raw.get("end_col"),
    )
