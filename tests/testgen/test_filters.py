"""Each filter with a reference it rejects; nondeterministic references (random, time,
set order under another hash seed); references that hang, crash or attack the sandbox,
after which the pools are still healthy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.testgen import OraclePools, Reason, TestgenStatus

REJECTED = {
    "unparsable": ("def f(x:\n    return x\n", "f", Reason.UNPARSABLE),
    "no_function": ("def g(x):\n    return x\n", "f", Reason.NO_FUNCTION),
    "no_inputs": ("def f(thing):\n    return thing\n", "f", Reason.NO_INPUTS),
    "load_error": ("import no_such_module_here\ndef f(n: int) -> int:\n    return n\n", "f", Reason.LOAD_ERROR),
    "too_few_tests": ("def f(n: int) -> int:\n    raise RuntimeError('never works')\n", "f", Reason.TOO_FEW_TESTS),
    "constant_output": ("def f(n: int) -> bool:\n    return False\n", "f", Reason.CONSTANT_OUTPUT),
    "random": ("import random\ndef f(n: int) -> int:\n    return random.randrange(10**9)\n", "f",
               Reason.NONDETERMINISTIC),
    "time": ("import time\ndef f(n: int) -> float:\n    return time.perf_counter_ns() + n\n", "f",
             Reason.NONDETERMINISTIC),
    "set_order": ("def f(n: int) -> list[str]:\n    return list({str(n + k) for k in range(8)})\n", "f",
                  Reason.NONDETERMINISTIC),
    "id": ("def f(n: int) -> int:\n    return id(object()) + n\n", "f", Reason.NONDETERMINISTIC),
    # references that hang, crash, or go for the sandbox: no input gives a test
    "hangs": ("def f(n: int) -> int:\n    while True:\n        pass\n", "f", Reason.TOO_FEW_TESTS),
    "sleeps": ("import time\ndef f(n: int) -> int:\n    time.sleep(60)\n    return n\n", "f", Reason.TOO_FEW_TESTS),
    "ignores_the_budget_timer": (
        "import signal\ndef f(n: int) -> int:\n    signal.signal(signal.SIGPROF, signal.SIG_IGN)\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass\n", "f",
        Reason.TOO_FEW_TESTS),
    "segfaults": ("import ctypes\ndef f(n: int) -> int:\n    return ctypes.string_at(0)\n", "f", Reason.TOO_FEW_TESTS),
    "exits": ("import os\ndef f(n: int) -> int:\n    os._exit(3)\n", "f", Reason.TOO_FEW_TESTS),
    "exits_while_loading": ("import sys\nsys.exit(0)\ndef f(n: int) -> int:\n    return n\n", "f",
                            Reason.LOAD_ERROR),
    "fork_bomb": ("import os\ndef f(n: int) -> int:\n    while True:\n        os.fork()\n", "f", Reason.TOO_FEW_TESTS),
    "memory_bomb": ("def f(n: int) -> int:\n    keep = []\n    while True:\n        keep.append(bytearray(10**7))\n",
                    "f", Reason.TOO_FEW_TESTS),
    # kill(-1) reaches only the program's own other processes (there are none): it returns None
    "kills_everything": ("import os, signal\ndef f(n: int) -> int:\n    os.kill(-1, signal.SIGKILL)\n", "f",
                         Reason.CONSTANT_OUTPUT),
    "returns_its_own_objects": ("class Box:\n    pass\ndef f(n: int):\n    return Box()\n", "f", Reason.TOO_FEW_TESTS),
}


@pytest.fixture(autouse=True)
def _pools_stay_healthy(pools: OraclePools) -> Iterator[None]:
    yield
    for pool in (pools.main, pools.reseeded):
        health = pool.health()
        assert health["healthy"] == health["slots"] == pool.size


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_each_filter_rejects_its_case(generate: Any, name: str) -> None:
    code, fn_name, reason = REJECTED[name]
    result = generate(code, fn_name, id=name)
    assert (result.status, result.reason) == (TestgenStatus.REJECTED, reason), (result.detail, result.stats)
    assert result.tests is None and result.detail


def test_a_class_that_needs_arguments_is_rejected_before_running(generate: Any) -> None:
    code = "class P:\n    def __init__(self, x):\n        self.x = x\n    def get(self, y: int) -> int:\n" \
           "        return y\n"
    result = generate(code, "get", class_name="P")
    assert (result.reason, result.stats.candidates) == (Reason.NEEDS_CONSTRUCTOR_ARGS, 0)
    assert "class_name" in (result.detail or "")


def test_inputs_that_raise_hang_or_vary_are_dropped_and_the_rest_kept(generate: Any, judge: Any) -> None:
    code = ("import random\ndef f(n: int) -> int:\n    if n < 0:\n        raise KeyError(n)\n"
            "    if n > 10**5:\n        while True:\n            pass\n"
            "    if n % 7 == 3:\n        return random.random()\n    return n // 2\n")
    result = generate(code, "f", inputs=[[-4], [10**6], [3], [8], [20]])
    s = result.stats
    assert result.status is TestgenStatus.OK and s.raised > 0 and s.raises_kept == 0
    assert s.timeouts > 0 and s.nondeterministic > 0
    assert result.tests is not None and all(str(c.args[0]) != "3" for c in result.tests.cases if c.args)
    assert judge(code, result.tests).status.value == "pass"


def test_a_set_of_ints_is_steady_but_a_set_of_strings_is_not(generate: Any) -> None:
    ints = generate("def f(n: int) -> list[int]:\n    return list({n % 5, n % 3, n})\n", "f")
    strs = generate("def f(n: int) -> list[str]:\n    return list({str(n), 'a', 'b', 'c', 'd'})\n", "f")
    assert ints.status is TestgenStatus.OK  # int hashes do not depend on the hash seed
    assert strs.reason is Reason.NONDETERMINISTIC and strs.stats.nondeterministic > 0


def test_a_sandbox_that_cannot_run_gives_infra_error_not_a_rejection(tg_settings: Any) -> None:
    from service.sandbox.pool import SandboxPool
    from service.testgen import TestgenItem, testgen
    from tests.support.testgen import CI_OPTIONS

    class Gone:
        settings = tg_settings

        def run(self, tasks: Any, group: Any = None) -> Any:
            from service.sandbox.protocol import RunOutcome, RunResult

            return [RunResult(RunOutcome.UNSERVED) for _ in tasks]

    pools: Any = OraclePools.__new__(OraclePools)
    object.__setattr__(pools, "main", Gone())
    object.__setattr__(pools, "reseeded", Gone())
    assert SandboxPool  # the real pools are exercised everywhere else in this directory
    [result] = testgen([TestgenItem(id="x", code="def f(n: int):\n    return n\n", fn_name="f")], pools,
                       tg_settings, CI_OPTIONS)
    assert result.status is TestgenStatus.INFRA_ERROR and result.reason is None and "sandbox" in (result.detail or "")
