"""Admission checks on a parsed request: batch size, the server's limits, reward specs.

Pydantic already refused malformed bodies (422); these are the checks that depend on the
server's settings. Each names the offending field in request coordinates
(``items[3].limits.timeout_s``), like the 422s of the schema.
"""

from __future__ import annotations

from client.models import Item
from service.budgets import check_fits_wait, check_item
from service.errors import BatchTooLarge, InvalidField
from service.feedback.rewards import check_reward_spec
from service.settings import Settings

__all__ = ["check_batch"]


def check_batch(items: list[Item], settings: Settings) -> None:
    """Refuse a batch this server will not run.

    Raises:
        BatchTooLarge: more than ``settings.max_batch`` items.
        InvalidField: an item over a server limit, one whose worst case alone would
            outlast ``max_wait_s``, or one with an unknown reward spec.
    """
    if len(items) > settings.max_batch:
        raise BatchTooLarge(len(items), settings.max_batch)
    specs_ok: set[str] = set()
    for index, item in enumerate(items):
        field = f"items[{index}]"
        check_item(item, settings, field=field)
        check_fits_wait(item, settings, field=field)
        spec_key = item.reward.model_dump_json()
        if spec_key in specs_ok:
            continue
        try:
            check_reward_spec(item.reward)
        except InvalidField as exc:
            raise InvalidField(f"{field}.{exc.field}", exc.message) from exc
        specs_ok.add(spec_key)
