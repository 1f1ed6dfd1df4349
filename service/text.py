"""The one rule for text that crosses the API: Unicode scalar values only.

A *lone surrogate* (a code point in U+D800..U+DFFF; Python's ``json`` module reads a
``"\\ud800"`` escape, or raw surrogate bytes, into one) cannot be written as UTF-8, and
pydantic's JSON parser (the client's) refuses its escape. So wherever one appears, in a
request's strings or in what a program printed or raised, it is replaced by U+FFFD
(REPLACEMENT CHARACTER) and the result says where: ``Result.surrogates_replaced`` lists
the field paths (``items[0].code``, ``tests[1].stdout``). Everything the service writes is
then strict UTF-8 JSON that every parser, pydantic's included, reads back unchanged, so a
result can always be served and cached.

Valid pairs are never split: a JSON ``"\\ud83d\\ude00"`` is one code point by the time it is a
``str``. The checks on raw bytes (:func:`may_have_surrogates`) are a cheap filter that
sends the rare body with a ``\\uD8xx``-``\\uDFxx`` escape through the slow path.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["REPLACEMENT", "dumps", "has_surrogates", "may_have_surrogates", "scrub"]

REPLACEMENT = "\ufffd"
_LONE = re.compile("[\ud800-\udfff]")
# A surrogate escape (paired or not) or UTF-8-encoded surrogate bytes.
_RAW = re.compile(rb"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate."""
    return _LONE.search(text) is not None


def may_have_surrogates(body: bytes) -> bool:
    """Whether a JSON body may hold a lone surrogate once parsed (false: it cannot)."""
    return _RAW.search(body) is not None


def scrub(value: Any, path: str, found: list[str]) -> Any:
    """``value`` (JSON data) with every lone surrogate replaced by U+FFFD; appends to
    ``found`` the path of each string (or key) that changed. Unchanged parts are returned
    as they are (no copy)."""
    if isinstance(value, str):
        if _LONE.search(value) is None:
            return value
        found.append(path or "$")
        return _LONE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        out = [scrub(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out
    if isinstance(value, dict):
        changed = False
        fixed: dict[Any, Any] = {}
        for key, v in value.items():
            new_key = scrub(key, f"{path}.<key>" if path else "<key>", found) if isinstance(key, str) else key
            new_v = scrub(v, f"{path}.{new_key}" if path else str(new_key), found)
            changed = changed or new_key is not key or new_v is not v
            fixed[new_key] = new_v
        return fixed if changed else value
    return value


def dumps(data: Any) -> tuple[bytes, list[str]]:
    """Compact strict-UTF-8 JSON of ``data``, scrubbed when it must be; and the paths that
    were (empty on the fast path, which is one ``json.dumps``)."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), []
    except UnicodeEncodeError:
        found: list[str] = []
        clean = scrub(data, "", found)
        return json.dumps(clean, ensure_ascii=False, separators=(",", ":")).encode(), found
