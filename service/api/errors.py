"""HTTP translation of every refusal, in one place.

=====================  ======  =========================================================
exception              status  body
=====================  ======  =========================================================
RequestValidationError  422    ``detail`` names the field (``items[0].tests.kind: ...``),
                               ``errors`` lists every problem
InvalidField            422    the field over a server limit / with a bad reward spec
BatchTooLarge           413    (bodies over ``max_body_bytes``: service.api.middleware)
QueueFull               429    ``Retry-After`` header
NoWorkers               503
BackendUnavailable      503    Redis unreachable or failing
JobNotFound             404
=====================  ======  =========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.api.admission import BatchTooLarge, InvalidField
from service.queue_errors import BackendUnavailable, JobNotFound, NoWorkers, QueueFull

__all__ = ["field_path", "install_handlers"]


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


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": field_path(e.get("loc", ())), "message": _message(e), "type": e.get("type")} for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _error(422, f"{first['field']}: {first['message']}{more}", errors=errors)


async def _invalid_field(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidField)
    errors = [{"field": exc.field, "message": exc.message, "type": "server_limit"}]
    return _error(422, str(exc), errors=errors)


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    return _error(413, str(exc))


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueFull)
    response = _error(429, f"queue is full: {exc}; retry later")
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _error(503, f"service unavailable: {exc}")


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _error(404, str(exc))


def install_handlers(app: FastAPI) -> None:
    """Register the translations above on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidField, _invalid_field)
    app.add_exception_handler(BatchTooLarge, _too_large)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(NoWorkers, _unavailable)
    app.add_exception_handler(BackendUnavailable, _unavailable)
    app.add_exception_handler(JobNotFound, _not_found)
