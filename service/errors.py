"""Exceptions of the service. Infrastructure failures are exceptions; program outcomes
are data (see ``client.models.TestStatus``), never exceptions.

    ServiceError
    ├── SandboxError                  the sandbox could not judge (becomes infra_error)
    │   ├── SandboxUnavailable        no Docker engine, or the sandbox image is missing
    │   ├── ContainerStartError       a container would not start or answer its ping
    │   └── AgentError                a running agent broke
    │       ├── AgentDied             its stream closed (the agent or container died)
    │       ├── AgentTimeout          no answer within the request's budget
    │       └── AgentProtocolError    it answered something we cannot read
    └── InputError                    a request the service refuses (becomes 4xx)
"""

from __future__ import annotations


class ServiceError(Exception):
    """Root of the service's exceptions."""


class SandboxError(ServiceError):
    """The sandbox could not judge a program."""


class SandboxUnavailable(SandboxError):
    """No Docker engine, or the sandbox image is missing."""


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


class InputError(ServiceError):
    """A request the service refuses; ``field`` names the offending field."""

    def __init__(self, reason: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
