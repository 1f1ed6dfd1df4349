"""Pytest plugin: a real Redis, a real API (uvicorn) and real RQ workers (real sandbox).

Fixtures:

* ``redis_server`` (session): URL of a private ``redis-server`` on a free port (no
  persistence), or ``UTRS_TEST_REDIS_URL`` when set. A missing ``redis-server`` is an
  error, not a skip.
* ``live_stack`` (session): a :class:`Stack`: ``utrs-api`` (uvicorn, subprocess) plus one
  ``utrs-worker`` subprocess on its own queue/key prefix; helpers start more workers.
* ``live_service`` (session): ``live_stack.url``, the API's base URL, for client/trainer
  tests.

Helpers (:func:`start_redis`, :func:`free_port`, :func:`serve_app`) let a test build the
tiny variant it needs (a second API with other settings, a Redis with AOF).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "RedisProc",
    "Stack",
    "free_port",
    "serve_app",
    "start_redis",
    "wait_until",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout_s: float, what: str, every_s: float = 0.05) -> None:
    """Poll ``check()`` until it is truthy; fail the test after ``timeout_s``."""
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")


# --------------------------------------------------------------------------- redis
@dataclass
class RedisProc:
    """A private redis-server; ``restart()`` keeps its data directory (AOF survives)."""

    port: int
    workdir: Path
    aof: bool
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.workdir),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(client.ping, 10, f"redis-server on port {self.port}")
        client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()


@contextlib.contextmanager
def start_redis(*, aof: bool = False) -> Iterator[RedisProc]:
    """A private redis-server on a free port for the duration of the block."""
    workdir = Path(tempfile.mkdtemp(prefix="utrs-redis-"))
    server = RedisProc(port=free_port(), workdir=workdir, aof=aof)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    given = os.environ.get("UTRS_TEST_REDIS_URL")
    if given:
        yield given
        return
    with start_redis() as server:
        yield server.url


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

    def start_worker(self, *, wait: bool = True, **env: str) -> subprocess.Popen[bytes]:
        """Start one more ``utrs-worker``; by default wait until it is registered."""
        name = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}"
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 (lives with the process)
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.worker", "--name", name],
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
        """Live workers that RQ reports as running a job right now."""
        conn = self.redis()
        busy = [
            proc for proc in self.live_workers() if conn.hget(f"rq:worker:{self.names[proc.pid]}", "state") == b"busy"
        ]
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
        wait_until(
            lambda: httpx.get(f"{stack.url}/readyz", timeout=2).status_code == 200,
            90,
            f"the API at {stack.url} to be ready (logs in {logdir})",
            every_s=0.2,
        )
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def live_stack(redis_server: str) -> Iterator[Stack]:
    with run_stack(redis_server, workers=1) as stack:
        yield stack


@pytest.fixture(scope="session")
def live_service(live_stack: Stack) -> str:
    return live_stack.url


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
