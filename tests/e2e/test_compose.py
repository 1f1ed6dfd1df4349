"""The compose stack from docker-compose.yml, brought up by scripts/stack.sh (the README's
run command): post a batch over HTTP, check the verdicts, tear it down."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.waiting import free_port, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compose_stack() -> Iterator[str]:
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"utrs-test-{uuid.uuid4().hex[:8]}",
        "UTRS_API_PORT": str(free_port()),
        "UTRS_API_BIND": "127.0.0.1",
        "UTRS_WORKERS": "2",
    }
    script = str(ROOT / "scripts" / "stack.sh")
    try:
        up = subprocess.run([script, "up"], env=env, capture_output=True, text=True, timeout=900, check=False)
        assert up.returncode == 0, up.stderr[-3000:]
        assert "utrs API ready: http://" in up.stdout
        yield f"http://127.0.0.1:{env['UTRS_API_PORT']}"
    finally:
        subprocess.run([script, "purge"], env=env, capture_output=True, timeout=300, check=False)


def test_compose_stack_judges_a_batch(compose_stack: str) -> None:
    wait_until(lambda: httpx.get(f"{compose_stack}/readyz").json()["workers"] == 2, 60, "two workers")
    tag = uuid.uuid4().hex
    items = [
        {"id": "pass", "code": f"def add(a, b):\n    return a + b  # {tag}\n",
         "tests": {"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"}]}},
        {"id": "fail", "code": f"def add(a, b):\n    return a - b  # {tag}\n",
         "tests": {"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"}]}},
        {"id": "error", "code": f"def add(a, b):\n    return [][a]  # {tag}\n",
         "tests": {"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"}]}},
        {"id": "stdio", "code": f"print(sum(map(int, input().split())))  # {tag}\n",
         "tests": {"kind": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]}},
    ]  # fmt: skip
    response = httpx.post(f"{compose_stack}/v1/evaluate", json={"items": items * 10}, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results[:4]] == ["pass", "failure", "error", "pass"]
    assert results[2]["error"]["type"] == "IndexError" and results[2]["error"]["line"] == 2
    assert [r["status"] for r in results] == [r["status"] for r in results[:4]] * 10
    assert response.json()["stats"]["executed"] == 4
