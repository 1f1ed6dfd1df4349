"""Pure parts of the trainer example: masks, losses, baselines, buffers, normalisation."""

from __future__ import annotations

import threading
import time

import pytest

torch = pytest.importorskip("torch")  # the trainer extra; CI installs it
pytest.importorskip("transformers")

from client.models import Category, ErrorInfo, Result, Status  # noqa: E402
from service.locate import line_span  # noqa: E402
from trainer_example.actor_critic import AdaptiveKL, actor_critic_losses  # noqa: E402
from trainer_example.baselines import BestSoFar, LatestGreedy, NoBaseline, make  # noqa: E402
from trainer_example.buffer import BufferClosed, OnlineBuffer  # noqa: E402
from trainer_example.config import (  # noqa: E402
    Algo,
    BaselineMode,
    Component,
    TrainConfig,
    parse_args,
)
from trainer_example.data import Problem, load_problems  # noqa: E402
from trainer_example.losses import kl_per_sequence, token_logprobs, weighted_nll  # noqa: E402
from trainer_example.model import train_tokenizer  # noqa: E402
from trainer_example.normalize import entry_points, normalize  # noqa: E402
from trainer_example.replay import ReplayBuffer  # noqa: E402
from trainer_example.rltf import fine_weights, rltf_weights  # noqa: E402
from trainer_example.rollout import Sample, Scored  # noqa: E402
from trainer_example.sequences import encode, sampled_offsets  # noqa: E402
from trainer_example.synthetic import synthetic_problems  # noqa: E402

PROBLEMS = synthetic_problems()
PROBLEM = PROBLEMS[0]
BROKEN = "def add(x):\n    y = [1, 2]\n    z = y[x] + undefined_name\n    return z + 3\n"
ERROR_LINE = 3


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return train_tokenizer([p.prompt + (p.reference or "") for p in PROBLEMS], vocab_size=600)


def _result(
    status: Status,
    *,
    coarse: float = 0.0,
    fine: float = 0.0,
    span: tuple[int, int] | None = None,
    adaptive: float | None = None,
    pass_ratio: float = 0.0,
) -> Result:
    rewards: dict[str, float | None] = {"coarse": coarse, "fine": fine, "adaptive": adaptive}
    if span is not None:
        rewards |= {"fine_char_start": float(span[0]), "fine_char_end": float(span[1])}
    error = None
    if status is Status.ERROR:
        error = ErrorInfo(type="NameError", subtype="name", category=Category.LINE)
    return Result(
        status=status,
        rewards=rewards,
        error=error,
        pass_ratio=pass_ratio,
        passed=round(3 * pass_ratio),
        total=3,
    )


def _scored(result: Result, *, problem: Problem = PROBLEM, code: str = BROKEN, greedy: Result | None = None) -> Scored:
    sample = Sample(
        problem=problem,
        code=code,
        finish_reason="stop",  # type: ignore[arg-type]
        new_tokens=10,
        policy_step=0,
    )
    return Scored(sample=sample, result=result, greedy=greedy)


# --- fine-grained mask ---------------------------------------------------------------


def test_fine_mask_covers_exactly_the_error_line(tokenizer) -> None:  # type: ignore[no-untyped-def]
    span = line_span(BROKEN, ERROR_LINE)
    assert span is not None and BROKEN[span[0] : span[1]] == "    z = y[x] + undefined_name"
    scored = _scored(_result(Status.ERROR, coarse=-0.6, fine=-0.3, span=span))
    enc = encode(tokenizer, PROBLEM.prompt, BROKEN, eos=True, max_prompt=256, max_code=256)
    weights = fine_weights(scored, enc, alpha_compat=False)
    masked = [t for t, w in enumerate(weights) if w != 0.0]
    line = set(range(*span))
    expected = [t for t, (a, b) in enumerate(enc.offsets) if line & set(range(a, b))]
    assert masked == expected and masked == list(range(masked[0], masked[-1] + 1))
    text = "".join(BROKEN[a:b] for a, b in (enc.offsets[t] for t in masked))
    assert text.strip() == BROKEN[span[0] : span[1]].strip()
    assert "return" not in text and "[1, 2]" not in text
    # alpha = T / (E - S): the fine term is a mean over the span
    assert weights[masked[0]] == pytest.approx(-0.3 * enc.n_code / len(masked))


def test_fine_mask_alpha_compat_and_global_span(tokenizer) -> None:  # type: ignore[no-untyped-def]
    enc = encode(tokenizer, PROBLEM.prompt, BROKEN, eos=True, max_prompt=256, max_code=256)
    glob = _scored(_result(Status.ERROR, coarse=-0.6, fine=-0.3, span=(0, len(BROKEN))))
    weights = fine_weights(glob, enc, alpha_compat=True)
    assert weights[:-1] == [-0.3] * (enc.n_code - 1) and weights[-1] == 0.0  # EOS: no chars
    none = _scored(_result(Status.FAILURE, coarse=-0.3, adaptive=0.1))
    assert set(fine_weights(none, enc, alpha_compat=False)) == {0.0}


def test_rltf_weights_subtract_the_baseline(tokenizer) -> None:  # type: ignore[no-untyped-def]
    batch = [
        _scored(_result(Status.FAILURE, coarse=-0.3, adaptive=0.4, pass_ratio=0.5)),
        _scored(_result(Status.PASS, coarse=1.0, pass_ratio=1.0)),
    ]
    enc = [encode(tokenizer, PROBLEM.prompt, BROKEN, eos=True, max_prompt=64, max_code=64)] * 2
    best = BestSoFar()
    best.best[PROBLEM.id] = (-0.3, 0.1)
    weights = rltf_weights(batch, enc, best, frozenset(Component), alpha_compat=False)
    assert set(weights) == {Component.COARSE, Component.FINE, Component.ADAPTIVE}
    n = enc[0].n_prompt
    assert weights[Component.COARSE][0, n:].unique().tolist() == [0.0]
    assert weights[Component.COARSE][1, n:].unique().tolist() == pytest.approx([1.3])
    assert weights[Component.ADAPTIVE][0, n:].unique().tolist() == pytest.approx([0.3])
    assert weights[Component.ADAPTIVE][1].abs().sum() == 0  # a pass has no adaptive term
    assert weights[Component.COARSE][:, :n].abs().sum() == 0  # prompt tokens: no signal


def test_sampled_ids_are_trained_on_with_their_own_offsets(tokenizer) -> None:  # type: ignore[no-untyped-def]
    code = "def add(x):\n    return x + 3\n"
    canonical = tokenizer(code, add_special_tokens=False)["input_ids"]
    # a non-canonical tokenization of the same text, one character per token
    chars = [tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in code]
    assert chars != canonical and tokenizer.decode(chars) == code
    offsets = sampled_offsets(tokenizer, chars, code)
    assert offsets == [(i, i + 1) for i in range(len(code))]
    enc = encode(tokenizer, "# p\n", code, eos=True, max_prompt=8, max_code=64, sampled=chars)
    assert enc.ids[enc.n_prompt : -1] == chars and enc.offsets[:-1] == offsets
    assert sampled_offsets(tokenizer, chars[:-1], code) is None  # misaligned: re-tokenize
    enc = encode(tokenizer, "", code, eos=False, max_prompt=8, max_code=64, sampled=chars[:-1])
    assert enc.ids == canonical


# --- baselines -------------------------------------------------------------------------


def test_best_so_far_uses_history_before_the_batch() -> None:
    base = BestSoFar()
    fail = _scored(_result(Status.FAILURE, coarse=-0.3, adaptive=0.1, pass_ratio=1 / 3))
    assert base.value(fail).coarse == 0.0  # nothing seen yet
    base.observe([fail])
    assert (base.value(fail).coarse, base.value(fail).adaptive) == (-0.3, 0.1)
    base.observe([_scored(_result(Status.PASS, coarse=1.0, pass_ratio=1.0))])
    base.observe([_scored(_result(Status.ERROR, coarse=-1.0))])  # worse: best stays
    assert base.value(fail).coarse == 1.0 and base.value(fail).adaptive == pytest.approx(1.0)
    other = _scored(_result(Status.PASS, coarse=1.0), problem=PROBLEMS[1])
    assert base.value(other).coarse == 0.0  # per problem
    restored = BestSoFar()
    restored.load_state_dict(base.state_dict())
    assert restored.best == base.best


def test_latest_greedy_and_none_baselines() -> None:
    greedy = _result(Status.FAILURE, coarse=-0.3, adaptive=0.35, pass_ratio=0.5)
    scored = _scored(_result(Status.PASS, coarse=1.0), greedy=greedy)
    value = LatestGreedy().value(scored)
    assert (value.coarse, value.adaptive) == (-0.3, 0.35)
    passed = _scored(_result(Status.PASS, coarse=1.0), greedy=_result(Status.PASS, coarse=1.0, pass_ratio=1.0))
    assert LatestGreedy().value(passed).adaptive == pytest.approx(1.0)
    infra = _scored(_result(Status.PASS, coarse=1.0), greedy=Result(status=Status.INFRA_ERROR))
    assert LatestGreedy().value(infra).coarse == 0.0
    assert NoBaseline().value(scored).coarse == 0.0
    assert isinstance(make(BaselineMode.LATEST_GREEDY), LatestGreedy)
    assert isinstance(make(BaselineMode.NONE), NoBaseline)


# --- buffers ---------------------------------------------------------------------------


def test_online_buffer_is_a_bounded_fifo() -> None:
    buf = OnlineBuffer(maxlen=3)
    items = [_scored(_result(Status.PASS, coarse=float(i))) for i in range(5)]
    buf.begin()
    buf.put_many(items)
    assert buf.dropped == 2 and len(buf) == 3
    taken = buf.take(2)
    assert [s.result.rewards["coarse"] for s in taken] == [2.0, 3.0]
    assert len(buf.take(5)) == 1  # nothing in flight: fewer than asked
    with pytest.raises(BufferClosed):
        buf.take(1)


def test_online_buffer_waits_for_in_flight_batches() -> None:
    buf = OnlineBuffer(maxlen=10)
    buf.begin()
    item = _scored(_result(Status.PASS, coarse=1.0))
    threading.Timer(0.2, lambda: buf.put_many([item, item])).start()
    started = time.monotonic()
    assert len(buf.take(2, timeout_s=5)) == 2
    assert time.monotonic() - started >= 0.15
    buf.begin()
    threading.Timer(0.05, lambda: buf.fail(RuntimeError("service down"))).start()
    with pytest.raises(BufferClosed):
        buf.take(1, timeout_s=5)


def test_normalize_drops_comments_formatting_and_unused_functions() -> None:
    a = "def add(x):\n    # add three\n    return x + 3\n"
    b = "def helper():\n    return 1\n\ndef add(x):\n    return (x + 3)  # done\n"
    c = "def three():\n    return 3\n\ndef add(x):\n    return x + three()\n"
    entries = entry_points(PROBLEM.tests)
    assert "add" in entries
    assert normalize(a, entries) == normalize(b, entries) == "def add(x):\n    return x + 3"
    assert "three" in (normalize(c, entries) or "")
    assert normalize("def add(x) return", entries) is None


def test_replay_keeps_valid_distinct_solutions() -> None:
    replay = ReplayBuffer(capacity=10)
    ok = _result(Status.PASS, coarse=1.0, pass_ratio=1.0)
    assert replay.add(_scored(ok, code="def add(x):\n    return x + 3\n"))
    assert not replay.add(_scored(ok, code="def add(x):  # again\n    return x+3\n"))
    assert not replay.add(_scored(_result(Status.FAILURE, coarse=-0.3), code="def add(x): 1"))
    assert replay.add(_scored(ok, code="def add(x):\n    return 3 + x\n"))
    assert len(replay) == 2 and replay.duplicates == 1
    assert len(replay.sample(5)) == 2


# --- losses, actor-critic --------------------------------------------------------------


def test_token_losses() -> None:
    logits = torch.zeros(1, 4, 5)
    ids = torch.tensor([[0, 1, 2, 3]])
    logp = token_logprobs(logits, ids)
    assert logp[0, 0] == 0 and torch.allclose(logp[0, 1:], torch.log(torch.tensor(0.2)))
    weights = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    loss = weighted_nll(logp, weights, torch.tensor([2.0]))
    assert loss.item() == pytest.approx(-torch.log(torch.tensor(0.2)).item())
    mask = torch.ones(1, 4)
    assert kl_per_sequence(logits, logits.clone(), mask).item() == pytest.approx(0.0)
    other = torch.randn(1, 4, 5)
    assert kl_per_sequence(logits, other, mask).item() > 0


def test_actor_critic_advantage_and_kl_controller() -> None:
    values = torch.tensor([0.5, 0.5], requires_grad=True)
    logits = torch.zeros(2, 3, 4, requires_grad=True)
    ids = torch.tensor([[0, 1, 2], [0, 1, 2]])
    losses = actor_critic_losses(
        rewards=torch.tensor([1.0, 0.0]),
        values=values,
        logp=token_logprobs(logits, ids),
        code_mask=torch.tensor([[0.0, 1.0, 1.0]] * 2),
        kl=torch.tensor([0.2, 0.2]),
        kl_coef=0.5,
    )
    assert losses["critic"].item() == pytest.approx(0.25)
    assert losses["kl"].item() == pytest.approx(0.1)
    losses["pg"].backward()
    assert values.grad is None  # the advantage does not train the critic
    grad = logits.grad
    assert grad is not None and grad[0, 0, 1] < 0 < grad[1, 0, 1]  # +A raises, -A lowers
    kl = AdaptiveKL(coef=1.0, target=0.1, horizon=10)
    assert kl.update(1.0) == pytest.approx(1.02)  # clipped at +20 % / horizon
    assert kl.update(0.0) < 1.02


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
    config = parse_args(
        [
            "--tiny",
            "--components",
            "sl,fine",
            "--baseline",
            "none",
            "--local_rank=0",
            "--steps",
            "3",
        ]
    )
    assert config.components == frozenset({Component.SL, Component.FINE})
    assert config.baseline is BaselineMode.NONE and config.steps == 3
    assert TrainConfig(algo=Algo.ACTOR_CRITIC).scheme == "pangu"
    with pytest.raises(SystemExit):
        parse_args([])
