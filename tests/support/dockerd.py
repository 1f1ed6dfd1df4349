"""A private Docker engine for a test: its own data root, exec root (with its own
containerd), socket, pidfile and containerd namespace, no bridge at all, and a network
namespace of its own (sandbox containers have no network; the host's networking, docker0
included, is never touched). It stands in for a second host's engine, or one a test
may restart.

The sandbox image is copied into it from the main engine (``docker save | docker load``).
``cpus`` pins every container of the engine to those cores: a cpuset cgroup of its own is
the engine's ``--cgroup-parent`` (cgroup v1, as on this machine). The engine, its cgroups
and everything under its root are removed when the block ends; the main engine, its
containers and images are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.support.waiting import wait_until

__all__ = ["PrivateDockerd", "private_dockerd"]


@dataclass
class PrivateDockerd:
    """A running private ``dockerd``; ``host`` is its ``DOCKER_HOST`` URL."""

    root: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)
    cgroup: str | None = None  # the cgroup parent of its containers (a cpuset)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=120)

    def start(self) -> None:
        exe = shutil.which("dockerd")
        if exe is None:
            raise RuntimeError("dockerd is not installed (apt-get install docker.io)")
        # In a network namespace of its own: even with no bridge, an engine started and
        # stopped in the host's namespace can take the host engine's docker0 down with it.
        unshare = shutil.which("unshare")
        if unshare is None:
            raise RuntimeError("unshare is not installed (apt-get install util-linux)")
        self.args = [
            unshare, "--net",
            exe,
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"),
            "-H", self.host,
            "--bridge", "none",
            "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--containerd-namespace", self.name,
            "--containerd-plugins-namespace", f"{self.name}-plugins",
            *(["--cgroup-parent", f"/{self.cgroup}"] if self.cgroup else []),
        ]  # fmt: skip
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, 60, f"the private dockerd at {self.socket}", every_s=0.2)

    def _answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the engine (its containers die with it: no live-restore)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def load_image(self, image: str) -> None:
        """Copy ``image`` from the main engine into this one."""
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout,
                              capture_output=True, check=False, timeout=600)  # fmt: skip
        save.wait(timeout=600)
        if save.returncode or load.returncode:
            raise RuntimeError(f"could not copy {image} into {self.host}: {load.stderr.decode()[-500:]}")

    def remove_everything(self) -> None:
        """Remove the containers and the root (run after :meth:`stop`)."""
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True, check=False, timeout=30)
        # overlay mounts of this root only (never the main engine's)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.root))]  # fmt: skip
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


_CGROUPS = Path("/sys/fs/cgroup")


def _make_cpuset(name: str, cpus: str) -> None:
    path = _CGROUPS / "cpuset" / name
    path.mkdir()
    (path / "cpuset.mems").write_text((_CGROUPS / "cpuset" / "cpuset.mems").read_text())
    (path / "cpuset.cpus").write_text(cpus)


def _remove_cgroups(name: str) -> None:
    """The engine's cgroup parent in every controller (its containers' are gone by now)."""
    for controller in _CGROUPS.iterdir():
        path = controller / name
        if path.is_dir():
            for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if child.is_dir():
                    with contextlib.suppress(OSError):
                        child.rmdir()
            with contextlib.suppress(OSError):
                path.rmdir()


@contextlib.contextmanager
def private_dockerd(*, image: str | None = None, cpus: str | None = None) -> Iterator[PrivateDockerd]:
    """A private engine for the block (with ``image`` copied in; its containers on
    ``cpus`` when given), then nothing of it left."""
    tag = uuid.uuid4().hex[:8]
    root = Path(tempfile.mkdtemp(prefix=f"utrs-dockerd-{tag}-", dir=os.environ.get("UTRS_DOCKERD_DIR")))
    engine = PrivateDockerd(root=root, name=f"utrs-{tag}")
    try:
        if cpus is not None:
            engine.cgroup = f"utrs-dockerd-{tag}"
            _make_cpuset(engine.cgroup, cpus)
        engine.start()
        if image:
            engine.load_image(image)
        yield engine
    finally:
        if engine.proc is not None:
            with contextlib.suppress(Exception):
                client = engine.client()
                for container in client.containers.list(all=True):
                    container.remove(force=True)
                client.close()
        engine.stop()
        time.sleep(0.2)
        engine.remove_everything()
        if engine.cgroup:
            _remove_cgroups(engine.cgroup)
