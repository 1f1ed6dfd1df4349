"""Pure parts of the client: public surface, error translation, retry policy, batching,
job-state reading; the retry, idempotency and pending loops against a scripted transport
(httpx's MockTransport). No server (the live tests are in test_client_live.py)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import threading
import time
from typing import Any

import httpx
import pytest

import client
from client import _batch
from client._http import parse_response, translating
from client._options import Options, job_outcome
from client._retry import RetryPolicy, retryable
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
from client.models import EvaluateResponse, JobStatus, Result, Status

URL = "http://utrs.test/v1/evaluate"


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", URL)
    if body is None:
        return httpx.Response(status, request=request, headers=headers)
    return httpx.Response(status, json=body, request=request, headers=headers)


def test_public_surface_is_curated() -> None:
    public = set(client.__all__)
    assert {
        "RewardClient", "AsyncRewardClient", "Item", "Result", "ClientError",
        "RequestRejected", "ServiceUnavailable", "JobStatus",
    } <= public
    assert len(client.__all__) == len(public)
    assert all(hasattr(client, name) for name in public)
    assert not {name for name in public if name.startswith("_")}
    assert not {"httpx", "pydantic", "RetryPolicy", "Options"} & public


def test_every_error_descends_from_client_error_as_drawn() -> None:
    assert issubclass(RequestRejected, ResponseError)
    assert issubclass(AuthenticationFailed, RequestRejected)
    assert issubclass(ServiceUnavailable, ResponseError)
    assert issubclass(BadResponse, ResponseError)
    assert issubclass(ClientTimeout, TimeoutError)
    assert not issubclass(ServiceUnreachable, ResponseError)  # no answer != an answer
    for cls in (InvalidItem, ServiceUnreachable, ClientTimeout, ResponseError, JobFailed,
                NotScored):
        assert issubclass(cls, ClientError)
        assert cls.__name__ in (client.errors.__doc__ or "")


def test_success_body_is_parsed() -> None:
    body = {"results": [{"status": "pass", "passed": 1, "total": 1}], "stats": {}}
    parsed = parse_response(answer(200, body), EvaluateResponse)
    assert parsed.results[0].status is Status.PASS


def test_success_outside_the_contract_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="not a EvaluateResponse"):
        parse_response(answer(200, {"results": [{"status": "great"}]}), EvaluateResponse)


def test_422_names_the_field() -> None:
    detail = [{"loc": ["body", "items", 0, "tests"], "msg": "Field required", "type": "x"}]
    with pytest.raises(RequestRejected) as caught:
        parse_response(answer(422, {"detail": detail}), EvaluateResponse)
    assert caught.value.status_code == 422
    assert caught.value.detail == "body.items.0.tests: Field required"
    assert not retryable(caught.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationFailed), (403, AuthenticationFailed), (413, RequestRejected),
     (404, RequestRejected), (409, RequestRejected), (500, BadResponse), (501, BadResponse)],
)
def test_status_codes_map_to_errors(status: int, cls: type[ClientError]) -> None:
    with pytest.raises(cls) as caught:
        parse_response(answer(status, {"detail": "no"}), EvaluateResponse)
    assert type(caught.value) is cls
    assert not retryable(caught.value)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_not_now_answers_are_service_unavailable_and_retryable(status: int) -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        parse_response(answer(status, None), EvaluateResponse)
    assert caught.value.status_code == status
    assert retryable(caught.value)


def test_429_and_503_are_retryable_and_carry_retry_after() -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        parse_response(answer(429, {"detail": "busy"}, **{"Retry-After": "7"}), EvaluateResponse)
    assert caught.value.retry_after == 7.0
    assert retryable(caught.value)
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    with pytest.raises(ServiceUnavailable) as caught:
        parse_response(answer(503, None, **{"Retry-After": soon}), EvaluateResponse)
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 31


def test_non_json_error_body_is_kept_readable() -> None:
    response = httpx.Response(502, text="Bad gateway", request=httpx.Request("GET", URL))
    with pytest.raises(ServiceUnavailable, match="Bad gateway"):
        parse_response(response, EvaluateResponse)


@pytest.mark.parametrize(
    ("raised", "cls"),
    [(httpx.ConnectError("refused"), ServiceUnreachable),
     (httpx.ReadError("reset"), ServiceUnreachable),
     (httpx.RemoteProtocolError("eof"), ServiceUnreachable),
     (httpx.ConnectTimeout("slow"), ServiceUnreachable),
     (httpx.ReadTimeout("slow"), ClientTimeout)],
)
def test_transport_errors_are_translated(raised: Exception, cls: type[ClientError]) -> None:
    with pytest.raises(cls) as caught, translating(URL, 5.0):
        raise raised
    assert caught.value.__cause__ is raised


def test_backoff_grows_with_jitter_and_retry_after_wins() -> None:
    policy = RetryPolicy(max_retries=5, base_s=0.5, cap_s=4.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 4.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1
    assert 3.0 <= policy.delay(0, retry_after=3.0) <= 4.0
    assert policy.delay(0, retry_after=10_000) <= policy.max_retry_after_s + 1


def test_items_are_validated_locally_and_sent_without_unset_fields() -> None:
    payloads = _batch.to_payloads([
        client.Item(code="x", tests=client.Tests(kind="assert", cases=[client.Case(code="1")])),
        {"code": "y", "tests": {"kind": "stdio", "cases": [{"input": "", "output": "1"}]}},
    ])
    assert payloads[0] == {"code": "x", "tests": {"kind": "assert", "cases": [{"code": "1"}]}}
    assert payloads[1]["tests"]["cases"] == [{"input": "", "output": "1"}]
    with pytest.raises(InvalidItem, match=r"items\[1\]: tests: Field required"):
        _batch.to_payloads([payloads[0], {"code": "z"}])


def test_chunks_cover_every_item_once_in_order() -> None:
    assert _batch.chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert _batch.chunk_bounds(4, 4) == [(0, 4)]
    assert _batch.chunk_bounds(0, 4) == []
    with pytest.raises(ValueError):
        _batch.chunk_bounds(3, 0)


def test_unjudged_results_are_merged_back_in_place() -> None:
    results = [Result(status=s) for s in ("pass", "infra_error", "error", "infra_error")]
    todo = _batch.unjudged(results)
    assert todo == [1, 3]
    _batch.merge(results, todo, [Result(status="failure"), Result(status="infra_error")])
    assert [r.status for r in results] == ["pass", "failure", "error", "infra_error"]


def test_options_are_checked_and_timeouts_nest() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Options.build("http://x", api_key=None, timeout_s=1, max_batch=None, concurrency=0,
                      progress=False)
    with pytest.raises(ValueError, match="max_batch"):
        Options.build("http://x", api_key=None, timeout_s=1, max_batch=0, concurrency=1,
                      progress=False)
    options = Options.build("http://x/", api_key="k", timeout_s=9, max_batch=None,
                            concurrency=1, progress=False)
    assert options.base_url == "http://x"
    assert options.headers()["Authorization"] == "Bearer k"
    with pytest.raises(ValueError, match="wait_s"):
        _batch.server_wait(10.0, 10.0)
    assert _batch.server_wait(10.0, 9.0) == 9.0
    assert _batch.server_wait(300.0, None) == 270.0
    assert _batch.server_wait(2.0, None) == 1.0


def test_job_states_are_read_in_order() -> None:
    running = JobStatus(status="running", done=1, total=2, results=[Result(status="pass")])
    assert job_outcome("j", running, 0) == ([Result(status="pass")], False)
    assert job_outcome("j", JobStatus(status="queued", total=2), 0) == ([], False)
    done = JobStatus(status="done", done=2, total=2,
                     results=[Result(status="pass"), Result(status="error")])
    fresh, finished = job_outcome("j", done, 1)
    assert finished
    assert [r.status for r in fresh] == ["error"]
    with pytest.raises(JobFailed, match="boom") as caught:
        job_outcome("j", JobStatus(status="failed", detail="boom",
                                   results=[Result(status="infra_error"), None]), 0)
    assert [r.status for r in caught.value.results] == ["infra_error"]
    with pytest.raises(BadResponse, match="1 results for 2 items"):
        job_outcome("j", JobStatus(status="done", total=2, results=[Result(status="pass")]), 0)


def test_job_results_come_out_in_order_with_gaps_held_back() -> None:
    first, second, third = (Result(status="pass", id=str(i)) for i in range(3))
    running = JobStatus(status="running", done=2, total=3, results=[first, None, third])
    assert job_outcome("j", running, 0) == ([first], False)
    assert job_outcome("j", running, 1) == ([], False)
    done = JobStatus(status="done", done=3, total=3, results=[first, second, third])
    assert job_outcome("j", done, 1) == ([second, third], True)


def test_evaluate_refuses_a_wait_longer_than_the_client_timeout() -> None:
    with client.RewardClient("http://127.0.0.1:9", timeout_s=5) as rc, \
            pytest.raises(ValueError, match="wait_s"):
        rc.evaluate([], wait_s=10)


def test_unreachable_server_raises_after_retries() -> None:
    with client.RewardClient("http://127.0.0.1:9", max_retries=1, max_batch=10) as rc:
        items = [{"code": "x", "tests": {"kind": "assert", "cases": [{"code": "1"}]}}]
        with pytest.raises(ServiceUnreachable, match=r"127\.0\.0\.1:9"):
            rc.evaluate(items)


# --- the retry loop, driven by a scripted transport (the live tests use the real server)


def scripted(handler: Any, **kwargs: Any) -> client.RewardClient:
    http = httpx.Client(base_url="http://utrs.test", transport=httpx.MockTransport(handler))
    return client.RewardClient("http://utrs.test", http=http, **kwargs)


def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Make backoff instant; record the Retry-After each delay was asked to honour."""
    asked: list[float | None] = []

    def delay(self: RetryPolicy, attempt: int, retry_after: float | None = None) -> float:
        asked.append(retry_after)
        return 0.0

    monkeypatch.setattr(RetryPolicy, "delay", delay)
    return asked


def case(i: str) -> dict[str, Any]:
    return {"id": i, "code": "x", "tests": {"kind": "assert", "cases": [{"code": "1"}]}}


def test_infra_error_items_are_resent_alone_until_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sleep(monkeypatch)
    sent: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [i["id"] for i in json.loads(request.content)["items"]]
        sent.append(ids)
        status = {i: "infra_error" if i == "b" and len(sent) < 3 else "pass" for i in ids}
        return httpx.Response(200, json={"results": [{"id": i, "status": status[i]} for i in ids]})

    with scripted(handler, max_batch=10) as rc:
        results = rc.evaluate([case("a"), case("b"), case("c")])
    assert [(r.id, r.status) for r in results] == [("a", "pass"), ("b", "pass"), ("c", "pass")]
    assert sent == [["a", "b", "c"], ["b"], ["b"]]


def test_infra_error_left_after_max_retries_is_returned_not_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_sleep(monkeypatch)

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [i["id"] for i in json.loads(request.content)["items"]]
        return httpx.Response(200, json={"results": [
            {"id": i, "status": "infra_error", "detail": "sandbox lost"} for i in ids]})

    with scripted(handler, max_batch=10, max_retries=2) as rc:
        results = rc.evaluate([case("a")])
    assert results[0].status is Status.INFRA_ERROR
    assert results[0].detail == "sandbox lost"


def test_retry_after_is_passed_to_the_backoff_and_4xx_is_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = no_sleep(monkeypatch)
    answers = iter([
        httpx.Response(429, json={"detail": "full"}, headers={"Retry-After": "3"}),
        httpx.Response(503, json={"detail": "redis"}),
        httpx.Response(200, json={"results": [{"id": "a", "status": "pass"}]}),
    ])
    with scripted(lambda request: next(answers), max_batch=10) as rc:
        assert rc.evaluate([case("a")])[0].status is Status.PASS
    assert asked == [3.0, None]

    calls = 0

    def rejecting(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(413, json={"detail": "body over max_body_bytes"})

    with scripted(rejecting, max_batch=10) as rc, pytest.raises(RequestRejected) as caught:
        rc.evaluate([case("a")])
    assert caught.value.status_code == 413
    assert calls == 1  # one item cannot be split further: not retried


def test_chunks_run_concurrently_and_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sleep(monkeypatch)
    lock = threading.Lock()
    inflight = peak = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal inflight, peak
        with lock:
            inflight += 1
            peak = max(peak, inflight)
        time.sleep(0.05)
        with lock:
            inflight -= 1
        ids = [i["id"] for i in json.loads(request.content)["items"]]
        return httpx.Response(200, json={"results": [{"id": i, "status": "pass"} for i in ids]})

    with scripted(handler, max_batch=3, concurrency=2) as rc:
        results = rc.evaluate([case(str(i)) for i in range(20)])
    assert [r.id for r in results] == [str(i) for i in range(20)]
    assert peak == 2


def test_span_helpers_are_reexported() -> None:
    from client import spans

    assert client.token_span is spans.token_span
    assert client.alpha is spans.alpha
    assert {"token_span", "alpha", "fine_token_span"} <= set(client.__all__)


def test_client_package_needs_only_httpx_pydantic_and_tenacity() -> None:
    """Everything under client/ imports without the service's or trainers' libraries
    (frameworks are imported lazily, inside their adapters, where they are used)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import client, client.cli, client.builders, client.spans\n"
        "import client.adapters.trl, client.adapters.verl, client.adapters.openrlhf\n"
        "import client.adapters.trl_env, client.adapters.openrlhf_agent, client.feedback\n"
        "heavy = {'service', 'redis', 'rq', 'fastapi', 'starlette', 'docker', 'uvicorn',\n"
        "         'tqdm', 'torch', 'trl', 'verl', 'openrlhf', 'numpy', 'ray', 'transformers',\n"
        "         'datasets', 'aiohttp', 'pandas', 'pyarrow', 'vllm'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "[]"


def test_a_rejected_chunk_stops_the_chunks_not_yet_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sleep(monkeypatch)
    calls = 0

    def rejecting(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        time.sleep(0.02)
        return httpx.Response(422, json={"detail": "items[0].tests: bad"})

    items = [case(str(i)) for i in range(40)]
    with scripted(rejecting, max_batch=2, concurrency=1) as rc, pytest.raises(RequestRejected):
        rc.evaluate(items)
    assert calls <= 2

    calls = 0

    async def rejecting_later(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)  # a real server answers later: the others wait meanwhile
        return httpx.Response(422, json={"detail": "items[0].tests: bad"})

    async def run() -> None:
        http = httpx.AsyncClient(base_url="http://utrs.test",
                                 transport=httpx.MockTransport(rejecting_later))
        async with client.AsyncRewardClient("http://utrs.test", http=http, max_batch=2,
                                            concurrency=1) as arc:
            await arc.evaluate(items)

    with pytest.raises(RequestRejected, match=r"items\[0\]\.tests"):
        asyncio.run(run())
    assert calls <= 2
