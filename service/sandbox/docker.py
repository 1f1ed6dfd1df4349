"""The Docker engine as the sandbox uses it: the only module that imports the Docker SDK,
and the one place its errors are translated (into :class:`~service.errors.SandboxError`).

A sandbox container runs with no network, a read-only root, a size-capped tmpfs,
memory/pids/CPU limits, no capabilities, no-new-privileges and a non-root user; its
agent's stdin/stdout are attached once. Containers are labelled with their owner (this
process: host, pid, start time) and pool, so that a pool removes only its own, and the
next pool started on a host removes what a killed worker left behind.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
from docker.types import Ulimit

from service.budgets import DOCKER_API_TIMEOUT_S
from service.errors import ContainerStartError, SandboxUnavailable
from service.settings import Settings

__all__ = ["SANDBOX_UID", "DockerAPI", "Engine", "owner_id"]

log = logging.getLogger(__name__)

SANDBOX_UID = "1000:1000"
_VERSION_LABEL = "utrs.sandbox.version"

#: The SDK's low-level client, for callers that need its type (they never import the SDK).
DockerAPI = docker.APIClient


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


class Engine:
    """The engine's API for one pool: image, containers, their removal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api: docker.APIClient | None = None

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
            self._api = docker.APIClient(version="auto", timeout=DOCKER_API_TIMEOUT_S)
            image = self._api.inspect_image(image_name)  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(f"sandbox image {image_name} is missing: run sandbox_images/build.sh") from exc
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        labels = (image.get("Config") or {}).get("Labels") or {}
        return str(labels.get(_VERSION_LABEL) or image["Id"][7:19])

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def start_container(self, name: str, labels: dict[str, str]) -> tuple[str, socket.socket]:
        """Create a sandbox container, attach to its stdin/stdout, start it.

        Returns:
            The container id and the attached socket.

        Raises:
            ContainerStartError: the engine refused or failed.
        """
        try:
            created = self.api.create_container(
                self.settings.sandbox_image,
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
            raw = self.api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1})
            self.api.start(cid)
        except docker.errors.DockerException as exc:
            raise ContainerStartError(f"cannot start a sandbox container: {exc}") from exc
        return cid, raw._sock

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

    def discard(self, container_id: str) -> None:
        """Force-remove a container we are done with; failures only logged."""
        try:
            self.api.remove_container(container_id, force=True)
        except docker.errors.DockerException as exc:
            log.debug("removing container %s: %s", container_id[:12], exc)

    def remove_where(self, select: Callable[[dict[str, Any]], bool]) -> int:
        """Remove the sandbox containers (any owner) that ``select`` picks; how many."""
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

    def remove_orphans(self) -> int:
        """Remove sandbox containers that stopped or whose worker process is gone."""
        key = f"{self.settings.pool_label}.owner"
        return self.remove_where(lambda c: c["State"] != "running" or not _owner_alive(c["Labels"].get(key, "")))

    def processes(self, container_id: str) -> list[str]:
        """Command lines of the processes running in one container (``docker top``)."""
        top = self.api.top(container_id, ps_args="-eo pid,args")
        return [" ".join(str(x) for x in row[1:]) for row in top.get("Processes") or []]
