"""The client's loops against a scripted transport (httpx's MockTransport): which answers
are retried (tenacity), the idempotency key of ``submit``, ``pending`` results finished by
polling their job, a caller's ``http=`` client, ``UTRS_URL``/``UTRS_API_KEY``, connection
limits, results streamed as chunks finish, and the progress bar's status mix.

The live counterparts (a real 429 and 503, real jobs) are in tests/e2e/test_client_live.py;
a server that answers ``pending`` is the service issue's, so its answers are scripted here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from client import AsyncRewardClient, RewardClient, Status
from client._options import Options
from client._progress import StatusBar, status_mix
from client.errors import ClientTimeout, RequestRejected, ServiceUnavailable
from client.models import Result
from tests.unit.test_client_units import no_sleep

Handler = Callable[[httpx.Request], httpx.Response]


def case(i: str) -> dict[str, Any]:
    return {"id": i, "code": "x", "tests": {"kind": "assert", "cases": [{"code": "1"}]}}


def ids_of(request: httpx.Request) -> list[str]:
    return [i["id"] for i in json.loads(request.content)["items"]]


def passing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"results": [{"id": i, "status": "pass"} for i in ids_of(request)]})


def scripted(handler: Handler, **kwargs: Any) -> RewardClient:
    # No base_url and no headers on the caller's client: the RewardClient supplies both.
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return RewardClient(kwargs.pop("url", "http://utrs.test"), http=http, **kwargs)


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Instant backoff; records the Retry-After each wait was asked to honour."""
    return no_sleep(monkeypatch)


# ------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_not_now_answers_are_retried_until_answered(status: int, delays: list[float | None]) -> None:
    answers = iter([httpx.Response(status, text="not now", headers={"Retry-After": "2"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or passing(request)

    with scripted(handler, max_batch=10) as rc:
        assert rc.evaluate([case("a")])[0].status is Status.PASS
    assert delays == [2.0]  # Retry-After honoured for every "not now" answer that sends one


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_other_4xx_are_never_retried(status: int, delays: list[float | None]) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"detail": "no"})

    with scripted(handler, max_batch=10, max_retries=5) as rc, pytest.raises(RequestRejected):
        rc.evaluate([case("a")])
    assert calls == 1
    assert delays == []


def test_connection_errors_are_retried_then_given_up(delays: list[float | None]) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise httpx.ConnectError("refused", request=request)
        return passing(request)

    with scripted(flaky, max_batch=10) as rc:
        assert rc.evaluate([case("a")])[0].status is Status.PASS
    assert calls == 3

    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"detail": "redis down"})

    with scripted(down, max_batch=10, max_retries=2) as rc, pytest.raises(ServiceUnavailable):
        rc.evaluate([case("a")])
    assert calls == 1 + 2


# --------------------------------------------------------------- idempotency


def test_submit_keeps_one_idempotency_key_across_retries(delays: list[float | None]) -> None:
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        if len(keys) == 1:
            raise httpx.ReadError("connection reset after the POST was sent", request=request)
        if len(keys) == 2:
            return httpx.Response(504, text="gateway timeout")
        return httpx.Response(202, json={"job_id": "j1"})

    with scripted(handler) as rc:
        assert rc.submit([case("a")]) == "j1"
        first = keys[0]
        rc.submit([case("a")])
        rc.submit([case("a")], idempotency_key="mine")
    assert first and keys[:3] == [first, first, first]
    assert keys[3] not in (None, first)  # a new submission, a new key
    assert keys[4] == "mine"


def test_async_submit_sends_an_idempotency_key() -> None:
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        return httpx.Response(202, json={"job_id": "j"})

    async def run() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncRewardClient("http://utrs.test", http=http) as arc:
            await arc.submit([case("a")])
            await arc.submit([case("a")], idempotency_key="k")

    asyncio.run(run())
    assert keys[0] and len(keys[0]) >= 16
    assert keys[1] == "k"


# ------------------------------------------------------------------- pending


class PendingServer:
    """``/v1/evaluate`` answers ``b`` as pending; the job has it after ``polls`` polls."""

    def __init__(self, polls: int = 2, *, lose: bool = False) -> None:
        self.polls = polls
        self.lose = lose
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        if request.method == "POST":
            ids = ids_of(request)
            results = [{"id": i, "status": "pending" if i == "b" else "pass"} for i in ids]
            return httpx.Response(200, json={"results": results, "job_id": "job7"})
        polled = sum(1 for method, _ in self.seen if method == "GET")
        if polled < self.polls:
            return httpx.Response(200, json={"status": "running", "done": 1, "total": 2,
                                             "results": [{"id": "a", "status": "pass"},
                                                         {"id": "b", "status": "pending"}]})
        last = None if self.lose else {"id": "b", "status": "failure"}
        return httpx.Response(200, json={"status": "done", "done": 2, "total": 2,
                                         "results": [{"id": "a", "status": "pass"}, last]})


def test_pending_results_are_polled_from_their_job_never_resubmitted() -> None:
    server = PendingServer(polls=2)
    with scripted(server, max_batch=10) as rc:
        rc._options = Options(**{**rc._options.__dict__, "poll_s": 0.01})
        results = rc.evaluate([case("a"), case("b"), case("c")])
    assert [(r.id, r.status) for r in results] == [("a", "pass"), ("b", "failure"), ("c", "pass")]
    assert server.seen.count(("POST", "/v1/evaluate")) == 1
    assert server.seen.count(("GET", "/v1/jobs/job7")) == 2


def test_a_job_that_ends_without_the_pending_result_makes_it_unjudged(
    delays: list[float | None],
) -> None:
    server = PendingServer(polls=1, lose=True)
    with scripted(server, max_batch=10, max_retries=0) as rc:
        rc._options = Options(**{**rc._options.__dict__, "poll_s": 0.0})
        results = rc.evaluate([case("a"), case("b")])
    assert results[1].status is Status.INFRA_ERROR
    assert "job7" in (results[1].detail or "")


def test_pending_past_the_timeout_is_a_client_timeout() -> None:
    server = PendingServer(polls=10**6)
    with scripted(server, max_batch=10, timeout_s=0.3) as rc:
        rc._options = Options(**{**rc._options.__dict__, "poll_s": 0.05})
        with pytest.raises(ClientTimeout, match="still pending"):
            rc.evaluate([case("a"), case("b")], wait_s=0.1)


def test_async_client_polls_pending_results_too() -> None:
    server = PendingServer(polls=1)

    async def run() -> list[Result]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(server))
        async with AsyncRewardClient("http://utrs.test", http=http, max_batch=10) as arc:
            arc._options = Options(**{**arc._options.__dict__, "poll_s": 0.01})
            return await arc.evaluate([case("a"), case("b")])

    results = asyncio.run(run())
    assert [r.status for r in results] == [Status.PASS, Status.FAILURE]
    assert server.seen.count(("POST", "/v1/evaluate")) == 1


# --------------------------------------------------- http=, environment, limits


def test_a_callers_http_client_gets_the_base_url_and_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return passing(request)

    with scripted(handler, url="http://svc.test:9000/", api_key="s3cret", max_batch=10) as rc:
        rc.evaluate([case("a")])
    assert str(seen[0].url) == "http://svc.test:9000/v1/evaluate"
    assert seen[0].headers["Authorization"] == "Bearer s3cret"


def test_utrs_url_and_api_key_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UTRS_URL", "http://from-env:1234")
    monkeypatch.setenv("UTRS_API_KEY", "envkey")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return passing(request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with RewardClient(http=http, max_batch=10) as rc:
        assert rc.base_url == "http://from-env:1234"
        rc.evaluate([case("a")])
    assert seen[0].url.host == "from-env"
    assert seen[0].headers["Authorization"] == "Bearer envkey"
    with RewardClient("http://explicit:1", api_key="k2") as rc:
        assert rc.base_url == "http://explicit:1"
        assert rc._options.api_key == "k2"


def test_connection_limits_follow_concurrency() -> None:
    def limits(concurrency: int) -> httpx.Limits:
        options = Options.build("http://x", api_key=None, timeout_s=5, max_batch=None,
                                concurrency=concurrency, progress=False)
        result: httpx.Limits = options.httpx_kwargs()["limits"]
        return result

    assert limits(64).max_connections is not None and limits(64).max_connections >= 64
    assert limits(1).max_connections is not None and limits(1).max_connections < 10


# ----------------------------------------------------------------- streaming


def test_iter_evaluate_yields_the_first_chunk_before_the_last_is_judged() -> None:
    first_taken = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if "c4" in ids_of(request):
            assert first_taken.wait(5), "the first chunk was not yielded while this one ran"
        return passing(request)

    with scripted(handler, max_batch=2, concurrency=3) as rc:
        stream = rc.iter_evaluate([case(f"c{i}") for i in range(5)])
        first = next(stream)
        first_taken.set()
        rest = list(stream)
    assert [first.id, *[r.id for r in rest]] == [f"c{i}" for i in range(5)]


class FakeBar:
    def __init__(self) -> None:
        self.n = 0
        self.postfix = ""

    def update(self, n: int) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        return None


def test_progress_shows_the_status_mix() -> None:
    bar = FakeBar()
    status = StatusBar(bar)
    status.add([Result(status="pass"), Result(status="error")])
    status.add([Result(status="pass"), Result(status="infra_error")])
    assert bar.n == 4
    assert bar.postfix == "pass 2, error 1, infra_error 1"
    assert status_mix(status.counts) == bar.postfix
