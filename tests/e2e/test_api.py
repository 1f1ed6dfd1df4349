"""End to end over real HTTP: uvicorn API + Redis + RQ worker + the real sandbox.

HumanEval's canonical solutions, an MBPP batch with wrong variants (per-test results,
errors with their place in the code, rewards), defaults, the jobs API's progress, the
result cache, and the operations endpoints.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from client.builders import from_humaneval, from_mbpp

Json = dict[str, Any]


@pytest.fixture(scope="module")
def http(live_service: str) -> httpx.Client:
    return httpx.Client(base_url=live_service, timeout=120)


def _evaluate(http: httpx.Client, items: list[Json], **body: Any) -> Json:
    response = http.post("/v1/evaluate", json={"items": items, **body})
    assert response.status_code == 200, response.text
    data: Json = response.json()
    assert len(data["results"]) == len(items)
    return data


def test_humaneval_canonical_solutions_all_pass(http: httpx.Client, humaneval: list[Json]) -> None:
    items = [
        from_humaneval(r, r["canonical_solution"]).model_dump(mode="json", exclude_defaults=True) for r in humaneval
    ]
    data = _evaluate(http, items)
    failing = [(r["id"], r["status"], r["detail"]) for r in data["results"] if r["status"] != "pass"]
    assert failing == []
    assert [r["id"] for r in data["results"]] == [r["task_id"] for r in humaneval]
    assert all(r["rewards"]["coarse"] == 1.0 for r in data["results"])


# --------------------------------------------------------------------------- MBPP
def _fn_name(record: Json) -> str:
    defined = set(re.findall(r"^def (\w+)", record["code"], re.MULTILINE))
    called = re.findall(r"(\w+)\(", record["test_list"][0])
    return next(name for name in called if name in defined)


def _line_of(program: str, needle: str) -> int:
    return next(i for i, line in enumerate(program.splitlines(), 1) if needle in line)


def _variants(record: Json) -> dict[str, str]:
    fn, code = _fn_name(record), record["code"]
    return {
        "reference": code,
        "wrong": f"{code}\n\ndef {fn}(*args, **kwargs):\n    return None\n",
        "index_error": f"{code}\n\ndef {fn}(*args, **kwargs):\n    return [][1]  # boom\n",
        "syntax": f"{code}\n\ndef broken(:\n    pass\n",
    }


def test_mbpp_batch_with_wrong_variants(http: httpx.Client, mbpp: list[Json]) -> None:
    records = [r for r in mbpp if not r.get("test_setup_code")][:30]
    items, expected = [], []
    for record in records:
        for kind, code in _variants(record).items():
            item = from_mbpp(record, code, id=f"{record['task_id']}/{kind}")
            items.append(item.model_dump(mode="json", exclude_defaults=True))
            expected.append((kind, code))
    results = _evaluate(http, items)["results"]
    refs = [r for r, (kind, _) in zip(results, expected, strict=True) if kind == "reference"]
    assert sum(r["status"] == "pass" for r in refs) >= 27  # a few MBPP references are wrong
    for result, (kind, code) in zip(results, expected, strict=True):
        _check_variant(result, kind, code)


def _check_variant(result: Json, kind: str, code: str) -> None:
    if kind == "reference":
        return
    tests = result["tests"]
    assert result["total"] == len(tests) == 3 and result["passed"] == 0, result["id"]
    error = result["error"]
    if kind == "wrong":
        assert result["status"] == "failure"
        assert {t["status"] for t in tests} == {"fail"}
        assert result["rewards"]["coarse"] == -0.3
    elif kind == "index_error":
        assert result["status"] == "error"
        assert {t["status"] for t in tests} == {"error"}
        assert error["type"] == "IndexError" and error["where"] == "code"
        assert error["line"] == _line_of(code, "# boom")
        assert result["rewards"]["coarse"] == -0.6
    else:
        assert result["status"] == "error"
        assert error["type"] == "SyntaxError" and error["subtype"] == "syntax"
        assert error["where"] == "code" and error["line"] == _line_of(code, "def broken(:")
        assert result["rewards"]["coarse"] == -1.0


# --------------------------------------------------------- defaults, kinds, cache
def _unique_code(marker: str, body: str) -> str:
    return f"# {marker}\n{body}"


def test_defaults_merge_under_items_for_each_test_kind(http: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    defaults = {"limits": {"timeout_s": 2.0}, "compare": "tokens", "reward": {"scheme": "rltf"}}
    items = [
        {"id": "stdio", "code": _unique_code(marker, "a, b = map(int, input().split())\nprint(a + b)\n"),
         "tests": {"kind": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"},
                                              {"input": "2 2\n", "output": "5"}]}},
        {"id": "call",
         "code": _unique_code(marker, "class Solution:\n    def add(self, a, b):\n        return a + b\n"),
         "tests": {"kind": "call", "fn_name": "add", "class_name": "Solution",
                   "cases": [{"args": [1, 2], "expected": 3}]}},
        {"id": "slow", "code": _unique_code(marker, "import time\ntime.sleep(3)\n"),
         "tests": {"kind": "assert", "cases": [{"code": "pass"}]},
         "limits": {"timeout_s": 0.5}},
    ]  # fmt: skip
    results = _evaluate(http, items, defaults=defaults)["results"]
    assert [r["id"] for r in results] == ["stdio", "call", "slow"]
    assert results[0]["status"] == "failure" and results[0]["passed"] == 1
    assert results[1]["status"] == "pass"
    assert results[2]["tests"][0]["status"] == "timeout"  # the item's limit won over defaults


def test_cache_answers_repeats_without_running(http: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    unique = [
        {"code": _unique_code(marker, f"x = {n}\n"),
         "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n % 2}"}]}}
        for n in range(6)
    ]  # fmt: skip
    batch = [{**unique[n % 6], "id": str(n)} for n in range(10)]  # 4 repeats in the batch
    first = _evaluate(http, batch)
    assert first["stats"]["executed"] == 6 and first["stats"]["cached"] == 4
    assert [r["cached"] for r in first["results"]] == [False] * 6 + [True] * 4
    assert [r["id"] for r in first["results"]] == [str(n) for n in range(10)]
    again = _evaluate(http, batch)
    assert again["stats"] == {**again["stats"], "executed": 0, "cached": 10}
    assert all(r["cached"] for r in again["results"])
    strip = ("cached", "duration_ms")
    assert [{k: v for k, v in r.items() if k not in strip} for r in again["results"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in first["results"]
    ]


# ------------------------------------------------------------------------ jobs API
def test_jobs_api_reports_progress_and_partial_results(http: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    items = [
        {"id": str(n), "code": _unique_code(marker, f"import time\ntime.sleep(0.15)\nx = {n}\n"),
         "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"}]}}
        for n in range(40)
    ]  # fmt: skip
    created = http.post("/v1/jobs", json={"items": items})
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    seen: list[Json] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = http.get(f"/v1/jobs/{job_id}").json()
        seen.append(state)
        if state["status"] == "done":
            break
        time.sleep(0.05)
    final = seen[-1]
    assert final["status"] == "done" and final["done"] == final["total"] == 40
    assert [r["status"] for r in final["results"]] == ["pass"] * 40
    dones = [s["done"] for s in seen]
    assert dones == sorted(dones)
    partial = [s for s in seen if 0 < s["done"] < 40]
    assert partial, f"never saw progress between 0 and 40: {dones}"
    assert all(s["status"] == "running" for s in partial)
    assert all(sum(r is not None for r in s["results"]) == s["done"] for s in partial)


def test_unknown_job_is_404(http: httpx.Client) -> None:
    assert http.get("/v1/jobs/nope").status_code == 404


# ---------------------------------------------------------------------- operations
def test_health_ready_metrics_and_docs(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["ready"] is True and ready["workers"] >= 1 and ready["image"]
    text = http.get("/metrics").text
    for name in (
        "utrs_http_requests_total",
        "utrs_http_request_seconds_bucket",
        "utrs_programs_total",
        "utrs_cache_hits_total",
        "utrs_queue_jobs",
        "utrs_workers_alive",
        "utrs_worker_programs_total",
        "utrs_program_duration_seconds_bucket",
        "utrs_worker_container_restarts_total",
    ):
        assert name in text, name
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/evaluate", "/v1/jobs", "/v1/jobs/{job_id}", "/readyz"} <= set(paths)
    assert http.get("/docs").status_code == 200


def test_limits_endpoint_tells_clients_the_batch_limit(http: httpx.Client) -> None:
    from client import RewardClient
    from service.settings import Settings

    limits = http.get("/v1/limits").json()
    assert limits["max_batch"] == Settings().max_batch
    assert limits["max_timeout_s"] > 0
    with RewardClient(str(http.base_url)) as rc:
        assert rc.max_batch() == limits["max_batch"]
