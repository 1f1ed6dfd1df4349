"""Scheduling run requests over a pool's containers: an in-flight window per container,
replacement of a broken agent, blame and retry.

One driver thread per container slot borrows a container and keeps up to
``agent_inflight`` programs queued at its agent, sent in batches (one message carries
many programs and each suite once), so the agent never waits for the worker. Replies
come back in the order sent; a reply for anything but the oldest program in flight, or
no line at all (not even a heartbeat) for ``AGENT_IDLE_S``, condemns the container.
When an agent dies or hangs, its container is replaced; the oldest request in flight is
retried alone (a program that kills the agent again by itself loses only its own
verdict: :attr:`RunOutcome.KILLED_AGENT`) and the requests queued behind it are re-run
untouched.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.budgets import AGENT_IDLE_S
from service.errors import AgentDied, AgentError, AgentProtocolError
from service.sandbox.protocol import BatchRequest, Op, Reply, RunOutcome, RunResult, RunSpec, Suite
from service.sandbox.stream import AgentConn
from service.settings import Settings

__all__ = ["Slots", "Task", "batch_request", "run_tasks"]

log = logging.getLogger(__name__)

_FIRST_PAUSE_S = 0.25  # between tries to start a container while none can be (doubling)
_MAX_PAUSE_S = 2.0


@dataclass
class Task:
    """One program for an agent, with its suite (``spec["suite"]`` is the suite's id).
    ``slot`` is its position in the list given to :func:`run_tasks` (set there; it is also
    the request id sent to the agent). ``on_answer``, if given, is called with the task's
    result as soon as its agent answered (in the driver's thread, while the agent goes on
    with the next programs): the caller's work on a result then overlaps the runs."""

    spec: RunSpec
    suite: Suite
    budget_s: float
    slot: int = -1
    attempts: int = 0
    on_answer: Callable[[RunResult], None] | None = field(default=None, repr=False)


def batch_request(tasks: Sequence[Task], group: str) -> BatchRequest:
    """One message for ``tasks``: each suite once, the runs in order."""
    suites = {task.spec["suite"]: task.suite for task in tasks}
    runs: list[RunSpec] = [{**task.spec, "rid": str(task.slot)} for task in tasks]
    return {"op": Op.BATCH.value, "group": group, "suites": suites, "runs": runs}


class Slots(Protocol):
    """The pool's containers as the scheduler borrows them."""

    settings: Settings

    @property
    def slots(self) -> int: ...

    def refill(self) -> None: ...

    def acquire(self, timeout_s: float) -> AgentConn | None: ...

    def release(self, conn: AgentConn | None) -> None: ...

    def replace(self, conn: AgentConn, why: str) -> AgentConn | None: ...


@dataclass
class _Batch:
    tasks: collections.deque[Task]
    results: list[RunResult | None]
    group: str
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, *, suspects: bool = True) -> Task | None:
        """The next task; with ``suspects=False``, None when the next one is a suspect
        (a task that was running when an agent broke)."""
        with self.lock:
            if not self.tasks or (not suspects and self.tasks[0].attempts):
                return None
            return self.tasks.popleft()

    def give_back(self, tasks: Sequence[Task]) -> None:
        with self.lock:
            self.tasks.extendleft(reversed(tasks))


def run_tasks(pool: Slots, tasks: Sequence[Task], group: str | None = None) -> list[RunResult]:
    """Send every task to an agent; what came of each, in task order. The tasks are one
    ``group`` (one request's, by default those of this call): in an agent, a group's
    tests share a harness.

    While no container can be started (the engine is down), the tasks wait for one up to
    ``settings.engine_wait()``; a task no container took by then is :attr:`RunOutcome.UNSERVED`:
    the caller's ``infra_error``.
    """
    for slot, task in enumerate(tasks):
        task.slot = slot
    batch = _Batch(collections.deque(tasks), [None] * len(tasks), group or uuid.uuid4().hex)
    deadline = time.monotonic() + pool.settings.engine_wait()
    pause = _FIRST_PAUSE_S
    while True:
        pool.refill()
        if pool.slots:
            drivers = min(pool.slots, len(batch.tasks))
            threads = [threading.Thread(target=_Driver(pool, batch).drive) for _ in range(drivers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        left = deadline - time.monotonic()
        if not batch.tasks or left <= 0 or pool.slots:
            break  # done, out of time, or the drivers stopped with containers left (closed)
        # Every container was lost and none starts (the engine is down or restarting):
        # wait for one rather than answer infra_error at once; tasks keep their attempts.
        log.warning("no sandbox container can be started: %d tasks wait (up to %.0f s more)", len(batch.tasks), left)
        time.sleep(min(pause, left))
        pause = min(2 * pause, _MAX_PAUSE_S)
    if batch.tasks:
        log.error("no sandbox container for %.0f s: %d tasks unserved", pool.settings.engine_wait(), len(batch.tasks))
    return [r if r is not None else RunResult(RunOutcome.UNSERVED) for r in batch.results]


class _Driver:
    """One thread's work: borrow a container and feed it tasks until the batch is empty."""

    def __init__(self, pool: Slots, batch: _Batch) -> None:
        self.pool = pool
        self.settings = pool.settings
        self.batch = batch

    def drive(self) -> None:
        while self.batch.tasks:
            borrowed = self.pool.acquire(timeout_s=self.settings.container_start_timeout_s)
            if borrowed is None:
                return
            try:
                conn = self._feed(borrowed)
            except Exception as exc:  # a bug of ours: its in-flight tasks stay unserved (infra_error)
                log.exception("sandbox pool driver failed")
                conn = self.pool.replace(borrowed, f"driver error: {exc!r}")
            self.pool.release(conn)
            if conn is None:
                return

    def _feed(self, conn: AgentConn) -> AgentConn | None:
        """Keep up to ``agent_inflight`` tasks queued at the agent until the batch is done.

        Returns the container to give back (a replacement if it was swapped), or None
        when no replacement could be started.
        """
        inflight: collections.deque[Task] = collections.deque()
        while True:
            if not self._top_up(conn, inflight) and not inflight:
                # Dead before it was given anything (e.g. removed from outside): no one to blame.
                replacement = self.pool.replace(conn, "agent stream closed while idle")
                if replacement is None:
                    return None
                conn = replacement
                continue
            if not inflight:
                if conn.runs < self.settings.container_max_runs:
                    return conn
                replacement = self.pool.replace(conn, f"recycled after {conn.runs} runs")
                if replacement is None or not self.batch.tasks:
                    return replacement
                conn = replacement
                continue
            head = inflight[0]
            try:
                reply = self._answer(conn, head)
            except AgentError as exc:
                replacement = self.pool.replace(conn, str(exc))
                inflight.popleft()
                self._blame(head, str(exc))
                self.batch.give_back(list(inflight))
                inflight.clear()
                if replacement is None:
                    return None
                conn = replacement
                continue
            inflight.popleft()
            conn.runs += 1
            self._settle(head, RunResult(RunOutcome.ANSWERED, reply=reply))

    @staticmethod
    def _answer(conn: AgentConn, task: Task) -> Reply:
        reply = conn.recv(task.budget_s, idle_s=AGENT_IDLE_S)
        if reply.get("rid") != str(task.slot):
            raise AgentProtocolError(f"reply for no program in flight: {reply!r:.200}", container=conn.id)
        return reply

    def _top_up(self, conn: AgentConn, inflight: collections.deque[Task]) -> bool:
        """Queue a batch of tasks at the agent once half its window is free; False if
        its stream is closed."""
        window = min(self.settings.agent_inflight, self.settings.container_max_runs - conn.runs)
        if inflight and (len(inflight) > window // 2 or inflight[0].attempts):
            return True  # half the window busy, or a suspect that runs alone
        tasks: list[Task] = []
        while len(inflight) + len(tasks) < window and (task := self.batch.take(suspects=not (inflight or tasks))):
            tasks.append(task)
            if task.attempts:
                break  # a suspect goes alone: see _blame
        if not tasks:
            return True
        try:
            conn.send(batch_request(tasks, self.batch.group))
        except AgentDied:
            self.batch.give_back(tasks)
            return False
        inflight.extend(tasks)
        return True

    def _blame(self, task: Task, why: str) -> None:
        """The oldest task in flight when the agent broke: retry it, alone (nothing is
        queued with it until it is answered, so it is blamed again only if it breaks an
        agent by itself: the agent's replies may wait up to 20 ms to share a write, and a
        neighbour whose reply was still waiting must not take the blame), then give it the
        verdict."""
        task.attempts += 1
        if task.attempts > self.settings.run_retries:
            self._settle(task, RunResult(RunOutcome.KILLED_AGENT, detail=why))
        else:
            self.batch.give_back([task])

    def _settle(self, task: Task, result: RunResult) -> None:
        self.batch.results[task.slot] = result
        if task.on_answer is not None:
            try:
                task.on_answer(result)
            except Exception:  # the caller's bug: it reads the result again itself
                log.exception("on_answer failed for task %d", task.slot)
