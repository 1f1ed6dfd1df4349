"""The Docker engine as the sandbox uses it: the only module that imports the Docker SDK,
and the one place its errors are translated (into :class:`~service.errors.SandboxError`).

A sandbox container runs with no network, a read-only root, a size-capped tmpfs,
memory/pids/CPU limits (on one CPU: :mod:`service.sandbox.cpus`), no-new-privileges, and
of all capabilities only CAP_SETUID, CAP_SETGID and CAP_KILL: its agent starts as root
and runs every program and every harness under a uid of its own, from a range picked at
random per container (so two containers' programs never share a uid, whose process count
the kernel limits across the host). SysV message queues and semaphores and POSIX message
queues are switched off and SysV shared memory dies with its last user (sysctls), so
nothing outlives a run there. Its agent's stdin/stdout are attached once. Containers are
labelled with their owner (this process: host, pid, start time) and pool, so that a pool
removes only its own, and the next pool started on a host removes what a killed worker
left behind.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import docker.utils
from docker.types import Ulimit

from service.budgets import DOCKER_API_TIMEOUT_S
from service.errors import ContainerStartError, SandboxUnavailable
from service.sandbox import cpus
from service.settings import Settings

__all__ = ["AGENT_CAPS", "SANDBOX_SYSCTLS", "SANDBOX_UID", "DockerAPI", "Engine", "owner_id", "uid_base"]

# What a call into the engine raises: the SDK's own errors, and when the engine is gone
# (stopped, restarting) the transport's (requests' ConnectionError is an OSError).
_ENGINE_ERRORS = (docker.errors.DockerException, OSError)

log = logging.getLogger(__name__)

SANDBOX_UID = "0:0"  # the agent; it drops every program to a run uid of its own
#: What the agent keeps: changing uid/gid for its children, killing them.
AGENT_CAPS = ("SETUID", "SETGID", "KILL")
#: IPC that could outlive a run is switched off or tied to its last user.
SANDBOX_SYSCTLS = {
    "kernel.msgmni": "0",
    "kernel.sem": "0 0 0 0",
    "kernel.shm_rmid_forced": "1",
    "fs.mqueue.queues_max": "0",
}
_UID_SPAN = 64  # uids per container: 8 for runs, 16 for harnesses, the rest unused
_UID_FIRST = 100_000
_VERSION_LABEL = "utrs.sandbox.version"

#: The SDK's low-level client, for callers that need its type (they never import the SDK).
DockerAPI = docker.APIClient


def _proc_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def uid_base() -> int:
    """The first uid of a new container's range (random: ranges of different containers,
    of any pool on the host, almost never meet)."""
    return _UID_FIRST + secrets.randbelow((2**31 - _UID_FIRST) // _UID_SPAN - 1) * _UID_SPAN


def owner_id() -> str:
    """This process, unambiguously on this host: hostname, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_proc_start_time(pid)}"


_ENDED = frozenset({"exited", "dead"})  # container states that never run again


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True  # another host's worker on a shared engine: not ours to judge
    return pid.isdigit() and _proc_start_time(int(pid)) == started


class Engine:
    """The engine's API for one pool: image, containers, their removal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api: docker.APIClient | None = None
        self._ncpu = 0  # CPUs containers are spread over; 0: not pinned
        self._cpu_label = f"{settings.pool_label}.cpu"  # a container's CPU (it never moves)

    @property
    def connected(self) -> bool:
        return self._api is not None

    @property
    def api(self) -> docker.APIClient:
        """The low-level client (tests and ``docker top`` use it).

        Raises:
            SandboxUnavailable: :meth:`connect` was not called.
        """
        if self._api is None:
            raise SandboxUnavailable("the pool is not started")
        return self._api

    def connect(self) -> str:
        """Reach the engine and find the sandbox image; returns the image's version.

        Raises:
            SandboxUnavailable: no engine answers, or the image is missing.
        """
        image_name = self.settings.sandbox_image
        try:
            self._api = docker.APIClient(  # DOCKER_HOST (and DOCKER_TLS_*), else the local socket
                version="auto", timeout=DOCKER_API_TIMEOUT_S, **docker.utils.kwargs_from_env()
            )
            image = self._api.inspect_image(image_name)  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(f"sandbox image {image_name} is missing: run sandbox_images/build.sh") from exc
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        labels = (image.get("Config") or {}).get("Labels") or {}
        if self.settings.container_pin_cpu and self.settings.container_cpus <= 1:
            try:
                self._ncpu = int(self._api.info().get("NCPU") or 0)
            except _ENGINE_ERRORS as exc:
                log.warning("cannot count the engine's CPUs (%s): containers not pinned", exc)
        return str(labels.get(_VERSION_LABEL) or image["Id"][7:19])

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def start_container(
        self, name: str, labels: dict[str, str], *, cpu: int | None = None
    ) -> tuple[str, socket.socket, object]:
        """Create a sandbox container (pinned to ``cpu``, by default the engine's least-used
        CPU: :mod:`service.sandbox.cpus`), attach to its stdin/stdout, start it.

        Returns:
            The container id, the attached socket, and what must live as long as the socket
            is read: docker-py's answer to the attach request, which closes the socket when
            the garbage collector frees it.

        Raises:
            ContainerStartError: the engine refused or failed.
        """
        pinned = self._ncpu > 0
        try:
            try:
                chosen = (self._initial_cpu() if cpu is None else cpu) if pinned else None
                return self._start(name, labels, chosen)
            except docker.errors.APIError as exc:
                if not pinned or "cpu" not in str(exc).lower():
                    raise
                # e.g. the engine's cgroup parent allows other CPUs than it reports
                log.warning("the engine refused a container pinned to a CPU (%s): not pinning any more", exc)
                self._ncpu = 0
                return self._start(name, labels, None)
        except _ENGINE_ERRORS as exc:
            raise ContainerStartError(f"cannot start a sandbox container: {exc}") from exc

    def _start(self, name: str, labels: dict[str, str], cpu: int | None) -> tuple[str, socket.socket, object]:
        if cpu is not None:
            labels = {**labels, self._cpu_label: str(cpu)}
        created = self.api.create_container(
            self.settings.sandbox_image,
            name=name,
            detach=False,
            stdin_open=True,
            tty=False,
            user=SANDBOX_UID,
            labels=labels,
            environment={"UTRS_UID_BASE": str(uid_base()), "PYTHONHASHSEED": str(self.settings.sandbox_hash_seed),
                         "UTRS_REPLY_DELAY_S": str(self.settings.agent_reply_delay_s)},
            network_disabled=True,
            host_config=self._host_config(cpu),
        )
        cid = str(created["Id"])
        try:
            raw = self.api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1})
            self.api.start(cid)
        except BaseException:
            self.discard(cid)
            raise
        return cid, raw._sock, raw  # raw holds docker-py's response (raw._response)

    def _placed(self) -> list[cpus.Placed]:
        """The engine's live sandbox containers pinned to a CPU (any pool's), from their
        labels: one listing, no call per container."""
        found = self.api.containers(all=True, filters={"label": self._cpu_label})
        return [
            cpus.Placed(c["Id"], int(c["Labels"][self._cpu_label]), int(c.get("Created") or 0))
            for c in found
            if c["State"] not in _ENDED and str(c["Labels"].get(self._cpu_label, "")).isdigit()
        ]

    def _initial_cpu(self) -> int:
        return cpus.least_used(self._ncpu, self._placed())

    def misplaced(self, container_id: str) -> int | None:
        """Once a new container answers: the CPU it should be on instead when pools that
        started containers at the same moment piled them on one CPU and it is of the
        excess (its pool starts it again there), else None. Failures only logged."""
        if self._ncpu <= 0:
            return None
        try:
            placed = self._placed()
        except _ENGINE_ERRORS as exc:
            log.warning("cannot list the engine's containers: %s", exc)
            return None
        if not cpus.must_move(container_id, self._ncpu, placed):
            return None
        return cpus.least_used(self._ncpu, [p for p in placed if p.cid != container_id])

    def _host_config(self, cpu: int | None) -> dict[str, Any]:
        s = self.settings
        memory = f"{s.container_memory_mb}m"
        return self.api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={"/sandbox": f"rw,exec,nosuid,nodev,size={s.container_tmpfs_mb}m,uid=0,gid=0,mode=0755"},
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=s.container_pids,
            nano_cpus=int(s.container_cpus * 1e9),
            cpuset_cpus=None if cpu is None else str(cpu),
            cap_drop=["ALL"],
            cap_add=list(AGENT_CAPS),
            security_opt=["no-new-privileges"],
            sysctls=dict(SANDBOX_SYSCTLS),
            init=True,
            auto_remove=True,
            ulimits=[Ulimit(name="nofile", soft=4096, hard=4096)],
        )

    def discard(self, container_id: str) -> None:
        """Force-remove a container we are done with; failures only logged."""
        try:
            self.api.remove_container(container_id, force=True)
        except _ENGINE_ERRORS as exc:
            log.debug("removing container %s: %s", container_id[:12], exc)

    def remove_where(self, select: Callable[[dict[str, Any]], bool]) -> int:
        """Remove the sandbox containers (any owner) that ``select`` picks; how many
        (0, logged, when the engine does not answer)."""
        try:
            found = self.api.containers(all=True, filters={"label": f"{self.settings.pool_label}.owner"})
        except _ENGINE_ERRORS as exc:
            log.warning("cannot list sandbox containers: %s", exc)
            return 0
        doomed = [c for c in found if select(c)]
        for c in doomed:
            try:
                self.api.remove_container(c["Id"], force=True)
            except docker.errors.NotFound:
                pass
            except _ENGINE_ERRORS as exc:
                log.warning("cannot remove container %s: %s", c["Id"][:12], exc)
        return len(doomed)

    def remove_orphans(self) -> int:
        """Remove sandbox containers that ended or whose worker process is gone.

        A live worker's container that is only ``created`` (between create and start:
        another worker starting its pool at the same moment) is left alone; removing it
        closed that worker's stream before its agent answered."""
        key = f"{self.settings.pool_label}.owner"
        return self.remove_where(lambda c: c["State"] in _ENDED or not _owner_alive(c["Labels"].get(key, "")))

    def processes(self, container_id: str) -> list[tuple[int, str]]:
        """(uid, command line) of the processes running in one container (``docker top``)."""
        top = self.api.top(container_id, ps_args="-eo pid,uid,args")
        return [(int(row[1]), " ".join(str(x) for x in row[2:])) for row in top.get("Processes") or []]

    def uid_base(self, container_id: str) -> int:
        """The first uid of a container's range (its agent's run uids follow it)."""
        env = self.api.inspect_container(container_id)["Config"]["Env"] or []
        return int(next(e for e in env if e.startswith("UTRS_UID_BASE=")).split("=", 1)[1])
