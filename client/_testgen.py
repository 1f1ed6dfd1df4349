"""Pure pieces of ``testgen()`` shared by the sync and async clients: validating items,
the request body, and finishing ``pending`` results from the job's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from client.errors import BadResponse, InvalidItem
from client.models import JobState, TestgenItem, TestgenJobStatus, TestgenResponse, TestgenResult, TestgenStatus

__all__ = ["DEFAULT_BATCH", "body", "checked", "complete", "fill", "to_items", "unfinished", "unjudged"]

#: Items per ``POST /v1/testgen`` (the server's ``testgen_max_items`` is 256 by default;
#: a 413 halves it).
DEFAULT_BATCH = 32


def to_items(items: Sequence[TestgenItem | Mapping[str, Any]]) -> list[TestgenItem]:
    """Every item validated locally.

    Raises:
        InvalidItem: an item does not match the wire model (nothing is sent).
    """
    out = []
    for index, raw in enumerate(items):
        try:
            out.append(raw if isinstance(raw, TestgenItem) else TestgenItem.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidItem(index, f"{where}: {first.get('msg')}" if where else str(first.get("msg"))) from exc
    return out


def body(items: Sequence[TestgenItem], wait_s: float | None) -> dict[str, Any]:
    data: dict[str, Any] = {"items": [i.model_dump(mode="json", exclude_unset=True) for i in items]}
    if wait_s is not None:
        data["wait_s"] = wait_s
    return data


def checked(answer: TestgenResponse, sent: int, url: str) -> list[TestgenResult | None]:
    """The answer's results with ``pending`` ones as None (slots to poll).

    Raises:
        BadResponse: not one result per item sent.
    """
    if len(answer.results) != sent:
        raise BadResponse(200, f"{len(answer.results)} results for {sent} items", url=url)
    return [None if r.status is TestgenStatus.PENDING else r for r in answer.results]


def unfinished(results: Sequence[TestgenResult | None]) -> list[int]:
    return [i for i, r in enumerate(results) if r is None]


def unjudged(results: Sequence[TestgenResult | None]) -> list[int]:
    """Slots to send again: ``infra_error`` (never a verdict)."""
    return [i for i, r in enumerate(results) if r is not None and r.status is TestgenStatus.INFRA_ERROR]


def fill(results: list[TestgenResult | None], state: TestgenJobStatus, items: Sequence[TestgenItem]) -> None:
    """Copy the job's finished results into the unfinished slots; a job that ended without
    a slot's result lost it: that slot becomes ``infra_error`` (sent again)."""
    reported = state.results or []
    over = state.status in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)
    for index in unfinished(results):
        got = reported[index] if index < len(reported) else None
        if got is not None and got.status is not TestgenStatus.PENDING:
            results[index] = got
        elif over:
            results[index] = _lost(items[index], f"job {state.job_id} ended without this item's result")


def complete(results: Sequence[TestgenResult | None], items: Sequence[TestgenItem]) -> list[TestgenResult]:
    """Every slot answered (an unfinished one as ``infra_error``)."""
    return [r if r is not None else _lost(i, "no result came back") for r, i in zip(results, items, strict=True)]


def _lost(item: TestgenItem, detail: str) -> TestgenResult:
    return TestgenResult(id=item.id, status=TestgenStatus.INFRA_ERROR, detail=detail)
