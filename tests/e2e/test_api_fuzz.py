"""API fuzzing: schemathesis generates requests from ``/openapi.json`` (valid and invalid
bodies, paths and queries) against a real stack; not one may get a 5xx, and every 422
names the field it refuses. Hand-written bad bodies cover what a schema-driven generator
does not write: broken JSON, wrong content types, lone surrogates, deep nesting, huge
numbers.

Size: ``UTRS_FUZZ_EXAMPLES`` examples per operation and generation mode (CI: 250, which
makes more than 2,000 cases over the operations; ``scripts/fuzz.sh`` runs 3,000, more than
20,000 cases). ``UTRS_FUZZ_MIN_CASES`` is the floor the
last test checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.stack import Stack, run_stack

EXAMPLES = int(os.environ.get("UTRS_FUZZ_EXAMPLES", "250"))
MIN_CASES = int(os.environ.get("UTRS_FUZZ_MIN_CASES", "2000"))
_SEEN: list[tuple[str, int]] = []

# Small limits, so that generated bodies meet every refusal and nothing runs for long.
_FUZZ_ENV = {
    "UTRS_MAX_TIMEOUT_S": "1",
    "UTRS_JOB_TIMEOUT_S": "20",
    "UTRS_WAIT_S": "25",
    "UTRS_MAX_WAIT_S": "60",
    "UTRS_MAX_BATCH": "16",
    "UTRS_QUEUE_HIGH_WATER": "4096",
    "UTRS_MAX_CASES": "8",
    "UTRS_MAX_CODE_BYTES": "4096",
    "UTRS_MAX_BODY_BYTES": "262144",
    "UTRS_POOL_SIZE": "1",
}


@pytest.fixture(scope="module")
def fuzz_stack(redis_server: str) -> Iterator[Stack]:
    with run_stack(redis_server, workers=1, **_FUZZ_ENV) as stack:
        yield stack


@pytest.fixture(scope="module")
def api_schema(fuzz_stack: Stack) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_stack.url}/openapi.json")


def _check(method: str, path: str, response: httpx.Response | Any) -> None:
    status = int(response.status_code)
    _SEEN.append((f"{method} {path}", status))
    assert status < 500, f"{method} {path}: {status} {response.text[:500]}"
    if status == 422:
        body = response.json()
        assert isinstance(body.get("detail"), str) and body["detail"], body
        errors = body.get("errors")
        assert errors and all(isinstance(e.get("field"), str) and e["field"] for e in errors), body
        assert body["detail"].startswith(errors[0]["field"]), body


@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_generated_requests_never_get_a_5xx(fuzz_stack: Stack, api_schema: Any, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any) -> None:
            response = case.call(base_url=fuzz_stack.url, timeout=60)
            _check(case.method, case.path, response)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label


_BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("broken json", b'{"items": [', "application/json"),
    ("not an object", b"[1, 2, 3]", "application/json"),
    ("a number", b"1e999999", "application/json"),
    ("null", b"null", "application/json"),
    ("invalid utf-8", b'{"items": [{"code": "\xff\xfe", "tests": {"kind": "assert"}}]}', "application/json"),
    ("raw surrogate bytes", b'{"items": [{"code": "\xed\xa0\x80", "tests": {"kind": "assert"}}]}',
     "application/json"),
    ("surrogate key", b'{"items": [{"code": "x", "tests": {"kind": "assert"}, "\\ud800": 1}]}', "application/json"),
    ("deep nesting", b'{"items": [{"code": "x", "tests": {"kind": "call", "fn_name": "f", "cases": [{"args": ['
     + b"[" * 3000 + b"]" * 3000 + b'], "expected": 1}]}}]}', "application/json"),
    ("huge int", b'{"items": [{"code": "x", "tests": {"kind": "call", "fn_name": "f", "cases": [{"args": ['
     + b"9" * 5000 + b'], "expected": 1}]}}]}', "application/json"),
    ("wrong content type", b"items=1", "application/x-www-form-urlencoded"),
    ("no body", b"", "application/json"),
    ("nan", b'{"items": [{"code": "x", "tests": {"kind": "assert"}, "limits": {"timeout_s": NaN}}]}',
     "application/json"),
    ("wait_s infinite", b'{"items": [{"code": "x", "tests": {"kind": "assert"}}], "wait_s": Infinity}',
     "application/json"),
    ("null bytes", b'{"items": [{"code": "x\\u0000", "id": "\\u0000", "tests": {"kind": "stdio", '
     b'"cases": [{"input": "\\u0000", "output": "\\u0000"}]}}]}', "application/json"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "ctype"), _BAD_BODIES, ids=[b[0] for b in _BAD_BODIES])
@pytest.mark.parametrize("path", ["/v1/evaluate", "/v1/jobs", "/v1/openrlhf/get_reward"])
def test_hand_written_bad_bodies(fuzz_stack: Stack, path: str, name: str, body: bytes, ctype: str) -> None:
    response = httpx.post(f"{fuzz_stack.url}{path}", content=body, headers={"content-type": ctype}, timeout=60)
    _check("POST", path, response)


@pytest.mark.parametrize("job_id", ["x" * 5000, "..%2F..%2Fetc", "\u00e9", "%00", "a b"])
def test_odd_job_ids(fuzz_stack: Stack, job_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{fuzz_stack.url}/v1/jobs/{job_id}", timeout=30)
        _check(method, "/v1/jobs/{job_id}", response)


def test_enough_cases_ran() -> None:
    """The fuzzing above made at least ``UTRS_FUZZ_MIN_CASES`` requests (none a 5xx)."""
    by_status: dict[int, int] = {}
    for _, status in _SEEN:
        by_status[status] = by_status.get(status, 0) + 1
    print(f"\nfuzz: {len(_SEEN)} requests, by status {dict(sorted(by_status.items()))}")
    assert len(_SEEN) >= MIN_CASES, f"only {len(_SEEN)} generated cases (want {MIN_CASES})"
