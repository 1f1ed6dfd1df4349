"""The agent's probe kind (test generation's oracle): a reference's return values in the
exact-type wire form, its exceptions, and the hash seed the programs run under."""

from __future__ import annotations

from typing import Any

from service.sandbox.pool import SandboxPool
from service.sandbox.scheduler import Task
from service.settings import Settings

SOURCE = "def f(x):\n    return (x * 2, {str(x), 'q', 'r'}, 1 / x if x else None)\n"


def _probe(pool: SandboxPool, args: list[list[Any]]) -> list[dict[str, Any]]:
    suite: Any = {"kind": "probe", "setup": "", "prompt": "", "cases": [{"args": a} for a in args],
                  "fn_name": "f", "class_name": None, "compare": "tokens", "entry_points": []}
    spec: Any = {"rid": "", "suite": "probe-f", "program": SOURCE, "trust": "harness", "timeout_s": 2.0,
                 "wall_s": 4.0, "memory_mb": 256, "output_kb": 64, "max_procs": 16, "preview_chars": 100,
                 "stop_on_first_failure": False, "isolate_cases": False}
    [run] = pool.run([Task(spec=spec, suite=suite, budget_s=60.0)])
    assert run.reply is not None
    return list(run.reply["tests"])


def test_probe_records_exact_values_and_exceptions(pool: SandboxPool) -> None:
    tests = _probe(pool, [[3], ["ab"], [0]])
    assert [t["status"] for t in tests] == ["pass", "error", "pass"]
    assert tests[0]["value"]["t"] == "u"  # a tuple stays a tuple
    six, the_set, third = tests[0]["value"]["v"]
    assert (six, third) == (6, 1 / 3) and the_set["t"] == "s" and sorted(the_set["v"]) == ["3", "q", "r"]
    assert tests[1]["error"]["type"] == "TypeError" and "value" not in tests[1]
    assert tests[2]["value"]["v"][2] is None


def test_the_hash_seed_is_the_pools() -> None:
    orders = set()
    for seed in (0, 7):
        with SandboxPool(Settings(pool_size=1, sandbox_hash_seed=seed)) as small:
            orders.add(tuple(_probe(small, [[3]])[0]["value"]["v"][1]["v"]))
    assert len(orders) == 2  # set order follows the seed, so a generator can catch it varying
