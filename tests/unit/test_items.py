"""Bad input is refused with a clear error naming the field, before anything runs.
(What bad input does in the sandbox: tests/sandbox/test_bad_input.py.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from client.models import Item
from service.budgets import check_item
from service.errors import InvalidField
from service.settings import Settings


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tests": {"kind": "stdio", "cases": []}}, "code"),
        ({"code": "x", "tests": {"kind": "bogus", "cases": []}}, "tests.kind"),
        ({"code": "x", "tests": {"kind": "assert", "cases": [{"input": "1"}]}}, "tests"),
        ({"code": "x", "tests": {"kind": "call", "cases": [{"args": [1], "expected": 2}]}}, "tests"),
        ({"code": "x", "tests": {"kind": "stdio", "cases": []}, "limits": {"timeout_s": -1}}, "limits.timeout_s"),
        ({"code": "x", "tests": {"kind": "stdio", "cases": []}, "colour": "red"}, "colour"),
        ({"code": 5, "tests": {"kind": "stdio", "cases": []}}, "code"),
    ],
)
def test_malformed_items_name_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Item.model_validate(payload)
    locations = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert any(loc.startswith(field) for loc in locations), locations


def test_server_limits_name_the_field(settings: Settings) -> None:
    item = Item.model_validate({"code": "x", "tests": {"kind": "stdio", "cases": []}, "limits": {"timeout_s": 999}})
    with pytest.raises(InvalidField) as info:
        check_item(item, settings, field="items[3]")
    assert info.value.field == "items[3].limits.timeout_s"
