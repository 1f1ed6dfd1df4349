"""The FastAPI application: ``create_app(settings)`` and the ``utrs-api`` console entry."""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
import uvicorn
from fastapi import Depends, FastAPI

from service.api.batches import BatchService
from service.api.deps import require_api_key
from service.api.errors import install_handlers
from service.api.middleware import BodyLimit, RequestMetrics
from service.api.routes import evaluate, ops
from service.budgets import REDIS_COMMAND_TIMEOUT_S, REDIS_CONNECT_TIMEOUT_S
from service.metrics import Metrics
from service.queue import ChunkQueue
from service.settings import Settings, get_settings

__all__ = ["create_app", "main"]

log = logging.getLogger(__name__)

# Fail fast when Redis is down (a 503 beats a hang); no socket timeout on the async
# client, whose BLPOP waits block by design.


def _clients(settings: Settings) -> tuple[redis.Redis, aioredis.Redis]:
    sync = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_COMMAND_TIMEOUT_S,
    )
    aio = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=None
    )
    return sync, aio


def create_app(settings: Settings) -> FastAPI:
    """Build the app; Redis clients are made (not connected) when it starts serving."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sync, aio = _clients(settings)
        queue = ChunkQueue(settings, sync, aio)
        app.state.queue = queue
        app.state.batches = BatchService(settings, queue, metrics)
        try:
            yield
        finally:
            await aio.aclose()
            sync.close()

    app = FastAPI(
        title="utrs",
        summary="Unit-test execution and rewards for online RL of code models",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_handlers(app)
    app.include_router(evaluate.router)
    app.include_router(ops.router)
    _include_optional_routers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _include_optional_routers(app: FastAPI) -> None:
    """Routers of optional integrations, when their module is part of the install."""
    try:
        module = importlib.import_module("service.routes_openrlhf")
    except ModuleNotFoundError as exc:  # only a missing module is optional, not its errors
        if exc.name != "service.routes_openrlhf":
            raise
        return
    app.include_router(module.router, dependencies=[Depends(require_api_key)])


def main(argv: list[str] | None = None) -> int:
    """Console entry ``utrs-api``: serve the app with uvicorn (settings from UTRS_*)."""
    parser = argparse.ArgumentParser(prog="utrs-api", description="Serve the utrs API.")
    parser.add_argument("--host", help="default: UTRS_API_HOST")
    parser.add_argument("--port", type=int, help="default: UTRS_API_PORT")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=args.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0
