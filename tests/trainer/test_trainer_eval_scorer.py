"""Held-out evaluation (pass@k) and the scorers: keys, replay, misses, batch order."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from client.models import FinishReason, Item, Result, Status
from tests.support.trainer import PROBLEM, PROBLEMS, result
from trainer_example.buffer import OnlineBuffer
from trainer_example.build import split_problems
from trainer_example.config import TrainConfig
from trainer_example.evaluation import HeldOut, _problem_sums, _summary, pass_at_k
from trainer_example.feeder import RewardFeeder
from trainer_example.rollout import Sample, to_item
from trainer_example.scorer import ReplayScorer, item_key

CONFIG = TrainConfig(tiny=True, eval_problems=4, eval_every=5, steps=12)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 1, 1, 0.1),
        (10, 1, 5, 0.5),  # 1 - C(9, 5) / C(10, 5) = 1 - 126 / 252
        (10, 1, 10, 1.0),
        (10, 0, 5, 0.0),
        (4, 1, 2, 0.5),  # 1 - C(3, 2) / C(4, 2) = 1 - 3 / 6
        (3, 2, 2, 1.0),  # n - c < k: every draw of two holds a correct one
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7, 5) / C(10, 5)
    ],
)
def test_pass_at_k_is_the_unbiased_estimator(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_needs_k_samples() -> None:
    assert pass_at_k(5, 5, 10) is None


def test_eval_summary_over_problems() -> None:
    ok, bad = result(Status.PASS, passed=4), result(Status.ERROR, syntax=True)
    # problem A: 10 samples, 1 correct; greedy passes. problem B: 9 scored (1 unscored), 0
    # correct, 3 syntax errors; greedy not scored. pass@1 = (0.1 + 0) / 2, pass@10 only A.
    a = _problem_sums([ok] + [bad] * 2 + [result(Status.FAILURE, passed=1)] * 7, ok)
    b = _problem_sums([bad] * 3 + [result(Status.ERROR)] * 6 + [None], None)
    summary = _summary({key: a[key] + b[key] for key in a})
    assert summary["eval_pass_at_1"] == pytest.approx(0.05)
    assert summary["eval_pass_at_5"] == pytest.approx(0.25)
    assert summary["eval_pass_at_10"] == pytest.approx(1.0)
    assert summary["eval_greedy_pass_rate"] == 1.0  # of the scored greedy programs
    assert summary["eval_syntax_error_rate"] == pytest.approx(5 / 19)
    assert (summary["eval_problems"], summary["eval_unscored"]) == (2.0, 2.0)


def test_held_out_problems_and_schedule() -> None:
    train, held = split_problems(list(PROBLEMS), CONFIG)
    assert len(held) == 4 and len(train) == 104 and not {p.id for p in held} & {p.id for p in train}
    assert split_problems(list(PROBLEMS), CONFIG) == (train, held)  # the same split every time
    assert split_problems(list(PROBLEMS), TrainConfig(tiny=True, eval_every=0))[1] == []
    heldout = HeldOut(held, CONFIG, generator=None)  # type: ignore[arg-type]
    assert [s for s in range(13) if heldout.due(s)] == [0, 5, 10, 12]


# --- scorers ---------------------------------------------------------------------------


def _item(code: str, **kw: object) -> Item:
    sample = Sample(problem=PROBLEM, code=code, finish_reason=FinishReason.STOP, new_tokens=3, policy_step=0)
    item = to_item(sample, scheme="rltf", timeout_s=2.0, item_id="1-0")
    return item.model_copy(update=kw)


def test_item_key_is_the_content_not_the_id() -> None:
    a = _item("def add(x):\n    return x + 1\n")
    assert item_key(a) == item_key(a.model_copy(update={"id": "9-9"}))
    assert item_key(a) != item_key(_item("def add(x):\n    return x + 2\n"))
    assert item_key(a) != item_key(a.model_copy(update={"finish_reason": FinishReason.LENGTH}))
    assert item_key(a) != item_key(a.model_copy(update={"tests": PROBLEMS[1].tests}))


def test_replay_answers_recorded_results_and_counts_misses(tmp_path: Path) -> None:
    known, other = _item("def add(x):\n    return x + 1\n"), _item("def add(x):\n    return 0\n")
    recorded = result(Status.FAILURE, passed=1).model_copy(update={"id": "old"})
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"key": item_key(known), "result": recorded.model_dump(mode="json")}) + "\n")
    (tmp_path / "results.jsonl.rank1").write_text("")  # other ranks' files are read too
    scorer = ReplayScorer(path)
    got = asyncio.run(scorer.evaluate([known.model_copy(update={"id": "new"}), other]))
    assert got[0] is not None and got[0].id == "new"
    assert got[0].rewards == recorded.rewards and got[0].status is Status.FAILURE
    assert got[1] is None and (scorer.hits, scorer.misses) == (1, 1)
    with pytest.raises(FileNotFoundError):
        ReplayScorer(tmp_path / "absent.jsonl")


class _OutOfOrder:
    """Finishes the second batch it is given before the first; misses code 'miss'."""

    def __init__(self) -> None:
        self.misses = 0
        self.calls = 0
        self.first_done = threading.Event()

    async def evaluate(self, items: Sequence[Item]) -> list[Result | None]:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.3)
        out = [None if i.code == "miss" else result(Status.PASS, passed=4) for i in items]
        self.misses += sum(r is None for r in out)
        return out

    async def close(self) -> None:
        return None


def test_feeder_keeps_batch_order_and_leaves_misses_out() -> None:
    buffer = OnlineBuffer(16)
    scorer = _OutOfOrder()
    batch = [
        Sample(problem=PROBLEM, code=c, finish_reason=FinishReason.STOP, new_tokens=1, policy_step=0) for c in "ab"
    ]
    late = [
        Sample(problem=PROBLEM, code=c, finish_reason=FinishReason.STOP, new_tokens=1, policy_step=1)
        for c in ("miss", "c")
    ]
    with RewardFeeder(CONFIG, buffer, scorer=lambda: scorer) as feeder:
        feeder.submit(batch)
        feeder.submit(late)
        first = buffer.take(timeout_s=10)
        second = buffer.take(timeout_s=10)
    assert [s.sample.code for s in first] == ["a", "b"]  # batch 1 first, although it finished last
    assert [s.sample.code for s in second] == ["c"]  # the miss is left out, never scored
    assert feeder.misses == 1 and feeder.take_counts()["unscored_replay_miss"] == 1


def test_plot_reads_the_evaluation_from_eval_csv(tmp_path: Path) -> None:
    from trainer_example import plot

    (tmp_path / "metrics.csv").write_text("step,pass_rate\n0,0.1\n1,0.3\n")
    (tmp_path / "eval.csv").write_text("step,eval_pass_at_1\n0,0.2\n2,\n4,0.6\n")
    assert plot._series(tmp_path, "eval_pass_at_1")[0] == [0.0, 2.0, 4.0]
    table = plot.summary([tmp_path], ["pass_rate", "eval_pass_at_1"], last=1)
    assert table.splitlines()[-1] == f"| {tmp_path.name} | 0.100 → 0.300 | 0.200 → 0.600 |"
    plot.plot([tmp_path], ["pass_rate", "eval_pass_at_1"], tmp_path / "fig.png", smooth=2)
    assert (tmp_path / "fig.png").stat().st_size > 1000
