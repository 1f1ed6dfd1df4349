"""Every exception the service raises, under one root.

Infrastructure failures are exceptions; program outcomes are data (see
``client.models.TestStatus``), never exceptions. "The request is wrong" is kept apart from
"the service cannot do it now", and both from "the sandbox could not judge"::

    ServiceError                      root: never a program's verdict
    ├── RequestRefused                the request is wrong as sent; retrying cannot help (4xx)
    │   ├── UnprocessableRequest      it parses but cannot be processed (422)
    │   │   └── InvalidField          a field outside what this server accepts (422; ``field``)
    │   ├── BatchTooLarge             more items than ``max_batch`` (413)
    │   ├── BodyTooLarge              a body over ``max_body_bytes`` (413)
    │   ├── AuthenticationRequired    API keys are configured and none was given (401)
    │   ├── AuthenticationFailed      the API key is not valid (403)
    │   └── JobNotFound               no batch with that id: never made, or expired (404)
    ├── Unavailable                   the service cannot take or finish the work now (retry)
    │   ├── QueueFull                 queued programs over the high-water mark (429)
    │   │   ├── QuotaExceeded         one API key's programs in flight over its quota (429)
    │   │   └── StorageFull           Redis' memory near its maxmemory (429: results must expire)
    │   ├── NoWorkers                 no live worker is registered (503)
    │   ├── NotJudged                 items came back ``infra_error`` where a reward is due (503)
    │   └── BackendUnavailable        Redis could not be reached or failed a command (503)
    │       ├── ConnectionLost        the connection dropped (a waiter may reconnect)
    │       └── RedisFull             Redis refused a write: out of memory (noeviction)
    └── SandboxError                  the sandbox could not judge (becomes ``infra_error``)
        ├── SandboxUnavailable        no Docker engine, no sandbox image, or no pool installed
        ├── ContainerStartError       a container would not start or answer its first ping
        └── AgentError                a running agent broke (``container`` names it)
            ├── AgentDied             its stream closed (the agent or its container died)
            ├── AgentTimeout          no answer within the item's budget
            └── AgentProtocolError    it answered something we cannot read

Foreign errors are translated into these in exactly one module each: Redis' in
:mod:`service.queue.redis`, the Docker SDK's in :mod:`service.sandbox.docker`. The HTTP
status of each is decided in exactly one place, :mod:`service.api.http_errors`.
"""

from __future__ import annotations

__all__ = [
    "AgentDied",
    "AgentError",
    "AgentProtocolError",
    "AgentTimeout",
    "AuthenticationFailed",
    "AuthenticationRequired",
    "BackendUnavailable",
    "BatchTooLarge",
    "BodyTooLarge",
    "ConnectionLost",
    "ContainerStartError",
    "InvalidField",
    "JobNotFound",
    "NoWorkers",
    "NotJudged",
    "QueueFull",
    "QuotaExceeded",
    "RedisFull",
    "RequestRefused",
    "SandboxError",
    "SandboxUnavailable",
    "ServiceError",
    "StorageFull",
    "Unavailable",
    "UnprocessableRequest",
]


class ServiceError(Exception):
    """Root of the service's exceptions."""


# --------------------------------------------------------------------- refusals
class RequestRefused(ServiceError):
    """The request is wrong as sent; the same request will be refused again."""


class UnprocessableRequest(RequestRefused):
    """The body parses, but what it asks for cannot be processed."""


class InvalidField(UnprocessableRequest, ValueError):
    """A field is outside what this server accepts; ``field`` names it
    (``items[3].limits.timeout_s``), ``message`` says why."""

    def __init__(self, field: str, message: str, *, kind: str = "server_limit") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.kind = kind  # the ``type`` of its entry in a 422's ``errors``


class BatchTooLarge(RequestRefused):
    """More items than ``max_batch``."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"items: {count} items; at most {limit} per request")
        self.count = count
        self.limit = limit


class BodyTooLarge(RequestRefused):
    """A request body over ``max_body_bytes``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is over the limit of {limit} bytes")
        self.limit = limit


class AuthenticationRequired(RequestRefused):
    """API keys are configured and the request carries none."""

    def __init__(self) -> None:
        super().__init__("an API key is required (Authorization: Bearer <key> or X-API-Key)")


class AuthenticationFailed(RequestRefused):
    """The request's API key is not one of the configured keys."""

    def __init__(self) -> None:
        super().__init__("the API key is not valid")


class JobNotFound(RequestRefused):
    """The batch id is unknown (never made, or its results expired)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} (unknown or expired)")
        self.job_id = job_id


# ------------------------------------------------------------------ unavailable
class Unavailable(ServiceError):
    """The service cannot take or finish the work now; the same request may succeed later."""


class QueueFull(Unavailable):
    """Admitting the batch would put the queue over its high-water mark."""

    def __init__(self, *, queued: int, high_water: int, retry_after_s: int) -> None:
        super().__init__(f"{queued} programs queued; high-water mark is {high_water}")
        self.queued = queued
        self.high_water = high_water
        self.retry_after_s = retry_after_s


class QuotaExceeded(QueueFull):
    """Admitting the batch would put one API key's programs in flight over its quota
    (``tenant_max_inflight``)."""

    def __str__(self) -> str:
        return (
            f"{self.queued} programs of this API key in flight; its quota "
            f"(UTRS_TENANT_MAX_INFLIGHT) is {self.high_water}"
        )


class StorageFull(QueueFull):
    """Redis' memory is over ``redis_memory_high_water`` of its ``maxmemory``: new work is
    refused before Redis refuses writes, so the work in flight can still publish."""

    def __str__(self) -> str:
        return (
            f"Redis memory at {self.queued}% of its maxmemory; the API admits work up to "
            f"{self.high_water}% (UTRS_REDIS_MEMORY_HIGH_WATER) while older results expire"
        )


class NoWorkers(Unavailable):
    """No worker has sent a heartbeat recently, so nothing would run the batch."""

    def __init__(self) -> None:
        super().__init__("no live worker is registered")


class NotJudged(Unavailable):
    """Some items could not be judged (``infra_error``) where the caller needs a reward for
    each (the OpenRLHF route); ``indices`` are their positions."""

    def __init__(self, indices: list[int], *, retry_after_s: int = 1) -> None:
        super().__init__(f"{len(indices)} item(s) could not be judged (first: #{indices[0]}); retry")
        self.indices = indices
        self.retry_after_s = retry_after_s


class BackendUnavailable(Unavailable):
    """Redis could not be reached, or failed a command."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConnectionLost(BackendUnavailable):
    """The connection to Redis dropped or timed out (Redis restarting, a network blip)."""


class RedisFull(BackendUnavailable):
    """Redis refused a write because it is at its ``maxmemory`` (policy ``noeviction``)."""


# ---------------------------------------------------------------------- sandbox
class SandboxError(ServiceError):
    """The sandbox could not judge a program."""


class SandboxUnavailable(SandboxError):
    """No Docker engine, the sandbox image is missing, or no pool is installed."""


class ContainerStartError(SandboxError):
    """A sandbox container would not start or did not answer its first ping."""


class AgentError(SandboxError):
    """A running agent broke. ``container`` names the container."""

    def __init__(self, message: str, *, container: str = "") -> None:
        super().__init__(message)
        self.container = container


class AgentDied(AgentError):
    """The agent's stream closed: the agent or its container died."""


class AgentTimeout(AgentError):
    """The agent gave no answer within the request's time budget."""


class AgentProtocolError(AgentError):
    """The agent answered something that is not a valid response."""
