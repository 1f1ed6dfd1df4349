"""The optional Pynguin backend: more seed inputs from the Python EvoSuite, time-budgeted.

Pynguin (PyPI ``pynguin``) searches for inputs that cover a module. It executes that
module, so it runs in the sandbox like everything else of a reference: in a pool started
on the test-generation image (``sandbox_images/testgen/``: the sandbox image plus
Pynguin in ``/opt/testgen``, never importable by the programs being judged), as the
program of a one-case stdio item. The program writes the reference as
``module_under_test.py`` in its work directory, runs Pynguin on it for
``search_time_s`` and prints the tests Pynguin wrote; :func:`seeds_from_pynguin` reads
the literal arguments of every call of the function under test out of them (the oracle
then runs them like any other seed: Pynguin's own assertions are not used).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from service.budgets import run_budget_s, wall_bound_s
from service.sandbox.pool import SandboxPool, Task
from service.sandbox.protocol import RunOutcome, RunSpec, Suite
from service.testgen.examples import Seed
from service.testgen.models import TestgenItem

__all__ = ["InputBackend", "PynguinBackend", "pynguin_program", "seeds_from_pynguin"]

MODULE = "module_under_test"
_PROGRAM = '''\
import os, pathlib, subprocess, sys
pathlib.Path("{module}.py").write_text({source!r}, encoding="utf-8")
command = ["/opt/testgen/bin/python", "-m", "pynguin", "--project-path", ".", "--module-name", "{module}",
           "--output-path", "pynguin-tests", "--maximum-search-time", "{seconds}", "--assertion-generation", "NONE",
           "--seed", "{seed}"]
done = subprocess.run(command, capture_output=True, text=True, timeout={seconds} + 60,
                      env={{**os.environ, "PYNGUIN_DANGER_AWARE": "1", "HOME": os.getcwd()}})
for path in sorted(pathlib.Path("pynguin-tests").glob("test_*.py")):
    print(path.read_text(encoding="utf-8"))
if done.returncode:
    print(done.stderr[-2000:], file=sys.stderr)
'''


class InputBackend(Protocol):
    """Proposes seed inputs for items, within a time budget."""

    def propose(self, items: Sequence[TestgenItem]) -> list[list[Seed]]: ...


def pynguin_program(source: str, *, search_time_s: int, seed: int = 0) -> str:
    """The stdio program that runs Pynguin on ``source`` and prints its tests."""
    return _PROGRAM.format(module=MODULE, source=source, seconds=int(search_time_s), seed=seed)


@dataclass
class PynguinBackend:
    """Seeds from Pynguin, run in ``pool`` (a pool on the test-generation image)."""

    pool: SandboxPool
    search_time_s: int = 10
    memory_mb: int = 1024
    max_procs: int = 64

    def propose(self, items: Sequence[TestgenItem]) -> list[list[Seed]]:
        """A list of seeds per item (empty where Pynguin found nothing or failed)."""
        tasks = [self._task(item) for item in items]
        runs = self.pool.run(tasks) if tasks else []
        out = []
        for item, run in zip(items, runs, strict=True):
            tests = (run.reply or {}).get("tests") or [] if run.outcome is RunOutcome.ANSWERED else []
            text = str(tests[0].get("stdout") or "") if tests else ""
            out.append(seeds_from_pynguin(text, item.fn_name, item.class_name))
        return out

    def _task(self, item: TestgenItem) -> Task:
        settings = self.pool.settings
        timeout_s = float(self.search_time_s + 60)
        suite: Suite = {"kind": "stdio", "setup": "", "prompt": "", "cases": [{"input": "", "output": ""}],
                        "fn_name": None, "class_name": None, "compare": "exact", "entry_points": []}
        program = pynguin_program(item.code, search_time_s=self.search_time_s)
        spec: RunSpec = {
            "rid": "", "suite": hashlib.sha256(program.encode()).hexdigest()[:32], "program": program,
            "trust": "harness", "timeout_s": timeout_s, "wall_s": wall_bound_s(timeout_s, settings),
            "memory_mb": self.memory_mb, "output_kb": 4096, "max_procs": self.max_procs,
            "preview_chars": 4 << 20, "stop_on_first_failure": False, "isolate_cases": False,
        }
        budget = run_budget_s(1, timeout_s, wall_factor=settings.wall_factor, slack_s=settings.agent_slack_s)
        return Task(spec=spec, suite=suite, budget_s=budget)


def seeds_from_pynguin(tests: str, fn_name: str, class_name: str | None = None) -> list[Seed]:
    """The literal arguments of each call of ``fn_name`` in Pynguin's test functions
    (variables assigned a literal earlier in the test are followed)."""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    seeds: list[Seed] = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")):
        env: dict[str, Any] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = _literal(node.value, env)
                if value is not _MISSING:
                    env[node.targets[0].id] = value
            if isinstance(node, ast.Call) and _calls(node, fn_name, class_name):
                args = [_literal(a, env) for a in node.args]
                kwargs = {k.arg: _literal(k.value, env) for k in node.keywords if k.arg}
                if _MISSING not in args and _MISSING not in kwargs.values():
                    seeds.append(Seed(tuple(args), kwargs))
    return seeds


_MISSING: Any = object()


def _calls(node: ast.Call, fn_name: str, class_name: str | None) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == fn_name and (class_name is None or isinstance(func, ast.Attribute))


def _literal(node: ast.expr, env: dict[str, Any]) -> Any:
    """``node`` as a literal, names replaced by the literals they were given."""
    class Substitute(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.AST:
            if name.id in env:
                return ast.copy_location(ast.Constant(None) if env[name.id] is None else _const(env[name.id]), name)
            return name

    try:
        return ast.literal_eval(Substitute().visit(ast.parse(ast.unparse(node), mode="eval")).body)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return _MISSING


def _const(value: Any) -> ast.expr:
    return ast.parse(repr(value), mode="eval").body
