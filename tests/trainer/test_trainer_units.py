"""Pure parts of the trainer example: masks, RLTF weights, baselines, buffers, losses.

The RLTF examples are worked out by hand in the comments; the numbers are what the RLTF
code (``get_reward_from_error_type``, ``sample_rl_task``) would train with.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from client.models import Category, Result, Status
from service.feedback.coordinates import line_span
from tests.support.trainer import BROKEN, PROBLEM, PROBLEMS, result, scored, tokenizer
from trainer_example.baselines import ZERO, BestSoFar, LatestGreedy, NoBaseline, ProgramScore, make
from trainer_example.buffer import BufferClosed, OnlineBuffer
from trainer_example.config import Algo, BaselineMode, Component, TrainConfig, parse_args
from trainer_example.critics import Outcome, outcome_class, token_critic_loss, token_weights
from trainer_example.data import load_problems
from trainer_example.losses import token_kl, token_logprobs, weighted_nll
from trainer_example.normalize import entry_points, normalize
from trainer_example.rltf import fine_weights, rltf_weights, sequence_terms
from trainer_example.sequences import Encoded, encode, sampled_offsets

ERROR_LINE = 3
ALL = frozenset(Component)


def _enc(code: str = BROKEN) -> Encoded:
    return encode(tokenizer(), PROBLEM.prompt, code, eos=True, max_prompt=256, max_code=256)


# --- fine-grained mask ---------------------------------------------------------------


def test_fine_mask_covers_exactly_the_error_line() -> None:
    span = line_span(BROKEN, ERROR_LINE)
    assert span is not None and BROKEN[span[0] : span[1]] == "    z = y[x] + undefined_name"
    enc = _enc()
    weights = fine_weights(scored(result(Status.ERROR, span=span)), enc, alpha_compat=False)
    masked = [t for t, w in enumerate(weights) if w != 0.0]
    line = set(range(*span))
    expected = [t for t, (a, b) in enumerate(enc.offsets) if line & set(range(a, b))]
    assert masked == expected and masked == list(range(masked[0], masked[-1] + 1))
    text = "".join(BROKEN[a:b] for a, b in (enc.offsets[t] for t in masked))
    assert text.strip() == BROKEN[span[0] : span[1]].strip()
    assert "return" not in text and "[1, 2]" not in text
    # alpha = T / (E - S) with T counting EOS: the fine term is a mean over the span
    assert weights[masked[0]] == pytest.approx(-0.3 * enc.n_code / len(masked))
    assert weights[-1] == 0.0  # EOS is not on the error line


def test_global_span_includes_eos() -> None:
    # U_global: S = 0, E = T (EOS included), so alpha = T / T = 1 and every token gets -0.3
    enc = _enc()
    glob = scored(result(Status.ERROR, span=(0, len(BROKEN)), category=Category.GLOBAL))
    assert enc.offsets[-1] == (0, 0)  # EOS: a token without characters
    assert fine_weights(glob, enc, alpha_compat=False) == pytest.approx([-0.3] * enc.n_code)
    assert fine_weights(glob, enc, alpha_compat=True) == pytest.approx([-0.3] * enc.n_code)
    none = scored(result(Status.FAILURE, passed=1))
    assert set(fine_weights(none, enc, alpha_compat=False)) == {0.0}


def test_sampled_ids_are_trained_on_with_their_own_offsets() -> None:
    tok = tokenizer()
    code = "def add(x):\n    return x + 3\n"
    canonical = tok(code, add_special_tokens=False)["input_ids"]
    # a non-canonical tokenization of the same text, one character per token
    chars = [tok(c, add_special_tokens=False)["input_ids"][0] for c in code]
    assert chars != canonical and tok.decode(chars) == code
    offsets = sampled_offsets(tok, chars, code)
    assert offsets == [(i, i + 1) for i in range(len(code))]
    enc = encode(tok, "# p\n", code, eos=True, max_prompt=8, max_code=64, sampled=chars)
    assert enc.ids[enc.n_prompt : -1] == chars and enc.offsets[:-1] == offsets
    assert sampled_offsets(tok, chars[:-1], code) is None  # misaligned: re-tokenize
    enc = encode(tok, "", code, eos=False, max_prompt=8, max_code=64, sampled=chars[:-1])
    assert enc.ids == canonical


# --- RLTF's baseline scoring -----------------------------------------------------------


def test_failing_sample_against_an_errored_baseline_that_passed_three_of_four() -> None:
    # sample: failure, 1 of 4 tests: coarse -0.3, adaptive -0.3 + 1.3 * 0.25 = 0.025
    # baseline (greedy): an error after 3 of 4 passed: -0.6 (no pass-ratio term for errors)
    # RLTF's code: 0.025 - (-0.6) = +0.625 = coarse (-0.3 + 0.6 = 0.3) + adaptive (0.325).
    # (The old trainer gave coarse +0.3 and adaptive 0.025 - (-0.3 + 1.3 * 0.75) = -0.65: -0.35.)
    greedy = result(Status.ERROR, passed=3)
    sample = scored(result(Status.FAILURE, passed=1), greedy=greedy)
    base = LatestGreedy().value(sample)
    assert base == ProgramScore(-0.6, -0.6)
    terms = sequence_terms(sample, base, ALL)
    assert terms[Component.COARSE] == pytest.approx(0.3)
    assert terms[Component.ADAPTIVE] == pytest.approx(0.325)
    enc = _enc()
    weights = rltf_weights([sample], [enc], LatestGreedy(), ALL, alpha_compat=False)
    n = enc.n_prompt
    total = weights[Component.COARSE][0, n:] + weights[Component.ADAPTIVE][0, n:]
    assert total.tolist() == pytest.approx([0.625] * enc.n_code)
    assert weights[Component.FINE].abs().sum() == 0  # a failure has no fine term
    assert weights[Component.COARSE][0, :n].abs().sum() == 0  # prompt tokens: no signal


@pytest.mark.parametrize(
    ("sample", "baseline", "coarse", "adaptive"),
    [
        # pass vs failing greedy 2/4: coarse 1 - (-0.3) = 1.3; a: 1 - (-0.3 + 0.65) = 0.65
        (result(Status.PASS, passed=4), result(Status.FAILURE, passed=2), 1.3, 0.65 - 1.3),
        # failure 3/4 vs failure 1/4: coarse 0; a: 0.675 - 0.025 = 0.65
        (result(Status.FAILURE, passed=3), result(Status.FAILURE, passed=1), 0.0, 0.65),
        # syntax error vs pass: coarse -1 - 1 = -2; a: the same, so the adaptive part is 0
        (result(Status.ERROR, syntax=True), result(Status.PASS, passed=4), -2.0, 0.0),
        # error vs syntax error: -0.6 - (-1) = 0.4
        (result(Status.ERROR), result(Status.ERROR, syntax=True), 0.4, 0.0),
    ],
)
def test_sequence_terms_against_one_baseline_program(
    sample: Result, baseline: Result, coarse: float, adaptive: float
) -> None:
    s = scored(sample, greedy=baseline)
    terms = sequence_terms(s, LatestGreedy().value(s), ALL)
    assert terms[Component.COARSE] == pytest.approx(coarse)
    assert terms[Component.ADAPTIVE] == pytest.approx(adaptive)
    # no baseline program: the sample's own score; only the switched-on terms appear
    assert sequence_terms(s, ZERO, frozenset({Component.COARSE})) == {Component.COARSE: sample.rewards["coarse"]}


def test_best_so_far_keeps_one_best_program_per_problem() -> None:
    base = BestSoFar()
    fail = scored(result(Status.FAILURE, passed=1))
    assert base.value(fail) == ZERO  # nothing seen yet
    # an error after 3 of 4, then a failure with 1 of 4: the failure is the better program
    # (0.025 > -0.6); its scores are (-0.3, 0.025), not the component-wise (-0.3, 0.675)
    base.observe([scored(result(Status.ERROR, passed=3))])
    assert base.value(fail) == ProgramScore(-0.6, -0.6)
    base.observe([fail])
    assert base.value(fail) == ProgramScore(-0.3, pytest.approx(0.025))
    base.observe([scored(result(Status.FAILURE, passed=1), code="other")])  # a tie keeps the older
    base.observe([scored(result(Status.ERROR, syntax=True))])  # worse: best stays
    assert base.value(fail) == ProgramScore(-0.3, pytest.approx(0.025))
    base.observe([scored(result(Status.PASS, passed=4))])
    assert base.value(fail) == ProgramScore(1.0, 1.0)
    other = scored(result(Status.PASS, passed=4), problem=PROBLEMS[1])
    assert base.value(other) == ZERO  # per problem
    base.observe([scored(Result(status=Status.INFRA_ERROR), problem=PROBLEMS[1])])
    assert base.value(other) == ZERO  # an unscored program is no baseline
    restored = BestSoFar()
    restored.load_state_dict(base.state_dict())
    assert restored.best == base.best


def test_latest_greedy_and_none_baselines() -> None:
    s = scored(result(Status.PASS, passed=4), greedy=result(Status.FAILURE, passed=2))
    assert LatestGreedy().value(s) == ProgramScore(-0.3, pytest.approx(0.35))
    infra = scored(result(Status.PASS, passed=4), greedy=Result(status=Status.INFRA_ERROR))
    assert LatestGreedy().value(infra) == ZERO
    assert LatestGreedy().value(scored(result(Status.PASS, passed=4))) == ZERO  # no greedy program
    assert NoBaseline().value(s) == ZERO
    assert isinstance(make(BaselineMode.LATEST_GREEDY), LatestGreedy)
    assert isinstance(make(BaselineMode.NONE), NoBaseline)
    assert TrainConfig().baseline is BaselineMode.LATEST_GREEDY  # the RLTF code's default


# --- token critic (CodeRL-style weighting) ---------------------------------------------


def test_token_critic_weights_every_term() -> None:
    # q_t multiplies each term at token t (the RLTF code, fine_grained_type 1):
    # error (-0.6) vs greedy pass (1.0): coarse -1.6 on every token, fine -0.3 * alpha on the line
    span = line_span(BROKEN, ERROR_LINE)
    s = scored(result(Status.ERROR, span=span), greedy=result(Status.PASS, passed=4))
    enc = _enc()
    q = [0.5 if t % 2 else 0.25 for t in range(enc.n_code)]
    plain = rltf_weights([s], [enc], LatestGreedy(), ALL, alpha_compat=False)
    weighted = rltf_weights([s], [enc], LatestGreedy(), ALL, alpha_compat=False, token_weights=[q])
    n = enc.n_prompt
    assert plain[Component.COARSE][0, n:].tolist() == pytest.approx([-1.6] * enc.n_code)
    for c in (Component.COARSE, Component.FINE, Component.ADAPTIVE):
        assert weighted[c][0, n:].tolist() == pytest.approx((plain[c][0, n:] * torch.tensor(q)).tolist())


def test_token_critic_outcomes_weights_and_loss() -> None:
    assert outcome_class(result(Status.ERROR, syntax=True)) is Outcome.SYNTAX_ERROR
    assert outcome_class(result(Status.ERROR)) is Outcome.RUNTIME_ERROR
    assert outcome_class(result(Status.FAILURE, passed=1)) is Outcome.FAILURE
    assert outcome_class(result(Status.PASS, passed=4)) is Outcome.PASS
    # one row, two code tokens (positions 1, 2); logits over the 4 outcomes per position
    logits = torch.tensor([[[9.0, 9.0, 9.0, 9.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]]])
    cmask = torch.tensor([[0.0, 1.0, 1.0]])
    outcome = torch.tensor([int(Outcome.PASS)])
    q = token_weights(logits, outcome)
    e2 = math.e**2
    assert q[0, 1:].tolist() == pytest.approx([0.25, e2 / (3 + e2)])
    # max over the code positions (position 0 is the prompt and left out): [0, 0, 0, 2]
    assert token_critic_loss(logits, cmask, outcome).item() == pytest.approx(-math.log(e2 / (3 + e2)))


# --- buffers ---------------------------------------------------------------------------


def test_online_buffer_is_a_fifo_of_batches_bounded_in_samples() -> None:
    buf = OnlineBuffer(maxlen=3)
    first = [scored(result(Status.PASS, passed=4), code=str(i)) for i in range(3)]
    buf.begin()
    buf.begin()
    buf.put_many(first)
    buf.put_many([scored(result(Status.PASS, passed=4), code="b")])
    assert buf.dropped == 1 and len(buf) == 3  # the oldest sample went
    assert [s.sample.code for s in buf.take()] == ["1", "2"]  # batch by batch
    assert [s.sample.code for s in buf.take()] == ["b"]
    buf.begin()
    buf.put_many([])  # nothing of a batch was scored: an empty batch, not the next one's samples
    assert buf.take() == []
    with pytest.raises(BufferClosed):
        buf.take()  # nothing there, nothing in flight


def test_online_buffer_waits_for_in_flight_batches() -> None:
    buf = OnlineBuffer(maxlen=10)
    buf.begin()
    item = scored(result(Status.PASS, passed=4))
    threading.Timer(0.2, lambda: buf.put_many([item, item])).start()
    started = time.monotonic()
    assert len(buf.take(timeout_s=5)) == 2
    assert time.monotonic() - started >= 0.15
    buf.begin()
    with pytest.raises(TimeoutError):
        buf.take(timeout_s=0.05)
    threading.Timer(0.05, lambda: buf.fail(RuntimeError("service down"))).start()
    with pytest.raises(BufferClosed):
        buf.take(timeout_s=5)


def test_normalize_drops_comments_formatting_and_unused_functions() -> None:
    a = "def add(x):\n    # add three\n    return x + 3\n"
    b = "def helper():\n    return 1\n\ndef add(x):\n    return (x + 3)  # done\n"
    c = "def three():\n    return 3\n\ndef add(x):\n    return x + three()\n"
    entries = entry_points(PROBLEM.tests)
    assert "add" in entries
    assert normalize(a, entries) == normalize(b, entries) == "def add(x):\n    return x + 3"
    assert "three" in (normalize(c, entries) or "")
    assert normalize("def add(x) return", entries) is None


# --- losses ------------------------------------------------------------------------------


def test_token_losses() -> None:
    logits = torch.zeros(1, 4, 5)
    ids = torch.tensor([[0, 1, 2, 3]])
    logp = token_logprobs(logits, ids)
    assert logp[0, 0] == 0 and torch.allclose(logp[0, 1:], torch.log(torch.tensor(0.2)))
    weights = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    loss = weighted_nll(logp, weights, torch.tensor([2.0]))
    assert loss.item() == pytest.approx(-torch.log(torch.tensor(0.2)).item())
    assert token_kl(logits, logits.clone()).abs().max().item() == pytest.approx(0.0)
    # position 1 predicted from position 0: p = uniform(2), ref = (3/4, 1/4)
    two = torch.zeros(1, 2, 2)
    ref = torch.tensor([[[0.0, -torch.log(torch.tensor(3.0)).item()], [0.0, 0.0]]])
    expected = 0.5 * torch.log(torch.tensor(0.5 / 0.75)) + 0.5 * torch.log(torch.tensor(0.5 / 0.25))
    assert token_kl(two, ref)[0].tolist() == pytest.approx([0.0, expected.item()])


# --- data, config ----------------------------------------------------------------------


def test_problem_sources() -> None:
    assert len(PROBLEMS) == 108 and len({p.id for p in PROBLEMS}) == 108
    assert all(p.reference and len(p.tests.cases) == 3 for p in PROBLEMS)
    assert PROBLEM.prompt.startswith("# Write a function add(x)")
    mbpp = load_problems("mbpp", limit=5)
    assert len(mbpp) == 5 and all(p.reference and "\r" not in p.reference for p in mbpp)
    apps = load_problems("apps", limit=3)
    assert all(p.tests.kind == "stdio" for p in apps)


def test_parse_args() -> None:
    config = parse_args(["--tiny", "--components", "sl,fine", "--baseline", "none", "--local_rank=0", "--steps", "3"])
    assert config.active_components == frozenset({Component.SL, Component.FINE})
    assert config.baseline is BaselineMode.NONE and config.steps == 3
    assert parse_args(["--tiny"]).active_components == ALL
    ac = parse_args(["--tiny", "--algo", "actor_critic", "--critic-lr", "1e-6", "--lr", "5e-7"])
    assert ac.scheme == "pangu" and ac.active_components == frozenset()  # RL only, no SL
    assert (ac.lr, ac.critic_lr) == (5e-7, 1e-6) and ac.needs_frozen and ac.max_reward == pytest.approx(1.0)
    assert not parse_args(["--tiny"]).needs_frozen  # RLTF builds no reference model by default
    assert parse_args(["--tiny", "--kl-metric"]).needs_frozen
    assert TrainConfig(algo=Algo.ACTOR_CRITIC, components=frozenset({Component.SL})).active_components == {Component.SL}
    for bad in ([], ["--tiny", "--algo", "actor_critic", "--token-critic"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    with pytest.raises(SystemExit):
        parse_args(["--tiny", "--record-results", "a.jsonl", "--replay-results", "a.jsonl"])
