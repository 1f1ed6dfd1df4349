"""Cross-run interference: a program must not reach the agent, the harness or other runs,
nor leave anything a later run can see: not processes, files, shared memory, sockets,
attributes of its work directory, nor state in the harness its neighbours share; nor
read what earlier runs left in memory (their programs, their tests).

These attacks need an order: they run on a pool of one container (``solo``), where runs
happen in the order given and the run uids (8, in rotation) come round in order; those
that may leave the container broken get a fresh one each (``fresh_pool``). Each checks
the runs after the attack, under other uids and under the attack's own uid again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from client.builders import from_mbpp
from client.models import Item, Result, Status, TestStatus, Trust
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from tests.support.attacks import (
    ADD_ONE_BAD,
    ADD_ONE_OK,
    G_ISOLATION,
    G_SECRETS,
    RUN_UIDS,
    SEARCH_SECRETS,
    UID,
    Attack,
    assert_item,
    assert_pool_clean,
    call_item,
    check,
    fresh_pool,
    program,
    run_attacks,
    run_with_rotation,
    stdio_item,
    uid_of,
)

PASS, FAIL, ERROR = TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR


@pytest.fixture(scope="module")
def solo() -> Iterator[SandboxPool]:
    with fresh_pool(1) as pool:
        yield pool


@pytest.fixture(autouse=True)
def _solo_stays_clean(solo: SandboxPool) -> Iterator[None]:
    yield
    assert_pool_clean(solo)


def _summary(results: list[Result]) -> list[tuple[str | None, str, list[str]]]:
    return [(r.id, r.status.value, [t.status.value for t in r.tests]) for r in results]


# --------------------------------------------------------- state in the harness
def test_call_arguments_mutated_in_place(solo: SandboxPool) -> None:
    """Call tests: the program clears the list it is given. Mutations of arguments are
    copied back to the test's objects; the next program of the same suite (same
    harness) must still be called with the case's own arguments."""
    cases = [([[3, 1, 2]], 6), ([[5, 5]], 10)]
    item = call_item("def total(xs):\n    xs.clear()\n    xs.append(0)\n    return 0\n", "total", cases,
                     ident="call_arguments_mutated_in_place")
    attack = Attack(str(item.id), item, (FAIL, FAIL), "def total(xs):\n    return sum(xs)\n",
                    "def total(xs):\n    return len(xs)\n", G_ISOLATION)
    check(attack, run_attacks(solo, [attack])[attack.id])


def test_setup_objects_mutated_in_place(solo: SandboxPool) -> None:
    """Assert tests: the program empties a list the setup made; the setup runs again for
    the next program."""
    item = assert_item("def f(xs):\n    xs.clear()\n    return 0\n", ("assert f(DATA) == 6", "assert f(DATA) == 6"),
                       setup="DATA = [3, 1, 2]\n", ident="setup_objects_mutated_in_place")
    attack = Attack(str(item.id), item, (FAIL, FAIL), "def f(xs):\n    return sum(xs)\n",
                    "def f(xs):\n    return len(xs)\n", G_ISOLATION)
    check(attack, run_attacks(solo, [attack])[attack.id])


# ---------------------------------------------------- what earlier runs left in memory
STEAL = r'''
import ctypes, re
def _memory():
    with open("/proc/self/maps") as fh:
        for line in fh:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1].startswith("r") and not (len(f) > 5 and f[5].startswith("[v")) and hi - lo < 1 << 30:
                yield ctypes.string_at(lo, hi - lo)
def _steal(name):
    """Functions called ``name`` defined by any program text found in this process's
    memory (the text as it was sent, or JSON-escaped), other than this one."""
    found = []
    for data in _memory():
        for m in re.finditer(rb"def " + name.encode() + rb"\((?!\*)", data):
            chunk = data[m.start() : m.start() + 4000].split(b"\0")[0]
            try:
                text = chunk.decode()
            except UnicodeDecodeError:
                continue
            if "\\n" in text:
                text = text.split('"', 1)[0].encode().decode("unicode_escape")
            lines = text.replace("\r\n", "\n").split("\n")
            for k in range(len(lines), 0, -1):
                ns = {}
                try:
                    exec("\n".join(lines[:k]), ns)
                except Exception:
                    continue
                if name in ns:
                    found.append(ns[name])
                    break
    return found
_stolen = _steal("remove_Occ")
def remove_Occ(*args):
    for fn in _stolen:
        try:
            return fn(*args)
        except Exception:
            pass
'''


def test_previous_program_text_in_memory(solo: SandboxPool, mbpp: list[dict[str, Any]]) -> None:
    """MBPP/11 right after a correct program for it: the program looks for another
    definition of its function in its own memory (the zygote it was forked from has
    seen the earlier program) and calls that. Run by the thousand on the samples of
    one problem, this would give every sample the reward of the best one."""
    record = next(r for r in mbpp if r["task_id"] == 11)
    item = from_mbpp(record, STEAL, id="previous_program_text_in_memory", limits={"timeout_s": 2.0})
    attack = Attack(str(item.id), item, (FAIL, FAIL, FAIL), record["code"],
                    "def remove_Occ(s, ch):\n    return s\n", G_SECRETS, error="AssertionError")
    check(attack, run_attacks(solo, [attack])[attack.id])


SECRET = "utrs-secret-00112233445566aa"
MAKE_SECRET = "'utrs-secret-' + ''.join(reversed('aa66554433221100'))"


def test_in_process_suite_in_memory(solo: SandboxPool) -> None:
    """A legacy ``in_process`` run receives its whole suite (every expected answer). A
    harness-mode program that runs after it in the same container looks for the answer
    in its memory."""
    legacy = assert_item(f"def f(x):\n    return {MAKE_SECRET}\n", (f"assert f(1) == {SECRET!r}",),
                         ident="legacy-before", trust="in_process")
    find = SEARCH_SECRETS + "def f(x):\n    found = _secrets()\n    print(found)\n    return found[0] if found else 0\n"
    hostile = assert_item(find, (f"assert f(1) == {SECRET!r}",), ident="in_process_suite_in_memory", timeout_s=4.0)
    results = evaluate_items(solo, [legacy, hostile, program(hostile, f"def f(x):\n    return {MAKE_SECRET}\n", "ok"),
                                    program(hostile, "def f(x):\n    return 0\n", "bad")])
    assert [r.status for r in results] == [Status.PASS, Status.FAILURE, Status.PASS, Status.FAILURE], (
        _summary(results), results[1].tests[0].stdout)
    assert results[0].trust is Trust.IN_PROCESS and results[1].trust is Trust.HARNESS


# ------------------------------------------------------------- leftovers
ECHO = "print(input())\n"


@contextlib.contextmanager
def _busy_pool() -> Iterator[SandboxPool]:
    """A fresh one-container pool that has judged assert tests of a few suites (their
    harnesses are alive, as in any container in use): an attack that leaves something
    behind may otherwise break the module's shared pool for the tests after it."""
    with fresh_pool() as pool:
        warm = [assert_item(ADD_ONE_OK, (f"assert f({k}) == {k + 1}",), ident=f"warm{k}") for k in range(3)]
        assert [r.status for r in evaluate_items(pool, warm)] == [Status.PASS] * 3
        yield pool


def _echo_attack(ident: str, code: str, *, wanted: str = "done", timeout_s: float = 1.0) -> Attack:
    """A stdio attack whose neighbours echo their input (and must print exactly it)."""
    item = stdio_item(code, "abc\n", wanted, ident=ident, timeout_s=timeout_s)
    neighbours = stdio_item(ECHO, "abc\n", "abc", ident="echo")
    return Attack(ident, item, (FAIL,), ECHO, "print('abd')\n", G_ISOLATION, neighbours_on=neighbours)


def _exact_echoes(later: list[Result]) -> None:
    for result in later:
        if result.id and "wrong" not in result.id:
            assert result.tests[0].stdout == "abc\n", (result.id, result.tests[0].stdout[:200])


LEAVE_WRITER = r'''
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            for fd in (1, 2):
                try:
                    os.write(fd, b"junk from an earlier run\n")
                except OSError:
                    pass
            time.sleep(0.001)
    os._exit(0)
time.sleep(0.1)
print("left")
'''


def test_leftover_process_writes_into_later_outputs() -> None:
    """A daemon that outlives the program and keeps writing on the descriptors it
    inherited (the agent's output files, which later runs get too)."""
    attack = _echo_attack("leftover_process_writes_into_later_outputs", LEAVE_WRITER)
    with _busy_pool() as pool:
        outcome, later = run_with_rotation(pool, attack)
        check(attack, outcome)
        _exact_echoes(later)


LOOK = r'''
import ctypes, os, socket, sys
seen = []
sys.path.insert(0, ".")
try:
    import planted_helper
    seen.append("module")
except ImportError:
    pass
for path in ("/sandbox/w/planted", "/dev/shm/planted", "planted.txt", "__pycache__"):
    if os.path.lexists(path):
        seen.append(path)
libc = ctypes.CDLL(None, use_errno=True)
if libc.shmget(0x5EC7E7, 0, 0) >= 0:
    seen.append("sysv-shm")
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("\0utrs-covert")
    seen.append("socket")
except OSError:
    pass
try:
    os.getxattr(".", "user.covert")
    seen.append("xattr")
except OSError:
    pass
if int(os.stat(".").st_mtime) in (12345, 67890):
    seen.append("times")
if os.listdir("."):
    seen.append(sorted(os.listdir("."))[:5])
print(seen or input())
'''


def _look_attack(ident: str, code: str) -> Attack:
    """A stdio attack whose neighbours look for what any attack of this module leaves
    (and print their input only if they find nothing)."""
    item = stdio_item(code, "abc\n", "done", ident=ident)
    neighbours = stdio_item(LOOK, "abc\n", "abc", ident="look")
    return Attack(ident, item, (FAIL,), LOOK, "print('abd')\n", G_ISOLATION, neighbours_on=neighbours)


PLANT_FILES = r'''
import os
with open("planted_helper.py", "w") as fh:
    fh.write("VALUE = 'from an earlier run'\n")
import planted_helper
open("planted.txt", "w").write("x")
open("/sandbox/w/planted", "w").write("x")
open("/dev/shm/planted", "w").write("x")
os.mkdir("locked")
open("locked/inner", "w").write("x")
os.chmod("locked", 0o500)
print("planted")
'''


def test_leftover_files_and_modules() -> None:
    """Files in the work directory (a module and its bytecode cache, a directory the
    run locked), in the directory of work directories and in /dev/shm."""
    attack = _look_attack("leftover_files_and_modules", PLANT_FILES)
    with _busy_pool() as pool:
        outcome, _ = run_with_rotation(pool, attack)
        check(attack, outcome)


PLANT_SHM = r'''
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(0x5EC7E7, 4096, 0o1000 | 0o666)
ctypes.memmove(libc.shmat(shmid, None, 0), b"from an earlier run", 19)
if os.fork() == 0:
    os.setsid()
    libc.shmat(shmid, None, 0)
    time.sleep(10**6)
print("planted", shmid)
'''


def test_sysv_shared_memory_left_behind() -> None:
    """A SysV shared memory segment, held by a daemon that outlives the program."""
    attack = _look_attack("sysv_shared_memory_left_behind", PLANT_SHM)
    with _busy_pool() as pool:
        outcome, _ = run_with_rotation(pool, attack)
        check(attack, outcome)


PLANT_SOCKET = r'''
import os, socket, time
if os.fork() == 0:
    os.setsid()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0utrs-covert")
    s.listen(8)
    while True:
        conn, _ = s.accept()
        conn.sendall(b"from an earlier run")
        conn.close()
time.sleep(0.1)
print("listening")
'''


def test_abstract_socket_left_behind() -> None:
    """An abstract unix socket (the container's one network namespace has them even
    without a network), served by a daemon that outlives the program."""
    attack = _look_attack("abstract_socket_left_behind", PLANT_SOCKET)
    with _busy_pool() as pool:
        outcome, _ = run_with_rotation(pool, attack)
        check(attack, outcome)


PLANT_XATTR = r'''
import os
os.setxattr(".", "user.covert", b"from an earlier run")
os.utime(".", (12345, 67890))
print("planted")
'''


def test_workdir_attributes_left_behind() -> None:
    """An extended attribute and timestamps on the work directory itself, which the
    clean-up empties but keeps: the next run under the same uid could read them."""
    attack = _look_attack("workdir_attributes_left_behind", PLANT_XATTR)
    with fresh_pool() as pool:
        outcome, _ = run_with_rotation(pool, attack)
    check(attack, outcome)


SYMLINK = r'''
import os
home = os.getcwd()
os.chdir("/")
os.rmdir(home)
os.symlink("/nonexistent", home)
print("replaced")
'''


def test_workdir_replaced_by_symlink() -> None:
    """The program removes its (empty) work directory, which it owns, and puts a
    dangling symlink in its place in the sticky directory of work directories."""
    attack = _echo_attack("workdir_replaced_by_symlink", SYMLINK)
    with fresh_pool() as pool:
        outcome, later = run_with_rotation(pool, attack)
        check(attack, outcome)
        _exact_echoes(later)
        # and the next time round
        again = evaluate_items(pool, [program(attack.base, ECHO, f"again{k}") for k in range(RUN_UIDS)])
        assert [r.status for r in again] == [Status.PASS] * RUN_UIDS, _summary(again)


DEEP_TREE = r'''
import os
for _ in range(1200):
    os.mkdir("d")
    os.chdir("d")
block = b"x" * (1 << 20)
n = 0
try:
    while True:
        with open(f"f{n}", "wb") as fh:
            for _ in range(200):
                fh.write(block)
        n += 1
except OSError:
    pass
print("filled", n)
'''


def test_cleanup_defeated_by_deep_tree() -> None:
    """A directory chain deeper than the clean-up's recursion, with the container's
    whole tmpfs in files at its bottom: the next runs need space for their input and
    output, and the run's own uid, when it comes round, an empty work directory."""
    item = stdio_item(DEEP_TREE, "abc\n", "done", ident="cleanup_defeated_by_deep_tree", timeout_s=4.0,
                      output_kb=256 * 1024)
    attack = dataclasses.replace(_look_attack("cleanup_defeated_by_deep_tree", DEEP_TREE), item=item)
    with fresh_pool() as pool:
        outcome, _ = run_with_rotation(pool, attack)
    check(attack, outcome)


# ------------------------------------------------------- the agent and the harness
UID_IN_CALL = ("import os as _os_uid, sys as _sys_uid\n"
               "def _uid():\n    _sys_uid.stderr.write(f'{_os_uid.getuid()}\\n')\n")
REACH_HEAD = UID_IN_CALL + r'''
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
def _others():
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            yield int(name)
def _attempt(fn):
    try:
        fn()
        return True
    except OSError:
        return False
'''


def _reached_nothing(result: Result) -> None:
    assert result.tests[0].stdout.strip() == "[]", result.tests[0].stdout


def _reach_attack(ident: str, body: str) -> Attack:
    """``f`` answers right only if one of its attempts on another process worked (and
    prints what worked); it and its neighbours write their uid on stderr."""
    code = REACH_HEAD + "def f(x):\n    _uid()\n    done = []\n" + \
        "".join(f"    {line}\n" for line in body.splitlines()) + "    print(done)\n    return x + 1 if done else x\n"
    item = assert_item(code, ("assert f(1) == 2",), ident=ident)
    return Attack(ident, item, (FAIL,), UID_IN_CALL + ADD_ONE_OK.replace(":\n", ":\n    _uid()\n", 1),
                  UID_IN_CALL + ADD_ONE_BAD.replace(":\n", ":\n    _uid()\n", 1), G_ISOLATION, extra=_reached_nothing)


REACH: dict[str, str] = {
    "signals_to_every_process": (
        "for pid in _others():\n"
        "    for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1):\n"
        "        if _attempt(lambda: os.kill(pid, sig)):\n"
        "            done.append((pid, sig))\n"),
    "ptrace_and_memory_of_other_processes": (
        "class IOV(ctypes.Structure):\n"
        "    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
        "buf = ctypes.create_string_buffer(8)\n"
        "local = IOV(ctypes.cast(buf, ctypes.c_void_p), 8)\n"
        "for pid in _others():\n"
        "    if libc.ptrace(16, pid, None, None) == 0:\n"
        "        done.append((pid, 'ptrace'))\n"
        "    if _attempt(lambda: open(f'/proc/{pid}/mem', 'r+b').close()):\n"
        "        done.append((pid, 'mem'))\n"
        "    remote = IOV(0x400000, 8)\n"
        "    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0:\n"
        "        done.append((pid, 'process_vm_readv'))\n"),
    "descriptors_of_other_processes": (
        "for pid in _others():\n"
        "    for what in ('fd/0', 'fd/1', 'fd/3', 'fd/1000', 'environ', 'cwd/.', 'root/.'):\n"
        "        path = f'/proc/{pid}/{what}'\n"
        "        if _attempt(lambda: os.close(os.open(path, os.O_RDONLY))):\n"
        "            done.append((pid, what))\n"
        "    if _attempt(lambda: os.listdir(f'/proc/{pid}/fd')):\n"
        "        done.append((pid, 'fd list'))\n"),
    "agent_files": (
        "for path in ('/sandbox/io/out', '/sandbox/io/in', '/sandbox/io', '/proc/self/fd/1'):\n"
        "    if _attempt(lambda: os.close(os.open(path, os.O_RDONLY))) and path != '/proc/self/fd/1':\n"
        "        done.append(path)\n"
        "if _attempt(lambda: os.close(os.open('/proc/self/fd/1', os.O_RDWR))):\n"
        "    done.append('reopen stdout')\n"
        "if _attempt(lambda: os.listdir('/sandbox/w')):\n"
        "    done.append('list work dirs')\n"),
    "inherited_descriptors": (
        "extra = sorted(int(n) for n in os.listdir('/proc/self/fd') if int(n) not in (0, 1, 2, 1000))\n"
        "for fd in extra:\n"
        "    if _attempt(lambda: os.fstat(fd)):\n"
        "        done.append((fd, os.readlink(f'/proc/self/fd/{fd}')))\n"),
}


@pytest.mark.parametrize("name", list(REACH))
def test_reaching_other_processes(name: str, solo: SandboxPool) -> None:
    """The program runs in a session (its harness is alive) and tries to reach every
    other process of the container; the harness and the agent serve its neighbours and
    the runs after it, its own uid's next run included."""
    attack = _reach_attack(name, REACH[name])
    outcome, _ = run_with_rotation(solo, attack)
    check(attack, outcome)


def test_uid_rotation_reaches_every_uid(solo: SandboxPool) -> None:
    """The premise of the rotation checks: consecutive runs take the 8 run uids in turn."""
    items: list[Item] = [stdio_item(UID + ECHO, "abc\n", "abc", ident=f"uid{k}") for k in range(RUN_UIDS + 1)]
    results = evaluate_items(solo, items)
    uids = [uid_of(r) for r in results]
    assert len(set(uids[:RUN_UIDS])) == RUN_UIDS and uids[RUN_UIDS] == uids[0], uids
