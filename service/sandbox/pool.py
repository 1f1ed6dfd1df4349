"""A fixed number of warm sandbox containers, shared by the caller's threads.

A :class:`SandboxPool` starts ``pool_size`` long-lived containers (:mod:`.docker`),
attaches to each agent once (:mod:`.stream`) and lends them to :mod:`.scheduler`, which
streams run requests to them. A container whose agent broke is replaced; one that ran
``container_max_runs`` requests is recycled. A container whose worker was killed sees
its stdin close (``StdinOnce``) and exits by itself, and the next pool started on the
host removes whatever is left.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from service.budgets import HEALTH_PING_S
from service.errors import AgentError, ContainerStartError
from service.sandbox.docker import DockerAPI, Engine, owner_id
from service.sandbox.protocol import RunResult
from service.sandbox.scheduler import Task, run_tasks
from service.sandbox.stream import AgentConn
from service.settings import Settings

__all__ = ["SandboxPool", "Task"]

log = logging.getLogger(__name__)


class SandboxPool:
    """A fixed number of warm sandbox containers shared by the caller's threads."""

    def __init__(self, settings: Settings, *, size: int | None = None) -> None:
        self.settings = settings
        self.size = size or settings.pool_size
        self.owner = owner_id()
        self.pool_id = uuid.uuid4().hex[:12]  # several pools may share a process (tests, benches)
        self.image_version = ""
        self.restarts = 0
        self.engine = Engine(settings)
        self._idle: collections.deque[AgentConn] = collections.deque()
        self._cond = threading.Condition()
        self._slots = 0
        self._closed = False

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> SandboxPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api(self) -> DockerAPI:
        """The engine's low-level client (tests inspect, kill and remove containers with it)."""
        return self.engine.api

    @property
    def slots(self) -> int:
        """Containers this pool holds (idle or lent)."""
        return self._slots

    def start(self) -> None:
        """Connect to Docker, check the image, clear orphans, start the containers.

        Raises:
            SandboxUnavailable: no engine or no image.
            ContainerStartError: not one container could be started.
        """
        self.image_version = self.engine.connect()
        self.engine.remove_orphans()
        threads = [threading.Thread(target=self._add_slot) for _ in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if not self._slots:
            raise ContainerStartError("no sandbox container could be started")
        log.info("sandbox pool up: %d containers of %s", self._slots, self.settings.sandbox_image)

    def close(self) -> None:
        """Remove every container this pool owns."""
        with self._cond:
            self._closed = True
            conns = list(self._idle)
            self._idle.clear()
        for conn in conns:
            self._kill(conn)
        if self.engine.connected:
            self.engine.remove_where(lambda c: c["Labels"].get(f"{self.settings.pool_label}.pool") == self.pool_id)
            self.engine.close()

    def remove_orphans(self) -> int:
        """Remove sandbox containers whose worker process is gone; how many."""
        return self.engine.remove_orphans()

    # ---------------------------------------------------------------- containers
    def spawn(self, *, cpu: int | None = None) -> AgentConn:
        """Start one container (on ``cpu``, by default the engine's least-used CPU),
        attach to its agent and ping it; started again elsewhere once when it landed on a
        CPU that pools starting containers at the same moment piled up on.

        Raises:
            ContainerStartError: it would not start or did not answer.
        """
        s = self.settings
        labels = {
            f"{s.pool_label}.owner": self.owner,
            f"{s.pool_label}.pool": self.pool_id,
            f"{s.pool_label}.version": self.image_version,
        }
        cid, sock, attach = self.engine.start_container(f"utrs-sbx-{uuid.uuid4().hex[:12]}", labels, cpu=cpu)
        conn = AgentConn(cid, sock, keep=attach)
        try:
            conn.ping(s.container_start_timeout_s)
        except AgentError as exc:
            self._kill(conn)
            raise ContainerStartError(f"sandbox agent did not answer: {exc}") from exc
        if cpu is None and (better := self.engine.misplaced(cid)) is not None:
            log.info("container %s: on a CPU that pools piled up on; starting it on CPU %d", cid[:12], better)
            self._kill(conn)
            return self.spawn(cpu=better)
        return conn

    def _kill(self, conn: AgentConn) -> None:
        conn.close()
        self.engine.discard(conn.id)

    def _add_slot(self) -> None:
        try:
            conn = self.spawn()
        except ContainerStartError as exc:
            log.error("%s", exc)
            return
        with self._cond:
            self._slots += 1
            self._idle.append(conn)
            self._cond.notify()

    def refill(self) -> None:
        """Start containers for slots lost to failed replacements."""
        for _ in range(max(0, self.size - self._slots)):
            self._add_slot()

    def acquire(self, timeout_s: float) -> AgentConn | None:
        """An idle container, or None when none came free in time or the pool closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._idle or self._closed, timeout_s):
                return None
            return None if self._closed else self._idle.popleft()

    def release(self, conn: AgentConn | None) -> None:
        """Give a borrowed container back (None: its slot is lost)."""
        with self._cond:
            if conn is None:
                self._slots -= 1
            elif self._closed:
                self._kill(conn)
                return
            else:
                self._idle.append(conn)
            self._cond.notify()

    def replace(self, conn: AgentConn, why: str) -> AgentConn | None:
        """Kill ``conn`` and start a fresh container in its place (None if none starts)."""
        log.warning("replacing sandbox container %s: %s", conn.id[:12], why)
        self._kill(conn)
        self.restarts += 1
        for attempt in range(1 + self.settings.run_retries):
            try:
                return self.spawn()
            except ContainerStartError as exc:
                log.error("container start failed (attempt %d): %s", attempt + 1, exc)
        return None

    # ---------------------------------------------------------------------- runs
    def run(self, tasks: Sequence[Task], group: str | None = None) -> list[RunResult]:
        """Send every task to an agent; what came of each, in task order (see
        :func:`service.sandbox.scheduler.run_tasks`)."""
        return run_tasks(self, tasks, group)

    def container_ids(self) -> list[str]:
        """The containers currently idle in the pool."""
        with self._cond:
            return [c.id for c in self._idle]

    def processes(self, container_id: str) -> list[tuple[int, str]]:
        """(uid, command line) of the processes running in one container (``docker top``)."""
        return self.engine.processes(container_id)

    def health(self) -> dict[str, Any]:
        """Ping every idle container; replace those that do not answer."""
        with self._cond:
            conns = list(self._idle)
            self._idle.clear()
        healthy = 0
        for conn in conns:
            try:
                conn.ping(HEALTH_PING_S)
                healthy += 1
                self.release(conn)
            except AgentError as exc:
                self.release(self.replace(conn, f"failed health check: {exc}"))
        return {"slots": self._slots, "healthy": healthy, "restarts": self.restarts}
