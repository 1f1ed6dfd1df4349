"""service/text.py and the places that apply it: lone surrogates become U+FFFD with their
paths; valid text (pairs included) is untouched and costs one json.dumps; a result line is
strict UTF-8 that pydantic reads back; a cache entry that does not validate is a miss."""

from __future__ import annotations

import json

import pytest

from client.models import Item, Result, Status
from service.api.items import keyed_items
from service.queue.cache import ResultCache, _valid
from service.queue.lines import result_line
from service.text import dumps, has_surrogates, may_have_surrogates, scrub


@pytest.mark.parametrize(
    ("value", "clean", "paths"),
    [
        ("plain", "plain", []),
        ("\U0001f600 ok", "\U0001f600 ok", []),
        ("a\ud800b", "a\ufffdb", ["$"]),
        ({"a": ["x", "\udfff"]}, {"a": ["x", "\ufffd"]}, ["a[1]"]),
        ({"k\udc00": 1}, {"k\ufffd": 1}, ["<key>"]),
        ([1, None, 2.5, True], [1, None, 2.5, True], []),
    ],
)
def test_scrub(value: object, clean: object, paths: list[str]) -> None:
    found: list[str] = []
    assert scrub(value, "", found) == clean
    assert found == paths


def test_unchanged_values_are_not_copied() -> None:
    value = {"a": ["x", {"b": "y"}]}
    assert scrub(value, "", []) is value


def test_dumps_is_strict_utf8_and_round_trips_through_pydantic() -> None:
    line, found = dumps({"status": "pass", "detail": "x\ud800"})
    assert found == ["detail"]
    line.decode("utf-8")  # strict
    assert Result.model_validate_json(line).detail == "x\ufffd"


def test_raw_body_filter() -> None:
    assert may_have_surrogates(b'{"a": "\\ud800"}') and may_have_surrogates(b'"\xed\xa0\x80"')
    assert not may_have_surrogates(b'{"a": "\\u00e9 \xc3\xa9"}')
    assert has_surrogates("\udc00") and not has_surrogates("\U0001f600")


def test_result_line_has_id_null_cached_false_and_flags_what_it_replaced() -> None:
    data = Result(id="x", status=Status.ERROR, cached=True, detail="m\udc80").model_dump(mode="json")
    line = result_line(data)
    parsed = json.loads(line)
    assert parsed["id"] is None and parsed["cached"] is False
    assert parsed["detail"] == "m\ufffd" and parsed["surrogates_replaced"] == ["detail"]
    assert result_line(Result(status=Status.PASS).model_dump(mode="json")).startswith(b'{"id":null,"cached":false')


def test_keyed_items_scrub_only_what_needs_it() -> None:
    tests = {"kind": "assert", "cases": [{"code": "assert f()"}]}
    items = [Item.model_validate({"code": "ok", "tests": tests}),
             Item.model_validate({"id": "i\ud800", "code": "x\udc00", "tests": tests})]  # fmt: skip
    cache = ResultCache(prefix="p", ttl_s=1)
    out, keys, repaired = keyed_items(items, cache, "img")
    assert out[0] is items[0]
    assert out[1].code == "x\ufffd" and out[1].id == "i\ufffd"
    assert repaired == {"1": ["items[1].id", "items[1].code"]}
    clean = Item.model_validate({"code": "x\ufffd", "tests": tests})
    assert keys[1] == cache.key(clean, "img")  # the key of what runs


def test_cache_entries_that_do_not_validate_are_misses() -> None:
    good = result_line(Result(status=Status.PASS).model_dump(mode="json"))
    assert _valid(good) is not None
    assert _valid(b'{"status":"pass","detail":"\\ud800"}') is None  # pydantic refuses the escape
    assert _valid(b'{"status":"infra_error"}') is None  # never served from the cache
    assert _valid(b'{"status":"bogus"}') is None
    assert _valid(b"not json") is None
