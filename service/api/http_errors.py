"""HTTP translation of every refusal, in one place: the service's exceptions to statuses.

=======================  ======  =======================================================
exception                status  body (``{"detail": ...}``) and headers
=======================  ======  =======================================================
RequestValidationError    422    ``detail`` names the field (``items[0].tests.kind: ...``),
                                 ``errors`` lists every problem
InvalidField              422    the field over a server limit / with a bad reward spec,
                                 ``errors`` as above (``type``: ``server_limit``)
UnprocessableRequest      422    e.g. OpenRLHF labels that are not test specs
BatchTooLarge             413
(framework) 400           422    a body that is not readable JSON at all (``field``: ``body``)
BodyTooLarge              413    answered by :class:`service.api.middleware.BodyLimit`
AuthenticationRequired    401    ``WWW-Authenticate: Bearer``
AuthenticationFailed      403
JobNotFound               404
QueueFull                 429    ``Retry-After``; QuotaExceeded names the quota
NoWorkers                 503    ``service unavailable: ...``
BackendUnavailable        503    ``service unavailable: ...`` (Redis unreachable or failing)
NotJudged                 503    ``Retry-After`` (OpenRLHF retries it)
other RequestRefused      400
=======================  ======  =======================================================

Anything else (a :class:`~service.errors.SandboxError` cannot reach the API) is a bug and
becomes the framework's 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import (
    AuthenticationFailed,
    AuthenticationRequired,
    BatchTooLarge,
    BodyTooLarge,
    InvalidField,
    JobNotFound,
    NotJudged,
    QueueFull,
    QuotaExceeded,
    RequestRefused,
    ServiceError,
    StorageFull,
    Unavailable,
    UnprocessableRequest,
)
from service.text import dumps

__all__ = ["Refusal", "field_path", "install_handlers", "refusal", "status_of"]

# Most specific first: the first class in an exception's MRO found here decides.
_STATUS: dict[type[ServiceError], int] = {
    UnprocessableRequest: 422,
    BatchTooLarge: 413,
    BodyTooLarge: 413,
    AuthenticationRequired: 401,
    AuthenticationFailed: 403,
    JobNotFound: 404,
    QueueFull: 429,
    RequestRefused: 400,
    Unavailable: 503,
}


@dataclass(frozen=True)
class Refusal:
    """An error answer: status, JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return _json(self.body, self.status, self.headers)


def status_of(exc: ServiceError) -> int | None:
    """The HTTP status of ``exc``; None for errors that must not reach a client (a
    :class:`~service.errors.SandboxError`)."""
    for cls in type(exc).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return None


def refusal(exc: RequestRefused | Unavailable) -> Refusal:
    """The answer to a refused request (the table in the module docstring)."""
    status = status_of(exc)
    assert status is not None, f"{type(exc).__name__} has no HTTP status"
    detail = f"service unavailable: {exc}" if status == 503 and not isinstance(exc, NotJudged) else str(exc)
    if isinstance(exc, QueueFull):
        kind = {QuotaExceeded: "quota exceeded", StorageFull: "storage is full"}.get(type(exc), "queue is full")
        detail = f"{kind}: {exc}; retry later"
    body: dict[str, Any] = {"detail": detail}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidField):
        body["errors"] = [{"field": exc.field, "message": exc.message, "type": exc.kind}]
    if isinstance(exc, QueueFull | NotJudged):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, AuthenticationRequired):
        headers["WWW-Authenticate"] = "Bearer"
    return Refusal(status, body, headers)


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "items", 0, "tests", "kind")`` -> ``items[0].tests.kind``."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": field_path(e.get("loc", ())), "message": _message(e), "type": e.get("type")} for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _json({"detail": f"{first['field']}: {first['message']}{more}", "errors": errors}, 422)


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer under the text rule: a refusal may quote what the client sent (a
    field name, a scheme), lone surrogates included (:mod:`service.text`)."""
    content, _ = dumps(body)
    return Response(content, status_code=status, headers=headers or None, media_type="application/json")


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRefused | Unavailable)
    return refusal(exc).response()


async def _http(request: Request, exc: Exception) -> Response:
    """The framework's own refusals; a body it could not read at all (not UTF-8, not the
    content type it expects) is a 422 naming ``body`` like every other bad body."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        message = f"could not be read as a JSON object ({exc.detail})"
        error = {"field": "body", "message": message, "type": "json_invalid"}
        return _json({"detail": f"body: {message}", "errors": [error]}, 422)
    return _json({"detail": exc.detail}, exc.status_code, dict(exc.headers or {}))


def install_handlers(app: FastAPI) -> None:
    """Register the translations above on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RequestRefused, _refused)
    app.add_exception_handler(Unavailable, _refused)
