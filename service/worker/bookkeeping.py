"""RQ's bookkeeping around a job, in fewer round trips and without what nobody reads.

RQ's own costs a worker a good part of its CPU per chunk (docs/benchmarks.md, tenth
sitting). :class:`LeanWorker` keeps what others read and drops or merges the rest:

* **as a job starts**, RQ sends two transactions (the execution and the worker's
  ``busy`` state; then the worker's and the job's heartbeats, the job's ``started``
  status and ``PERSIST``): here they are one;
* **after a success**, RQ sends a ``WATCH`` round trip for the job's dependents, then a
  transaction that saves the whole job again (its payload compressed and sent back to
  Redis), appends the return value to a results stream, adds the job to the finished
  registry and counts the worker's successes and working time, and then the worker's
  ``idle`` state on its own. The service's jobs have no dependents, repeats or rate
  limits, their results live in the batch's keys, and nothing reads RQ's results,
  finished registry or worker counters. What others read stays, in one ``MULTI/EXEC``:
  the job's status (``finished``) and end time (the API's progress,
  :mod:`service.queue.results`, and the recovery, :mod:`service.worker.recovery`, read
  them), its expiry (its ``result_ttl``, as RQ sets it, so job hashes do not pile up), its
  execution out of the started registry, the worker's ``P:running`` entry and its
  ``idle`` state;
* the worker's state is written only when it changes (RQ sets ``idle`` again before it
  listens), and no job heartbeat is sent as a success ends (it keeps the job in the
  started registry while a success callback runs: chunk jobs have none).

A job with repeats or a rate limit gets RQ's own handling of its success.
"""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now, utcformat
from rq.worker.base import WorkerStatus

from service.queue.redis import translate_redis_errors, while_full

__all__ = ["LeanWorker"]


class LeanWorker(SimpleWorker):
    """RQ's SimpleWorker with the bookkeeping of the module doc; ``running_key`` is the
    service's ``P:running`` hash (set by the subclass)."""

    running_key: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: str | None = None  # the job whose start prepare_execution recorded whole
        self.cleared: str | None = None  # the last job whose P:running entry its success cleared

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's two transactions as a job starts, as one."""
        ttl = self.get_heartbeat_ttl(job)
        with self.connection.pipeline() as pipe:
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            job.heartbeat(now(), ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            pipe.execute()
        self.executions[execution.id] = execution
        self.prepared = job.id
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Done by :meth:`prepare_execution` already (RQ's, for a job it did not start)."""
        if self.prepared == job.id and not remove_from_intermediate_queue:
            self.prepared = None
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's worker state, written only when it changes."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ's end of a job's execution; after a success without its job heartbeat. A
        failed job keeps it: its failure callback publishes."""
        if job.get_status(refresh=False) == JobStatus.FAILED:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
            return
        job.ended_at = now()

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any, execution: Execution) -> None:
        """A success recorded in one transaction (the module doc); while Redis is at its
        maxmemory it waits, as the chunk's publishing does, instead of quitting RQ's work
        loop with the chunk published and not marked finished."""
        if job.repeats_left or job.has_rate_limit:
            super().handle_job_success(job, queue, started_job_registry, execution)
            return
        ended_at = utcformat(job.ended_at or now())
        for attempt in while_full():  # one MULTI/EXEC, refused whole at maxmemory: safe to send again
            with attempt, translate_redis_errors("recording a finished job"), self.connection.pipeline() as pipe:
                pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": ended_at})
                job.cleanup(job.get_result_ttl(self.default_result_ttl), pipeline=pipe, remove_from_queue=False)
                self.cleanup_execution(job, pipeline=pipe, execution=execution)
                pipe.hdel(self.running_key, self.name)
                self.set_state(WorkerStatus.IDLE, pipeline=pipe)
                pipe.execute()
        job._status = JobStatus.FINISHED
        self.cleared = job.id
