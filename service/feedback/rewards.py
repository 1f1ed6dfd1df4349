"""Reward schemes: pure functions from a program's outcome to named reward components.

Every scheme returns all its components plus ``total`` (the scalar a trainer that wants
one number per program uses). Values are floats or None (not defined for this outcome).

==============  =======================================================================
scheme          components
==============  =======================================================================
rltf            coarse, fine, adaptive, total, fine_char_start, fine_char_end, alpha
coderl          coarse, total
pangu           pass_term, penalty, total
pass_fraction   pass_fraction, total
==============  =======================================================================

Formulas and parameters: docs/feedback.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from client.models import Category, RewardSpec
from service.errors import InvalidField
from service.feedback.truncation import UnfinishedRule

__all__ = [
    "COARSE",
    "FINE",
    "Outcome",
    "RewardInput",
    "Rewards",
    "Scheme",
    "check_reward_spec",
    "coarse",
    "coderl",
    "compute_rewards",
    "pangu",
    "pass_fraction",
    "resolve_params",
    "rltf",
]

Rewards = dict[str, float | None]
Params = Mapping[str, Any]


class Scheme(StrEnum):
    RLTF = "rltf"
    CODERL = "coderl"
    PANGU = "pangu"
    PASS_FRACTION = "pass_fraction"


class Outcome(StrEnum):
    """The program's coarse outcome (feedback.md §1)."""

    PASS = "pass"
    FAILURE = "failure"
    ERROR = "error"
    SYNTAX_ERROR = "syntax_error"


#: CodeRL / RLTF coarse rewards.
COARSE: dict[Outcome, float] = {
    Outcome.PASS: 1.0,
    Outcome.FAILURE: -0.3,
    Outcome.ERROR: -0.6,
    Outcome.SYNTAX_ERROR: -1.0,
}
#: RLTF's fine-grained reward for U_line and U_global errors.
FINE = -0.3


@dataclass(frozen=True, kw_only=True)
class RewardInput:
    """What the schemes need to know about one judged program.

    Attributes:
        outcome: coarse outcome.
        passed: tests that passed.
        failed: tests with a wrong answer (status ``fail``).
        total: tests in the program's test set.
        category: the decisive error's category (None without an error).
        line_span: the decisive error's ``[char_start, char_end)`` in code, if any.
        code_length: ``len(item.code)`` (the U_global span).
    """

    outcome: Outcome
    passed: int = 0
    failed: int = 0
    total: int = 0
    category: Category | None = None
    line_span: tuple[int, int] | None = None
    code_length: int = 0


# ------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class _Param:
    """One allowed parameter: its type (bool, float or str), default and bounds."""

    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False


_PARAMS: dict[Scheme, dict[str, _Param]] = {
    Scheme.RLTF: {
        "compat_alpha_one": _Param(bool, False),
        "compat_timeout_ignore": _Param(bool, False),
        "crash_category": _Param(str, Category.IGNORE.value, choices=(Category.IGNORE, Category.GLOBAL)),
        "unfinished": _Param(str, UnfinishedRule.AUTO.value, choices=tuple(UnfinishedRule)),
    },
    Scheme.CODERL: {},
    Scheme.PANGU: {
        "lambda": _Param(float, 50.0),
        "eta": _Param(float, 0.5, low=0.0, low_open=True),
        "penalty": _Param(float, -10.0),
    },
    Scheme.PASS_FRACTION: {
        "threshold": _Param(float, None, low=0.0, high=1.0, nullable=True),
    },
}


def _refused(message: str) -> InvalidField:
    return InvalidField("reward", message)


def _scheme(spec: RewardSpec) -> Scheme:
    try:
        return Scheme(spec.scheme)
    except ValueError:
        known = ", ".join(s.value for s in Scheme)
        raise _refused(f"reward.scheme {spec.scheme!r} is unknown (known: {known})") from None


def _check_number(name: str, value: Any, param: _Param) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refused(f"reward.params.{name} must be a finite number")
    low_bad = param.low is not None and (
        value <= param.low if param.low_open else value < param.low
    )
    high_bad = param.high is not None and value > param.high
    if low_bad or high_bad:
        low = "-inf" if param.low is None else param.low
        high = "inf" if param.high is None else param.high
        raise _refused(f"reward.params.{name} must be within [{low}, {high}], got {value}")
    return float(value)


def _check_value(name: str, value: Any, param: _Param) -> Any:
    if value is None and param.nullable:
        return None
    if param.kind is bool:
        if not isinstance(value, bool):
            raise _refused(f"reward.params.{name} must be true or false")
        return value
    if param.kind is str:
        if value not in param.choices:
            raise _refused(f"reward.params.{name} must be one of {', '.join(param.choices)}")
        return value
    return _check_number(name, value, param)


def resolve_params(spec: RewardSpec) -> tuple[Scheme, dict[str, Any]]:
    """The scheme and its parameters with defaults filled in.

    Raises:
        InvalidField: unknown scheme, unknown parameter, or a bad value (``field`` is
            ``reward``, the message names the parameter; the API answers 422).
    """
    scheme = _scheme(spec)
    allowed = _PARAMS[scheme]
    for name in spec.params:
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise _refused(
                f"reward.params.{name} is not a parameter of scheme {scheme.value} (known: {known})"
            )
    return scheme, {
        name: _check_value(name, spec.params[name], p) if name in spec.params else p.default
        for name, p in allowed.items()
    }


def check_reward_spec(spec: RewardSpec) -> None:
    """Validate a request's reward spec.

    Raises:
        InvalidField: naming the bad scheme or parameter.
    """
    resolve_params(spec)


# ------------------------------------------------------------------ schemes
def _ratio(passed: int, total: int) -> float:
    return passed / total if total > 0 else 0.0


def coarse(outcome: Outcome) -> float:
    """CodeRL / RLTF coarse reward: +1 / -0.3 / -0.6 / -1."""
    return COARSE[outcome]


def _fine_span(inp: RewardInput) -> tuple[int, int] | None:
    """RLTF's span for the fine reward: the error line (U_line) or all code (U_global)."""
    if inp.outcome not in (Outcome.ERROR, Outcome.SYNTAX_ERROR):
        return None
    span: tuple[int, int] | None = None
    if inp.category is Category.LINE:
        span = inp.line_span
    elif inp.category is Category.GLOBAL:
        span = (0, inp.code_length)
    if span is None or span[1] <= span[0]:
        return None  # an empty span can carry no token-level signal
    return span


def _adaptive(inp: RewardInput) -> float | None:
    judged = inp.passed + inp.failed
    if inp.outcome is not Outcome.FAILURE or judged <= 0:
        return None
    return -0.3 + 1.3 * inp.passed / judged


def rltf(inp: RewardInput, params: Params) -> Rewards:
    """RLTF (paper eqs. 3-10): coarse, fine (with its char span) and adaptive rewards.

    ``alpha`` is None (the trainer computes T / (E - S) with its tokenizer, see
    ``client.spans``) unless ``compat_alpha_one``: the RLTF code's alpha, always 1.
    """
    span = _fine_span(inp)
    fine = FINE if span is not None else 0.0
    adaptive = _adaptive(inp)
    base = coarse(inp.outcome)
    return {
        "coarse": base,
        "fine": fine,
        "adaptive": adaptive,
        "total": round(base + fine + (adaptive or 0.0), 12),  # -0.9, not -0.8999999999999999
        "fine_char_start": float(span[0]) if span else None,
        "fine_char_end": float(span[1]) if span else None,
        "alpha": 1.0 if params.get("compat_alpha_one") and span else None,
    }


def coderl(inp: RewardInput, params: Params) -> Rewards:
    """CodeRL: the coarse table alone."""
    base = coarse(inp.outcome)
    return {"coarse": base, "total": base}


def pangu(inp: RewardInput, params: Params) -> Rewards:
    """PanguCoder-RL eq. 1: lambda*(passed/total)^eta if the program compiles, else a penalty."""
    if inp.outcome is Outcome.SYNTAX_ERROR:
        penalty = float(params.get("penalty", -10.0))
        return {"pass_term": None, "penalty": penalty, "total": penalty}
    lam = float(params.get("lambda", 50.0))
    eta = float(params.get("eta", 0.5))
    term = lam * _ratio(inp.passed, inp.total) ** eta
    return {"pass_term": term, "penalty": None, "total": term}


def pass_fraction(inp: RewardInput, params: Params) -> Rewards:
    """passed / total; with ``threshold``, the total is 1.0 at or above it, else 0.0."""
    fraction = _ratio(inp.passed, inp.total)
    threshold = params.get("threshold")
    total = fraction if threshold is None else float(fraction >= float(threshold))
    return {"pass_fraction": fraction, "total": total}


_SCHEMES: dict[Scheme, Callable[[RewardInput, Params], Rewards]] = {
    Scheme.RLTF: rltf,
    Scheme.CODERL: coderl,
    Scheme.PANGU: pangu,
    Scheme.PASS_FRACTION: pass_fraction,
}


def compute_rewards(spec: RewardSpec, inp: RewardInput) -> Rewards:
    """The components of ``spec``'s scheme for one program.

    Raises:
        InvalidField: an invalid spec (see :func:`check_reward_spec`).
    """
    scheme, params = resolve_params(spec)
    return _SCHEMES[scheme](inp, params)
