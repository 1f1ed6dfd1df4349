"""Building blocks of the attack suite (``tests/security``, ``docs/security.md``).

An :class:`Attack` is one hostile program with the per-test statuses its tests must get
(what the agent owes a program that attacks it: never a pass it did not earn), plus a
correct and a wrong program *on the same tests* that run right before and after it in
the same batch: the correct ones must pass and the wrong one must fail, so an attack that
changes what the sandbox says about its neighbours (the same suite shares a harness in a
container) is caught as surely as one that forges its own verdict.

Everything here only builds items and checks results: the hostile code runs in the real
sandbox (real Docker, the image of this checkout), never on the host.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from client.models import Item, Result, Status, TestStatus, Trust
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from service.settings import Settings

__all__ = [
    "ADD_ONE_BAD",
    "ADD_ONE_OK",
    "AGENT_COMMANDS",
    "FRAME",
    "GUARANTEES",
    "G_BLAME",
    "G_CAPS",
    "G_ISOLATION",
    "G_SECRETS",
    "G_VERDICT",
    "PATCH_NAMES",
    "SEARCH_SECRETS",
    "UID",
    "Attack",
    "Builder",
    "Data",
    "Outcome",
    "Table",
    "assert_item",
    "assert_pool_clean",
    "call_item",
    "check",
    "check_neighbours",
    "dedent",
    "fresh_pool",
    "program",
    "run_attacks",
    "run_with_rotation",
    "simple_attack",
    "stdio_item",
    "uid_of",
]

# The guarantees of docs/security.md, one per invariant of the trust model.
G_VERDICT = "no verdict from a program process"
G_SECRETS = "expected answers never in a program process"
G_ISOLATION = "a program cannot touch the agent, the harness or other runs"
G_CAPS = "everything is capped"
G_BLAME = "misbehaviour is the program's verdict, never infra_error"
GUARANTEES = (G_VERDICT, G_SECRETS, G_ISOLATION, G_CAPS, G_BLAME)

#: The command lines a healthy sandbox container runs: docker-init, the agent, its zygote
#: and its harnesses (forked from the agent, so the same command line).
AGENT_COMMANDS = frozenset(
    {"/sbin/docker-init -- /opt/venv/bin/python -u -m agent", "/opt/venv/bin/python -u -m agent"}
)


def dedent(text: str) -> str:
    """A program written indented in a test module, as the program's text."""
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------------- items
def assert_item(code: str, cases: Sequence[str], *, setup: str | None = None, timeout_s: float = 1.0,
                memory_mb: int = 256, output_kb: int = 256, ident: str = "", **fields: Any) -> Item:
    tests: dict[str, Any] = {"kind": "assert", "cases": [{"code": c} for c in cases]}
    if setup is not None:
        tests["setup"] = setup
    return Item.model_validate({
        "id": ident, "code": code, "tests": tests,
        "limits": {"timeout_s": timeout_s, "memory_mb": memory_mb, "output_kb": output_kb}, **fields,
    })


def call_item(code: str, fn_name: str, cases: Sequence[tuple[list[Any], Any]], *, timeout_s: float = 1.0,
              ident: str = "", **fields: Any) -> Item:
    tests = {"kind": "call", "fn_name": fn_name, "cases": [{"args": a, "expected": e} for a, e in cases]}
    return Item.model_validate({
        "id": ident, "code": code, "tests": tests,
        "limits": {"timeout_s": timeout_s, "memory_mb": 256, "output_kb": 256}, **fields,
    })


def stdio_item(code: str, given: str = "", wanted: str = "", *, timeout_s: float = 1.0, output_kb: int = 256,
               ident: str = "", **fields: Any) -> Item:
    return Item.model_validate({
        "id": ident, "code": code, "tests": {"kind": "stdio", "cases": [{"input": given, "output": wanted}]},
        "limits": {"timeout_s": timeout_s, "memory_mb": 256, "output_kb": output_kb}, **fields,
    })


def program(item: Item, code: str, ident: str) -> Item:
    """Another program on ``item``'s tests (same prompt, limits and options)."""
    return item.model_copy(update={"code": code, "id": ident})


# --------------------------------------------------------------------- attacks
@dataclass(frozen=True)
class Attack:
    """One hostile program and what the sandbox must say about it and its neighbours.

    ``statuses``: each test's status (the exact one; never ``pass`` for a wrong program).
    ``error``: the error type of its first test that did not pass, if that is the point.
    ``correct``/``wrong``: programs on the same tests run beside it; their per-test
    statuses default to all ``pass`` / all ``fail`` (``correct_tests``/``wrong_tests``
    when the tests themselves are the hostile part; ``neighbours_on`` when running them
    on the hostile tests would cost too much time). ``extra``: further checks.
    """

    id: str
    item: Item
    statuses: tuple[TestStatus, ...]
    correct: str
    wrong: str
    guarantee: str
    error: str | None = None
    correct_tests: tuple[TestStatus, ...] | None = None
    wrong_tests: tuple[TestStatus, ...] | None = None
    trust: Trust = Trust.HARNESS
    extra: Callable[[Result], None] | None = field(default=None, compare=False)
    neighbours_on: Item | None = None  # the neighbours' tests, when not the attack's own

    @property
    def base(self) -> Item:
        return self.neighbours_on or self.item


@dataclass
class Outcome:
    attack: Result
    correct: list[Result]
    wrong: Result


def run_attacks(pool: SandboxPool, attacks: Sequence[Attack]) -> dict[str, Outcome]:
    """Run every attack between its neighbours, all in one batch: for each attack, a
    correct program, the attack, a correct program and a wrong one, in that order."""
    items: list[Item] = []
    for a in attacks:
        items += [program(a.base, a.correct, f"{a.id}/correct-before"), a.item.model_copy(update={"id": a.id}),
                  program(a.base, a.correct, f"{a.id}/correct-after"), program(a.base, a.wrong, f"{a.id}/wrong-after")]
    results = evaluate_items(pool, items)
    out: dict[str, Outcome] = {}
    for k, a in enumerate(attacks):
        before, hostile, after, wrong = results[4 * k : 4 * k + 4]
        out[a.id] = Outcome(attack=hostile, correct=[before, after], wrong=wrong)
    return out


RUN_UIDS = 8  # the agent's run uids, in rotation (agent/serve.py)


def run_with_rotation(pool: SandboxPool, attack: Attack) -> tuple[Outcome, list[Result]]:
    """The attack between its neighbours, then enough correct programs for the attack's
    uid to come round again. On a one-container pool the order is the order given:
    returns the outcome and the programs that ran after the attack, the last one under
    the attack's uid (checked: every program writes its uid on stderr first, which
    stdio programs get from ``UID`` here; assert-mode programs must write it during
    their call, as their output while loading is not in their results)."""
    base = attack.base
    stdio = base.tests.kind.value == "stdio"
    prefix = UID if stdio else ""
    hostile = attack.item.model_copy(update={"id": attack.id, "code": prefix + attack.item.code})
    later = [program(base, prefix + attack.correct, f"{attack.id}/later{k}") for k in range(RUN_UIDS - 2)]
    items = [program(base, prefix + attack.correct, f"{attack.id}/correct-before"), hostile,
             program(base, prefix + attack.correct, f"{attack.id}/correct-after"),
             program(base, prefix + attack.wrong, f"{attack.id}/wrong-after"), *later]
    results = evaluate_items(pool, items)
    outcome = Outcome(attack=results[1], correct=[results[0], results[2], *results[4:]], wrong=results[3])
    after = results[2:]
    if after[-1].tests[0].stderr:  # (a run that never started has none: its verdict tells)
        assert uid_of(after[-1]) == uid_of(results[1]), [r.tests[0].stderr[:40] for r in results]
    return outcome, after


def _summary(result: Result) -> str:
    tests = [(t.status.value, t.error.type if t.error else None, (t.error.message if t.error else "")[:160])
             for t in result.tests]
    return f"{result.id}: {result.status.value} (trust {result.trust}) detail={result.detail!r} tests={tests}"


def check_neighbours(attack: Attack, outcome: Outcome) -> None:
    """The correct programs beside the attack passed and the wrong one failed, test by
    test (``correct_tests``/``wrong_tests`` where the tests themselves are hostile)."""
    n = len(attack.base.tests.cases)
    want_correct = attack.correct_tests or (TestStatus.PASS,) * n
    want_wrong = attack.wrong_tests or (TestStatus.FAIL,) * n
    for result in outcome.correct:
        assert tuple(t.status for t in result.tests) == want_correct, _summary(result)
    assert tuple(t.status for t in outcome.wrong.tests) == want_wrong, _summary(outcome.wrong)


def check(attack: Attack, outcome: Outcome) -> None:
    """The attack got exactly its statuses (never ``pass`` where it should not, never
    ``infra_error``) from the mode it asked for; its neighbours kept theirs."""
    check_neighbours(attack, outcome)
    result = outcome.attack
    assert result.status is not Status.INFRA_ERROR, _summary(result)
    assert tuple(t.status for t in result.tests) == attack.statuses, _summary(result)
    if TestStatus.PASS not in attack.statuses:
        assert result.status is not Status.PASS, _summary(result)
    assert result.trust is attack.trust, _summary(result)
    if attack.error is not None:
        first = next(t for t in result.tests if t.status is not TestStatus.PASS)
        assert first.error is not None and first.error.type == attack.error, _summary(result)
    if attack.extra is not None:
        attack.extra(result)


# ---------------------------------------------------------------------- tables
@dataclass
class Data:
    """The benchmark records attacks are built on (the ``humaneval``/``mbpp`` fixtures)."""

    humaneval: dict[str, dict[str, Any]]
    mbpp: dict[int, dict[str, Any]]

    @classmethod
    def of(cls, humaneval: list[dict[str, Any]], mbpp: list[dict[str, Any]]) -> Data:
        return cls({r["task_id"]: r for r in humaneval}, {r["task_id"]: r for r in mbpp})


Builder = Callable[[Data], Attack]


class Table:
    """A module's attacks by test id (the builder's name), registered with ``@table``."""

    def __init__(self) -> None:
        self.builders: dict[str, Builder] = {}

    def __call__(self, fn: Builder) -> Builder:
        self.builders[fn.__name__] = fn
        return fn

    def ids(self) -> list[str]:
        return list(self.builders)

    def build(self, data: Data) -> list[Attack]:
        return [build(data) for build in self.builders.values()]

    def one(self, name: str, data: Data) -> Attack:
        return self.builders[name](data)


#: The neighbours of most assert-mode attacks: ``f(x)`` must be ``x + 1``.
ADD_ONE_OK = "def f(x):\n    return x + 1\n"
ADD_ONE_BAD = "def f(x):\n    return x\n"


def simple_attack(ident: str, code: str, cases: Sequence[str], statuses: tuple[TestStatus, ...], *,
                  guarantee: str, error: str | None = None, correct: str = ADD_ONE_OK, wrong: str = ADD_ONE_BAD,
                  **fields: Any) -> Attack:
    """An assert-mode attack on cases about ``f``, beside ``f(x) = x + 1`` and ``f(x) = x``."""
    item = assert_item(code, cases, ident=ident, **fields)
    return Attack(ident, item, statuses, correct, wrong, guarantee, error=error)


# ---------------------------------------------------------------------- pools
@contextlib.contextmanager
def fresh_pool(size: int = 1, **settings: Any) -> Iterator[SandboxPool]:
    """A pool of its own (one container by default, so runs happen in the order given
    and run uids come round in order), for attacks that may leave a container broken."""
    with SandboxPool(Settings(pool_size=size, container_max_runs=100_000, **settings)) as pool:
        yield pool
        assert_pool_clean(pool)


def assert_pool_clean(pool: SandboxPool) -> None:
    """Every container answers, and runs nothing but the agent's own processes."""
    health = pool.health()
    assert health["healthy"] == health["slots"] == pool.size, health
    for cid in pool.container_ids():
        procs = pool.processes(cid)
        base = pool.engine.uid_base(cid)
        # docker-init, the agent, its zygote and harnesses; nothing the program left behind
        # (nothing of a run uid, nothing else on the command line).
        assert not [p for p in procs if base <= p[0] < base + 32], procs
        assert {args for _, args in procs} <= AGENT_COMMANDS, procs


def uid_of(result: Result) -> int:
    """The uid a program wrote on its stderr (``UID`` below)."""
    return int(result.tests[0].stderr.split()[0])


#: Writes the program's uid on its stderr (see :func:`uid_of`); first thing in a stdio
#: program (which prints its answer on stdout only).
UID = "import os as _os_uid, sys as _sys_uid\n_sys_uid.stderr.write(f'{_os_uid.getuid()}\\n')\n"


# ------------------------------------------------------------ attack snippets
#: Writes agent frames (8-byte header + JSON) on fd 1000, the program's channel.
FRAME = dedent('''
    import json as _json, os as _os, struct as _struct
    def _frame(message):
        payload = _json.dumps(message).encode()
        return _struct.pack("!II", len(payload), 0) + payload
''')

#: Patches the program's own copy of the proxy server so that its answer to the
#: harness's "names" request carries names the harness never asked for
#: (``_EXTRA_NAMES``: name -> object of the program).
PATCH_NAMES = dedent('''
    import sys as _sys
    _xserver = _sys.modules["agent.xserver"]
    _honest_names = _xserver._OPS["names"]
    _EXTRA_NAMES = {}
    def _names(server, target, values):
        reply = _honest_names(server, target, values)
        for name, obj in _EXTRA_NAMES.items():
            reply["raw"][name] = {"v": server.to_wire(obj)}
        return reply
    _xserver._OPS["names"] = _names
''')

#: Looks for strings ``utrs-secret-<16 hex>`` everywhere a program process can look:
#: its whole readable address space, every object the garbage collector knows (after
#: unfreezing the zygote's), every frame's locals and globals, and every file it can read
#: under /sandbox, /dev/shm, /tmp and /proc/<pid>/{cmdline,environ,maps,stat,status}.
SEARCH_SECRETS = dedent(r'''
    import ctypes as _ctypes, gc as _gc, os as _os, re as _re, sys as _sys
    _PATTERN = _re.compile(rb"utrs-secret-[0-9a-f]{16}")
    def _in(data):
        return {m.decode() for m in _PATTERN.findall(data)}
    def _scan_memory():
        found = set()
        with open("/proc/self/maps") as fh:
            regions = [line.split() for line in fh]
        for fields in regions:
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if not fields[1].startswith("r") or name.startswith("[v") or hi - lo > 1 << 30:
                continue
            found |= _in(_ctypes.string_at(lo, hi - lo))
        return found
    def _scan_objects():
        _gc.unfreeze()
        found = set()
        for obj in _gc.get_objects():
            try:
                text = obj if isinstance(obj, (str, bytes)) else repr(obj)
            except Exception:
                continue
            found |= _in(text.encode("utf-8", "replace") if isinstance(text, str) else text)
        return found
    def _scan_frames():
        found = set()
        for frame in _sys._current_frames().values():
            while frame is not None:
                for scope in (frame.f_locals, frame.f_globals):
                    for value in list(scope.values()):
                        found |= _in(repr(value).encode("utf-8", "replace"))
                frame = frame.f_back
        return found
    def _scan_files():
        found = set()
        for root in ("/sandbox", "/dev/shm", "/tmp", "/proc"):
            for top, dirs, files in _os.walk(root):
                if top == "/proc":
                    dirs[:] = [d for d in dirs if d.isdigit()]
                elif top.startswith("/proc/"):
                    dirs[:] = []
                    files = [f for f in files if f in ("cmdline", "environ", "maps", "stat", "status")]
                for name in files:
                    try:
                        with open(_os.path.join(top, name), "rb") as fh:
                            found |= _in(fh.read(1 << 22))
                    except OSError:
                        continue
        return found
    def _secrets():
        found = set()
        for scan in (_scan_memory, _scan_objects, _scan_frames, _scan_files):
            try:
                found |= scan()
            except Exception:
                pass
        return sorted(found)
''')
