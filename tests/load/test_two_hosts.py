"""Several hosts, really: two worker groups on two Docker engines (private ``dockerd``s
with their own roots, sockets and no bridge, standing in for two hosts) sharing one Redis
over TCP, each group pinned to one core. Both groups serve one queue, every result is
right, and the throughput of one group and of both is printed (bench/bench_hosts.py for
the full figures; a 2-core machine can show at most 2x)."""

from __future__ import annotations

import os

from tests.support.hosts import throughput, two_hosts

PROGRAMS = int(os.environ.get("UTRS_HOSTS_PROGRAMS", "400"))


def test_two_worker_groups_on_two_engines_share_one_queue() -> None:
    with two_hosts() as hosts:
        hosts.start_group(0)
        one, statuses = throughput(hosts.stack, PROGRAMS, workers=1)
        assert statuses == ["pass"] * PROGRAMS
        hosts.start_group(1)
        both, statuses = throughput(hosts.stack, PROGRAMS, workers=2)
        assert statuses == ["pass"] * PROGRAMS
        for engine in hosts.engines:  # each group's containers live on its own engine
            assert engine.client().containers.list(), engine.host
        print(f"\ntwo hosts: one group {one:.0f} programs/s, both {both:.0f}/s ({both / one:.2f}x; "
              f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
