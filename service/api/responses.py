"""Response bodies: the wire models of ``client.models`` (the service's own for the
operations endpoints), serialised once.

The results of a batch are the workers' JSON data: the API puts them in the request's
order and never re-validates them (4,096 results per request would cost more to validate
than to run). The bodies that carry them are therefore made with ``model_construct``,
typed as the wire model says and holding that data, and only ever serialised
(:func:`json_response`, by pydantic-core, faster than ``json.dumps``) or validated
(``Result.model_validate``) afterwards.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, Field
from pydantic_core import PydanticSerializationError

from client.models import EvaluateResponse, JobState, JobStatus, ServerLimits, Stats
from service.queue.envelope import ResultData
from service.settings import Settings
from service.text import dumps

__all__ = ["REFUSALS", "Readiness", "evaluated", "job_status", "json_response", "server_limits"]

#: OpenAPI descriptions of the refusals of the batch endpoints (statuses: api/http_errors).
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured and none was given"},
    403: {"description": "the API key is not valid"},
    413: {"description": "body over max_body_bytes, or more than max_batch items"},
    422: {"description": "malformed body or a field over a server limit; detail names it"},
    429: {"description": "queue over its high-water mark; see Retry-After"},
    503: {"description": "Redis unreachable or no live worker"},
}


class Readiness(BaseModel):
    """``GET /readyz``: whether this API can evaluate now, and why not."""

    ready: bool
    redis: bool
    workers: int
    image: str | None
    queued_jobs: int | None = None
    problems: list[str] = Field(default_factory=list)


def json_response(body: BaseModel, *, status_code: int = 200, exclude_unset: bool = False) -> Response:
    """Serialise ``body`` once, without FastAPI's re-validation of the response model.

    Workers write no lone surrogate (:mod:`service.text`); should data of another release
    hold one, it is scrubbed here rather than failing the whole answer with a 500.
    """
    try:
        content = body.model_dump_json(exclude_unset=exclude_unset, warnings=False).encode()
    except PydanticSerializationError:
        content, _ = dumps(body.model_dump(mode="json", exclude_unset=exclude_unset, warnings=False))
    return Response(content=content, status_code=status_code, media_type="application/json")


def evaluated(results: list[ResultData], stats: Stats, job_id: str) -> EvaluateResponse:
    """``POST /v1/evaluate``'s body over the workers' result data (see the module doc)."""
    # The results are Result *data* on purpose (module docstring): hence the ignore.
    return EvaluateResponse.model_construct(results=results, stats=stats, job_id=job_id)  # type: ignore[arg-type]


def job_status(
    job_id: str, status: JobState, *, done: int, total: int, results: list[ResultData | None], stats: Stats
) -> JobStatus:
    """``GET /v1/jobs/{job_id}``'s body (serialise with ``exclude_unset``: no ``detail``)."""
    return JobStatus.model_construct(
        job_id=job_id, status=status, done=done, total=total, results=results, stats=stats  # type: ignore[arg-type]
    )


def server_limits(settings: Settings) -> ServerLimits:
    """``GET /v1/limits``: the server's request limits."""
    return ServerLimits(
        max_batch=settings.max_batch,
        max_body_bytes=settings.max_body_bytes,
        max_timeout_s=settings.max_timeout_s,
        max_memory_mb=settings.max_memory_mb,
        max_output_kb=settings.max_output_kb,
        max_cases=settings.max_cases,
        max_code_bytes=settings.max_code_bytes,
        max_wait_s=settings.max_wait_s,
    )
