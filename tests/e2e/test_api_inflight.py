"""An item identical to one already in flight (same cache key) waits for that run instead
of running again: two batches with the same slow programs sent at once run each program
once, and both get every result (service/queue/claims.py)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from tests.support.stack import Stack

Json = dict[str, Any]


def test_identical_items_in_flight_run_once(live_stack: Stack) -> None:
    tag = uuid.uuid4().hex
    items = [{"id": f"{n}", "code": f"import time\ntime.sleep(0.4)\nx = {n}  # {tag}\n",
              "tests": {"kind": "assert", "cases": [{"code": f"assert x == {n}"}]}} for n in range(4)]  # fmt: skip
    before = live_stack.programs_run()
    answers: list[Json] = []

    def send(body: Json) -> None:
        answers.append(httpx.post(f"{live_stack.url}/v1/evaluate", json=body, timeout=60).json())

    first = threading.Thread(target=send, args=({"items": items},))
    first.start()
    time.sleep(0.15)  # the first batch is queued and claimed; the second follows it
    send({"items": [{**item, "id": f"again-{item['id']}"} for item in reversed(items)]})
    first.join(timeout=60)
    assert len(answers) == 2
    for answer in answers:
        assert [r["status"] for r in answer["results"]] == ["pass"] * 4
    (second,) = [a for a in answers if a["results"][0]["id"].startswith("again")]
    assert [r["id"] for r in second["results"]] == ["again-3", "again-2", "again-1", "again-0"]
    assert second["stats"]["executed"] == 0 and all(r["cached"] for r in second["results"])
    time.sleep(1.0)
    assert live_stack.programs_run() == before + 4  # each ran once
