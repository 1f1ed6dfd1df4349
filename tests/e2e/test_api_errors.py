"""Every refusal over real HTTP: 422 (field named), 413, 401/403, 429 + Retry-After,
503 (no worker, no Redis), and infra_error with a detail when a batch outlives wait_s.

Each test serves the small app variant it needs (real uvicorn, in a thread) on the live
stack's Redis; where it needs a worker it shares the stack's queue and worker.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
import redis

from service.settings import Settings
from tests.support.stack import Stack, serve_app
from tests.support.waiting import free_port

Json = dict[str, Any]


def _item(code: str = "x = 1\n", **fields: Any) -> Json:
    return {"code": code, "tests": {"kind": "assert", "cases": [{"code": "assert x == 1"}]}, **fields}


@pytest.fixture(scope="module")
def http(live_service: str) -> httpx.Client:
    return httpx.Client(base_url=live_service, timeout=60)


def _detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"code": "x", "tests": {"kind": "bogus", "cases": []}}]}, "items[0].tests.kind"),
        ({"items": [{"tests": {"kind": "assert", "cases": []}}]}, "items[0].code"),
        ({"items": [_item(), _item(limits={"timeout_s": -1})]}, "items[1].limits.timeout_s"),
        ({"items": [_item(colour="red")]}, "items[0].colour"),
        ({"items": []}, "items"),
        ({"items": [{"code": "x", "tests": {"kind": "assert", "cases": [{"input": "1"}]}}]},
         "items[0].tests"),
    ],
)  # fmt: skip
def test_malformed_bodies_are_422_naming_the_field(http: httpx.Client, body: Json, field: str) -> None:
    response = http.post("/v1/evaluate", json=body)
    assert response.status_code == 422
    assert _detail(response).startswith(field), _detail(response)
    assert response.json()["errors"][0]["field"] == field


def test_invalid_json_is_422(http: httpx.Client) -> None:
    response = http.post("/v1/evaluate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_server_limits_and_reward_specs_are_422_naming_the_field(http: httpx.Client) -> None:
    over = http.post("/v1/evaluate", json={"items": [_item(), _item(limits={"timeout_s": 999})]})
    assert over.status_code == 422 and _detail(over).startswith("items[1].limits.timeout_s")
    reward = http.post("/v1/jobs", json={"items": [_item(reward={"scheme": "no-such-scheme"})]})
    assert reward.status_code == 422 and _detail(reward).startswith("items[0].reward")


def test_an_item_that_alone_may_outlast_max_wait_s_is_422_naming_the_limit(http: httpx.Client) -> None:
    cases = [{"code": "assert x == 1"}] * 60  # 61 x (30 s x 2 + 2 s) + 5 s: over an hour
    heavy = _item(limits={"timeout_s": 30}, tests={"kind": "assert", "cases": cases})
    response = http.post("/v1/evaluate", json={"items": [_item(), heavy]})
    assert response.status_code == 422
    assert _detail(response).startswith("items[1].limits.timeout_s") and "max_wait_s=" in _detail(response)
    assert response.json()["errors"][0]["field"] == "items[1].limits.timeout_s"


def test_body_and_batch_limits_are_413(live_stack: Stack) -> None:
    settings = live_stack.settings.model_copy(update={"max_body_bytes": 4096, "max_batch": 3})
    with serve_app(settings) as url:
        big = httpx.post(f"{url}/v1/evaluate", json={"items": [_item("#" * 5000)]})
        assert big.status_code == 413
        chunked = httpx.post(
            f"{url}/v1/evaluate",
            content=iter([b'{"items": [', b" " * 5000, b"]}"]),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413  # no Content-Length: counted while streaming
        many = httpx.post(f"{url}/v1/evaluate", json={"items": [_item()] * 4})
        assert many.status_code == 413 and "at most 3" in _detail(many)
        assert httpx.post(f"{url}/v1/evaluate", json={"items": [_item()] * 3}).status_code == 200


def test_api_keys_401_without_403_wrong_200_right(live_stack: Stack) -> None:
    settings = live_stack.settings.model_copy(update={"api_keys": ["k1", "k2"]})
    body = {"items": [_item()]}
    with serve_app(settings) as url:
        missing = httpx.post(f"{url}/v1/evaluate", json=body)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = httpx.post(f"{url}/v1/evaluate", json=body, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 403
        bearer = httpx.post(f"{url}/v1/evaluate", json=body, headers={"Authorization": "Bearer k2"})
        assert bearer.status_code == 200, bearer.text
        header = httpx.get(f"{url}/v1/jobs/x", headers={"X-API-Key": "k1"})
        assert header.status_code == 404  # authorised, then unknown
        assert httpx.get(f"{url}/healthz").status_code == 200  # operations stay open


def test_queue_over_high_water_mark_is_429_with_retry_after(live_stack: Stack) -> None:
    """A queue nobody consumes (one registered worker that never dequeues) fills up."""
    tag = uuid.uuid4().hex[:8]
    settings = live_stack.settings.model_copy(
        update={"queue_name": f"full-{tag}", "key_prefix": f"full-{tag}", "chunk_size": 2,
                "max_batch": 4, "queue_high_water": 8, "retry_after_s": 7}
    )  # fmt: skip
    conn = redis.Redis.from_url(live_stack.redis_url)
    conn.zadd(f"full-{tag}:workers", {"idle-worker": time.time()})
    with serve_app(settings) as url:
        for n in range(2):
            body = {"items": [_item(f"x = 1  # {tag} {n} {i}\n") for i in range(4)]}
            assert httpx.post(f"{url}/v1/jobs", json=body).status_code == 202
        body = {"items": [_item(f"x = 1  # {tag} more\n")]}
        refused = httpx.post(f"{url}/v1/evaluate", json=body)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "7"
    conn.delete(f"rq:queue:full-{tag}")


def test_no_live_worker_is_503(live_stack: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = live_stack.settings.model_copy(update={"queue_name": f"idle-{tag}", "key_prefix": f"idle-{tag}"})
    with serve_app(settings) as url:
        response = httpx.post(f"{url}/v1/evaluate", json={"items": [_item()]})
        assert response.status_code == 503 and "worker" in _detail(response)
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503 and ready.json()["workers"] == 0


def test_redis_down_is_503_quickly() -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with serve_app(settings) as url:
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/evaluate", json={"items": [_item()]}, timeout=30)
        assert response.status_code == 503 and "redis" in _detail(response).lower()
        assert time.monotonic() - started < 5
        assert httpx.get(f"{url}/readyz").json()["redis"] is False
        assert httpx.get(f"{url}/v1/jobs/x").status_code == 503
        assert httpx.get(f"{url}/metrics").status_code == 200


def test_items_not_finished_within_wait_s_are_pending_with_detail(
    http: httpx.Client,
) -> None:
    tag = uuid.uuid4().hex
    body = {
        "items": [_item(f"import time\ntime.sleep(1.5)\nx = 1  # {tag}\n", id="slow")],
        "wait_s": 0.3,
    }
    response = http.post("/v1/evaluate", json=body)
    assert response.status_code == 200
    answer = response.json()
    result = answer["results"][0]
    assert result["status"] == "pending" and result["id"] == "slow" and result["rewards"] == {}
    assert "wait_s=0.3" in result["detail"] and answer["job_id"] in result["detail"]
    deadline = time.monotonic() + 30  # the batch kept running: its job finishes
    while time.monotonic() < deadline:
        state = http.get(f"/v1/jobs/{answer['job_id']}").json()
        if state["status"] == "done":
            break
        time.sleep(0.1)
    assert state["status"] == "done" and state["results"][0]["status"] == "pass"
