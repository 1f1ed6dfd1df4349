"""Prometheus metrics of the API process, plus the cluster's counters read from Redis.

Each app gets its own registry (tests build many apps in one process). Workers cannot be
scraped one by one behind compose's scaling, so they add their counters to a Redis hash
(``P:stats``, written by :mod:`service.worker.jobs`; its fields are :class:`WorkerCounter`
and :data:`PROGRAMS_PREFIX` + status) and the API exports a snapshot of it on scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "PROGRAMS_PREFIX",
    "ClusterSnapshot",
    "Metrics",
    "ResultSource",
    "WorkerCounter",
    "parse_stats",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class WorkerCounter(StrEnum):
    """Fields of the workers' stats hash (besides :data:`PROGRAMS_PREFIX` + status)."""

    CHUNKS = "chunks"
    CHUNKS_FAILED = "chunks_failed"
    CHUNK_SECONDS = "chunk_seconds"
    CONTAINER_RESTARTS = "container_restarts"
    TESTGEN_CHUNKS = "testgen_chunks"
    TESTGEN_SECONDS = "testgen_seconds"
    PROGRAM_MS = "program_ms"  # a worker's recent wall ms per program of a chunk (sizes bulk chunks)


#: Stats hash field of the programs run with one status: ``programs:<status>``.
PROGRAMS_PREFIX = "programs:"
#: Stats hash field of the test-generation results with one status and reason (empty
#: unless rejected): ``testgen:<status>:<reason>``.
TESTGEN_PREFIX = "testgen:"

_DESCRIBED = {
    WorkerCounter.CHUNKS: "Chunks (RQ jobs) finished by workers",
    WorkerCounter.CHUNKS_FAILED: "Chunks answered with infra_error after their last attempt",
    WorkerCounter.CHUNK_SECONDS: "Seconds workers spent running chunks",
    WorkerCounter.CONTAINER_RESTARTS: "Sandbox containers replaced by workers",
    WorkerCounter.TESTGEN_CHUNKS: "Test-generation chunks finished by workers",
    WorkerCounter.TESTGEN_SECONDS: "Seconds workers spent generating tests",
}


class ResultSource(StrEnum):
    """Where a returned result came from (the ``source`` label of ``utrs_programs``)."""

    RUN = "run"
    CACHE = "cache"


class ClusterSnapshot(Collector):
    """Queue depth, live workers and the workers' counters as of the last scrape."""

    def __init__(self) -> None:
        self.queue_jobs = 0.0
        self.workers = 0.0
        self.counters: dict[str, float] = {}

    def update(self, *, queue_jobs: int, workers: int, stats: Mapping[str, float]) -> None:
        self.queue_jobs = float(queue_jobs)
        self.workers = float(workers)
        self.counters = dict(stats)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("utrs_queue_jobs", "Chunks waiting in the RQ queue", self.queue_jobs)
        yield GaugeMetricFamily("utrs_workers_alive", "Workers with a recent heartbeat", self.workers)
        executed = CounterMetricFamily("utrs_worker_programs", "Programs run by workers, by status", labels=["status"])
        for key, value in sorted(self.counters.items()):
            if key.startswith(PROGRAMS_PREFIX):
                executed.add_metric([key.removeprefix(PROGRAMS_PREFIX)], value)
        yield executed
        generated = CounterMetricFamily(
            "utrs_worker_testgen_results", "Test-generation results, by status and reason (a rejection's filter)",
            labels=["status", "reason"],
        )
        for key, value in sorted(self.counters.items()):
            if key.startswith(TESTGEN_PREFIX):
                status, _, reason = key.removeprefix(TESTGEN_PREFIX).partition(":")
                generated.add_metric([status, reason], value)
        yield generated
        for counter, text in _DESCRIBED.items():  # PROGRAM_MS is for the dispatch only
            yield CounterMetricFamily(f"utrs_worker_{counter.value}", text, self.counters.get(counter, 0.0))


class Metrics:
    """The API's metrics; one instance per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cluster = ClusterSnapshot()
        self.registry.register(self.cluster)
        self.requests = Counter(
            "utrs_http_requests",
            "HTTP requests",
            ["route", "method", "code"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "utrs_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.programs = Counter(
            "utrs_programs",
            "Results returned, by status and source (run or cache)",
            ["status", "source"],
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "utrs_cache_lookups", "Items looked up in the result cache", registry=self.registry
        )
        self.cache_hits = Counter(
            "utrs_cache_hits",
            "Items answered from the cache or an identical item of the batch",
            registry=self.registry,
        )
        self.program_seconds = Histogram(
            "utrs_program_duration_seconds",
            "Execution time of programs (all their tests)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_items = Histogram(
            "utrs_batch_items",
            "Items per batch",
            buckets=(1, 8, 32, 128, 512, 1024, 2048, 4096),
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, code: int, seconds: float) -> None:
        self.requests.labels(route, method, str(code)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_batch(self, *, items: int, reused: int) -> None:
        self.batch_items.observe(items)
        self.cache_lookups.inc(items)
        self.cache_hits.inc(reused)

    def observe_results(self, lines: Iterable[bytes], *, cached: Iterable[bool]) -> None:
        """Count a batch's results (result lines: ``status`` and ``duration_ms`` are read
        from them without parsing a whole result)."""
        counts: dict[tuple[str, str], int] = {}
        for line, reused in zip(lines, cached, strict=True):
            source = ResultSource.CACHE if reused else ResultSource.RUN
            key = (_field(line, b'"status":"', b'"'), source.value)
            counts[key] = counts.get(key, 0) + 1
            if source is ResultSource.RUN:
                self.program_seconds.observe(_number(line, b'"duration_ms":') / 1000.0)
        for (status, source_value), n in counts.items():
            self.programs.labels(status, source_value).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _field(line: bytes, key: bytes, end: bytes) -> str:
    start = line.find(key)
    if start < 0:
        return "unknown"
    start += len(key)
    return line[start : line.find(end, start)].decode(errors="replace")


def _number(line: bytes, key: bytes) -> float:
    text = _field(line, key, b",")
    try:
        return float(text.rstrip("}"))
    except ValueError:
        return 0.0


def parse_stats(raw: Mapping[bytes | str, bytes | str] | Sequence[Any]) -> dict[str, float]:
    """The workers' stats hash (bytes from Redis) as floats."""
    if not isinstance(raw, Mapping):
        return {}
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
