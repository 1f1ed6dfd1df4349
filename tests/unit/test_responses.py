"""Response bodies: result lines spliced into the shape of the wire models (keys in
order, values as the workers wrote them, each item's id and cached flag), valid for the
client's parser; the other bodies from the wire models, serialised once."""

from __future__ import annotations

import json
from typing import Any

from client.models import EvaluateResponse, JobState, JobStatus, Result, ServerLimits, Stats, Status
from service.api.responses import Answer, Readiness, job_body, json_response, raw_json, server_limits
from service.queue.lines import patch, served_line
from service.settings import Settings

RESULT: dict[str, Any] = Result(id="a", status=Status.PASS, passed=1, total=1, pass_ratio=1.0,
                                rewards={"coarse": 1.0, "adaptive": None}).model_dump(mode="json")  # fmt: skip
STATS = Stats(cached=1, executed=2, elapsed_ms=3.25)


def _body(response: Any) -> Any:
    assert response.media_type == "application/json"
    return json.loads(response.body)


def _line(**fields: Any) -> bytes:
    return served_line(Result.model_validate({**RESULT, **fields}))


def test_evaluate_body_is_the_wire_model_over_the_workers_lines() -> None:
    lines = [patch(_line(), item_id="a", cached=False), patch(_line(detail="é ünïcode"), item_id="b", cached=True)]
    response = raw_json(Answer(lines, STATS, "job1").body())
    body = _body(response)
    assert list(body) == ["results", "stats", "job_id"]
    assert body["results"] == [RESULT, {**RESULT, "id": "b", "detail": "é ünïcode", "cached": True}]
    assert body["stats"] == {"cached": 1, "executed": 2, "elapsed_ms": 3.25} and body["job_id"] == "job1"
    assert "é ünïcode".encode() in response.body  # UTF-8, not \\u escapes
    assert EvaluateResponse.model_validate_json(response.body).results[1].cached is True


def test_patch_writes_the_id_and_the_flag_and_keeps_the_rest() -> None:
    tricky = _line(detail='a ,"cached":false, b', rewards={"cached": 1.0})
    out = json.loads(patch(tricky, item_id='q"uote', cached=True))
    assert out["id"] == 'q"uote' and out["cached"] is True
    assert out["detail"] == 'a ,"cached":false, b' and out["rewards"] == {"cached": 1.0}
    assert json.loads(patch(tricky, item_id=None, cached=True, repaired=["items[0].code"]))["surrogates_replaced"] == [
        "items[0].code"
    ]


def test_job_status_body_has_the_same_keys_as_before() -> None:
    lines = [patch(_line(), item_id="a", cached=False), None]
    body = _body(raw_json(job_body("j", JobState.RUNNING, done=1, total=2, results=lines, stats=STATS)))
    assert list(body) == ["job_id", "status", "done", "total", "stats", "results"]
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
