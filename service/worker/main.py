"""``utrs-worker``: one RQ worker process holding a warm sandbox pool for its lifetime.

Run several per machine and on many machines against one Redis; each opens its own
pool (``UTRS_POOL_SIZE`` containers). The worker executes jobs in its own process
(RQ's SimpleWorker: forking a work horse per job would copy the pool's live connections
into a child), and a presence thread (:mod:`service.worker.presence`) keeps the service's
heartbeat and RQ's running-job heartbeat going and takes back the chunks of workers whose
heartbeat stopped: a killed worker's chunk runs again within ``worker_dead_after_s`` +
``worker_maintenance_s`` seconds.

The pool is handed to the jobs through the worker's :class:`WorkerContext`, set for as
long as :meth:`PoolWorker.work` runs. SIGTERM/SIGINT: RQ's warm shutdown (finish the
current chunk, then exit); a second one is a cold shutdown. The pool's containers are
removed on the way out.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import signal
import socket
import time
import uuid
from typing import Any

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from service.budgets import (
    POOL_RETRY_PAUSE_S,
    POOL_START_ATTEMPTS,
    RQ_HEARTBEAT_EVERY_S,
    RQ_MAINTENANCE_S,
    RQ_SUSPENSION_CHECK_S,
    RQ_WORKER_TTL_S,
)
from service.errors import BackendUnavailable, RedisFull, SandboxError
from service.queue.dispatch import LANES, feed, lane_queue, queue_feed
from service.queue.keys import RedisKeys
from service.queue.redis import SyncRedis, translate_redis_errors, while_full, worker_client
from service.runtime import tune_gc
from service.sandbox.pool import SandboxPool
from service.settings import Settings, get_settings
from service.worker.bookkeeping import LeanWorker
from service.worker.context import WorkerContext, using
from service.worker.presence import Presence

__all__ = ["PoolWorker", "build_worker", "main"]

log = logging.getLogger(__name__)


class PoolWorker(LeanWorker):
    """An RQ SimpleWorker (its bookkeeping lean: :mod:`service.worker.bookkeeping`) that
    hands its :class:`WorkerContext` to the jobs it runs, and whose running job's
    heartbeat expires quickly if this process dies."""

    def __init__(self, *args: Any, heartbeat_ttl_s: int, context: WorkerContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self.context = context
        self.running: Job | None = None
        self.recorded: str | None = None  # the job P:running holds already, as it was taken
        self.running_key = RedisKeys(context.settings.key_prefix).running
        self.beaten_at = -math.inf  # monotonic time of the last heartbeat sent on its own
        self.suspension_checked_at = -math.inf

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's work loop, with this worker's context current for its jobs and callbacks."""
        with using(self.context):
            return bool(super().work(*args, **kwargs))

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat: always on RQ's own pipelines; on its own (three round trips, three
        times per chunk, for a key that lives 80 s) at most every ``RQ_HEARTBEAT_EVERY_S``,
        and skipped (logged) while Redis is at its maxmemory instead of quitting the work
        loop: the presence heartbeat keeps this worker known meanwhile."""
        if pipeline is not None:  # queued on RQ's own pipeline: RQ handles its errors
            super().heartbeat(timeout, pipeline)
            return
        now = time.monotonic()
        if now - self.beaten_at < RQ_HEARTBEAT_EVERY_S:
            return
        try:
            with translate_redis_errors("sending RQ's worker heartbeat"):
                super().heartbeat(timeout, pipeline)
            self.beaten_at = now
        except RedisFull as exc:
            log.warning("worker %s: %s; still serving", self.name, exc)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's wait while ``rq suspend`` holds, looked for at most every
        ``RQ_SUSPENSION_CHECK_S`` instead of before every chunk."""
        if time.monotonic() - self.suspension_checked_at < RQ_SUSPENSION_CHECK_S:
            return
        super().check_for_suspension(burst)
        self.suspension_checked_at = time.monotonic()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.heartbeat_ttl_s

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue, with the lanes fed from the tenants' backlogs before it listens and
        right after it took a chunk, so the next idle worker finds one at once
        (:mod:`service.queue.dispatch`)."""
        self._feed()
        result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        if result is not None:
            self._feed(taken=result[0].id)
        return result

    def _feed(self, taken: str | None = None) -> None:
        """Feed the lanes; with ``taken`` (the chunk job just dequeued), in the same round
        trip record it in ``P:running``."""
        settings = self.context.settings
        keys = RedisKeys(settings.key_prefix)
        try:
            with translate_redis_errors("feeding the lanes"):
                if taken is None:
                    feed(self.connection, keys, settings.queue_name)
                    return
                with self.connection.pipeline(transaction=False) as pipe:
                    pipe.hset(self.running_key, self.name, taken)
                    queue_feed(pipe, keys, settings.queue_name)
                    pipe.execute()
                self.recorded = taken
        except BackendUnavailable as exc:  # RQ's own dequeue reports and waits; execute_job records
            log.warning("worker %s: could not feed the lanes: %s", self.name, exc)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run ``job``, recorded in ``P:running`` for the recovery of dead workers' chunks
        (:mod:`service.worker.recovery`) for as long as it runs: recorded as it was taken
        (:meth:`dequeue_job_and_maintain_ttl`) or else here, and cleared with its success's
        bookkeeping (:mod:`service.worker.bookkeeping`) or else here."""
        if self.recorded != job.id:
            for attempt in while_full():
                with attempt, translate_redis_errors("recording the running chunk"):
                    self.connection.hset(self.running_key, self.name, job.id)
        self.recorded, self.cleared = None, None
        self.running = job
        try:
            super().execute_job(job, queue)
        finally:
            self.running = None
            if self.cleared != job.id:
                try:
                    for attempt in while_full():
                        with attempt, translate_redis_errors("clearing the running chunk"):
                            self.connection.hdel(self.running_key, self.name)
                except BackendUnavailable:
                    log.warning("worker %s: could not clear its running chunk (Redis unavailable)", self.name)

    def beat_running_job(self) -> None:
        """Extend the running job's registry entry (called from the presence thread)."""
        job = self.running
        execution = next(iter(list(self.executions.values())), None)
        if job is not None and execution is not None and execution.job_id == job.id:
            self.maintain_heartbeats(job, execution)


def build_worker(
    settings: Settings, connection: SyncRedis, name: str, *, pool: SandboxPool | None = None
) -> PoolWorker:
    """An RQ worker on the service's queue that runs its jobs with ``pool``, tuned for fast
    recovery of dead workers."""
    lanes = [lane_queue(settings.queue_name, lane) for lane in LANES]
    return PoolWorker(
        [*lanes, settings.queue_name],  # in this order: interactive, bulk, the previous release's
        connection=connection,
        serializer=JSONSerializer,
        name=name,
        heartbeat_ttl_s=settings.worker_dead_after_s,
        context=WorkerContext(settings, pool),
        # Dead workers' chunks are taken back by Presence (service.worker.recovery); RQ's
        # own registry cleaning is only the backstop.
        maintenance_interval=RQ_MAINTENANCE_S,
        worker_ttl=RQ_WORKER_TTL_S,
    )


def _parse(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="utrs-worker", description=__doc__.split("\n")[0])
    parser.add_argument("--name", help="worker name (default: host.pid.random)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--log-level", default=settings.log_level, help="default: UTRS_LOG_LEVEL")
    return parser.parse_args(argv)


def _open_pool(settings: Settings) -> SandboxPool:
    """Start the pool, retrying a few times: a busy engine or an image being rebuilt
    should delay a worker, not kill it (compose restarts it anyway when this gives up).

    Raises:
        SandboxError: the last attempt's failure.
    """
    for attempt in range(1, POOL_START_ATTEMPTS + 1):
        pool = SandboxPool(settings)
        try:
            pool.start()
            return pool
        except SandboxError as exc:
            pool.close()
            if attempt == POOL_START_ATTEMPTS:
                raise
            log.warning("sandbox pool did not start (%s); retry %d/%d", exc, attempt, POOL_START_ATTEMPTS - 1)
            time.sleep(POOL_RETRY_PAUSE_S * attempt)
        except BaseException:  # SIGTERM while starting: remove what was started
            pool.close()
            raise
    raise AssertionError("unreachable")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Console entry ``utrs-worker``."""
    settings = get_settings()
    args = _parse(argv, settings)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Until RQ installs its handlers (after the pool is up), SIGTERM exits cleanly too:
    # the SystemExit it raises unwinds through pool.close(), removing the containers.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    name = args.name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
    pool = _open_pool(settings)
    tune_gc()
    try:
        for incarnation in itertools.count():
            # RQ's work loop quits when Redis refuses one of its writes (at maxmemory): the
            # pool stays warm, and a fresh RQ worker takes over once Redis takes writes again.
            current = name if not incarnation else f"{name}.r{incarnation}"
            worker = build_worker(settings, worker_client(settings), current, pool=pool)
            version = worker.context.image_version
            log.info("worker %s: pool ready (image %s); listening on %r", current, version, settings.queue_name)
            try:
                with Presence(worker, RedisKeys(settings.key_prefix), version, settings), translate_redis_errors(
                    "running RQ's work loop"
                ):
                    worker.work(burst=args.burst, logging_level=args.log_level.upper(), with_scheduler=False)
                break
            except RedisFull as exc:
                log.warning("worker %s: %s; starting again once Redis takes writes", current, exc)
                _await_writes(worker.connection, RedisKeys(settings.key_prefix).worker_probe(current))
    finally:
        pool.close()
    return 0


def _await_writes(connection: SyncRedis, probe: str) -> None:
    """Return once Redis takes a (small, expiring) write, however long that takes: the
    worker has nothing else to do, and its pool stays warm meanwhile (it used to give up
    after ``PUBLISH_WHILE_FULL_S`` and exit, leaving a supervisor to start it cold)."""
    for attempt in while_full(forever=True):
        with attempt, translate_redis_errors("probing whether Redis takes writes"):
            connection.set(probe, b"1", ex=5)


if __name__ == "__main__":
    raise SystemExit(main())
