"""Response bodies: the wire models of ``client.models`` (the service's own for the
operations endpoints), serialised once.

The results of a batch are the workers' result lines (:mod:`service.queue.lines`): the
API puts them in the request's order, writes each item's ``id`` and ``cached`` flag into
them and splices them into the body (:class:`Answer`, :func:`job_body`), without parsing
or validating one (4,096 results per request would cost more to parse than to run). The
other bodies are wire models, serialised once (:func:`json_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Response
from pydantic import BaseModel, Field
from pydantic_core import PydanticSerializationError

from client.models import JobState, JobStatus, Result, ServerLimits, Stats
from service.queue.lines import Line, join
from service.settings import Settings
from service.text import dumps

__all__ = ["REFUSALS", "Answer", "Readiness", "job_body", "json_response", "raw_json", "server_limits"]

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


@dataclass(frozen=True)
class Answer:
    """``POST /v1/evaluate``'s answer: the result lines in request order (the shape of
    ``client.models.EvaluateResponse``), spliced into a body without parsing a result."""

    lines: list[Line]
    stats: Stats
    job_id: str

    def body(self) -> bytes:
        return (b'{"results":' + join(self.lines) + b',"stats":' + self.stats.model_dump_json().encode()
                + b',"job_id":' + dumps(self.job_id)[0] + b"}")  # fmt: skip

    def results(self) -> list[Result]:
        """The results as models (for a caller that reads them, not one that forwards them)."""
        return [Result.model_validate_json(line) for line in self.lines]


def job_body(
    job_id: str, status: JobState, *, done: int, total: int, results: list[Line | None], stats: Stats
) -> bytes:
    """``GET /v1/jobs/{job_id}``'s body (``client.models.JobStatus``): lines spliced in."""
    head = JobStatus(job_id=job_id, status=status, done=done, total=total, stats=stats)
    text = head.model_dump_json(exclude={"results", "detail"}).encode()
    return text[:-1] + b',"results":' + join(results) + b"}"


def raw_json(body: bytes, *, status_code: int = 200) -> Response:
    """A body made here (already strict UTF-8 JSON)."""
    return Response(content=body, status_code=status_code, media_type="application/json")


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
