"""Response bodies of the API's own endpoints (the wire models live in client.models).

Routes return pre-serialised JSON for speed; these models document the shapes in the
OpenAPI schema and are what clients validate against.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from client.models import EvaluateRequest, EvaluateResponse, JobCreated, JobStatus

__all__ = ["EvaluateAnswer", "JobCreated", "JobRequest", "JobStatus", "Readiness"]


class EvaluateAnswer(EvaluateResponse):
    """``EvaluateResponse`` plus the batch's id (pollable at GET /v1/jobs/{job_id})."""

    job_id: str | None = None


class JobRequest(EvaluateRequest):
    """Same body as /v1/evaluate; ``wait_s`` is ignored."""


class Readiness(BaseModel):
    ready: bool
    redis: bool
    workers: int
    image: str | None
    queued_jobs: int | None = None
    problems: list[str] = Field(default_factory=list)
