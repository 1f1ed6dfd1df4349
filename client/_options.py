"""Settings shared by the sync and async clients, and the pure reading of job states."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from client import _env
from client.errors import BadResponse, JobFailed
from client.models import JobState, JobStatus, Result

_CONNECT_TIMEOUT_S = 10.0
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, kw_only=True)
class Options:
    base_url: str
    api_key: str | None
    timeout_s: float
    concurrency: int
    progress: bool
    poll_s: float = 0.5
    limits_path: str = "/v1/limits"

    @classmethod
    def build(
        cls, base_url: str | None, *, api_key: str | None, timeout_s: float, max_batch: int | None,
        concurrency: int, progress: bool,
    ) -> Options:
        """Check the constructor's arguments once, with messages naming the argument;
        ``base_url`` and ``api_key`` default to ``UTRS_URL`` and ``UTRS_API_KEY``."""
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_batch is not None and max_batch < 1:
            raise ValueError(f"max_batch must be >= 1 or None, got {max_batch}")
        return cls(
            base_url=_env.service_url(base_url).rstrip("/"), api_key=_env.api_key(api_key),
            timeout_s=timeout_s, concurrency=concurrency, progress=progress,
        )

    def url(self, path: str) -> str:
        """Absolute URL of ``path``: requests never depend on a caller's ``http=`` client
        having been given the base URL."""
        return self.base_url + path

    def headers(self) -> dict[str, str]:
        """Sent with every request (also through a caller's own ``http=`` client)."""
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def httpx_kwargs(self) -> dict[str, Any]:
        """Arguments for ``httpx.Client`` / ``httpx.AsyncClient``: connections follow
        ``concurrency`` (a chunk in flight per connection, with room for polls)."""
        return {
            "base_url": self.base_url,
            "headers": self.headers(),
            "timeout": httpx.Timeout(
                self.timeout_s, connect=min(_CONNECT_TIMEOUT_S, self.timeout_s)
            ),
            "limits": httpx.Limits(
                max_connections=2 * self.concurrency + 2,
                max_keepalive_connections=self.concurrency + 1,
            ),
        }


def job_outcome(job_id: str, state: JobStatus, seen: int) -> tuple[list[Result], bool]:
    """The finished results after the first ``seen`` (up to the first unfinished one, so
    they come out in request order) and whether the job is over.

    Raises:
        JobFailed: the job is in state ``failed`` (the exception carries its results).
        BadResponse: a finished job without one result per item.
    """
    results = state.results or []
    if state.status is JobState.FAILED:
        raise JobFailed(job_id, state.detail, results=[r for r in results if r is not None])
    finished = state.status is JobState.DONE
    ready = list(itertools.takewhile(lambda r: r is not None, results[seen:]))
    if finished and seen + len(ready) != state.total:
        raise BadResponse(
            200, f"job {job_id} is done with {seen + len(ready)} results for {state.total} items",
            url=f"/v1/jobs/{job_id}",
        )
    return [r for r in ready if r is not None], finished
