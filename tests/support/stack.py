"""A real API (uvicorn) and real RQ workers (real sandbox) on a Redis, as subprocesses on a
queue and key prefix of their own; or one in-process API with the settings a test needs.

* :func:`run_stack`: ``python -m service.api`` plus ``workers`` ``python -m service.worker``
  subprocesses; waits for ``/readyz``. The root conftest's ``live_stack`` fixture is one.
* :func:`serve_app`: ``create_app(settings)`` served by real uvicorn in a thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import uvicorn

from service.queue.keys import RedisKeys, rq_job_key
from service.settings import Settings
from tests.support.paths import ROOT
from tests.support.waiting import free_port, wait_until

__all__ = ["Stack", "run_stack", "serve_app", "stack_env"]


# --------------------------------------------------------------------- the stack
@dataclass
class Stack:
    """A running API + workers sharing one Redis, on a queue/prefix of their own."""

    url: str
    redis_url: str
    env: dict[str, str]
    logdir: Path
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # worker pid -> RQ worker name

    @property
    def settings(self) -> Settings:
        """The settings the stack's processes read from their environment."""
        overrides = {k.removeprefix("UTRS_").lower(): v for k, v in self.env.items() if k.startswith("UTRS_")}
        return Settings(**overrides)  # type: ignore[arg-type]

    def redis(self) -> redis.Redis:  # type: ignore[type-arg]
        return redis.Redis.from_url(self.redis_url)

    def programs_run(self) -> int:
        """Programs the workers have judged so far (their stats hash, by status)."""
        conn = self.redis()
        stats = conn.hgetall(f"{self.env['UTRS_KEY_PREFIX']}:stats")
        conn.close()
        return sum(int(float(v)) for k, v in stats.items() if k.startswith(b"programs:"))

    def start_worker(
        self, *, wait: bool = True, docker_socket: Path | None = None, cpus: str | None = None, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start one more ``utrs-worker``; by default wait until it is registered.

        ``docker_socket``: the worker's engine is that one (``DOCKER_HOST``), as a worker
        on another host has its own engine. ``cpus``: pin it (``taskset -c``)."""
        name = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}"
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 (lives with the process)
        command = [sys.executable, "-m", "service.worker", "--name", name]
        if cpus is not None:
            command = ["taskset", "-c", cpus, *command]
        if docker_socket is not None:
            env = {**env, "DOCKER_HOST": f"unix://{docker_socket}"}
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        self.names[proc.pid] = name
        if wait:
            conn = self.redis()
            key = f"{self.env['UTRS_KEY_PREFIX']}:workers"
            wait_until(lambda: conn.zscore(key, name) is not None, 60, f"worker {name}")
        return proc

    def stop_worker(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.workers if p.poll() is None]

    def busy_workers(self) -> list[subprocess.Popen[bytes]]:
        """Live workers in the middle of a chunk: RQ reports them busy and the chunk job
        each recorded as running has started (RQ marks a worker busy a moment before)."""
        conn = self.redis()
        running = RedisKeys(self.env["UTRS_KEY_PREFIX"]).running
        busy = []
        for proc in self.live_workers():
            name = self.names[proc.pid]
            job_id = conn.hget(running, name)
            started = job_id is not None and conn.hget(rq_job_key(job_id.decode()), "status") == b"started"
            if started and conn.hget(f"rq:worker:{name}", "state") == b"busy":
                busy.append(proc)
        conn.close()
        return busy

    def close(self) -> None:
        for proc in self.workers:
            self.stop_worker(proc)
        if self.api is not None:
            self.stop_worker(self.api)


def stack_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """Environment for stack processes: private queue/prefix, fast dead-worker recovery."""
    tag = uuid.uuid4().hex[:8]
    env = {
        "UTRS_REDIS_URL": redis_url,
        "UTRS_QUEUE_NAME": f"utrs-test-{tag}",
        "UTRS_KEY_PREFIX": f"utrs-test-{tag}",
        "UTRS_POOL_SIZE": "2",
        "UTRS_WORKER_HEARTBEAT_S": "0.5",
        "UTRS_WORKER_DEAD_AFTER_S": "3",
        "UTRS_WORKER_MAINTENANCE_S": "1",
        "UTRS_LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


@contextlib.contextmanager
def run_stack(redis_url: str, *, workers: int = 1, **overrides: str) -> Iterator[Stack]:
    """API subprocess + ``workers`` worker subprocesses; waits for /readyz."""
    env = stack_env(redis_url, **overrides)
    port = free_port()
    logdir = Path(tempfile.mkdtemp(prefix="utrs-stack-"))
    stack = Stack(url=f"http://127.0.0.1:{port}", redis_url=redis_url, env=env, logdir=logdir)
    try:
        api_log = open(logdir / "api.log", "wb")  # noqa: SIM115 (lives with the process)
        stack.api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=api_log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(workers):
            stack.start_worker(wait=False)
        probe = "/readyz" if workers else "/healthz"  # with no worker yet, the API is never ready
        wait_until(
            lambda: httpx.get(f"{stack.url}{probe}", timeout=2).status_code == 200,
            90,
            f"the API at {stack.url} to be ready (logs in {logdir})",
            every_s=0.2,
        )
        yield stack
    finally:
        stack.close()


# ---------------------------------------------------------------- in-process API
@contextlib.contextmanager
def serve_app(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` with real uvicorn in a thread; yields its base URL."""
    from service.api import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
