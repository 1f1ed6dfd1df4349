"""The corpus pipeline: instances → description filters → decontamination → ``testgen``
in batches → dataset rows, resumable, with the paper's funnel.

Rows (one JSON object a line) are what ``trainer_example --data`` reads and what the
PanguCoder-RL replay buffer starts from::

    {"id", "description", "signature", "prompt", "tests": <wire Tests>, "reference"?, "source"}

(``reference`` left out with ``keep_reference=False``, as the paper does for converted
Java: the replay buffer then starts empty.) Every instance decided is recorded in
``OUT.state.jsonl`` (its stage and reason) after its row, so a run that stops is resumed
by running it again: what is in either file is not done twice (``infra_error`` is
retried). The funnel is counted from the state file, over every run.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.testgen.decontam import Decontaminator
from service.testgen.extract import Instance
from service.testgen.language import LanguageFilter, length_ok
from service.testgen.models import TestgenItem, TestgenResult, TestgenStatus

__all__ = ["Filters", "Funnel", "Generate", "build_dataset", "item_of", "row_of"]

#: What generates a batch's tests: ``testgen`` on local pools (``python -m
#: service.testgen``) or ``RewardClient.testgen`` over HTTP (``utrs testgen``).
Generate = Callable[[list[TestgenItem]], list[TestgenResult]]

log = logging.getLogger(__name__)

# Rejections of instances whose reference never produced tests: "tests generated" counts the rest.
_NOT_GENERATED = frozenset({"unparsable", "no_function", "needs_constructor_args", "no_inputs", "load_error",
                            "killed_sandbox"})


@dataclass
class Filters:
    language: LanguageFilter | None = field(default_factory=LanguageFilter)  # None: no language filter
    min_tokens: int = 10
    max_tokens: int = 512
    decontaminator: Decontaminator | None = None


@dataclass
class Funnel:
    """PanguCoder-RL's funnel: functions extracted → English docstring → length →
    not a benchmark problem → tests generated → after the filters (≥ 2 tests, outputs not
    all equal)."""

    extracted: int = 0
    english: int = 0
    length: int = 0
    decontaminated: int = 0
    generated: int = 0
    kept: int = 0
    infra_errors: int = 0
    contaminated: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, decisions: Iterable[dict[str, Any]]) -> Funnel:
        funnel = cls()
        order = ["language", "length", "contaminated", "testgen"]
        for d in decisions:
            stage, reason = str(d.get("stage")), str(d.get("reason") or "")
            funnel.extracted += 1
            passed = order.index(stage) if stage in order else len(order)
            funnel.english += passed > 0
            funnel.length += passed > 1
            funnel.decontaminated += passed > 2
            if stage == "contaminated":
                funnel.contaminated[reason.split("/")[0]] += 1
            elif stage == "infra_error":
                funnel.infra_errors += 1
            elif stage in ("testgen", "ok"):
                funnel.generated += reason not in _NOT_GENERATED
                funnel.kept += stage == "ok"
                if stage == "testgen":
                    funnel.rejected[reason] += 1
        return funnel

    def as_dict(self) -> dict[str, Any]:
        return {"functions_extracted": self.extracted, "english_docstring": self.english,
                "length_10_512": self.length, "not_contaminated": self.decontaminated,
                "tests_generated": self.generated, "after_filters": self.kept, "infra_errors": self.infra_errors,
                "contaminated_by": dict(self.contaminated), "rejected_by": dict(self.rejected)}


def row_of(instance: Instance, result: TestgenResult, *, keep_reference: bool) -> dict[str, Any]:
    """The dataset row of an instance whose tests were generated."""
    assert result.tests is not None
    row: dict[str, Any] = {
        "id": instance.id, "description": instance.description, "signature": instance.signature,
        "prompt": instance.prompt, "tests": result.tests.model_dump(mode="json", exclude_unset=True),
    }
    if keep_reference:
        row["reference"] = instance.code
    row["source"] = instance.source
    return row


def item_of(instance: Instance, *, n_tests: int | None = None) -> TestgenItem:
    """The test-generation item of an instance."""
    return TestgenItem(id=instance.id, code=instance.code, fn_name=instance.fn_name, class_name=instance.class_name,
                       description=instance.description, n_tests=n_tests)


def build_dataset(instances: Iterable[Instance], out: Path, generate: Generate, *, filters: Filters,
                  batch: int = 32, keep_reference: bool = True, n_tests: int | None = None,
                  progress: Callable[[int], object] | None = None) -> Funnel:
    """Run the pipeline over ``instances`` into ``out`` (appending; resumable); the text
    filters run here (they only parse), ``generate`` runs the references."""
    run = _Batches(generate, keep_reference, n_tests, progress)
    state = out.with_name(out.name + ".state.jsonl")
    done = _done_ids(out, state)
    pending: list[Instance] = []
    with out.open("a", encoding="utf-8") as rows, state.open("a", encoding="utf-8") as decisions:
        for instance in _unique(instances):
            if instance.id in done:
                continue
            stage = _text_stage(instance, filters)
            if stage is not None:
                _write(decisions, {"id": instance.id, "stage": stage[0], "reason": stage[1]})
                if progress:
                    progress(1)
                continue
            pending.append(instance)
            if len(pending) >= batch:
                run(pending, rows, decisions)
                pending = []
        if pending:
            run(pending, rows, decisions)
    return Funnel.of(_read(state))


def _text_stage(instance: Instance, filters: Filters) -> tuple[str, str] | None:
    """The text filter that drops the instance (stage, reason), or None."""
    if filters.language is not None and not filters.language.english(instance.description):
        return "language", "not English"
    if not length_ok(instance.description, low=filters.min_tokens, high=filters.max_tokens):
        return "length", f"{len(instance.description.split())} tokens"
    if filters.decontaminator is not None:
        match = filters.decontaminator.match(instance.description, instance.code)
        if match is not None:
            return "contaminated", match
    return None


@dataclass
class _Batches:
    generate: Generate
    keep_reference: bool
    n_tests: int | None
    progress: Callable[[int], object] | None

    def __call__(self, batch: list[Instance], rows: Any, decisions: Any) -> None:
        results = self.generate([item_of(i, n_tests=self.n_tests) for i in batch])
        for instance, result in zip(batch, results, strict=True):
            _write(decisions, self._decide(instance, result, rows))
        rows.flush()
        decisions.flush()
        if self.progress:
            self.progress(len(batch))

    def _decide(self, instance: Instance, result: TestgenResult, rows: Any) -> dict[str, Any]:
        if result.status is TestgenStatus.OK:
            _write(rows, row_of(instance, result, keep_reference=self.keep_reference))
            return {"id": instance.id, "stage": "ok", "reason": "", "tests": result.stats.tests}
        if result.status is TestgenStatus.REJECTED:
            return {"id": instance.id, "stage": "testgen", "reason": result.reason.value if result.reason else ""}
        log.warning("%s on %s: %s", result.status.value, instance.id, result.detail)  # retried on the next run
        return {"id": instance.id, "stage": "infra_error", "reason": result.detail or ""}


def _write(handle: Any, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    latest: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a stop: that instance is done again
            latest[str(record.get("id"))] = record
    yield from latest.values()


def _done_ids(out: Path, state: Path) -> set[str]:
    done = {str(r["id"]) for r in _read(state) if r.get("stage") != "infra_error"}
    if out.exists():
        with out.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    done.add(str(json.loads(line)["id"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
    return done


def _unique(instances: Iterable[Instance]) -> Iterator[Instance]:
    seen: set[str] = set()
    for instance in instances:
        if instance.id not in seen:
            seen.add(instance.id)
            yield instance
