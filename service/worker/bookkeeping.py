"""RQ's bookkeeping of a job that succeeded, in one transaction and without what nobody
reads.

RQ's own (``BaseWorker.handle_job_success``) costs a worker about a tenth of its CPU per
chunk (docs/benchmarks.md, tenth sitting): a ``WATCH`` round trip for the job's dependents,
then a transaction that saves the whole job again (its payload compressed and sent back
to Redis), appends the return value to a results stream, adds the job to the finished
registry and counts the worker's successes and working time. The service's jobs have no
dependents, repeats or rate limits, their results live in the batch's keys, and nothing
reads RQ's results, finished registry or worker counters. What others do read stays,
in one ``MULTI/EXEC``:

* the job's status (``finished``) and end time: the API's progress (:mod:`service.queue.results`)
  and the recovery of dead workers' chunks (:mod:`service.worker.recovery`) read them;
* the job's expiry (its ``result_ttl``), as RQ sets it, so job hashes do not pile up;
* its execution out of the started registry (RQ's own cleaning would take it back);
* the worker's ``P:running`` entry (recovery) and its ``idle`` state, which cost a round
  trip each after the job before.

A job that does have repeats or a rate limit gets RQ's own handling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now, utcformat
from rq.worker.base import WorkerStatus

if TYPE_CHECKING:
    from rq import SimpleWorker

__all__ = ["finish_success", "lean_success_applies"]


def lean_success_applies(job: Job) -> bool:
    """Whether :func:`finish_success` may stand in for RQ's handling of ``job``."""
    return not job.repeats_left and not job.has_rate_limit


def finish_success(worker: SimpleWorker, job: Job, execution: Execution, running_key: str) -> None:
    """Record ``job`` finished by ``worker`` (see the module doc), in one transaction.

    Raises:
        redis.RedisError: the caller translates (RQ's work loop, as for its own handling).
    """
    ended_at = job.ended_at or now()
    with worker.connection.pipeline() as pipe:
        pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": utcformat(ended_at)})
        job.cleanup(job.get_result_ttl(worker.default_result_ttl), pipeline=pipe, remove_from_queue=False)
        worker.cleanup_execution(job, pipeline=pipe, execution=execution)
        pipe.hdel(running_key, worker.name)
        worker.set_state(WorkerStatus.IDLE, pipeline=pipe)
        pipe.execute()
    job._status = JobStatus.FINISHED
