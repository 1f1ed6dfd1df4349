"""The one place where httpx's errors and HTTP answers become this package's exceptions
(what is worth another attempt is decided in ``client._retry``)."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from client.errors import (
    AuthenticationFailed,
    BadResponse,
    ClientTimeout,
    RequestRejected,
    ServiceUnavailable,
    ServiceUnreachable,
)

M = TypeVar("M", bound=BaseModel)

# "Not now": a full queue (429), the service down (503), a proxy without it (502, 504).
_REFUSED = frozenset({429, 502, 503, 504})
_AUTH = frozenset({401, 403})
_DETAIL_CHARS = 2000


@contextmanager
def translating(url: str, timeout_s: float | None) -> Iterator[None]:
    """Turn httpx's transport errors raised inside the block into ``ClientError``s."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ServiceUnreachable(f"could not connect: {exc!r}", url=url) from exc
    except httpx.TimeoutException as exc:
        raise ClientTimeout(
            f"no answer from {url} within {timeout_s} s", timeout_s=timeout_s
        ) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise ServiceUnreachable(f"connection lost: {exc!r}", url=url) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnreachable(f"request failed: {exc!r}", url=url) from exc


def parse_response(
    response: httpx.Response, model: type[M], *, prepare: Callable[[Any], Any] | None = None
) -> M:
    """The body as ``model`` for a 2xx answer (``prepare`` rewrites the raw JSON first);
    otherwise the matching ``ClientError``."""
    url = str(response.request.url)
    code = response.status_code
    if response.is_success:
        try:
            if prepare is None:
                return model.model_validate_json(response.content)
            return model.model_validate(prepare(json.loads(response.content)))
        except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadResponse(code, f"body is not a {model.__name__}: {exc}", url=url) from exc
    detail = _detail(response)
    if code in _REFUSED:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise ServiceUnavailable(code, detail, url=url, retry_after=retry_after)
    if code in _AUTH:
        raise AuthenticationFailed(code, detail, url=url)
    if 400 <= code < 500:
        raise RequestRejected(code, detail, url=url)
    raise BadResponse(code, detail, url=url)


def _detail(response: httpx.Response) -> str:
    """A readable message: FastAPI's ``detail`` (string or validation-error list)."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:_DETAIL_CHARS] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(_validation_line(entry) for entry in detail)[:_DETAIL_CHARS]
    return str(detail)[:_DETAIL_CHARS]


def _validation_line(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    where = ".".join(str(part) for part in entry.get("loc", ()))
    return f"{where}: {entry.get('msg', '')}" if where else str(entry.get("msg", entry))


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
