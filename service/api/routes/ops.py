"""Operations: GET /healthz (process up), /readyz (can evaluate), /metrics (Prometheus),
/v1/limits (what a request may ask for; clients size their chunks by it)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from client.models import ServerLimits
from service.api.deps import MetricsDep, QueueDep, SettingsDep
from service.api.responses import Readiness, json_response, server_limits
from service.errors import BackendUnavailable
from service.metrics import CONTENT_TYPE, parse_stats
from service.queue.redis import translate_redis_errors

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about Redis or workers)."""
    return {"status": "ok"}


@router.get("/v1/limits", response_model=ServerLimits)
async def limits(settings: SettingsDep) -> Response:
    """The server's request limits (a request over one gets a 413 or a 422 naming it)."""
    return json_response(server_limits(settings))


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(queue: QueueDep) -> Response:
    """200 when Redis answers and at least one worker (with its sandbox image) is live."""
    problems: list[str] = []
    try:
        probe = await queue.probe()
    except BackendUnavailable as exc:
        body = Readiness(ready=False, redis=False, workers=0, image=None, problems=[str(exc)])
        return json_response(body, status_code=503)
    if not probe.workers:
        problems.append("no live worker (start utrs-worker)")
    if probe.image is None:
        problems.append("no worker has reported a sandbox image")
    body = Readiness(
        ready=not problems,
        redis=True,
        workers=probe.workers,
        image=probe.image,
        queued_jobs=probe.queued_jobs,
        problems=problems,
    )
    return json_response(body, status_code=200 if body.ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(queue: QueueDep, registry: MetricsDep) -> Response:
    """Prometheus text: this API's counters plus the cluster's (queue, workers)."""
    try:
        probe = await queue.probe()
        with translate_redis_errors("reading stats"):
            stats = parse_stats(await queue.aio.hgetall(queue.keys.stats))
        registry.cluster.update(queue_jobs=probe.queued_jobs, workers=probe.workers, stats=stats)
    except BackendUnavailable:
        registry.cluster.update(queue_jobs=0, workers=0, stats=registry.cluster.counters)
    return Response(content=registry.render(), media_type=CONTENT_TYPE)
