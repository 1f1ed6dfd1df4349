"""Result lines: the bytes a result travels in from the worker to the client.

A worker writes each result once, as compact strict UTF-8 JSON with ``id`` null first and
``cached`` false (:func:`served_line`; :mod:`service.text` for a lone surrogate); a chunk
is the array ``[\\n`` + lines joined by ``,\\n`` + ``\\n]`` (:func:`pack`). A line never
holds a raw newline (JSON escapes them in strings), so the API splits an array without
parsing it (:func:`unpack`) and answers by splicing lines: it writes the request's ``id``
and the ``cached`` flag into each (:func:`patch`) and joins them (:func:`join`). Neither the
API nor Redis parses a result on the way; only cache entries are validated, when read.

:func:`patch` relies on what only the service writes: a line starts with ``{"id":null,``
and its top-level ``cached`` field is the first ``,"cached":false,`` in it (no nested
object has a ``cached`` field; strings hold quotes only escaped). A line of another shape
(a previous release's) takes the slow path: parsed, changed, written again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from pydantic_core import PydanticSerializationError

from client.models import Result
from service.queue.envelope import ResultData
from service.text import dumps

__all__ = ["Line", "join", "pack", "patch", "result_line", "served_line", "unpack"]

Line = bytes
_SEP = b",\n"
_HEAD, _TAIL = b"[\n", b"\n]"
_ID = b'{"id":null,'
_UNCACHED, _CACHED = b',"cached":false,', b',"cached":true,'


def result_line(data: ResultData) -> Line:
    """One result (JSON data) as served: ``id`` null and ``cached`` false first, lone
    surrogates replaced and their paths added to ``surrogates_replaced``."""
    served = {"id": None, "cached": False}
    served.update((k, v) for k, v in data.items() if k not in served)
    line, found = dumps(served)
    if not found:
        return line
    clean = json.loads(line)
    clean["surrogates_replaced"] = sorted({*(clean.get("surrogates_replaced") or ()), *found})
    return dumps(clean)[0]


def served_line(result: Result) -> Line:
    """:func:`result_line` of a ``Result`` the caller owns (its ``id`` and ``cached`` are
    reset): pydantic-core writes it at once; only one holding a lone surrogate is slower."""
    result.id, result.cached = None, False
    try:
        return result.model_dump_json().encode()
    except PydanticSerializationError:
        return result_line(result.model_dump(mode="json"))


def pack(lines: Sequence[Line]) -> bytes:
    """A chunk's array of lines."""
    return _HEAD + _SEP.join(lines) + _TAIL


def unpack(value: bytes) -> list[Line]:
    """The lines of a chunk's array (:func:`pack`'s, or a previous release's JSON array)."""
    if value.startswith(_HEAD) and value.endswith(_TAIL):
        inner = value[len(_HEAD) : -len(_TAIL)]
        return inner.split(_SEP) if inner else []
    return [result_line(data) for data in json.loads(value)]


def patch(line: Line, *, item_id: str | None, cached: bool, repaired: Sequence[str] = ()) -> Line:
    """``line`` as the answer for one item: its ``id``, ``cached`` flag and the request
    paths the text rule changed (see the module doc)."""
    if repaired or not line.startswith(_ID) or _UNCACHED not in line:
        data = json.loads(line)
        data["id"], data["cached"] = item_id, cached
        if repaired:
            data["surrogates_replaced"] = sorted({*(data.get("surrogates_replaced") or ()), *repaired})
        return dumps(data)[0]
    if cached:
        line = line.replace(_UNCACHED, _CACHED, 1)
    return b'{"id":' + dumps(item_id)[0] + b"," + line[len(_ID) :]


def join(lines: Iterable[Line | None]) -> bytes:
    """A JSON array of lines (``null`` where there is none yet)."""
    return b"[" + b",".join(b"null" if line is None else line for line in lines) + b"]"
