"""Two worker groups on two Docker engines sharing one Redis over TCP, each pinned to one
core (tests/support/hosts.py): the throughput of one group and of both, in one run.

    .venv/bin/python bench/bench_hosts.py [--programs 2000] [--repeats 3]

Needs root (private dockerd, cpuset cgroups, network namespaces); leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.hosts import throughput, two_hosts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with two_hosts() as hosts:
        hosts.start_group(0)
        one = [throughput(hosts.stack, args.programs, workers=1)[0] for _ in range(args.repeats)]
        hosts.start_group(1)
        both = [throughput(hosts.stack, args.programs, workers=2)[0] for _ in range(args.repeats)]
    a, b = statistics.median(one), statistics.median(both)
    print(f"one group: {', '.join(f'{x:.0f}' for x in one)} programs/s (median {a:.0f})")
    print(f"two groups: {', '.join(f'{x:.0f}' for x in both)} programs/s (median {b:.0f}); {b / a:.2f}x")
    print(f"load average: {os.getloadavg()[0]:.1f} (other work on the machine shares its two cores)")


if __name__ == "__main__":
    main()
