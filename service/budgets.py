"""Budgets: how long each layer may take, and what a request may ask for.

Timeouts nest, inner to outer; each layer's bound is enforced by the layer outside it:

=========  ===============================================================  ==============
layer      bound                                                            enforced by
=========  ===============================================================  ==============
program    ``limits.timeout_s`` of CPU; wall clock ``timeout_s*wall_factor``  the agent
item       :func:`item_budget_s`: every test (and the load) at its wall       the worker
           bound plus :data:`CASE_OVERHEAD_S`, plus ``agent_slack_s``         (AgentTimeout)
chunk      :func:`job_timeout_s`: its items' budgets plus                     RQ (job
           :data:`JOB_MARGIN_S`, at least ``job_timeout_s``                   timeout)
API wait   the request's ``wait_s`` (default ``wait_s``), at most             the API
           ``max_wait_s``
client     its HTTP timeout, longer than the ``wait_s`` it sends              the client
=========  ===============================================================  ==============

The rule that holds for every batch admission accepts: no chunk's job timeout exceeds
``max_wait_s``. Admission refuses an item whose own job would (:func:`check_fits_wait`, a 422
naming ``limits.timeout_s`` and ``max_wait_s``), and the API fills chunks by budget as well
as by count (:func:`chunk_sizes`). At start-up, :class:`~service.settings.Settings` checks
the chain above for a one-test program at ``max_timeout_s``, and that such a program is
admissible.

The other time bounds of the service (connection timeouts, pauses between retries) are
named here too, so that every number of seconds the service waits is on this page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from client.models import Item
from service.errors import InvalidField

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = [
    "AGENT_IDLE_S",
    "CASE_OVERHEAD_S",
    "JOB_MARGIN_S",
    "MEMORY_HEADROOM_MB",
    "bulk_chunk_size",
    "check_fits_wait",
    "check_item",
    "chunk_sizes",
    "item_budget_s",
    "job_s",
    "job_timeout_s",
    "run_budget_s",
    "wall_bound_s",
]

#: Per test, on top of its wall-clock bound: fork, load, pipes, judging.
CASE_OVERHEAD_S = 2.0
#: An RQ job's timeout over the worst case of its items run one after another.
JOB_MARGIN_S = 30
#: A program's expected run time before the workers have measured any (bulk chunk size).
DEFAULT_PROGRAM_MS = 10.0
#: Container memory beyond the largest program limit (the agent and the loader).
MEMORY_HEADROOM_MB = 256
#: The agent sends a line at least every 0.5 s while it works; this long without one, it
#: is stuck (stopped, deadlocked) and its container is replaced.
AGENT_IDLE_S = 3.0
#: What the OpenRLHF route waits for a batch: under OpenRLHF's own 180 s request limit,
#: so that it reads our answer (or our 503, which it retries) rather than giving up.
OPENRLHF_WAIT_S = 150.0

# --- time bounds of the plumbing (not part of the nesting above) ----------------------
#: Redis: connecting (a 503 beats a hang) and one command of the API's sync client.
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_COMMAND_TIMEOUT_S = 10.0
#: A pooled Redis connection idle this long is pinged before it is used again.
REDIS_HEALTH_CHECK_S = 1
#: A Redis command that failed on a dropped connection is retried this many times, after
#: pauses growing from the base to the cap (0.05, 0.1, 0.2, 0.4, 0.5, 0.5 s: ~1.8 s).
REDIS_RETRIES = 6
REDIS_RETRY_BASE_S = 0.05
REDIS_RETRY_CAP_S = 0.5
#: The API's pause before re-reading a batch after losing Redis while waiting.
REDIS_RECONNECT_PAUSE_S = 0.25
#: While a waited-for batch has more chunks left than can run at once, the API sleeps
#: between two wake-ups this fraction of the time it cannot end in (at the batch's own
#: pace so far), at most LULL_MAX_S: it then reads several chunks a wake-up, not one.
LULL_FRACTION = 0.5
LULL_MAX_S = 0.25
#: How long RQ keeps a chunk job once it succeeded. Not 0: the API's job state tells a
#: lost chunk from a finished one by its RQ job, and a job deleted at once between the
#: API's two reads looked lost (the load test's "part of the job was lost").
RQ_RESULT_TTL_S = 300
#: RQ's own registry cleaning (the backstop of service.worker.recovery).
RQ_MAINTENANCE_S = 120
#: An RQ worker's TTL (RQ blocks in BLPOP for it minus 15 s between jobs; then it feeds
#: the lanes again, a backstop of the feeding after every dequeue).
RQ_WORKER_TTL_S = 20
#: RQ's worker heartbeat outside a job's bookkeeping (three round trips, which RQ sends
#: twice per dequeue and once after each job) goes at most this often: the same key is
#: refreshed in RQ's pipelines as every job starts, and lives worker TTL + 60 s.
RQ_HEARTBEAT_EVERY_S = 5.0
#: RQ looks for ``rq suspend`` before every dequeue (a transaction with a heartbeat); a
#: worker looks at most this often, so a suspension takes effect within it plus a chunk.
RQ_SUSPENSION_CHECK_S = 1.0
#: A worker whose results Redis refuses (at its maxmemory) keeps them and tries again,
#: with backoff, this long before it gives the chunk up to RQ's retries (inside the
#: chunk's job timeout: its margin is JOB_MARGIN_S).
PUBLISH_WHILE_FULL_S = 20.0
#: Docker engine API calls (an HTTP read timeout; never a bound on a program's run).
DOCKER_API_TIMEOUT_S = 60
#: An idle container's health-check ping.
HEALTH_PING_S = 5.0
#: A worker retries starting its pool this many times, pausing this long times the attempt.
POOL_START_ATTEMPTS = 4
POOL_RETRY_PAUSE_S = 2.0


def wall_bound_s(timeout_s: float, settings: Settings) -> float:
    """A test's wall-clock bound: its CPU-time limit ``timeout_s`` times ``wall_factor``
    (a program that sleeps or blocks still ends; CPU contention never times it out)."""
    return timeout_s * settings.wall_factor


def run_budget_s(n_cases: int, timeout_s: float, *, wall_factor: float, slack_s: float) -> float:
    """The longest an agent may take over a program of ``n_cases`` tests: every test (and
    the load) at its wall-clock bound plus :data:`CASE_OVERHEAD_S`, plus ``slack_s``."""
    per_test = timeout_s * wall_factor + CASE_OVERHEAD_S
    return (n_cases + 1) * per_test + slack_s


def item_budget_s(item: Item, settings: Settings) -> float:
    """:func:`run_budget_s` of one item: the worker declares its agent hung after this."""
    return run_budget_s(
        len(item.tests.cases),
        item.limits.timeout_s,
        wall_factor=settings.wall_factor,
        slack_s=settings.agent_slack_s,
    )


def job_s(budget_s: float) -> int:
    """The RQ job time that items with these summed budgets need: plus :data:`JOB_MARGIN_S`."""
    return math.ceil(budget_s) + JOB_MARGIN_S


def job_timeout_s(items: Iterable[Item], settings: Settings) -> int:
    """RQ job timeout for a chunk: never shorter than the worst case of its items run one
    after another, so RQ never interrupts a chunk that is still legitimately running."""
    worst = sum(item_budget_s(item, settings) for item in items)
    return max(settings.job_timeout_s, job_s(worst))


def bulk_chunk_size(est_ms: float | None, settings: Settings) -> int:
    """Programs in a bulk-lane chunk: about ``bulk_chunk_ms`` of a worker's time at
    ``est_ms`` per program (the workers' recent pace: a chunk's wall time per program;
    :data:`DEFAULT_PROGRAM_MS` before they have one), between 1 and ``chunk_size``."""
    per = est_ms if est_ms and est_ms > 0 else DEFAULT_PROGRAM_MS
    return max(1, min(settings.chunk_size, int(settings.bulk_chunk_ms / per)))


def chunk_sizes(items: Sequence[Item], settings: Settings, *, limit: int | None = None) -> list[int]:
    """Split ``items`` (in order) into chunks of at most ``chunk_size`` (or ``limit``) whose
    job timeout stays within ``max_wait_s``; every chunk has at least one item.

    An item admission accepted fits a chunk of its own (:func:`check_fits_wait`), so no chunk's
    :func:`job_timeout_s` exceeds ``max_wait_s``.
    """
    most = min(settings.chunk_size, limit or settings.chunk_size)
    sizes: list[int] = []
    count, budget = 0, 0.0
    for item in items:
        need = item_budget_s(item, settings)
        if count and (count == most or job_s(budget + need) > settings.max_wait_s):
            sizes.append(count)
            count, budget = 0, 0.0
        count += 1
        budget += need
    if count:
        sizes.append(count)
    return sizes


def check_item(item: Item, settings: Settings, *, field: str = "item") -> None:
    """Refuse what the server's limits do not allow.

    Raises:
        InvalidField: ``field`` names the offending field (``items[3].limits.timeout_s``).
    """
    limits = item.limits
    checks = (
        (limits.timeout_s > settings.max_timeout_s, "limits.timeout_s", f"must be at most {settings.max_timeout_s}"),
        (limits.memory_mb > settings.max_memory_mb, "limits.memory_mb", f"must be at most {settings.max_memory_mb}"),
        (limits.output_kb > settings.max_output_kb, "limits.output_kb", f"must be at most {settings.max_output_kb}"),
        (len(item.tests.cases) > settings.max_cases, "tests.cases", f"at most {settings.max_cases} cases"),
        (
            _size(item) > settings.max_code_bytes,
            "code",
            f"prompt + code must be at most {settings.max_code_bytes} bytes",
        ),
    )
    for bad, name, rule in checks:
        if bad:
            raise InvalidField(f"{field}.{name}", rule)


def check_fits_wait(item: Item, settings: Settings, *, field: str = "item") -> None:
    """Refuse an item whose worst case alone would run past ``max_wait_s`` (the API's
    admission; a chunk of it alone would need a longer RQ job than any wait).

    Raises:
        InvalidField: ``{field}.limits.timeout_s``, the message naming ``max_wait_s``.
    """
    need = job_s(item_budget_s(item, settings))
    if need > settings.max_wait_s:
        rule = (
            f"{len(item.tests.cases)} cases at timeout_s={item.limits.timeout_s:g} may take {need} s, "
            f"over max_wait_s={settings.max_wait_s:g}; lower limits.timeout_s or send fewer cases"
        )
        raise InvalidField(f"{field}.limits.timeout_s", rule)


def _size(item: Item) -> int:
    return len(item.code.encode("utf-8", "surrogatepass")) + len(item.prompt.encode("utf-8", "surrogatepass"))
