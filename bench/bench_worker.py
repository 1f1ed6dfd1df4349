"""A worker's own CPU, without Docker: what RQ costs per chunk job, and what our code costs
per program, each beside a baseline measured in the same process.

    .venv/bin/python bench/bench_worker.py [--jobs 500] [--programs 960] [--repeats 3]

1. **Per chunk job.** ``--jobs`` no-op jobs through a plain RQ ``SimpleWorker`` (RQ's own
   bookkeeping: the baseline) and through our :class:`~service.worker.main.PoolWorker`
   (RQ's, plus the lanes' feeding and the ``P:running`` record), on a private Redis, in
   burst mode: CPU ms per job of this process (Redis's own CPU not included). A chunk
   of 32 programs pays it once.
2. **Per program.** The worker's in-process stages of a chunk on ``--programs`` MBPP
   reference solutions, with replies shaped as the agent's (every case passed):
   validating the chunk job, building the agent's run requests, encoding them as sent,
   decoding the replies, reading them into results, feedback, and the result lines,
   beside ``json.dumps`` of the same items (the baseline: one plain encoding of the
   data the stages handle). Best of ``--repeats``.

The service end to end, with the sandbox, is ``bench/bench_service.py --cost``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_sandbox import load_mbpp  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue, SimpleWorker  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from client.builders import from_mbpp  # noqa: E402
from service.feedback import annotate  # noqa: E402
from service.queue.envelope import ChunkJob  # noqa: E402
from service.queue.lines import served_line  # noqa: E402
from service.sandbox.executor import build_task, to_result  # noqa: E402
from service.sandbox.protocol import RunOutcome, RunResult  # noqa: E402
from service.sandbox.scheduler import batch_request  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.worker.context import WorkerContext  # noqa: E402
from service.worker.main import build_worker  # noqa: E402
from tests.support.redis_proc import start_redis  # noqa: E402

CHUNK = 32


def per_job(jobs: int) -> None:
    with start_redis() as server:
        connection = Redis.from_url(server.url)
        settings = Settings(redis_url=server.url, key_prefix="bench-worker", queue_name="bench-worker")
        ours = build_worker(settings, connection, "bench-ours")
        plain = SimpleWorker(ours.queue_names(), connection=connection, serializer=JSONSerializer, name="bench-plain")
        assert isinstance(ours.context, WorkerContext)
        figures = {}
        for label, worker in (("RQ SimpleWorker (baseline)", plain), ("our PoolWorker", ours)):
            queue = Queue(worker.queue_names()[0], connection=connection, serializer=JSONSerializer)
            for i in range(jobs):
                queue.enqueue("builtins.len", args=[[i]], result_ttl=300, job_id=f"{worker.name}-{i}")
            c0 = time.process_time()
            worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
            figures[label] = 1e3 * (time.process_time() - c0) / jobs
        print(f"per chunk job ({jobs} no-op jobs, burst mode; CPU of this process):")
        for label, ms in figures.items():
            print(f"  {label:32s} {ms:6.2f} ms/job = {1e3 * ms / CHUNK:5.1f} us/program at {CHUNK} a chunk")


def _reply(slot: int, cases: int) -> dict[str, Any]:
    tests = [{"status": "pass", "time_ms": 0.05} for _ in range(cases)]
    return {"rid": str(slot), "tests": tests, "trust": "harness", "agent_ms": 2.5}


def per_program(n: int, repeats: int) -> None:
    rows, _ = load_mbpp()
    settings = Settings()
    raw = [from_mbpp(rows[i % len(rows)]).model_dump(mode="json", exclude_defaults=True) for i in range(n)]
    chunks = [
        {"batch_id": "b", "chunk": k, "items": raw[k : k + CHUNK], "cache_keys": [None] * len(raw[k : k + CHUNK]),
         "image": "bench", "reply": {"results": "r", "done": "d", "ttl": 60}}
        for k in range(0, n, CHUNK)
    ]  # fmt: skip
    replies = [json.dumps(_reply(i, len(item["tests"]["cases"]))).encode() for i, item in enumerate(raw)]
    state: dict[str, Any] = {}

    def validate() -> None:
        state["items"] = [item for chunk in chunks for item in ChunkJob.model_validate(chunk).items]

    def tasks() -> None:
        state["tasks"] = [build_task(item, settings) for item in state["items"]]
        for slot, task in enumerate(state["tasks"]):
            task.slot = slot

    def requests() -> None:
        ts = state["tasks"]
        state["sent"] = [json.dumps(batch_request(ts[k : k + 8], "g"), separators=(",", ":")) for k in range(0, n, 8)]

    def decode() -> None:
        state["replies"] = [json.loads(line) for line in replies]

    def results() -> None:
        runs = [RunResult(RunOutcome.ANSWERED, reply=reply) for reply in state["replies"]]
        state["results"] = [
            annotate(item, to_result(item, run, image="bench", settings=settings))
            for item, run in zip(state["items"], runs, strict=True)
        ]

    def lines() -> None:
        state["out"] = [served_line(result) for result in state["results"]]

    def baseline() -> None:
        json.dumps(raw)

    stages: list[tuple[str, Callable[[], None]]] = [
        ("json.dumps of the items (baseline)", baseline),
        ("validate the chunk jobs", validate),
        ("build the run requests", tasks),
        ("encode them as sent (8 a message)", requests),
        ("decode the replies", decode),
        ("results and feedback", results),
        ("result lines", lines),
    ]
    print(f"per program ({n} MBPP programs, {CHUNK} a chunk; best of {repeats}):")
    total = 0.0
    for label, stage in stages:
        best = min(_cpu(stage) for _ in range(repeats))
        if not label.endswith("(baseline)"):
            total += best
        print(f"  {label:36s} {1e6 * best / n:6.1f} us/program")
    print(f"  {'all of our stages':36s} {1e6 * total / n:6.1f} us/program")


def _cpu(fn: Callable[[], None]) -> float:
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--programs", type=int, default=960)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    per_job(args.jobs)
    per_program(args.programs, args.repeats)


if __name__ == "__main__":
    main()
