"""Containment: a program that exhausts what it can reach (processes, threads, memory,
disk, output, descriptors, CPU), or reaches for what it must not (network, host files,
devices, privileges), gets that as its own verdict; its neighbours keep theirs.

Most attacks are written so that the function returns the right answer only if the
attack *worked*: a ``pass`` here would be a breakthrough. One batch for the table.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from client.models import Result, TestStatus
from service.sandbox.pool import SandboxPool
from tests.support.attacks import (
    ADD_ONE_BAD,
    G_CAPS,
    G_ISOLATION,
    Attack,
    Data,
    Outcome,
    Table,
    assert_pool_clean,
    check,
    run_attacks,
    simple_attack,
    stdio_item,
)

ERROR, FAIL, MEMORY, OUTPUT_LIMIT, TIMEOUT = (TestStatus.ERROR, TestStatus.FAIL, TestStatus.MEMORY,
                                              TestStatus.OUTPUT_LIMIT, TestStatus.TIMEOUT)
ATTACKS = Table()
ONE = ("assert f(1) == 2",)


def _caps(ident: str, code: str, status: TestStatus, error: str, **fields: Any) -> Attack:
    return simple_attack(ident, code, ONE, (status,), guarantee=G_CAPS, error=error, **fields)


def _reach(ident: str, attempt: str, error: str, **fields: Any) -> Attack:
    """``f`` makes the attempt and answers right only if it did not raise."""
    body = "".join(f"    {line}\n" for line in attempt.splitlines())
    code = f"import ctypes, os, signal, socket, stat, subprocess\ndef f(x):\n{body}    return x + 1\n"
    return simple_attack(ident, code, ONE, (ERROR,), guarantee=G_ISOLATION, error=error, **fields)


# ------------------------------------------------------------------- bombs
@ATTACKS
def fork_bomb(d: Data) -> Attack:
    return _caps("fork_bomb", "import os\ndef f(x):\n    while True:\n        os.fork()\n", ERROR, "BlockingIOError")


@ATTACKS
def thread_bomb(d: Data) -> Attack:
    code = ("import threading, time\ndef f(x):\n    while True:\n"
            "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n")
    return _caps("thread_bomb", code, ERROR, "RuntimeError")


@ATTACKS
def memory_bomb(d: Data) -> Attack:
    code = "def f(x):\n    chunks = []\n    while True:\n        chunks.append(bytearray(10**7))\n"
    return _caps("memory_bomb", code, MEMORY, "MemoryError")


@ATTACKS
def huge_allocation(d: Data) -> Attack:
    return _caps("huge_allocation", "def f(x):\n    return len(bytearray(10**12))\n", MEMORY, "MemoryError")


DISK_FRIENDLY = ("import os\ndef f(x):\n    with open('scratch', 'wb') as fh:\n        fh.write(b'y' * 100_000)\n"
                 "    os.remove('scratch')\n    return x + 1\n")


@ATTACKS
def disk_bomb(d: Data) -> Attack:
    """Files of the largest size allowed until the container's tmpfs is full; the
    neighbours (which write a file themselves) find the space free again."""
    code = ("def f(x):\n    n = 0\n    while True:\n        with open(f'fill{n}', 'wb') as fh:\n"
            "            fh.write(b'x' * 250_000)\n        n += 1\n")
    return simple_attack("disk_bomb", code, ONE, (ERROR,), guarantee=G_CAPS, error="OSError", timeout_s=4.0,
                         correct=DISK_FRIENDLY, wrong=ADD_ONE_BAD)


@ATTACKS
def shm_bomb(d: Data) -> Attack:
    """/dev/shm filled up: the next programs get its space back."""
    code = ("def f(x):\n    n = 0\n    while True:\n        with open(f'/dev/shm/fill{n}', 'wb') as fh:\n"
            "            fh.write(b'x' * 250_000)\n        n += 1\n")
    friendly = ("import os\ndef f(x):\n    path = f'/dev/shm/scratch{os.getuid()}'\n    with open(path, 'wb') as fh:\n"
                "        fh.write(b'y' * 100_000)\n    os.remove(path)\n    return x + 1\n")
    return simple_attack("shm_bomb", code, ONE, (ERROR,), guarantee=G_CAPS, error="OSError", timeout_s=4.0,
                         correct=friendly)


@ATTACKS
def output_bomb(d: Data) -> Attack:
    return _caps("output_bomb", "def f(x):\n    while True:\n        print('x' * 10_000)\n", OUTPUT_LIMIT,
                 "OutputLimit")


@ATTACKS
def stderr_bomb_stdio(d: Data) -> Attack:
    code = "import sys\nwhile True:\n    sys.stderr.write('e' * 10_000)\n"
    item = stdio_item(code, "", "7", ident="stderr_bomb_stdio")
    return Attack("stderr_bomb_stdio", item, (OUTPUT_LIMIT,), "print(7)\n", "print(8)\n", G_CAPS, error="OutputLimit")


@ATTACKS
def fd_bomb(d: Data) -> Attack:
    """Every descriptor it may open: the answer is only right with more than the cap."""
    code = ("import os\nfds = []\ndef f(x):\n    try:\n        while True:\n"
            "            fds.append(os.open('/dev/null', os.O_RDONLY))\n    except OSError:\n        pass\n"
            "    return x + 1 if len(fds) > 4096 else len(fds)\n")
    return simple_attack("fd_bomb", code, ONE, (FAIL,), guarantee=G_CAPS)


@ATTACKS
def sigstop_self(d: Data) -> Attack:
    code = "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return x + 1\n"
    return _caps("sigstop_self", code, TIMEOUT, "Timeout")


@ATTACKS
def sleep_forever(d: Data) -> Attack:
    return _caps("sleep_forever", "import time\ndef f(x):\n    time.sleep(10**6)\n", TIMEOUT, "Timeout")


def _message_capped(result: Result) -> None:
    error = result.tests[0].error
    assert error is not None and len(error.message) <= 10_000, len(error.message) if error else None


@ATTACKS
def huge_exception_message(d: Data) -> Attack:
    """The program lifts its own process's message cap and raises with 8 MB of
    message: what the harness, the agent and the worker pass on is bounded."""
    code = ("import sys\nd = sys.modules['agent.describe']\nd.MESSAGE_CHARS = d.TB_CHARS = 10**9\n"
            "def f(x):\n    raise ValueError('m' * 8_000_000)\n")
    attack = simple_attack("huge_exception_message", code, ONE, (ERROR,), guarantee=G_CAPS, error="ValueError",
                           timeout_s=2.0)
    return dataclasses.replace(attack, extra=_message_capped)


# -------------------------------------------------------------- reaching out
@ATTACKS
def network_connect(d: Data) -> Attack:
    return _reach("network_connect", "socket.create_connection(('1.1.1.1', 53), timeout=0.5)", "OSError")


@ATTACKS
def network_raw_socket(d: Data) -> Attack:
    return _reach("network_raw_socket", "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
                  "PermissionError")


@ATTACKS
def host_root_through_proc(d: Data) -> Attack:
    return _reach("host_root_through_proc", "open('/proc/1/root/etc/hostname').read()", "PermissionError")


@ATTACKS
def cgroup_limits_write(d: Data) -> Attack:
    return _reach("cgroup_limits_write", "open('/sys/fs/cgroup/pids.max', 'w').write('max')", "PermissionError")


@ATTACKS
def kernel_settings_write(d: Data) -> Attack:
    return _reach("kernel_settings_write", "open('/proc/sys/kernel/pid_max', 'w').write('100')", "OSError")


@ATTACKS
def device_memory(d: Data) -> Attack:
    return _reach("device_memory", "open('/dev/mem', 'rb').read(1)", "FileNotFoundError")


@ATTACKS
def device_node(d: Data) -> Attack:
    return _reach("device_node", "os.mknod('disk', stat.S_IFBLK | 0o600, os.makedev(8, 0))", "PermissionError")


@ATTACKS
def user_namespace(d: Data) -> Attack:
    attempt = ("libc = ctypes.CDLL(None, use_errno=True)\nif libc.unshare(0x10000000) != 0:\n"
               "    raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWUSER)')")
    return _reach("user_namespace", attempt, "PermissionError")


@ATTACKS
def setuid_root(d: Data) -> Attack:
    return _reach("setuid_root", "os.setuid(0)", "PermissionError")


@ATTACKS
def setuid_binary(d: Data) -> Attack:
    """The image has setuid-root binaries (mount, su); no-new-privileges keeps them
    from giving any privilege back."""
    attempt = ("os.mkdir('m')\nsubprocess.run(['mount', '-t', 'tmpfs', 'none', 'm'], capture_output=True)\n"
               "if not os.path.ismount('m'):\n    raise PermissionError('mount did not mount')")
    return _reach("setuid_binary", attempt, "PermissionError")


@ATTACKS
def kernel_keyring(d: Data) -> Attack:
    attempt = ("libc = ctypes.CDLL(None, use_errno=True)\n"
               "if libc.syscall(248, b'user', b'utrs', b'secret', 6, -4) < 0:\n"
               "    raise PermissionError(ctypes.get_errno(), 'add_key')")
    return _reach("kernel_keyring", attempt, "PermissionError")


# ------------------------------------------------------------------- the table
@pytest.fixture(scope="module")
def data(humaneval: list[dict[str, Any]], mbpp: list[dict[str, Any]]) -> Data:
    return Data.of(humaneval, mbpp)


@pytest.fixture(scope="module")
def outcomes(pool: SandboxPool, data: Data) -> dict[str, Outcome]:
    return run_attacks(pool, ATTACKS.build(data))


@pytest.mark.parametrize("name", ATTACKS.ids())
def test_containment(name: str, outcomes: dict[str, Outcome], data: Data) -> None:
    check(ATTACKS.one(name, data), outcomes[name])


def test_sandbox_is_healthy_after_the_attacks(outcomes: dict[str, Outcome], pool: SandboxPool) -> None:
    """Every container still answers and runs nothing but the agent's processes."""
    assert_pool_clean(pool)
