"""Sandbox containers pinned to CPUs (service.sandbox.cpus) on the real engine: pools
started at the same moment, as the workers of a host are, end spread evenly; a pool can
opt out; an engine that refuses the CPU gets unpinned containers, never a failed pool."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from client.models import Item, Status
from service.sandbox import docker as sandbox_docker
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from service.settings import Settings

LABEL = "utrs.sandbox.owner"


def _item(n: int) -> Item:
    return Item.model_validate({"id": str(n), "code": f"def f():\n    return {n}\n",
                                "tests": {"kind": "assert", "cases": [{"code": f"assert f() == {n}"}]}})  # fmt: skip


def _cpusets(pool: SandboxPool) -> dict[str, str]:
    """Every live sandbox container on the engine (any pool's): its cpuset."""
    found = pool.api.containers(filters={"label": LABEL})
    return {c["Id"]: pool.api.inspect_container(c["Id"])["HostConfig"]["CpusetCpus"] for c in found}


def _start_together(pools: list[SandboxPool]) -> None:
    threads = [threading.Thread(target=p.start) for p in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_pools_started_at_once_spread_their_containers_over_the_cpus() -> None:
    for attempt in range(3):  # ties are broken at random: pile-ups happen in some rounds
        pools = [SandboxPool(Settings(pool_size=1)) for _ in range(2)]
        try:
            _start_together(pools)
            ncpu = int(pools[0].api.info()["NCPU"])
            sets = _cpusets(pools[0])
            ours = [p.container_ids()[0] for p in pools]
            assert all(sets[c].isdigit() and int(sets[c]) < ncpu for c in ours), sets
            counts = Counter(int(s) for s in sets.values() if s.isdigit())
            spread = [counts.get(cpu, 0) for cpu in range(ncpu)]
            assert max(spread) - min(spread) <= 1, (attempt, spread)
            for i, p in enumerate(pools):  # a container moved by its pool still judges
                (result,) = evaluate_items(p, [_item(i)])
                assert result.status is Status.PASS
        finally:
            for p in pools:
                p.close()


def test_pinning_can_be_switched_off() -> None:
    with SandboxPool(Settings(pool_size=1, container_pin_cpu=False)) as pool:
        assert _cpusets(pool)[pool.container_ids()[0]] == ""


def test_an_engine_refusing_the_cpu_gets_unpinned_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    # a CPU this engine lacks, as when its cgroup parent allows others than it reports
    monkeypatch.setattr(sandbox_docker.cpus, "least_used", lambda *args, **kwargs: 4095)
    with SandboxPool(Settings(pool_size=2)) as pool:
        assert pool.slots == 2
        assert all(_cpusets(pool)[c] == "" for c in pool.container_ids())
        results = evaluate_items(pool, [_item(n) for n in range(4)])
        assert [r.status for r in results] == [Status.PASS] * 4


def test_a_pile_up_is_undone_by_the_youngest_container_starting_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # both pools choose CPU 0 at creation, as two whose listings crossed would
    monkeypatch.setattr(sandbox_docker.Engine, "_initial_cpu", lambda self: 0)
    pools = [SandboxPool(Settings(pool_size=1)) for _ in range(2)]
    try:
        _start_together(pools)
        ours = [p.container_ids()[0] for p in pools]
        sets = _cpusets(pools[0])
        assert sorted(sets[c] for c in ours) == ["0", "1"], sets  # one of them started again on CPU 1
        labels = {c: pools[0].api.inspect_container(c)["Config"]["Labels"]["utrs.sandbox.cpu"] for c in ours}
        assert all(labels[c] == sets[c] for c in ours)  # the label other pools read is the truth
        for i, p in enumerate(pools):
            (result,) = evaluate_items(p, [_item(i)])
            assert result.status is Status.PASS
    finally:
        for p in pools:
            p.close()
