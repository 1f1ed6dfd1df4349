"""Typed dependencies of the routes: settings, the batch service, the queue, metrics, the
API-key check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.api.batches import BatchService
from service.api.keys import ApiKeys
from service.errors import AuthenticationFailed, AuthenticationRequired
from service.metrics import Metrics
from service.queue.dispatch import tenant_of
from service.queue.producer import ChunkQueue
from service.settings import Settings

__all__ = [
    "BatchesDep",
    "IdempotencyHeader",
    "MetricsDep",
    "PathTenantDep",
    "QueueDep",
    "SettingsDep",
    "TenantDep",
    "require_api_key",
]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <api key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <api key>")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _batches(request: Request) -> BatchService:
    batches: BatchService = request.app.state.batches
    return batches


def _queue(request: Request) -> ChunkQueue:
    queue: ChunkQueue = request.app.state.queue
    return queue


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
BatchesDep = Annotated[BatchService, Depends(_batches)]
QueueDep = Annotated[ChunkQueue, Depends(_queue)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.api_keys
    return keys


def require_api_key(
    keys: Annotated[ApiKeys, Depends(_keys)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str:
    """Open when no keys are configured; else the request must carry one of them. Returns
    the request's tenant (its key's digest, ``anon`` when open): whose turn and quota.

    Raises:
        AuthenticationRequired: no key given (401).
        AuthenticationFailed: a key that is not configured (403).
    """
    return _tenant(keys, bearer.credentials if bearer is not None else header)


def _tenant(keys: ApiKeys, given: str | None) -> str:
    if not keys.configured:
        return tenant_of(None)
    if not given:
        raise AuthenticationRequired()
    if not keys.accepts(given):
        raise AuthenticationFailed()
    return tenant_of(given)


def require_path_key(keys: Annotated[ApiKeys, Depends(_keys)], api_key: str) -> str:
    """As :func:`require_api_key`, for the key in the URL path (``/k/{api_key}/...``) of
    callers that cannot send headers (OpenRLHF's HTTP reward mode).

    Raises:
        AuthenticationFailed: a key that is not configured (403).
    """
    return _tenant(keys, api_key)


TenantDep = Annotated[str, Depends(require_api_key)]
PathTenantDep = Annotated[str, Depends(require_path_key)]
#: ``Idempotency-Key`` of a job's POST: a retry with the same key answers the same job.
IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]
