"""Response bodies: built from the wire models, serialised once, the same JSON as the
hand-built dicts they replace (keys, order, values), and valid for the client."""

from __future__ import annotations

import json
from typing import Any

from client.models import EvaluateResponse, JobState, JobStatus, Result, ServerLimits, Stats, Status
from service.api.responses import Readiness, evaluated, job_status, json_response, server_limits
from service.settings import Settings

RESULT: dict[str, Any] = Result(id="a", status=Status.PASS, passed=1, total=1, pass_ratio=1.0,
                                rewards={"coarse": 1.0, "adaptive": None}).model_dump(mode="json")  # fmt: skip
STATS = Stats(cached=1, executed=2, elapsed_ms=3.25)


def _body(response: Any) -> Any:
    assert response.media_type == "application/json"
    return json.loads(response.body)


def test_evaluate_body_is_the_wire_model_over_the_workers_data() -> None:
    results = [RESULT, {**RESULT, "id": "b", "detail": "é ünïcode"}]
    response = json_response(evaluated(results, STATS, "job1"))
    body = _body(response)
    assert list(body) == ["results", "stats", "job_id"]
    assert body == {"results": results, "stats": {"cached": 1, "executed": 2, "elapsed_ms": 3.25}, "job_id": "job1"}
    assert "é ünïcode".encode() in response.body  # UTF-8, not \\u escapes (as before)
    assert EvaluateResponse.model_validate(body).job_id == "job1"


def test_job_status_body_has_the_same_keys_as_before() -> None:
    model = job_status("j", JobState.RUNNING, done=1, total=2, results=[RESULT, None], stats=STATS)
    body = _body(json_response(model, exclude_unset=True))
    assert list(body) == ["job_id", "status", "done", "total", "results", "stats"]
    assert body["status"] == "running" and body["results"] == [RESULT, None]
    assert JobStatus.model_validate(body).status is JobState.RUNNING


def test_limits_and_readiness_bodies() -> None:
    settings = Settings()
    limits = _body(json_response(server_limits(settings)))
    assert limits == {"max_batch": settings.max_batch, "max_body_bytes": settings.max_body_bytes,
                      "max_timeout_s": settings.max_timeout_s, "max_memory_mb": settings.max_memory_mb,
                      "max_output_kb": settings.max_output_kb, "max_cases": settings.max_cases,
                      "max_code_bytes": settings.max_code_bytes, "max_wait_s": settings.max_wait_s}  # fmt: skip
    assert ServerLimits.model_validate(limits).max_batch == settings.max_batch
    down = _body(json_response(Readiness(ready=False, redis=False, workers=0, image=None, problems=["x"])))
    assert down == {"ready": False, "redis": False, "workers": 0, "image": None, "queued_jobs": None,
                    "problems": ["x"]}  # fmt: skip
