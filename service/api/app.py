"""The FastAPI application: ``create_app(settings)`` and the ``utrs-api`` console entry."""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from service.api.batches import BatchService
from service.api.http_errors import install_handlers
from service.api.keys import ApiKeys, ExposureRefused, check_exposure
from service.api.middleware import BodyLimit, RequestMetrics
from service.api.routes import evaluate, jobs, openrlhf, ops, testgen
from service.metrics import Metrics
from service.queue.producer import ChunkQueue
from service.queue.redis import api_clients
from service.runtime import tune_gc
from service.settings import Settings, get_settings

__all__ = ["create_app", "main"]

log = logging.getLogger(__name__)



def create_app(settings: Settings) -> FastAPI:
    """Build the app; Redis clients are made (not connected) when it starts serving."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sync, aio = api_clients(settings)
        queue = ChunkQueue(settings, sync, aio)
        app.state.queue = queue
        app.state.batches = BatchService(settings, queue, metrics)
        tune_gc()
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
    app.state.api_keys = ApiKeys(settings)
    install_handlers(app)
    app.include_router(evaluate.router)
    app.include_router(jobs.router)
    app.include_router(testgen.router)
    app.include_router(ops.router)
    app.include_router(openrlhf.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def main(argv: list[str] | None = None) -> int:
    """Console entry ``utrs-api``: serve the app with uvicorn (settings from UTRS_*)."""
    parser = argparse.ArgumentParser(prog="utrs-api", description="Serve the utrs API.")
    parser.add_argument("--host", help="default: UTRS_API_HOST")
    parser.add_argument("--port", type=int, help="default: UTRS_API_PORT")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=args.log_level.upper())
    host = args.host or settings.api_host
    try:
        check_exposure(host, settings)
    except ExposureRefused as exc:
        parser.exit(2, f"utrs-api: {exc}\n")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=args.port or settings.api_port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0
