"""Results the server has not finished yet, and how they are finished: by polling the job.

When a batch outlives ``wait_s``, the server answers with what is done and marks the rest
``"status": "pending"``; the batch goes on as the job ``job_id``. A pending result is
never scored and never re-sent (that would run it twice): the client polls
``GET /v1/jobs/{job_id}`` until each slot has its result. The wire models may not know
the ``pending`` status yet, so it is read from the raw JSON, before validation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from client import _batch
from client.errors import BadResponse, ClientTimeout
from client.models import JobState, JobStatus, Result, Stats, Status

__all__ = ["PENDING", "Answer", "Polling", "fill", "lost", "open_pending"]

PENDING = "pending"


class Answer(BaseModel):
    """``POST /v1/evaluate``'s answer with unfinished slots as ``None``."""

    results: list[Result | None]
    stats: Stats = Field(default_factory=Stats)
    job_id: str | None = None

    def unfinished(self) -> list[int]:
        return [i for i, result in enumerate(self.results) if result is None]


def open_pending(body: Any) -> Any:
    """The body with every ``pending`` result replaced by ``None`` (an unfinished slot)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return body
    results = [None if _is_pending(entry) else entry for entry in body["results"]]
    return {**body, "results": results}


def _is_pending(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("status") == PENDING


def fill(
    results: list[Result | None], slots: Sequence[int], job_id: str, state: JobStatus
) -> list[int]:
    """Copy the job's results into the unfinished ``slots``; the slots still unfinished.

    A job that ended (``done`` or ``failed``) without a slot's result lost it: that slot
    becomes an ``infra_error`` (re-sent like any unjudged item), not a wait forever.
    """
    reported = state.results or []
    over = state.status in (JobState.DONE, JobState.FAILED)
    left = []
    for slot in slots:
        found = reported[slot] if slot < len(reported) else None
        if found is None and over:
            found = lost(job_id, state.status)
        if found is None:
            left.append(slot)
        else:
            results[slot] = found
    return left


def lost(job_id: str, state: JobState) -> Result:
    return Result(
        status=Status.INFRA_ERROR,
        detail=f"job {job_id} ended {state} without this item's result",
    )


class Polling:
    """The unfinished slots of one answer, filled from its job until ``timeout_s`` ends
    (the loop itself, sync or async, is the client's)."""

    def __init__(self, answer: Answer, *, timeout_s: float, url: str) -> None:
        self.slots = answer.unfinished()
        if self.slots and answer.job_id is None:
            raise BadResponse(200, "pending results without a job_id", url=url)
        self.job_id = str(answer.job_id)
        self._results = list(answer.results)
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def check_time(self) -> None:
        """Raises:
        ClientTimeout: slots are still pending after ``timeout_s``."""
        if time.monotonic() >= self._deadline:
            message = f"job {self.job_id}: {len(self.slots)} result(s) still pending"
            raise ClientTimeout(message, timeout_s=self._timeout_s)

    def update(self, state: JobStatus) -> None:
        self.slots = fill(self._results, self.slots, self.job_id, state)

    def results(self) -> list[Result]:
        return _batch.complete(self._results)
