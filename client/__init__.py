"""Python client for the unit-test execution and reward service.

>>> from client import RewardClient
>>> with RewardClient("http://127.0.0.1:8000") as client:
...     results = client.evaluate(items)

The wire models (``Item``, ``Result``, ...) are defined here once and imported by the
service. Builders for benchmark formats live in ``client.builders``; trainer adapters
in ``client.adapters``; char-span -> token-span helpers (``token_span``, ``alpha``) in
``client.spans``; ``feedback_text(result, item)`` renders a result as the message a model
can act on (multi-turn repair).
"""

from client.async_client import AsyncRewardClient
from client.client import RewardClient
from client.errors import (
    AuthenticationFailed,
    BadResponse,
    ClientError,
    ClientTimeout,
    InvalidItem,
    JobFailed,
    NotScored,
    RequestRejected,
    ResponseError,
    ServiceUnavailable,
    ServiceUnreachable,
)
from client.feedback import feedback_text
from client.models import *  # noqa: F403
from client.models import __all__ as _models_all
from client.spans import alpha, fine_token_span, token_span

__all__ = [
    *_models_all,
    "AsyncRewardClient",
    "AuthenticationFailed",
    "BadResponse",
    "ClientError",
    "ClientTimeout",
    "InvalidItem",
    "JobFailed",
    "NotScored",
    "RequestRejected",
    "ResponseError",
    "RewardClient",
    "ServiceUnavailable",
    "ServiceUnreachable",
    "alpha",
    "feedback_text",
    "fine_token_span",
    "token_span",
]
