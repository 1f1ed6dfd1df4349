"""Reward schemes: formulas, the papers' values and edge cases, table-driven."""

from __future__ import annotations

import math

import pytest

from client.models import Category, RewardSpec
from service.feedback.rewards import (
    Outcome,
    RewardInput,
    check_reward_spec,
    coarse,
    coderl,
    compute_rewards,
    pangu,
    pass_fraction,
    resolve_params,
    rltf,
)

CODE_LEN = 100
LINE = (20, 41)


def inp(
    outcome: Outcome,
    passed: int = 0,
    failed: int = 0,
    total: int = 0,
    category: Category | None = None,
    span: tuple[int, int] | None = None,
) -> RewardInput:
    return RewardInput(
        outcome=outcome,
        passed=passed,
        failed=failed,
        total=total,
        category=category,
        line_span=span,
        code_length=CODE_LEN,
    )


@pytest.mark.parametrize(
    ("outcome", "value"),
    [
        (Outcome.PASS, 1.0),
        (Outcome.FAILURE, -0.3),
        (Outcome.ERROR, -0.6),
        (Outcome.SYNTAX_ERROR, -1.0),
    ],
)
def test_coarse_is_the_papers_table(outcome: Outcome, value: float) -> None:
    assert coarse(outcome) == value
    assert coderl(inp(outcome), {}) == {"coarse": value, "total": value}


# name, input, expected (coarse, fine, adaptive, fine span)
RLTF_CASES = [
    ("all pass", inp(Outcome.PASS, 3, 0, 3), (1.0, 0.0, None, None)),
    ("no tests judged", inp(Outcome.PASS, 0, 0, 0), (1.0, 0.0, None, None)),
    ("wrong answer 0/4", inp(Outcome.FAILURE, 0, 4, 4), (-0.3, 0.0, -0.3, None)),
    ("wrong answer 1/4", inp(Outcome.FAILURE, 1, 3, 4), (-0.3, 0.0, -0.3 + 1.3 * 0.25, None)),
    ("wrong answer 3/4", inp(Outcome.FAILURE, 3, 1, 4), (-0.3, 0.0, -0.3 + 1.3 * 0.75, None)),
    (
        "runtime error, U_line",
        inp(Outcome.ERROR, 0, 0, 2, Category.LINE, LINE),
        (-0.6, -0.3, None, LINE),
    ),
    (
        "crash after 2 passes (U_ignore)",
        inp(Outcome.ERROR, 2, 0, 3, Category.IGNORE),
        (-0.6, 0.0, None, None),
    ),
    (
        "timeout after 2 passes (U_global)",
        inp(Outcome.ERROR, 2, 0, 3, Category.GLOBAL, LINE),
        (-0.6, -0.3, None, (0, CODE_LEN)),
    ),
    (
        "syntax error, U_line",
        inp(Outcome.SYNTAX_ERROR, 0, 0, 3, Category.LINE, LINE),
        (-1.0, -0.3, None, LINE),
    ),
    (
        "unfinished code, U_global",
        inp(Outcome.SYNTAX_ERROR, 0, 0, 3, Category.GLOBAL, LINE),
        (-1.0, -0.3, None, (0, CODE_LEN)),
    ),
    (
        "indentation, U_ignore",
        inp(Outcome.SYNTAX_ERROR, 0, 0, 3, Category.IGNORE, LINE),
        (-1.0, 0.0, None, None),
    ),
    (
        "U_line without a span (error in the tests)",
        inp(Outcome.ERROR, 0, 0, 3, Category.LINE, None),
        (-0.6, 0.0, None, None),
    ),
    (
        "U_line with an empty span",
        inp(Outcome.ERROR, 0, 0, 3, Category.LINE, (5, 5)),
        (-0.6, 0.0, None, None),
    ),
    ("error without category", inp(Outcome.ERROR, 0, 0, 1), (-0.6, 0.0, None, None)),
]


@pytest.mark.parametrize(("name", "given", "expected"), RLTF_CASES, ids=[c[0] for c in RLTF_CASES])
def test_rltf(name: str, given: RewardInput, expected: tuple[object, ...]) -> None:
    want_coarse, want_fine, want_adaptive, want_span = expected
    got = rltf(given, {})
    assert got["coarse"] == want_coarse
    assert got["fine"] == want_fine
    assert got["adaptive"] == pytest.approx(want_adaptive)
    span = (
        None if got["fine_char_start"] is None else (got["fine_char_start"], got["fine_char_end"])
    )
    assert span == want_span
    parts = [got["coarse"], got["fine"], got["adaptive"] or 0.0]
    assert got["total"] == pytest.approx(sum(p for p in parts if p is not None))
    assert got["alpha"] is None


def test_rltf_compat_alpha_one() -> None:
    got = rltf(inp(Outcome.ERROR, 0, 0, 1, Category.LINE, LINE), {"compat_alpha_one": True})
    assert got["alpha"] == 1.0
    assert rltf(inp(Outcome.PASS, 1, 0, 1), {"compat_alpha_one": True})["alpha"] is None


# name, input, params, expected total, pass_term, penalty
PANGU_CASES = [
    ("all pass", inp(Outcome.PASS, 4, 0, 4), {}, 50.0, 50.0, None),
    ("quarter", inp(Outcome.FAILURE, 1, 3, 4), {}, 50 * 0.25**0.5, 50 * 0.25**0.5, None),
    ("none pass", inp(Outcome.FAILURE, 0, 4, 4), {}, 0.0, 0.0, None),
    (
        "crash after 2/3",
        inp(Outcome.ERROR, 2, 0, 3),
        {},
        50 * (2 / 3) ** 0.5,
        50 * (2 / 3) ** 0.5,
        None,
    ),
    ("syntax error", inp(Outcome.SYNTAX_ERROR, 0, 0, 4), {}, -10.0, None, -10.0),
    ("no tests", inp(Outcome.PASS, 0, 0, 0), {}, 0.0, 0.0, None),
    ("own lambda/eta", inp(Outcome.FAILURE, 1, 3, 4), {"lambda": 1, "eta": 1}, 0.25, 0.25, None),
    ("own penalty", inp(Outcome.SYNTAX_ERROR), {"penalty": -1}, -1.0, None, -1.0),
]


@pytest.mark.parametrize(
    ("name", "given", "params", "total", "term", "penalty"),
    PANGU_CASES,
    ids=[c[0] for c in PANGU_CASES],
)
def test_pangu(
    name: str,
    given: RewardInput,
    params: dict[str, float],
    total: float,
    term: float | None,
    penalty: float | None,
) -> None:
    _, resolved = resolve_params(RewardSpec(scheme="pangu", params=dict(params)))
    got = pangu(given, resolved)
    assert got["total"] == pytest.approx(total)
    assert got["pass_term"] == (None if term is None else pytest.approx(term))
    assert got["penalty"] == penalty


# name, input, threshold, fraction, total
FRACTION_CASES = [
    ("all pass", inp(Outcome.PASS, 4, 0, 4), None, 1.0, 1.0),
    ("partial", inp(Outcome.FAILURE, 1, 3, 4), None, 0.25, 0.25),
    ("crash after 2/3", inp(Outcome.ERROR, 2, 0, 3), None, 2 / 3, 2 / 3),
    ("syntax error", inp(Outcome.SYNTAX_ERROR, 0, 0, 3), None, 0.0, 0.0),
    ("no tests", inp(Outcome.PASS, 0, 0, 0), None, 0.0, 0.0),
    ("below threshold", inp(Outcome.FAILURE, 1, 3, 4), 0.5, 0.25, 0.0),
    ("at threshold", inp(Outcome.FAILURE, 2, 2, 4), 0.5, 0.5, 1.0),
    ("threshold 1 = all pass", inp(Outcome.PASS, 4, 0, 4), 1.0, 1.0, 1.0),
]


@pytest.mark.parametrize(
    ("name", "given", "threshold", "fraction", "total"),
    FRACTION_CASES,
    ids=[c[0] for c in FRACTION_CASES],
)
def test_pass_fraction(
    name: str, given: RewardInput, threshold: float | None, fraction: float, total: float
) -> None:
    got = pass_fraction(given, {"threshold": threshold})
    assert got == {"pass_fraction": pytest.approx(fraction), "total": pytest.approx(total)}


def test_compute_rewards_uses_defaults() -> None:
    got = compute_rewards(RewardSpec(scheme="pangu"), inp(Outcome.FAILURE, 1, 3, 4))
    assert got["total"] == pytest.approx(25.0)
    assert compute_rewards(RewardSpec(), inp(Outcome.PASS, 1, 0, 1))["total"] == 1.0


# spec, fragment of the error message
BAD_SPECS = [
    (RewardSpec(scheme="nope"), "reward.scheme 'nope'"),
    (RewardSpec(scheme="rltf", params={"lam": 1}), "reward.params.lam"),
    (RewardSpec(scheme="coderl", params={"x": 1}), "reward.params.x"),
    (RewardSpec(scheme="pangu", params={"eta": 0}), "reward.params.eta"),
    (RewardSpec(scheme="pangu", params={"eta": -1}), "reward.params.eta"),
    (RewardSpec(scheme="pangu", params={"lambda": "50"}), "reward.params.lambda"),
    (RewardSpec(scheme="pangu", params={"lambda": True}), "reward.params.lambda"),
    (RewardSpec(scheme="pass_fraction", params={"threshold": 1.5}), "reward.params.threshold"),
    (RewardSpec(scheme="rltf", params={"compat_alpha_one": 1}), "reward.params.compat_alpha_one"),
    (RewardSpec(scheme="rltf", params={"unfinished": "maybe"}), "reward.params.unfinished"),
]


@pytest.mark.parametrize(("spec", "fragment"), BAD_SPECS)
def test_bad_specs_name_the_culprit(spec: RewardSpec, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.")):
        check_reward_spec(spec)


GOOD_SPECS = [
    RewardSpec(),
    RewardSpec(scheme="coderl"),
    RewardSpec(scheme="pangu", params={"lambda": 10, "eta": 1.0, "penalty": -5}),
    RewardSpec(scheme="pass_fraction", params={"threshold": None}),
    RewardSpec(scheme="pass_fraction", params={"threshold": 0.5}),
    RewardSpec(
        scheme="rltf",
        params={
            "compat_alpha_one": True,
            "compat_timeout_ignore": True,
            "crash_category": "global",
            "unfinished": "positional",
        },
    ),
]


@pytest.mark.parametrize("spec", GOOD_SPECS)
def test_good_specs(spec: RewardSpec) -> None:
    check_reward_spec(spec)


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        check_reward_spec(RewardSpec(scheme="pangu", params={"lambda": math.inf}))
