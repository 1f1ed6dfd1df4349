"""Small items the queue tests send: ``f()`` returns ``n + 1``, the test expects ``expect``."""

from __future__ import annotations

from client.models import Item

__all__ = ["adder"]


def adder(n: int, *, expect: int | None = None, **fields: object) -> Item:
    want = n + 1 if expect is None else expect
    data = {
        "code": f"def f():\n    return {n} + 1\n",
        "tests": {"kind": "assert", "cases": [{"code": f"assert f() == {want}"}]},
        **fields,
    }
    return Item.model_validate(data)
