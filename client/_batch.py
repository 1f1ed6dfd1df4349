"""Pure pieces of a batch evaluation shared by the sync and async clients: validating
items, splitting them into chunks, and keeping track of results still to be judged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from client.errors import BadResponse, InvalidItem
from client.models import Item, Result, Status

DEFAULT_MAX_BATCH = 4096

Payload = dict[str, Any]


def to_payloads(items: Sequence[Item | Mapping[str, Any]]) -> list[Payload]:
    """Validate every item locally and return its JSON form.

    Only the fields the caller set are sent (``exclude_unset``): the server fills in the
    same defaults, and a case of kind ``assert`` must not carry ``input: null``.

    Raises:
        InvalidItem: an item does not match the wire model (nothing is sent).
    """
    payloads: list[Payload] = []
    for index, raw in enumerate(items):
        try:
            item = raw if isinstance(raw, Item) else Item.model_validate(raw)
        except ValidationError as exc:
            raise InvalidItem(index, _first_error(exc)) from exc
        payloads.append(item.model_dump(mode="json", exclude_unset=True))
    return payloads


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """``[start, end)`` bounds of consecutive chunks of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def check_count(results: Sequence[Result | None], sent: int, url: str) -> None:
    """The contract promises one result per item, in order."""
    if len(results) != sent:
        raise BadResponse(200, f"{len(results)} results for {sent} items", url=url)


def unjudged(results: Sequence[Result]) -> list[int]:
    """Positions of results the service could not judge (to be sent again)."""
    return [i for i, result in enumerate(results) if result.status is Status.INFRA_ERROR]


def merge(
    results: list[Result | None], positions: Sequence[int], again: Sequence[Result]
) -> None:
    """Put the results of a (re-)sent subset back at their positions."""
    for position, result in zip(positions, again, strict=True):
        results[position] = result


def complete(results: Sequence[Result | None]) -> list[Result]:
    """The results once every slot is filled."""
    done = [result for result in results if result is not None]
    if len(done) != len(results):
        raise AssertionError("a result slot was left unfilled")  # pragma: no cover
    return done


def request_body(payloads: Sequence[Payload], wait_s: float | None) -> Payload:
    body: Payload = {"items": list(payloads)}
    if wait_s is not None:
        body["wait_s"] = wait_s
    return body


def server_wait(timeout_s: float, wait_s: float | None) -> float:
    """The ``wait_s`` to send: the caller's, else a little less than the HTTP timeout, so
    the server answers (with whatever is unfinished marked) before the client gives up.

    Raises:
        ValueError: ``wait_s`` is not shorter than ``timeout_s`` (timeouts must nest).
    """
    if wait_s is None:
        return max(0.5 * timeout_s, timeout_s - min(30.0, max(1.0, 0.1 * timeout_s)))
    if not 0 < wait_s < timeout_s:
        raise ValueError(
            f"wait_s ({wait_s}) must be > 0 and shorter than the client's timeout_s ({timeout_s})"
        )
    return wait_s
