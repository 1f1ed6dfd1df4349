"""Warm sandbox containers and the streams to their agents.

The only module that imports the Docker SDK. A :class:`SandboxPool` starts ``pool_size``
long-lived containers (no network, read-only root, capped tmpfs, memory/pids/CPU limits,
no capabilities, no-new-privileges, non-root user), attaches to each agent's stdin/stdout
once, and streams run requests to them, a few in flight per container so the agent never
waits for the worker. When an agent dies or hangs, its container is replaced; the request
it was executing is retried (a program that kills the agent again loses only its own
verdict) and the requests queued behind it are re-run untouched.

Containers are labelled with their owner; a container whose worker was killed sees its
stdin close (``StdinOnce``) and exits by itself, and the next pool started on the host
removes whatever is left.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.types import Ulimit

from service.budgets import DOCKER_API_TIMEOUT_S, HEALTH_PING_S
from service.errors import (
    AgentDied,
    AgentError,
    AgentProtocolError,
    AgentTimeout,
    ContainerStartError,
    SandboxUnavailable,
)
from service.settings import Settings

log = logging.getLogger(__name__)

SANDBOX_UID = "1000:1000"
_STDOUT = 1
_HEADER = 8
_MAX_LINE = 256 * 1024 * 1024


def _proc_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_id() -> str:
    """This process, unambiguously on this host: hostname, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_proc_start_time(pid)}"


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True  # another host's worker on a shared engine: not ours to judge
    return pid.isdigit() and _proc_start_time(int(pid)) == started


class AgentConn:
    """One sandbox container and the attached stream to its agent."""

    def __init__(self, api: docker.APIClient, container_id: str, sock: socket.socket) -> None:
        self.api = api
        self.id = container_id
        self.sock = sock
        self.runs = 0
        self._raw = bytearray()
        self._lines = bytearray()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise AgentDied(f"cannot write to agent: {exc}", container=self.id) from exc

    def recv(self, timeout_s: float) -> dict[str, Any]:
        """The next response line; raises AgentDied, AgentTimeout or AgentProtocolError."""
        deadline = time.monotonic() + timeout_s
        while (nl := self._lines.find(b"\n")) < 0:
            self._fill(deadline)
        line = bytes(self._lines[:nl])
        del self._lines[: nl + 1]
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise AgentProtocolError(f"unreadable agent output: {line[:200]!r}", container=self.id) from exc
        if not isinstance(message, dict):
            raise AgentProtocolError(f"agent sent {type(message).__name__}", container=self.id)
        return message

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AgentTimeout("agent did not answer in time", container=self.id)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError as exc:
            raise AgentTimeout("agent did not answer in time", container=self.id) from exc
        except OSError as exc:
            raise AgentDied(f"agent stream broke: {exc}", container=self.id) from exc
        if not chunk:
            raise AgentDied("agent stream closed", container=self.id)
        self._raw += chunk
        self._demux()

    def _demux(self) -> None:
        """Docker multiplexes attached streams as [type, 0, 0, 0, size(4)] + payload."""
        while len(self._raw) >= _HEADER:
            size = int.from_bytes(self._raw[4:_HEADER], "big")
            if len(self._raw) < _HEADER + size:
                return
            if self._raw[0] == _STDOUT:
                self._lines += self._raw[_HEADER : _HEADER + size]
            del self._raw[: _HEADER + size]
            if len(self._lines) > _MAX_LINE:
                raise AgentProtocolError("agent response too large", container=self.id)

    def ping(self, timeout_s: float) -> dict[str, Any]:
        self.send({"op": "ping"})
        reply = self.recv(timeout_s)
        if reply.get("op") != "pong":
            raise AgentProtocolError(f"bad ping reply {reply!r:.200}", container=self.id)
        return reply

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.api.remove_container(self.id, force=True)
        except docker.errors.DockerException as exc:
            log.debug("removing container %s: %s", self.id[:12], exc)


@dataclass
class Task:
    """One request for an agent. ``slot`` is its position in the list given to
    :meth:`SandboxPool.run` (set by ``run``; it is also the request id sent to the agent)."""

    request: dict[str, Any]
    budget_s: float
    slot: int = -1
    attempts: int = 0


@dataclass
class _Batch:
    tasks: collections.deque[Task]
    results: list[dict[str, Any] | None]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> Task | None:
        with self.lock:
            return self.tasks.popleft() if self.tasks else None

    def give_back(self, tasks: Sequence[Task]) -> None:
        with self.lock:
            self.tasks.extendleft(reversed(tasks))


class SandboxPool:
    """A fixed number of warm sandbox containers shared by the caller's threads."""

    def __init__(self, settings: Settings, *, size: int | None = None) -> None:
        self.settings = settings
        self.size = size or settings.pool_size
        self.owner = owner_id()
        self.pool_id = uuid.uuid4().hex[:12]  # several pools may share a process (tests, benches)
        self.image_version = ""
        self.restarts = 0
        self._api: docker.APIClient | None = None
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
    def api(self) -> docker.APIClient:
        if self._api is None:
            raise SandboxUnavailable("the pool is not started")
        return self._api

    def start(self) -> None:
        """Connect to Docker, check the image, clear orphans, start the containers."""
        try:
            self._api = docker.APIClient(version="auto", timeout=DOCKER_API_TIMEOUT_S)
            image = self._api.inspect_image(self.settings.sandbox_image)  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"sandbox image {self.settings.sandbox_image} is missing: run sandbox_images/build.sh"
            ) from exc
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        labels = (image.get("Config") or {}).get("Labels") or {}
        self.image_version = labels.get("utrs.sandbox.version") or image["Id"][7:19]
        self.remove_orphans()
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
            conn.kill()
        if self._api is not None:
            self._remove(lambda c: c["Labels"].get(f"{self.settings.pool_label}.pool") == self.pool_id)
            self._api.close()

    def remove_orphans(self) -> int:
        """Remove sandbox containers whose worker process is gone; how many."""
        key = f"{self.settings.pool_label}.owner"
        return self._remove(lambda c: c["State"] != "running" or not _owner_alive(c["Labels"].get(key, "")))

    def _remove(self, select: Any) -> int:
        found = self.api.containers(all=True, filters={"label": f"{self.settings.pool_label}.owner"})
        doomed = [c for c in found if select(c)]
        for c in doomed:
            try:
                self.api.remove_container(c["Id"], force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.DockerException as exc:
                log.warning("cannot remove container %s: %s", c["Id"][:12], exc)
        return len(doomed)

    # ---------------------------------------------------------------- containers
    def _host_config(self) -> dict[str, Any]:
        s = self.settings
        memory = f"{s.container_memory_mb}m"
        return self.api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={"/sandbox": f"rw,exec,nosuid,nodev,size={s.container_tmpfs_mb}m,uid=1000,gid=1000,mode=0700"},
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=s.container_pids,
            nano_cpus=int(s.container_cpus * 1e9),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            init=True,
            auto_remove=True,
            ulimits=[Ulimit(name="nofile", soft=4096, hard=4096)],
        )

    def spawn(self) -> AgentConn:
        """Start one container, attach to its agent and ping it."""
        s = self.settings
        labels = {
            f"{s.pool_label}.owner": self.owner,
            f"{s.pool_label}.pool": self.pool_id,
            f"{s.pool_label}.version": self.image_version,
        }
        name = f"utrs-sbx-{uuid.uuid4().hex[:12]}"
        try:
            created = self.api.create_container(
                s.sandbox_image,
                name=name,
                detach=False,
                stdin_open=True,
                tty=False,
                user=SANDBOX_UID,
                labels=labels,
                network_disabled=True,
                host_config=self._host_config(),
            )
            cid = created["Id"]
            params = {"stdin": 1, "stdout": 1, "stream": 1}
            raw = self.api.attach_socket(cid, params=params)
            self.api.start(cid)
        except docker.errors.DockerException as exc:
            raise ContainerStartError(f"cannot start a sandbox container: {exc}") from exc
        conn = AgentConn(self.api, cid, raw._sock)
        try:
            conn.ping(s.container_start_timeout_s)
        except AgentError as exc:
            conn.kill()
            raise ContainerStartError(f"sandbox agent did not answer: {exc}") from exc
        return conn

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

    def _acquire(self, timeout_s: float) -> AgentConn | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._idle or self._closed, timeout_s):
                return None
            return None if self._closed else self._idle.popleft()

    def _release(self, conn: AgentConn | None) -> None:
        with self._cond:
            if conn is None:
                self._slots -= 1
            elif self._closed:
                conn.kill()
                return
            else:
                self._idle.append(conn)
            self._cond.notify()

    def _replace(self, conn: AgentConn, why: str) -> AgentConn | None:
        log.warning("replacing sandbox container %s: %s", conn.id[:12], why)
        conn.kill()
        self.restarts += 1
        for attempt in range(1 + self.settings.run_retries):
            try:
                return self.spawn()
            except ContainerStartError as exc:
                log.error("container start failed (attempt %d): %s", attempt + 1, exc)
        return None

    # ---------------------------------------------------------------------- runs
    def run(self, tasks: Sequence[Task]) -> list[dict[str, Any] | None]:
        """Send every task to an agent; the responses in task order.

        A response is the agent's reply, or ``{"killed_agent": detail}`` for a request
        whose program killed the agent on every attempt. ``None`` marks a task no
        container could take (no container could be started): the caller's infra_error.
        """
        for slot, task in enumerate(tasks):
            task.slot = slot
        batch = _Batch(collections.deque(tasks), [None] * len(tasks))
        self._refill()
        workers = min(max(self._slots, 1), len(tasks))
        threads = [threading.Thread(target=self._drive, args=(batch,)) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return batch.results

    def _refill(self) -> None:
        missing = self.size - self._slots
        for _ in range(max(0, missing)):
            self._add_slot()

    def _drive(self, batch: _Batch) -> None:
        """One thread: borrow a container and feed it tasks until the batch is empty."""
        while batch.tasks:
            borrowed = self._acquire(timeout_s=self.settings.container_start_timeout_s)
            if borrowed is None:
                return
            try:
                conn = self._feed(borrowed, batch)
            except Exception as exc:  # a bug of ours: its in-flight tasks stay None (infra_error)
                log.exception("sandbox pool driver failed")
                conn = self._replace(borrowed, f"driver error: {exc!r}")
            self._release(conn)
            if conn is None:
                return

    def _feed(self, conn: AgentConn, batch: _Batch) -> AgentConn | None:
        """Keep up to ``agent_inflight`` tasks queued at the agent until the batch is done.

        Returns the container to give back (a replacement if it was swapped), or None
        when no replacement could be started.
        """
        inflight: collections.deque[Task] = collections.deque()
        while True:
            if not self._top_up(conn, batch, inflight) and not inflight:
                # Dead before it was given anything (e.g. removed from outside): no one to blame.
                replacement = self._replace(conn, "agent stream closed while idle")
                if replacement is None:
                    return None
                conn = replacement
                continue
            if not inflight:
                if conn.runs < self.settings.container_max_runs:
                    return conn
                replacement = self._replace(conn, f"recycled after {conn.runs} runs")
                if replacement is None or not batch.tasks:
                    return replacement
                conn = replacement
                continue
            head = inflight[0]
            try:
                reply = conn.recv(head.budget_s)
                if reply.get("rid") != str(head.slot):
                    raise AgentProtocolError(f"response out of order: {reply!r:.200}", container=conn.id)
            except AgentError as exc:
                replacement = self._replace(conn, str(exc))
                inflight.popleft()
                self._blame(head, batch, str(exc))
                batch.give_back(list(inflight))
                inflight.clear()
                if replacement is None:
                    return None
                conn = replacement
                continue
            inflight.popleft()
            conn.runs += 1
            batch.results[head.slot] = reply

    def _top_up(self, conn: AgentConn, batch: _Batch, inflight: collections.deque[Task]) -> bool:
        """Queue tasks at the agent; False if its stream is closed."""
        room = min(self.settings.agent_inflight, self.settings.container_max_runs - conn.runs)
        while len(inflight) < room and (task := batch.take()):
            try:
                conn.send(_with_rid(task))
            except AgentDied:
                batch.give_back([task])
                return False
            inflight.append(task)
        return True

    def _blame(self, task: Task, batch: _Batch, why: str) -> None:
        """The task running when the agent broke: retry it, then give it the verdict."""
        task.attempts += 1
        if task.attempts > self.settings.run_retries:
            batch.results[task.slot] = {"killed_agent": why}
        else:
            batch.give_back([task])

    def container_ids(self) -> list[str]:
        """The containers currently idle in the pool."""
        with self._cond:
            return [c.id for c in self._idle]

    def processes(self, container_id: str) -> list[str]:
        """Command lines of the processes running in one container (``docker top``)."""
        top = self.api.top(container_id, ps_args="-eo pid,args")
        return [" ".join(str(x) for x in row[1:]) for row in top.get("Processes") or []]

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
                self._release(conn)
            except AgentError as exc:
                self._release(self._replace(conn, f"failed health check: {exc}"))
        return {"slots": self._slots, "healthy": healthy, "restarts": self.restarts}


def _with_rid(task: Task) -> dict[str, Any]:
    return {**task.request, "rid": str(task.slot)}
