"""The wire ``tests`` object of a chosen suite, ready for an ``/v1/evaluate`` item.

``call`` tests (``args``/``expected``) when JSON states every argument and expected value
exactly and the agent's call comparison is the right one (no floats, no "raises" tests, no
generators); otherwise ``assert`` tests, one case per input, comparing with
:data:`~service.testgen.values.SAME_SOURCE` (the setup) so that tuples stay tuples,
sets stay sets and floats compare within 1e-6::

    assert _same(f(1, (2, 3)), {2, 3})
    assert _same(list(gen(3)), [0, 1, 2])          # a generator's items
    try:                                            # "raises" tests
        f(-1)
    except ValueError:
        pass
    else:
        raise AssertionError('f(-1) should raise ValueError')
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from client.models import Case, TestKind, Tests
from service.testgen.candidates import Candidate
from service.testgen.options import Prefer
from service.testgen.oracle import Outcome, Seen
from service.testgen.values import SAME_SOURCE, imports_of, is_json_exact, to_source

__all__ = ["build_tests"]


def build_tests(fn_name: str, class_name: str | None, chosen: Sequence[tuple[Candidate, Outcome]],
                prefer: Prefer = Prefer.AUTO) -> Tests:
    """The suite for ``chosen`` (input, what the reference did) pairs."""
    if prefer is not Prefer.ASSERT and all(_callable(c, o) for c, o in chosen):
        cases = [Case.model_validate({"args": list(c.args), "expected": o.value, **({"kwargs": c.kwargs} if c.kwargs
                                                                                    else {})}) for c, o in chosen]
        return Tests(kind=TestKind.CALL, fn_name=fn_name, class_name=class_name, cases=cases)
    callee = f"{class_name}().{fn_name}" if class_name else fn_name
    codes = [_assert_case(c.call_source(callee), o) for c, o in chosen]
    setup = "".join(f"import {m}\n" for m in imports_of(codes)) + SAME_SOURCE
    return Tests(kind=TestKind.ASSERT, setup=setup, cases=[Case(code=code) for code in codes])


def _callable(candidate: Candidate, outcome: Outcome) -> bool:
    return (
        outcome.seen is Seen.RETURNED
        and all(is_json_exact(a) for a in candidate.args)
        and all(is_json_exact(v) for v in candidate.kwargs.values())
        and is_json_exact(outcome.value)
        and not _has_float(outcome.value)
    )


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is list:
        return any(_has_float(v) for v in value)
    if type(value) is dict:
        return any(_has_float(v) for v in value.values())
    return False


def _assert_case(call: str, outcome: Outcome) -> str:
    if outcome.seen is Seen.RAISED:
        message = f"{call} should raise {outcome.exc_type}"
        return textwrap.dedent(f"""\
            try:
                {call}
            except {outcome.exc_type}:
                pass
            else:
                raise AssertionError({message!r})
            """)
    if outcome.seen is Seen.ITERATED:
        call = f"list({call})"
    return f"assert _same({call}, {to_source(outcome.value)})"
