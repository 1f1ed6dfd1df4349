"""The text rule end to end: a lone surrogate in an item's code, stdin, id, or in what a
program raises or writes is replaced by U+FFFD and reported in ``surrogates_replaced``;
never a 500, nothing poisoned in the cache, and the client's pydantic parser reads every
answer (docs/api.md, Text)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from client.models import EvaluateResponse, JobStatus, Status

Json = dict[str, Any]
T = {"kind": "assert", "cases": [{"code": "assert f() == 1"}]}


@pytest.fixture(scope="module")
def http(live_service: str) -> httpx.Client:
    return httpx.Client(base_url=live_service, timeout=120)


def _items(tag: str) -> list[Json]:
    return [
        {"id": "code", "code": f"def f():\n    return 1  # \ud800 {tag}\n", "tests": T},
        {"id": "raised", "code": f"def f():\n    raise ValueError('bad \\udc80 {tag}')\n", "tests": T},
        {"id": "wrote", "code": f"import sys\ndef f():\n    sys.stdout.buffer.write(b'\\xed\\xa0\\x80 {tag}')\n"
                                "    return 1\n", "tests": T},
        {"id": "id \udfff", "code": f"def f():\n    return 1  # {tag}\n", "tests": T},
        {"id": "stdin", "code": f"print(input())  # {tag}\n",
         "tests": {"kind": "stdio", "cases": [{"input": "x\ud801\n", "output": "x\ufffd"}]}},
    ]  # fmt: skip


def _post(http: httpx.Client, body: Json) -> httpx.Response:
    # json.dumps writes a lone surrogate as a "\udXXX" escape, as Python clients do.
    return http.post("/v1/evaluate", content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def test_lone_surrogates_are_replaced_flagged_and_parse_back(http: httpx.Client) -> None:
    tag = uuid.uuid4().hex
    first = _post(http, {"items": _items(tag)})
    assert first.status_code == 200, first.text
    answer = EvaluateResponse.model_validate_json(first.content)  # the client's parser
    by_id = {r.id: r for r in answer.results}
    assert by_id["code"].status is Status.PASS and by_id["code"].surrogates_replaced == ["items[0].code"]
    raised = by_id["raised"]
    assert raised.status is Status.ERROR and raised.error is not None
    assert "\ufffd" in raised.error.message and "error.message" in (raised.surrogates_replaced or [])
    assert by_id["id \ufffd"].surrogates_replaced == ["items[3].id"]
    assert by_id["stdin"].status is Status.PASS
    assert by_id["stdin"].surrogates_replaced == ["items[4].tests.cases[0].input"]
    assert by_id["wrote"].status in (Status.PASS, Status.ERROR)
    # The same batch again comes from the cache, still readable; so does the job.
    again = _post(http, {"items": _items(tag)})
    assert again.status_code == 200
    cached = EvaluateResponse.model_validate_json(again.content)
    assert [r.status for r in cached.results] == [r.status for r in answer.results]
    assert all(r.cached for r in cached.results)
    job = http.get(f"/v1/jobs/{answer.job_id}")
    assert job.status_code == 200 and JobStatus.model_validate_json(job.content).status == "done"


def test_a_refusal_that_quotes_a_surrogate_is_still_a_422(http: httpx.Client) -> None:
    bad = {"items": [{"code": "x", "tests": T, "col\ud800our": 1}], "reward": 1}
    response = _post(http, bad)
    assert response.status_code == 422
    assert response.json()["errors"]
    scheme = _post(http, {"items": [{"code": "x", "tests": T, "reward": {"scheme": "no\udc00pe"}}]})
    assert scheme.status_code == 422 and scheme.json()["detail"].startswith("items[0].reward")
