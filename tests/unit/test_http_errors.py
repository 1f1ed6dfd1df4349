"""api/http_errors.py: every refusal of the service has its status in the one map, with the
bodies and headers the wire contract names; sandbox errors never reach a client."""

from __future__ import annotations

import json

import pytest

from service import errors
from service.api.http_errors import refusal, status_of
from service.errors import (
    AuthenticationFailed,
    AuthenticationRequired,
    BackendUnavailable,
    BatchTooLarge,
    BodyTooLarge,
    ConnectionLost,
    InvalidField,
    JobNotFound,
    NotJudged,
    NoWorkers,
    QueueFull,
    QuotaExceeded,
    RedisFull,
    RequestRefused,
    SandboxError,
    ServiceError,
    StorageFull,
    Unavailable,
    UnprocessableRequest,
)


def _leaves(root: type[ServiceError]) -> list[type[ServiceError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, root)]


CASES = [
    (InvalidField("items[0].limits.timeout_s", "must be at most 30"), 422,
     "items[0].limits.timeout_s: must be at most 30", {}),
    (UnprocessableRequest("labels: not a test spec"), 422, "labels: not a test spec", {}),
    (BatchTooLarge(5, 4), 413, "items: 5 items; at most 4 per request", {}),
    (BodyTooLarge(4096), 413, "request body is over the limit of 4096 bytes", {}),
    (AuthenticationRequired(), 401, "an API key is required (Authorization: Bearer <key> or X-API-Key)",
     {"WWW-Authenticate": "Bearer"}),
    (AuthenticationFailed(), 403, "the API key is not valid", {}),
    (JobNotFound("x"), 404, "no job 'x' (unknown or expired)", {}),
    (QueueFull(queued=8, high_water=8, retry_after_s=7), 429,
     "queue is full: 8 programs queued; high-water mark is 8; retry later", {"Retry-After": "7"}),
    (QuotaExceeded(queued=9, high_water=8, retry_after_s=3), 429,
     "quota exceeded: 9 programs of this API key in flight; its quota (UTRS_TENANT_MAX_INFLIGHT) is 8; "
     "retry later", {"Retry-After": "3"}),
    (StorageFull(queued=90, high_water=85, retry_after_s=2), 429,
     "storage is full: Redis memory at 90% of its maxmemory; the API admits work up to 85% "
     "(UTRS_REDIS_MEMORY_HIGH_WATER) while older results expire; retry later", {"Retry-After": "2"}),
    (RedisFull("redis is out of memory while x: y"), 503, "service unavailable: redis is out of memory while x: y",
     {}),
    (NoWorkers(), 503, "service unavailable: no live worker is registered", {}),
    (BackendUnavailable("redis failed while x: y"), 503, "service unavailable: redis failed while x: y", {}),
    (ConnectionLost("redis failed while x: y"), 503, "service unavailable: redis failed while x: y", {}),
    (NotJudged([3, 5]), 503, "2 item(s) could not be judged (first: #3); retry", {"Retry-After": "1"}),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "status", "detail", "headers"), CASES)
def test_each_refusal_has_its_status_body_and_headers(
    exc: RequestRefused | Unavailable, status: int, detail: str, headers: dict[str, str]
) -> None:
    answer = refusal(exc)
    assert (answer.status, answer.body["detail"], answer.headers) == (status, detail, headers)
    response = answer.response()
    assert response.status_code == status and json.loads(response.body)["detail"] == detail


def test_a_field_over_a_limit_lists_it_like_the_schema_errors() -> None:
    body = refusal(InvalidField("items[1].reward", "reward.scheme 'x' is unknown")).body
    assert body["errors"] == [{"field": "items[1].reward", "message": "reward.scheme 'x' is unknown",
                               "type": "server_limit"}]  # fmt: skip


def test_every_refusal_class_is_mapped_and_no_sandbox_error_is() -> None:
    covered = {type(exc) for exc, *_ in CASES}
    refusals = _leaves(RequestRefused) + _leaves(Unavailable)
    assert set(refusals) - {RequestRefused, Unavailable} <= covered
    assert all(status_of(cls.__new__(cls)) is not None for cls in refusals)
    assert all(status_of(cls.__new__(cls)) is None for cls in _leaves(SandboxError))
