"""The scheduler's blame when an agent dies with replies it had not written yet.

The agent lets a batch's replies wait up to ``agent_reply_delay_s`` to share a write, so
when it dies, programs it had already judged may look unanswered. Which program made it
die cannot be told from the stream; the scheduler retries the oldest one *alone*, so a
program is blamed again only when it breaks an agent by itself. A real agent cannot be
made to die on cue from a program (that is the point of its design), so this drives the
scheduler with a scripted stream: the one thing here that is not the real component.
"""

from __future__ import annotations

from typing import Any

from service.errors import AgentDied
from service.sandbox.protocol import RunOutcome
from service.sandbox.scheduler import Task, run_tasks
from service.settings import Settings

KILLER = "killer"


class ScriptedAgent:
    """Runs each batch in order and answers it at its end, as the real agent does when
    its replies share one write; a killer program takes the agent down with the whole
    batch's replies (the worst case)."""

    def __init__(self, log: list[list[str]]) -> None:
        self.id = f"scripted-{len(log)}"
        self.runs = 0
        self.log = log
        self.answers: list[dict[str, Any]] = []
        self.dead = False

    def send(self, message: dict[str, Any]) -> None:
        if self.dead:
            raise AgentDied("closed", container=self.id)
        programs = [run["program"] for run in message["runs"]]
        self.log.append(programs)
        if KILLER in programs:
            self.dead = True
            return
        self.answers += [{"rid": run["rid"], "tests": [], "trust": "harness"} for run in message["runs"]]

    def recv(self, timeout_s: float, idle_s: float | None = None) -> dict[str, Any]:
        if not self.answers:
            raise AgentDied("agent stream closed", container=self.id)
        return self.answers.pop(0)


class ScriptedPool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log: list[list[str]] = []
        self.idle: list[ScriptedAgent] = [ScriptedAgent(self.log)]

    @property
    def slots(self) -> int:
        return 1

    def refill(self) -> None:
        pass

    def acquire(self, timeout_s: float) -> ScriptedAgent | None:
        return self.idle.pop() if self.idle else None

    def release(self, conn: ScriptedAgent | None) -> None:
        if conn is not None:
            self.idle.append(conn)

    def replace(self, conn: ScriptedAgent, why: str) -> ScriptedAgent | None:
        return ScriptedAgent(self.log)


def _task(program: str) -> Task:
    return Task(spec={"program": program, "suite": "s"}, suite={}, budget_s=5.0)  # type: ignore[typeddict-item]


def test_a_neighbour_whose_reply_was_lost_is_not_blamed() -> None:
    pool = ScriptedPool(Settings(run_retries=2))
    results = run_tasks(pool, [_task("a"), _task(KILLER), _task("c")])  # type: ignore[arg-type]
    assert [r.outcome for r in results] == [RunOutcome.ANSWERED, RunOutcome.KILLED_AGENT, RunOutcome.ANSWERED]
    # After a break the programs queued behind the blamed one run again untouched, and a
    # blamed one (a suspect) only ever runs alone: the innocent a, blamed for the first
    # break, is answered alone at the end; the killer breaks three agents by itself.
    assert pool.log == [["a", KILLER, "c"], [KILLER, "c"], ["c"], [KILLER], [KILLER], ["a"]]
    assert all(len(batch) == 1 for batch in pool.log[2:])
