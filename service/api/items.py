"""A request's items as the queue takes them: the text rule applied, and their cache keys.

Every item is dumped to JSON once for its cache key (``ResultCache.key_of``); that dump is
also where a lone surrogate shows itself (pydantic refuses to write one). Only then is the
item scrubbed (:mod:`service.text`: each lone surrogate becomes U+FFFD) and re-validated,
and the paths that changed are kept for its result's ``surrogates_replaced``. A request
without one costs nothing more than its keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import PydanticSerializationError

from client.models import Item
from service.queue.cache import ResultCache
from service.text import has_surrogates, scrub

__all__ = ["CleanItems", "clean_items", "keyed_items"]


@dataclass(frozen=True)
class CleanItems:
    """A request's items under the text rule: ``payloads`` are their JSON without ``id``
    (what the cache key hashes), ``repaired`` the request paths changed, per item index."""

    items: list[Item]
    payloads: list[str]
    repaired: dict[str, list[str]]

    def keys(self, cache: ResultCache, image: str) -> list[str]:
        return [cache.key_of(payload, image) for payload in self.payloads]


def keyed_items(
    items: Sequence[Item], cache: ResultCache, image: str
) -> tuple[list[Item], list[str], dict[str, list[str]]]:
    """:func:`clean_items`, with the cache keys of the items for ``image``."""
    clean = clean_items(items)
    return clean.items, clean.keys(cache, image), clean.repaired


def clean_items(items: Sequence[Item]) -> CleanItems:
    """The items, scrubbed where they had to be (see the module docstring)."""
    out: list[Item] = []
    payloads: list[str] = []
    repaired: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        try:
            payload = item.model_dump_json(exclude={"id"})
            dirty = item.id is not None and has_surrogates(item.id)
        except PydanticSerializationError:
            dirty = True
        if dirty:
            item, found = _scrubbed(item, f"items[{index}]")
            payload = item.model_dump_json(exclude={"id"})
            repaired[str(index)] = found
        out.append(item)
        payloads.append(payload)
    return CleanItems(out, payloads, repaired)


def _scrubbed(item: Item, path: str) -> tuple[Item, list[str]]:
    found: list[str] = []
    clean = scrub(item.model_dump(mode="json", exclude_unset=True), path, found)
    return Item.model_validate(clean), found
