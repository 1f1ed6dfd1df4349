"""Service settings: one pydantic-settings class, env prefix ``UTRS_``.

Build it with :func:`get_settings` (cached) and pass it in; nothing reads ``os.environ``
elsewhere and nothing connects at import time.
"""

from __future__ import annotations

import itertools
import json
import os
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.budgets import MEMORY_HEADROOM_MB, job_s, run_budget_s

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """All knobs of the service. Env: ``UTRS_<FIELD>`` (e.g. ``UTRS_POOL_SIZE=4``)."""

    model_config = SettingsConfigDict(env_prefix="UTRS_", extra="ignore")

    # --- sandbox pool -------------------------------------------------------------
    sandbox_image: str = "utrs-sandbox-python:latest"
    # The programs' hash seed (set order, str hashes): fixed, so results repeat; test
    # generation runs references under two seeds to find nondeterministic outputs.
    sandbox_hash_seed: int = Field(default=0, ge=0, le=4294967295)
    pool_size: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    container_cpus: float = Field(default=1.0, gt=0)
    # Each container (container_cpus <= 1) on one CPU of its engine, spread evenly over
    # them (service/sandbox/cpus.py: 11-15% of a 2-core host idle during a batch without)
    container_pin_cpu: bool = True
    container_memory_mb: int = Field(default=2048, ge=128)
    container_pids: int = Field(default=256, ge=16)
    container_tmpfs_mb: int = Field(default=512, ge=16)
    container_max_runs: int = Field(default=5000, ge=1)
    container_start_timeout_s: float = Field(default=30.0, gt=0)
    # How long a chunk waits for a container when none can be started (the Docker engine
    # restarting): its programs then run, instead of coming back infra_error at once.
    # At most half of job_timeout_s (RQ would end a chunk still waiting): see engine_wait().
    engine_wait_s: float = Field(default=20.0, ge=0)
    agent_inflight: int = Field(default=16, ge=1, le=256)  # programs queued at an agent
    # The longest a judged program's reply waits in the agent to share a write with the
    # next ones (Docker relays each write of the stream at a cost; a batch's last goes at once).
    agent_reply_delay_s: float = Field(default=0.02, ge=0, le=1.0)
    agent_max_procs: int = Field(default=64, ge=4)
    agent_slack_s: float = Field(default=5.0, gt=0)
    # A test's timeout_s limits its CPU time; the wall clock is bounded at wall_factor
    # times that (a program that sleeps or blocks still ends), so CPU contention on the
    # host never turns a correct program into a timeout.
    wall_factor: float = Field(default=2.0, ge=1.0)
    run_retries: int = Field(default=2, ge=0)
    preview_chars: int = Field(default=2048, ge=0)
    traceback_chars: int = Field(default=8192, ge=256)
    pool_label: str = "utrs.sandbox"

    # --- limits a request may ask for -------------------------------------------------
    max_timeout_s: float = Field(default=30.0, gt=0)
    max_memory_mb: int = Field(default=1536, ge=32)
    max_output_kb: int = Field(default=65536, ge=1)
    max_cases: int = Field(default=1024, ge=1)
    max_code_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # --- API (service/api) ----------------------------------------------------------
    api_host: str = "127.0.0.1"  # another address needs API keys (service.api.keys)
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Keys accepted in ``Authorization: Bearer <key>`` or ``X-API-Key``; empty = open.
    # Env: a JSON list (``UTRS_API_KEYS='["k1","k2"]'``) or comma-separated ``k1,k2``.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # One key per line, read again when it changes (rotation without a restart).
    api_keys_file: str | None = None
    # Serve without keys on a non-loopback address: only behind a proxy that authenticates.
    api_open: bool = False
    max_batch: int = Field(default=4096, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    wait_s: float = Field(default=300.0, gt=0)  # sync wait when the request names none
    # A larger request wait_s is clamped; no chunk's RQ job may need longer (admission
    # refuses an item that alone would, and chunks are filled by budget: service.budgets).
    max_wait_s: float = Field(default=3600.0, gt=0)

    # --- queue and result cache (service/queue/) ---------------------------------------
    redis_url: str = "redis://localhost:6379/0"
    queue_name: str = "utrs"
    key_prefix: str = "utrs"
    # At most this many programs per RQ job (measured); fewer when their budgets add up
    # past max_wait_s.
    chunk_size: int = Field(default=32, ge=1, le=4096)
    queue_high_water: int = Field(default=65536, ge=1)  # programs in flight before 429
    tenant_max_inflight: int = Field(default=32768, ge=1)  # per API key, before 429
    # New work is refused (429) once Redis uses this share of its maxmemory, leaving the
    # rest for the results of the work in flight (Redis runs with noeviction).
    redis_memory_high_water: float = Field(default=0.85, gt=0, le=1)
    # A bulk-lane chunk holds about this much expected work (a running chunk is never
    # preempted, so this bounds what an interactive request waits behind): see dispatch.
    bulk_chunk_ms: float = Field(default=100.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    job_timeout_s: int = Field(default=240, ge=1)  # one RQ job (chunk), enforced by RQ
    job_retries: int = Field(default=2, ge=0)  # re-runs of a chunk whose worker died
    job_ttl_s: int = Field(default=3600, ge=1)  # how long batch results can be fetched
    failure_ttl_s: int = Field(default=86400, ge=1)
    cache_enabled: bool = True
    cache_ttl_s: int = Field(default=7 * 86400, ge=1)

    # --- worker (service/worker/) ------------------------------------------------------
    worker_heartbeat_s: float = Field(default=2.0, gt=0)  # a dead worker is noticed
    worker_dead_after_s: int = Field(default=8, ge=2)  # ...this long after its last beat
    worker_maintenance_s: float = Field(default=1.0, gt=0)  # sweeps for dead workers' chunks
    log_level: str = "INFO"  # utrs-worker's default --log-level

    # --- test generation (POST /v1/testgen, testgen jobs; docs/testgen.md) --------------
    testgen_max_items: int = Field(default=256, ge=1)  # items per request (413 over it)
    testgen_max_code_bytes: int = Field(default=256 * 1024, ge=64)  # one item's code (422 naming it)
    testgen_chunk_items: int = Field(default=4, ge=1)  # items per worker job (run side by side in its pool)
    testgen_item_s: float = Field(default=120.0, gt=0)  # one item's share of its job's RQ timeout
    testgen_pool_size: int = Field(default=1, ge=1)  # containers of the second-hash-seed pool a job starts
    testgen_reseed: int = Field(default=2_654_435_761, ge=0, le=4294967295)  # that pool's hash seed
    testgen_call_budget_s: float = Field(default=0.2, gt=0)  # CPU per call of a reference
    testgen_timeout_s: float = Field(default=0.5, gt=0)  # the sandbox's limit per probe run
    testgen_max_candidates: int = Field(default=240, ge=2)  # inputs run per item
    testgen_mutants: int = Field(default=64, ge=0)  # reference mutants that choose tests
    testgen_n_tests: int = Field(default=10, ge=2, le=200)  # an item's default n_tests

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [key.strip() for key in text.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _check_nesting(self) -> Settings:
        if self.max_memory_mb + MEMORY_HEADROOM_MB > self.container_memory_mb:
            raise ValueError(
                f"container_memory_mb must exceed max_memory_mb by {MEMORY_HEADROOM_MB} MiB "
                "(the agent and the loader live beside the program)"
            )
        self._check_timeouts()
        if self.queue_high_water < self.max_batch:
            raise ValueError("queue_high_water must be >= max_batch (an idle queue admits a batch)")
        if self.tenant_max_inflight < self.max_batch:
            raise ValueError("tenant_max_inflight must be >= max_batch (an idle key's batch is admitted)")
        if self.worker_dead_after_s <= 2 * self.worker_heartbeat_s:
            raise ValueError("worker_dead_after_s must exceed two worker heartbeats")
        if self.testgen_reseed == self.sandbox_hash_seed:
            raise ValueError("testgen_reseed must differ from sandbox_hash_seed (the second run's hash seed)")
        if not self.testgen_call_budget_s < self.testgen_timeout_s <= self.max_timeout_s:
            raise ValueError("timeouts must nest: testgen_call_budget_s < testgen_timeout_s <= max_timeout_s")
        return self

    def engine_wait(self) -> float:
        """How long a chunk waits for the engine: ``engine_wait_s``, but never more than
        half the RQ job's own timeout (which is at least ``job_timeout_s``)."""
        return min(self.engine_wait_s, self.job_timeout_s / 2)

    def _check_timeouts(self) -> None:
        """Timeouts nest: program < agent < RQ job < API wait (the client adds its own),
        for a one-test program at ``max_timeout_s``; such a program must be admissible.
        Larger items are checked one by one at admission (service.budgets)."""
        agent_s = run_budget_s(1, self.max_timeout_s, wall_factor=self.wall_factor, slack_s=self.agent_slack_s)
        chain = [
            ("max_timeout_s (program)", self.max_timeout_s),
            ("the budget of one test at max_timeout_s (agent)", agent_s),
            ("job_timeout_s (RQ job)", float(self.job_timeout_s)),
            ("wait_s (API wait)", self.wait_s),
        ]
        for (inner, inner_s), (outer, outer_s) in itertools.pairwise(chain):
            if not inner_s < outer_s:
                raise ValueError(f"timeouts must nest: {inner}={inner_s} < {outer}={outer_s}")
        if self.max_wait_s < self.wait_s:
            raise ValueError("max_wait_s must be >= wait_s")
        if job_s(agent_s) > self.max_wait_s:
            raise ValueError(
                f"max_wait_s={self.max_wait_s} must fit a one-test program at max_timeout_s "
                f"({job_s(agent_s)} s with the RQ job margin), or admission refuses it"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
