"""A private ``redis-server`` per test session (or per test that restarts it).

A missing ``redis-server`` is an error, not a skip: the test command (scripts/test.sh)
installs it first.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.waiting import free_port, wait_until

__all__ = ["RedisProc", "start_redis"]


@dataclass
class RedisProc:
    """A private redis-server; ``restart()`` keeps its data directory (AOF survives)."""

    port: int
    workdir: Path
    aof: bool
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()  # more redis-server options (``--maxmemory 32mb``)

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
                *self.extra,
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
def start_redis(*, aof: bool = False, extra: tuple[str, ...] = ()) -> Iterator[RedisProc]:
    """A private redis-server on a free port for the duration of the block."""
    workdir = Path(tempfile.mkdtemp(prefix="utrs-redis-"))
    server = RedisProc(port=free_port(), workdir=workdir, aof=aof, extra=extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
