"""Process-wide tuning of the service's long-running processes (the API, a worker).

The garbage collector. Under cold batches (perf, three of 1,946 programs), the cyclic
collector was 21% of the API's CPU and ~6% of a worker's: a request allocates a few
hundred thousand objects (its items' models, their dicts, RQ's jobs), nearly all freed
by reference counting, yet every 700 allocations started a pass, and the older passes
scanned the whole long-lived heap (FastAPI, pydantic's schemas, RQ, the pool) again and
again. Once a process has started, :func:`tune_gc` freezes what is alive then out of the
collector's reach and lets a pass start after :data:`GEN0_THRESHOLD` allocations; cycles
are still collected, only less often (a few MB of cyclic garbage at most waits longer).
"""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "tune_gc"]

#: Allocations (net of frees) between two collections of the youngest generation.
GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Call once the process has started (imports done, app or pool built)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
