"""Harness robustness: tests that hang or crash the harness (H) cost only the case at
fault, never the other cases, the program's neighbours or the container; programs that
break the protocol with H, flood it, or drag it into endless callbacks get their own
verdict.

Where the tests are the hostile part, the "attack" is a correct program on them, and its
neighbours run on the same hostile tests (they must get the same per-case verdicts:
the hanging case errs, the others are judged as usual).
"""

from __future__ import annotations

from typing import Any

import pytest

from client.models import Status, TestStatus
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from tests.support.attacks import (
    ADD_ONE_BAD,
    ADD_ONE_OK,
    FRAME,
    G_BLAME,
    G_ISOLATION,
    Attack,
    Data,
    Outcome,
    Table,
    assert_item,
    assert_pool_clean,
    check,
    fresh_pool,
    run_attacks,
    simple_attack,
    stdio_item,
)

PASS, FAIL, ERROR, CRASH, MEMORY = (TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR, TestStatus.CRASH,
                                    TestStatus.MEMORY)
ATTACKS = Table()
OK1, OK2 = "assert f(1) == 2", "assert f(2) == 3"


def _hostile_tests(ident: str, cases: tuple[str, ...], statuses: tuple[TestStatus, ...], error: str, *,
                   setup: str | None = None, timeout_s: float = 0.5, **fields: Any) -> Attack:
    """A correct program on tests of which some misbehave; the wrong neighbour fails the
    sane cases and gets the same verdict on the hostile ones."""
    item = assert_item(ADD_ONE_OK, cases, setup=setup, ident=ident, timeout_s=timeout_s, **fields)
    wrong = tuple(FAIL if s is PASS else s for s in statuses)
    return Attack(ident, item, statuses, ADD_ONE_OK, ADD_ONE_BAD, G_BLAME, error=error, correct_tests=statuses,
                  wrong_tests=wrong)


# ------------------------------------------------------------- the tests' code
@ATTACKS
def hang_in_test_code(d: Data) -> Attack:
    return _hostile_tests("hang_in_test_code", (OK1, "while True:\n    pass", OK2), (PASS, ERROR, PASS),
                          "HarnessTimeout")


@ATTACKS
def sleep_in_test_code(d: Data) -> Attack:
    return _hostile_tests("sleep_in_test_code", ("import time\ntime.sleep(10**6)", OK2), (ERROR, PASS),
                          "HarnessTimeout")


@ATTACKS
def c_loop_in_test_code(d: Data) -> Attack:
    """A loop in C that no timer interrupts: P's own deadline ends the harness. (The
    neighbours run on sane tests: each run on these costs the whole backstop.)"""
    item = assert_item(ADD_ONE_OK, ("sum(range(10**13))",), ident="c_loop_in_test_code", timeout_s=0.5)
    sane = assert_item(ADD_ONE_OK, (OK1, OK2), ident="sane", timeout_s=0.5)
    return Attack("c_loop_in_test_code", item, (ERROR,), ADD_ONE_OK, ADD_ONE_BAD, G_BLAME, error="HarnessTimeout",
                  neighbours_on=sane)


@ATTACKS
def harness_killed_by_test_code(d: Data) -> Attack:
    return _hostile_tests("harness_killed_by_test_code", (OK1, "import os\nos._exit(3)", OK2), (PASS, ERROR, PASS),
                          "HarnessCrash")


@ATTACKS
def setup_segfaults_harness(d: Data) -> Attack:
    return _hostile_tests("setup_segfaults_harness", (OK1, OK2), (ERROR, ERROR), "HarnessCrash",
                          setup="import ctypes\nctypes.string_at(0)\n")


@ATTACKS
def system_exit_in_test_code(d: Data) -> Attack:
    return _hostile_tests("system_exit_in_test_code", ("raise SystemExit(0)", OK2), (CRASH, PASS), "SystemExit")


@ATTACKS
def huge_allocation_in_test_code(d: Data) -> Attack:
    return _hostile_tests("huge_allocation_in_test_code", ("x = bytearray(10**11)", OK2), (MEMORY, PASS), "MemoryError")


# ------------------------------------------------------- programs against H
def _against_h(ident: str, code: str, status: TestStatus, cases: tuple[str, ...] = (OK1,), **fields: Any) -> Attack:
    return simple_attack(ident, code, cases, (status,) * len(cases), guarantee=G_ISOLATION, **fields)


@ATTACKS
def junk_bytes_on_channel(d: Data) -> Attack:
    code = "import os\ndef f(x):\n    os.write(1000, b'\\xff' * 64)\n    return 0\n"
    return _against_h("junk_bytes_on_channel", code, CRASH)


@ATTACKS
def channel_closed(d: Data) -> Attack:
    return _against_h("channel_closed", "import os\ndef f(x):\n    os.close(1000)\n    return 0\n", CRASH)


@ATTACKS
def frame_header_claims_gigabytes(d: Data) -> Attack:
    code = "import os, struct\ndef f(x):\n    os.write(1000, struct.pack('!II', 2**31, 2**31))\n    return 0\n"
    return _against_h("frame_header_claims_gigabytes", code, CRASH)


@ATTACKS
def frame_flood(d: Data) -> Attack:
    """An 8 MB reply (a list of 4 million zeros) streamed onto the channel: the harness
    decodes it, compares it, and the case fails."""
    code = FRAME + (
        "def f(x):\n    n = 4 << 20\n    _os.write(1000, _struct.pack('!II', 2 * n + 10, 0) + b'{\"ok\":[')\n"
        "    chunk = b'0,' * (1 << 19)\n    for _ in range(n >> 19):\n        _os.write(1000, chunk)\n"
        "    _os.write(1000, b'0,' * (n % (1 << 19)) + b'0]}')\n    import time\n    time.sleep(10)\n")
    return _against_h("frame_flood", code, FAIL, timeout_s=4.0)


@ATTACKS
def endless_callbacks(d: Data) -> Attack:
    """The test passes a function; the program calls it back with a function that calls
    the program again, and so on (H and X recursing into each other)."""
    code = "def f(cb, depth=0):\n    return cb(lambda n: f(cb, depth + 1))\n"
    return _against_h("endless_callbacks", code, ERROR, ("assert f(lambda g: g(0)) == 5",),
                      correct="def f(cb):\n    return 5\n", wrong="def f(cb):\n    return 4\n")


@ATTACKS
def never_loads(d: Data) -> Attack:
    return _against_h("never_loads", "import time\ntime.sleep(10**6)\n" + ADD_ONE_OK, TestStatus.TIMEOUT)


# ------------------------------------------------------------------- the table
@pytest.fixture(scope="module")
def data(humaneval: list[dict[str, Any]], mbpp: list[dict[str, Any]]) -> Data:
    return Data.of(humaneval, mbpp)


@pytest.fixture(scope="module")
def outcomes(pool: SandboxPool, data: Data) -> dict[str, Outcome]:
    return run_attacks(pool, ATTACKS.build(data))


@pytest.mark.parametrize("name", ATTACKS.ids())
def test_harness_robustness(name: str, outcomes: dict[str, Outcome], data: Data) -> None:
    check(ATTACKS.one(name, data), outcomes[name])


def test_sandbox_is_healthy_after_the_attacks(outcomes: dict[str, Outcome], pool: SandboxPool) -> None:
    assert_pool_clean(pool)


# ------------------------------------------------------------------ the heartbeat
def test_output_that_keeps_the_agent_from_its_heartbeat() -> None:
    """About 55 MB of output (under the item's own 64 MB cap) judged with the ``apps``
    cascade: the agent compares it outside its event loop, sends no heartbeat for
    longer than the worker waits (3 s), and the worker takes the agent for stuck. The
    program's verdict is its wrong answer, not a killed sandbox (no retries here: each
    one costs a container)."""
    code = "import sys\nline = ' '.join(str(i) for i in range(12)) + '\\n'\nsys.stdout.write(line * 2_000_000)\n"
    hostile = stdio_item(code, "", "1 2 3", ident="output_that_keeps_the_agent_from_its_heartbeat", timeout_s=4.0,
                         output_kb=65536, compare="apps")
    with fresh_pool(run_retries=0) as pool:
        before, result, after = evaluate_items(pool, [stdio_item("print(7)", "", "7", ident="before"), hostile,
                                                      stdio_item("print(7)", "", "7", ident="after")])
        assert pool.restarts == 0, pool.restarts
    assert before.status is Status.PASS and after.status is Status.PASS
    assert [t.status for t in result.tests] == [FAIL], [(t.status, t.error) for t in result.tests]
