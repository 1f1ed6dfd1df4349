"""docs/security.md lists every attack of this directory with the guarantee it checks:
a new attack without its line there fails here."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

from tests.security import (
    test_containment,
    test_forgery,
    test_harness_robustness,
    test_interference,
    test_v2_bugs,
)
from tests.support.attacks import GUARANTEES, Table
from tests.support.paths import ROOT

DOC = ROOT / "docs" / "security.md"
MODULES: tuple[ModuleType, ...] = (test_forgery, test_containment, test_harness_robustness, test_interference,
                                   test_v2_bugs)


def _test_ids(module: ModuleType) -> list[str]:
    """The module's tests, a table's attacks as ``test_x[attack]``."""
    table = getattr(module, "ATTACKS", None)
    ids: list[str] = []
    for name, obj in vars(module).items():
        if not (name.startswith("test_") and inspect.isfunction(obj) and obj.__module__ == module.__name__):
            continue
        params = inspect.signature(obj).parameters
        if isinstance(table, Table) and "name" in params and "outcomes" in params:
            ids += [f"{name}[{attack}]" for attack in table.ids()]
        elif name == "test_reaching_other_processes":
            ids += [f"{name}[{attack}]" for attack in test_interference.REACH]
        else:
            ids.append(name)
    return ids


def test_every_attack_is_listed() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"{m.__name__}::{i}" for m in MODULES for i in _test_ids(m) if f"`{i}" not in text]
    assert not missing, f"{DOC.relative_to(Path(ROOT))} does not list: {missing}"


def test_every_guarantee_is_stated() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"**{g}**" in text for g in GUARANTEES)


def test_there_are_at_least_forty_attacks() -> None:
    assert sum(len(_test_ids(m)) for m in MODULES) >= 40
