"""The container pool against the real Docker engine: isolation settings, replacement
of broken containers with innocent programs re-run, recycling, orphans, shutdown."""

from __future__ import annotations

import contextlib
import gc
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import docker
import pytest

from client.models import Item, Status
from service.sandbox.docker import owner_id
from service.sandbox.executor import build_task, evaluate_items
from service.sandbox.pool import SandboxPool
from service.sandbox.protocol import RunOutcome, RunResult
from service.settings import Settings
from tests.support.attacks import assert_item

LABEL = "utrs.sandbox.owner"
POOL_LABEL = "utrs.sandbox.pool"


def _echo(n: int, *, sleep_s: float = 0.0) -> Item:
    code = f"import time\ntime.sleep({sleep_s})\nprint(int(input()) + {n})\n"
    return Item.model_validate(
        {"id": str(n), "code": code, "tests": {"kind": "stdio", "cases": [{"input": "1", "output": str(n + 1)}]}}
    )


def _ours(client: docker.DockerClient, owner: str) -> list[str]:
    return [c.id for c in client.containers.list(all=True, filters={"label": f"{LABEL}={owner}"})]


def test_containers_are_locked_down(pool: SandboxPool) -> None:
    attrs = pool.api.inspect_container(pool.container_ids()[0])
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["KILL", "SETGID", "SETUID"]  # the agent's; programs run without any
    assert host["Sysctls"]["kernel.msgmni"] == "0" and host["Sysctls"]["kernel.shm_rmid_forced"] == "1"
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == pool.settings.container_pids
    assert host["Memory"] == pool.settings.container_memory_mb * 1024 * 1024
    assert host["NanoCpus"] == int(pool.settings.container_cpus * 1e9)
    assert "size=" in host["Tmpfs"]["/sandbox"]
    assert attrs["Config"]["User"] == "0:0"  # the agent; programs and harnesses get uids of their own
    bases = [e for e in attrs["Config"]["Env"] if e.startswith("UTRS_UID_BASE=")]
    assert len(bases) == 1 and int(bases[0].split("=")[1]) >= 100_000
    assert attrs["Config"]["Labels"][LABEL] == pool.owner


def test_killed_container_is_replaced_and_innocents_rerun() -> None:
    settings = Settings(pool_size=1, agent_inflight=8)
    with SandboxPool(settings) as small:
        items = [_echo(n, sleep_s=0.3) for n in range(6)]
        victim = small.container_ids()[0]
        killer = threading.Timer(0.5, lambda: small.api.kill(victim))
        killer.start()
        results = evaluate_items(small, items)
        killer.join()
        assert [r.status for r in results] == [Status.PASS] * 6
        assert small.restarts >= 1
        assert victim not in small.container_ids()


def test_a_stopped_agent_is_noticed_by_its_missing_heartbeat() -> None:
    """An agent that stops talking (here: SIGSTOP from outside; no program can signal it)
    is given up after AGENT_IDLE_S without a heartbeat, not after the item's whole
    budget; its program runs again on a fresh container."""
    from service.budgets import AGENT_IDLE_S

    with SandboxPool(Settings(pool_size=1)) as small:
        victim = small.container_ids()[0]
        top = small.api.top(victim, ps_args="-eo pid,args")["Processes"]
        agent_pid = next(row[0] for row in top if "-m agent" in row[1] and "docker-init" not in row[1])
        stopper = threading.Timer(0.3, lambda: subprocess.run(["kill", "-STOP", str(agent_pid)], check=True))
        stopper.start()
        t0 = time.monotonic()
        [result] = evaluate_items(small, [_echo(1, sleep_s=1.0)])
        elapsed = time.monotonic() - t0
        stopper.join()
        assert result.status is Status.PASS
        assert small.restarts >= 1 and victim not in small.container_ids()
        # the item's own budget is over 10 s; the heartbeat gives up after AGENT_IDLE_S
        assert elapsed < AGENT_IDLE_S + 6.0, elapsed


def test_a_reply_is_written_within_the_delay_while_later_programs_run() -> None:
    """Replies of a batch share writes, but a judged program's reply waits at most
    ``agent_reply_delay_s`` for the next: it reaches the worker while a slow program
    queued behind it in the same batch still runs (else job progress would lag by the
    whole batch)."""
    settings = Settings(pool_size=1, agent_inflight=8, agent_reply_delay_s=0.05)
    with SandboxPool(settings) as small:
        evaluate_items(small, [_echo(0)])  # warm: the container has answered once
        answered: dict[int, float] = {}
        items = [_echo(1), _echo(2, sleep_s=2.0)]
        t0 = time.monotonic()

        def note(index: int) -> Callable[[RunResult], None]:
            return lambda run: answered.setdefault(index, time.monotonic() - t0)

        tasks = [build_task(item, settings, note(i)) for i, item in enumerate(items)]
        runs = small.run(tasks)
        assert [r.outcome for r in runs] == [RunOutcome.ANSWERED] * 2
        assert answered[1] >= 2.0  # the slow one really held the batch's end back
        # the fast one's reply waited neither for the slow one nor for the next heartbeat
        # (HEARTBEAT_S = 0.5 s after the warm-up's last write, which also flushes)
        assert answered[0] < 0.35, answered


def test_containers_are_recycled_after_max_runs() -> None:
    with SandboxPool(Settings(pool_size=1, container_max_runs=3)) as small:
        first = small.container_ids()[0]
        results = evaluate_items(small, [_echo(n) for n in range(7)])
        assert [r.status for r in results] == [Status.PASS] * 7
        assert small.restarts >= 2
        assert small.container_ids()[0] != first


def test_orphans_of_a_dead_worker_are_removed_at_start() -> None:
    client = docker.from_env()
    dead_owner = f"{socket.gethostname()}:999999:1"  # this host, a pid that is not running
    orphan = client.containers.run(
        Settings().sandbox_image,
        detach=True,
        stdin_open=True,
        labels={LABEL: dead_owner},
        network_mode="none",
    )
    try:
        with SandboxPool(Settings(pool_size=1)):
            assert _ours(client, dead_owner) == []
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            orphan.remove(force=True)


def test_a_live_workers_container_being_started_is_not_an_orphan() -> None:
    """A container between create and start (state ``created``) of a live worker is that
    worker's pool starting; another worker's start-up sweep must leave it (it used to
    remove it, and the starting worker lost its first container), while an exited one of
    the same live owner goes."""
    client = docker.from_env()
    live_owner = owner_id()  # this very process
    starting = client.containers.create(Settings().sandbox_image, labels={LABEL: live_owner}, network_mode="none")
    ended = client.containers.run(Settings().sandbox_image, ["true"], detach=True, labels={LABEL: live_owner},
                                  network_mode="none")
    try:
        ended.wait(timeout=30)
        with SandboxPool(Settings(pool_size=1)):
            mine = client.containers.list(all=True, filters={"label": f"{LABEL}={live_owner}"})
            left = {c.id: c.status for c in mine}
            assert left.get(starting.id) == "created"
            assert ended.id not in left
    finally:
        for c in (starting, ended):
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)


def _of_pool(client: docker.DockerClient, pool: SandboxPool) -> list[str]:
    return [c.id for c in client.containers.list(all=True, filters={"label": f"{POOL_LABEL}={pool.pool_id}"})]


def test_close_removes_every_container_of_that_pool_only(pool: SandboxPool) -> None:
    """Pools in one process share an owner; closing one leaves the others' containers."""
    client = docker.from_env()
    mine = set(pool.container_ids())
    small = SandboxPool(Settings(pool_size=2))
    small.start()
    assert len(_of_pool(client, small)) == 2
    small.close()
    deadline = time.monotonic() + 10
    while _of_pool(client, small) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _of_pool(client, small) == []
    assert set(_of_pool(client, pool)) == mine
    assert evaluate_items(pool, [_echo(1)])[0].status is Status.PASS
    assert pool.restarts == 0 or set(pool.container_ids()) == mine


def test_a_container_removed_while_idle_is_replaced_without_blame() -> None:
    with SandboxPool(Settings(pool_size=1)) as small:
        victim = small.container_ids()[0]
        small.api.remove_container(victim, force=True)
        results = evaluate_items(small, [_echo(n) for n in range(3)])
        assert [r.status for r in results] == [Status.PASS] * 3
        assert victim not in small.container_ids()


def test_missing_image_is_a_clear_error() -> None:
    from service.errors import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="missing"):
        SandboxPool(Settings(sandbox_image="utrs-no-such-image:0")).start()


def _cleanings(pool: SandboxPool) -> int:
    conn = pool.acquire(10.0)
    assert conn is not None
    try:
        return int(conn.ping(10.0)["cleanings"])
    finally:
        pool.release(conn)


def test_only_a_run_that_left_something_is_cleaned_up_after() -> None:
    """After a run the agent looks (the container's task count, the shared directories'
    times, the run's work directory) and cleans only when something was left: twenty
    programs that leave nothing cost no cleaning, one that leaves a file in /dev/shm
    costs one, and the next program does not see the file."""
    def item(n: int, code: str = "") -> Item:
        return assert_item(f"{code}def f(x):\n    return x + {n}\n", [f"assert f(1) == {n + 1}"], ident=str(n))

    with SandboxPool(Settings(pool_size=1, container_max_runs=100_000)) as pool:
        start = _cleanings(pool)
        results = evaluate_items(pool, [item(n) for n in range(20)])
        assert [r.status for r in results] == [Status.PASS] * 20
        assert _cleanings(pool) == start
        [left] = evaluate_items(pool, [item(1, "open('/dev/shm/left', 'w').write('x')\n")])
        assert left.status is Status.PASS
        assert _cleanings(pool) == start + 1
        [after] = evaluate_items(pool, [item(2, "import os\nassert not os.path.exists('/dev/shm/left')\n")])
        assert after.status is Status.PASS, after.tests


def test_the_collector_leaves_the_attached_streams_open() -> None:
    """docker-py's attach answer closes its connection, the very socket the pool reads,
    when the collector frees it: a worker's ``gc.collect()`` right after its pool came up
    closed every container's stream (each one replaced at once, and any collection later
    could do the same in the middle of a chunk)."""
    with SandboxPool(Settings(pool_size=2)) as pool:
        gc.collect()
        assert pool.health() == {"slots": 2, "healthy": 2, "restarts": 0}
