"""Per-sample adapter calls grouped into shared requests, picklable adapters, and the
lazy per-process clients, against a scripted transport (no server).

Frameworks call verl's ``compute_score`` and OpenRLHF's ``reward_func``/agent ``step`` once
per sample, concurrently; the grouping is what turns that into batch throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client.adapters import _clients, verl
from client.adapters._clients import Connection
from client.adapters._group import Grouping, evaluate_grouped_sync
from client.adapters.trl import make_reward_fn
from client.adapters.trl_env import repair_environment
from client.async_client import AsyncRewardClient
from client.client import RewardClient
from client.errors import RequestRejected

SPEC = json.dumps({"kind": "assert", "cases": [{"code": "assert f() == 1"}]})


class Server:
    """Counts ``/v1/evaluate`` requests and the items in each; every item passes."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        with self._lock:
            self.batches.append(len(items))
        results = [{"id": i.get("id"), "status": "pass", "passed": 1, "total": 1, "pass_ratio": 1.0,
                    "rewards": {"total": 1.0}} for i in items]
        return httpx.Response(200, json={"results": results})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Adapters' clients talk to a scripted transport; caches are emptied around the test."""
    scripted = Server()

    def make_sync(connection: Connection) -> RewardClient:
        http = httpx.Client(transport=httpx.MockTransport(scripted))
        return RewardClient(connection.url, http=http, max_batch=4096)

    def make_async(connection: Connection) -> AsyncRewardClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(scripted))
        return AsyncRewardClient(connection.url, http=http, max_batch=4096)

    monkeypatch.setattr(_clients, "_make_sync", make_sync)
    monkeypatch.setattr(_clients, "_make_async", make_async)
    _clients._sync.clear()
    yield scripted
    _clients._sync.clear()


def test_concurrent_async_compute_score_calls_share_one_request(server: Server) -> None:
    async def run() -> list[dict[str, float]]:
        calls = [verl.compute_score("mbpp", "def f():\n    return 1\n", SPEC, {"index": i},
                                    url="http://utrs.test", reward_router_address="10.0.0.1:9",
                                    reward_model_tokenizer=None)
                 for i in range(20)]
        return list(await asyncio.gather(*calls))

    scores = asyncio.run(run())
    assert server.batches == [20]
    assert scores == [{"score": 1.0, "pass_ratio": 1.0, "passed": 1.0}] * 20


def test_sync_callers_in_threads_are_grouped_too(server: Server) -> None:
    scores: list[float] = []
    grouping = Grouping(linger_s=30.0, max_items=8)  # the eighth item sends the group

    def one(i: int) -> None:
        item = verl._item("mbpp", "def f():\n    return 1\n", SPEC, {"index": i})
        [result] = evaluate_grouped_sync(Connection("http://utrs.test"), [item], grouping)
        scores.append(float(result.rewards["total"] or 0.0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert scores == [1.0] * 8
    assert server.batches == [8]
    assert verl.compute_score_float("mbpp", "x", SPEC, None, url="http://utrs.test") == 1.0


def test_grouping_sends_errors_to_every_waiter(monkeypatch: pytest.MonkeyPatch) -> None:
    requests = 0

    def refusing(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        return httpx.Response(422, json={"detail": "items[0].tests: bad"})

    def make_async(connection: Connection) -> AsyncRewardClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(refusing))
        return AsyncRewardClient(connection.url, http=http, max_batch=10)

    monkeypatch.setattr(_clients, "_make_async", make_async)

    async def run() -> list[Any]:
        calls = [verl.compute_score("d", "x", SPEC, url="http://refusing.test") for _ in range(3)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(run())
    assert requests == 1
    assert all(isinstance(o, RequestRejected) and "items[0].tests" in str(o) for o in outcomes)


def test_adapters_pickle_without_their_clients(server: Server) -> None:
    with RewardClient("http://utrs.test", api_key="k") as own:
        reward_fn = make_reward_fn(client=own)
        clone = pickle.loads(pickle.dumps(reward_fn))
    assert clone._client is None
    assert clone.connection == Connection("http://utrs.test", "k")
    assert clone(prompts=[""], completions=["def f():\n    return 1\n"], tests=[SPEC]) == [1.0]
    factory = pickle.loads(pickle.dumps(repair_environment("http://utrs.test")))
    environment = factory()
    environment.reset(tests=SPEC)
    assert environment.run_tests(code="def f():\n    return 1\n") == "All 1 tests passed."
    assert environment.get_reward() == 1.0


def test_clients_are_per_process_and_resolved_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UTRS_URL", "http://from-env:7")
    monkeypatch.setenv("UTRS_API_KEY", "envkey")
    _clients._sync.clear()
    connection = Connection()
    assert connection.resolved() == Connection("http://from-env:7", "envkey")
    first = connection.client()
    assert connection.client() is first
    assert first.base_url == "http://from-env:7"
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a forked child
    assert connection.client() is not first
    _clients._sync.clear()


def test_environment_tools_are_only_run_tests() -> None:
    """TRL offers every public method but reset/get_reward as a tool."""
    import inspect

    from client.adapters.trl_env import RepairEnvironment

    public = {name for name, _ in inspect.getmembers(RepairEnvironment, inspect.isfunction)
              if not name.startswith("_")}
    assert public == {"reset", "run_tests", "get_reward"}
