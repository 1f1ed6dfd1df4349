"""Everything the client raises, under one root.

Could not reach the server, the server said no, and a result that carries no reward are
kept apart, because a trainer reacts differently to each::

    ClientError                     root: ``except ClientError`` catches all of them
    ├── InvalidItem                 an item failed local validation; nothing was sent
    ├── ServiceUnreachable          no answer: connect error, broken connection (after
    │                               retries)
    ├── ClientTimeout               an explicit time limit passed (HTTP read timeout,
    │                               ``wait(timeout_s=...)``); also a ``TimeoutError``
    ├── ResponseError               the server answered, and not with results
    │   ├── RequestRejected         4xx: the request is wrong; never retried; ``detail``
    │   │   │                       names the field (422) or the limit (413)
    │   │   └── AuthenticationFailed  401 / 403
    │   ├── ServiceUnavailable      "not now" still, after ``max_retries``: 429 (queue
    │   │                           full), 503 (service down), 502 / 504 (a proxy's)
    │   └── BadResponse             another 5xx, or a body outside the wire contract
    ├── JobFailed                   a job ended in state ``failed``
    └── NotScored                   results with no reward (``infra_error`` after retries,
                                    ``no_tests``); raised by the adapters, which must not
                                    turn them into a reward of 0

httpx's exceptions are translated into these in exactly one place
(``client._http``); callers never see an ``httpx`` exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from client.models import Result

__all__ = [
    "AuthenticationFailed",
    "BadResponse",
    "ClientError",
    "ClientTimeout",
    "InvalidItem",
    "JobFailed",
    "NotScored",
    "RequestRejected",
    "ResponseError",
    "ServiceUnavailable",
    "ServiceUnreachable",
]


class ClientError(Exception):
    """Root of every exception this package raises."""


class InvalidItem(ClientError, ValueError):
    """An item failed validation against the wire models before anything was sent."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"items[{index}]: {message}")
        self.index = index
        self.message = message


class ServiceUnreachable(ClientError):
    """No HTTP answer came back (connection refused or reset), after all retries."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url


class ClientTimeout(ClientError, TimeoutError):
    """An explicit time limit passed before an answer or a finished job."""

    def __init__(self, message: str, *, timeout_s: float | None) -> None:
        super().__init__(message)
        self.timeout_s = timeout_s


class ResponseError(ClientError):
    """The server answered with a status that is not a result."""

    def __init__(self, status_code: int, detail: str, *, url: str) -> None:
        super().__init__(f"HTTP {status_code} from {url}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.url = url


class RequestRejected(ResponseError):
    """A 4xx answer: the request itself is wrong. Retrying cannot help."""


class AuthenticationFailed(RequestRejected):
    """401 (no API key) or 403 (wrong API key)."""


class ServiceUnavailable(ResponseError):
    """429 (queue over its high-water mark), 503 (Redis or workers down), or a proxy's
    502 / 504 (the service behind it unreachable or slow), still refused after
    ``max_retries`` attempts."""

    def __init__(
        self, status_code: int, detail: str, *, url: str, retry_after: float | None = None
    ) -> None:
        super().__init__(status_code, detail, url=url)
        self.retry_after = retry_after


class BadResponse(ResponseError):
    """A 5xx other than 502/503/504, or a body that does not match the wire contract."""


class JobFailed(ClientError):
    """A job reached the ``failed`` state (part of it was lost). ``results`` holds what the
    server reported, lost items as ``infra_error``; resubmit those."""

    def __init__(
        self, job_id: str, detail: str | None, *, results: Sequence[Result] = ()
    ) -> None:
        super().__init__(f"job {job_id} failed: {detail or 'part of the job was lost'}")
        self.job_id = job_id
        self.detail = detail
        self.results = list(results)


class NotScored(ClientError):
    """Some results carry no reward: ``infra_error`` after every retry, or ``no_tests``.

    Adapters raise this instead of inventing a score; ``indices`` are positions in the
    batch, ``statuses`` the matching result statuses.
    """

    def __init__(self, indices: Sequence[int], statuses: Sequence[str], detail: str) -> None:
        shown = ", ".join(f"#{i}={s}" for i, s in list(zip(indices, statuses, strict=True))[:5])
        super().__init__(f"{len(indices)} result(s) without a reward ({shown}): {detail}")
        self.indices = list(indices)
        self.statuses = list(statuses)
        self.detail = detail
