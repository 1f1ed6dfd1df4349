"""What the server's limits allow, and how long a program may take: shared by the API's
admission (no Docker there), the queue (RQ job timeouts) and the executor."""

from __future__ import annotations

import math
from collections.abc import Iterable

from client.models import Item
from service.config import Settings
from service.errors import InputError


def check_item(item: Item, settings: Settings, *, field: str = "item") -> None:
    """Refuse what the server's limits do not allow.

    Raises:
        InputError: ``field`` names the offending field (``items[3].limits.timeout_s``).
    """
    limits = item.limits
    checks = (
        (limits.timeout_s > settings.max_timeout_s, "limits.timeout_s", f"must be at most {settings.max_timeout_s}"),
        (limits.memory_mb > settings.max_memory_mb, "limits.memory_mb", f"must be at most {settings.max_memory_mb}"),
        (limits.output_kb > settings.max_output_kb, "limits.output_kb", f"must be at most {settings.max_output_kb}"),
        (len(item.tests.cases) > settings.max_cases, "tests.cases", f"at most {settings.max_cases} cases"),
        (
            _size(item) > settings.max_code_bytes,
            "code",
            f"prompt + code must be at most {settings.max_code_bytes} bytes",
        ),
    )
    for bad, name, rule in checks:
        if bad:
            raise InputError(rule, field=f"{field}.{name}")


def _size(item: Item) -> int:
    return len(item.code.encode("utf-8", "surrogatepass")) + len(item.prompt.encode("utf-8", "surrogatepass"))


def budget_s(item: Item, settings: Settings) -> float:
    """The longest an agent may take over this item before it is declared hung: every
    test (and the load) at its wall-clock bound, plus slack."""
    per_test = item.limits.timeout_s * settings.wall_factor + 2.0
    return (len(item.tests.cases) + 1) * per_test + settings.agent_slack_s


def chunk_timeout_s(items: Iterable[Item], settings: Settings) -> int:
    """RQ job timeout for a chunk: never shorter than the worst case of its items run one
    after another, so RQ never interrupts a chunk that is still legitimately running."""
    worst = sum(budget_s(item, settings) for item in items)
    return max(settings.job_timeout_s, math.ceil(worst) + 30)
