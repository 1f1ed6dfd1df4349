"""Hostile programs in the real sandbox, each beside benign programs that must keep
their verdicts; afterwards the pool is healthy and nothing is left running."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from client.models import Item, Status, TestStatus
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from tests.support.attacks import assert_pool_clean

BENIGN = [
    ("print(sum(map(int, input().split())))", "3 4\n", "7", Status.PASS),
    ("print(int(input()) * 2)", "21\n", "42", Status.PASS),
    ("print('wrong')", "", "right", Status.FAILURE),
]


def _stdio(code: str, given: str = "", wanted: str = "", *, timeout_s: float = 2.0, ident: str = "") -> Item:
    return Item.model_validate(
        {
            "id": ident,
            "code": code,
            "limits": {"timeout_s": timeout_s, "memory_mb": 256, "output_kb": 256},
            "tests": {"kind": "stdio", "cases": [{"input": given, "output": wanted}]},
        }
    )


def _run_with_benign(pool: SandboxPool, hostile: Item) -> Any:
    benign = [_stdio(c, i, o, ident=f"benign{k}") for k, (c, i, o, _) in enumerate(BENIGN)]
    results = evaluate_items(pool, [*benign, hostile, *benign])
    expected = [s for *_, s in BENIGN] * 2
    assert [r.status for r in results[:3] + results[4:]] == expected
    return results[3]


@pytest.fixture(autouse=True)
def _pool_stays_clean(pool: SandboxPool) -> Iterator[None]:
    yield
    # every container answers; docker-init, the agent, its zygote and harnesses run,
    # nothing the program left behind (nothing of a run uid, nothing else on the command line)
    assert_pool_clean(pool)


def _status_of(result: Any) -> tuple[TestStatus, str | None]:
    test = result.tests[0]
    return test.status, test.error.type if test.error else None


HOSTILE = {
    "infinite_loop": ("while True:\n    pass\n", TestStatus.TIMEOUT, "Timeout"),
    "sleep_forever": ("import time\ntime.sleep(10**6)\n", TestStatus.TIMEOUT, "Timeout"),
    "ignore_sigterm": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n",
        TestStatus.TIMEOUT,
        "Timeout",
    ),
    "fork_bomb": ("import os\nwhile True:\n    os.fork()\n", TestStatus.ERROR, "BlockingIOError"),
    "memory_bomb": (
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))\n",
        TestStatus.MEMORY,
        "MemoryError",
    ),
    "huge_allocation": ("x = bytearray(10**12)\n", TestStatus.MEMORY, "MemoryError"),
    "gigabyte_of_output": (
        "import sys\nblock = 'x' * 65536\nfor _ in range(16384):\n    sys.stdout.write(block)\n",
        TestStatus.OUTPUT_LIMIT,
        "OutputLimit",
    ),
    "os_exit_3": ("import os\nprint('bye', flush=True)\nos._exit(3)\n", TestStatus.CRASH, "Exit"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", TestStatus.CRASH, "Signal"),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\nf(0)\n", TestStatus.ERROR, "RecursionError"),
    # 2 * 10**5 levels: 4x what crashes the image's 8 MiB stack, ~0.3 s of CPU (10**6 took
    # 1.4 s on a slow machine: past the 1 s limit, a timeout instead of the crash).
    "recursion_past_the_c_stack": (
        "import sys\nsys.setrecursionlimit(10**8)\nnested = []\nfor _ in range(2 * 10**5):\n"
        "    nested = [nested]\nrepr(nested)\n",
        TestStatus.CRASH,
        "Signal",
    ),
    "write_outside_workdir": ("open('/etc/evil', 'w').write('x')\n", TestStatus.ERROR, "OSError"),
    "read_host_files": ("print(open('/var/run/docker.sock').read())\n", TestStatus.ERROR, "FileNotFoundError"),
    "read_shadow": ("print(open('/etc/shadow').read())\n", TestStatus.ERROR, "PermissionError"),
    "close_stdout_then_print": ("import os\nos.close(1)\nprint('x' * 10**5)\n", TestStatus.ERROR, "OSError"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program(pool: SandboxPool, name: str) -> None:
    code, status, error_type = HOSTILE[name]
    result = _run_with_benign(pool, _stdio(code, timeout_s=1.0, ident=name))
    assert _status_of(result) == (status, error_type)
    assert result.status is Status.ERROR


def test_kill_everything_reaches_only_the_programs_own_processes(pool: SandboxPool) -> None:
    """kill(-1) reaches the processes of the program's own uid: the agent, its harnesses
    and other runs are out of reach, so the program simply goes on (and its neighbours
    keep their verdicts)."""
    result = _run_with_benign(pool, _stdio("import os\nos.kill(-1, 9)\nprint('alive')\n", "", "alive"))
    assert result.status is Status.PASS


def test_segfault_reports_the_signal(pool: SandboxPool) -> None:
    result = _run_with_benign(pool, _stdio(HOSTILE["segfault"][0]))
    assert result.tests[0].error is not None and result.tests[0].error.signal == 11


def test_os_exit_reports_the_code_and_keeps_output(pool: SandboxPool) -> None:
    result = _run_with_benign(pool, _stdio(HOSTILE["os_exit_3"][0]))
    test = result.tests[0]
    assert test.error is not None and test.error.exit_code == 3
    assert test.stdout == "bye\n"


def test_network_is_unreachable(pool: SandboxPool) -> None:
    """A listener on the host's loopback is not the sandbox's loopback."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    code = (
        "import os, socket\n"
        "print(sorted(os.listdir('/sys/class/net')))\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
    )
    result = _run_with_benign(pool, _stdio(code))
    t.join()
    server.close()
    assert accepted == []
    test = result.tests[0]
    assert test.status is TestStatus.ERROR and test.error is not None
    assert "OSError" in test.error.exception_mro
    assert test.stdout.strip() == "['lo']"


def test_files_written_outside_the_workdir_do_not_survive(pool: SandboxPool) -> None:
    write = (
        "import os\nopen('/sandbox/w/planted', 'w').write('x')\nopen('/dev/shm/planted', 'w').write('x')\n"
        "os.mkdir('/sandbox/w/d'); open('/sandbox/w/d/f', 'w').write('x'); os.chmod('/sandbox/w/d', 0o500)\n"
        "print('ok')\n"
    )
    look = "import os\nprint(os.path.exists('/sandbox/w/planted'), os.path.exists('/dev/shm/planted'))\n"
    items = [_stdio(write, "", "ok")] + [_stdio(look, "", "False False") for _ in range(6)]
    results = evaluate_items(pool, items)
    assert [r.status for r in results] == [Status.PASS] * 7


def test_outliving_thread_and_child_process_are_killed(pool: SandboxPool) -> None:
    code = (
        "import os, subprocess, threading, time\n"
        "threading.Thread(target=time.sleep, args=(10**6,), daemon=True).start()\n"
        "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(10**6)\n"
        "print('done')\n"
    )
    result = _run_with_benign(pool, _stdio(code, "", "done"))
    assert result.status is Status.PASS  # the fixture checks nothing is left running


def test_close_stdout_after_printing_is_fine(pool: SandboxPool) -> None:
    code = "import sys\nprint(42)\nsys.stdout.close()\n"
    result = _run_with_benign(pool, _stdio(code, "", "42"))
    assert result.status is Status.PASS


def test_sys_exit_zero_is_a_normal_end_for_stdio(pool: SandboxPool) -> None:
    code = "import sys\nprint(5)\nsys.exit(0)\nprint(6)\n"
    result = _run_with_benign(pool, _stdio(code, "", "5"))
    assert result.status is Status.PASS


def test_sys_exit_one_is_a_crash_with_its_code(pool: SandboxPool) -> None:
    result = _run_with_benign(pool, _stdio("import sys\nsys.exit('no')\n"))
    test = result.tests[0]
    assert test.status is TestStatus.CRASH
    assert test.error is not None and test.error.type == "SystemExit" and test.error.exit_code == 1
