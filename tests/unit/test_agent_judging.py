"""The agent's pure judging parts, on the host: comparisons, call values as JSON, the
records of processes that died, and where the tests' names come from."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import struct
import time

import pytest

from agent.compare import compare_text, compare_value, json_value
from agent.suite import Suite
from agent.verdicts import death, from_event


@pytest.mark.parametrize(
    ("got", "want", "mode", "ok"),
    [
        ("1 2\n", "1  2", "tokens", True),
        ("1 2\n", "1 2", "exact", False),
        ("0.3333333\n", "0.33333333", "float", True),
        ("0.34\n", "0.33", "float", False),
        ("2 1\n", "1 2", "apps", True),  # APPS's cascade compares token sets: lenient, compat only
        ("2 1\n", "1 2", "tokens", False),
    ],
)
def test_compare_text(got: str, want: str, mode: str, ok: bool) -> None:
    assert compare_text(got, want, mode) is ok


@pytest.mark.parametrize(
    ("got", "want", "mode", "ok"),
    [
        (True, 1, "tokens", False),  # a bool is not an int here
        (2, 2.0, "tokens", True),
        ([1, [2]], [1, [2]], "tokens", True),
        (0.1 + 0.2, 0.3, "float", True),
        (0.1 + 0.2, 0.3, "tokens", False),
        ([5], [[5]], "apps", True),  # APPS wraps some expected values in a list
        ({"a": 1}, {"a": 1, "b": 2}, "tokens", False),
    ],
)
def test_compare_value(got: object, want: object, mode: str, ok: bool) -> None:
    assert compare_value(got, want, mode) is ok


def test_json_value_is_as_the_expected_values_are_written() -> None:
    assert json_value((1, (2, 3))) == [1, [2, 3]]
    assert json_value({1: "a"}) == {"1": "a"}
    assert json_value(float("inf")) == {"__float__": "inf"}
    with pytest.raises(TypeError, match="set"):
        json_value({1, 2})


def _wstatus(*, code: int | None = None, sig: int | None = None) -> int:
    pid = os.fork()
    if pid == 0:
        if sig is not None:
            if sig != signal.SIGKILL:
                signal.signal(sig, signal.SIG_DFL)  # Python ignores SIGXFSZ and SIGPIPE
            os.kill(os.getpid(), sig)
        os._exit(code or 0)
    return os.waitpid(pid, 0)[1]


def test_death_names_what_ended_the_process() -> None:
    kw = {"timeout_s": 1.0, "oom": False, "over": False, "cap": 1024}
    assert death(_wstatus(sig=signal.SIGXCPU), cpu_s=1.0, **kw)[0] == "timeout"  # type: ignore[arg-type]
    assert death(_wstatus(sig=signal.SIGKILL), cpu_s=1.2, **kw)[0] == "timeout"  # type: ignore[arg-type]
    status, error = death(_wstatus(sig=signal.SIGSEGV), cpu_s=0.0, **kw)  # type: ignore[arg-type]
    assert (status, error["signal"]) == ("crash", signal.SIGSEGV)
    assert death(_wstatus(sig=signal.SIGKILL), cpu_s=0.0, **{**kw, "oom": True})[0] == "memory"  # type: ignore[arg-type]
    assert death(_wstatus(sig=signal.SIGXFSZ), cpu_s=0.0, **kw)[0] == "output_limit"  # type: ignore[arg-type]
    status, error = death(_wstatus(code=3), cpu_s=0.0, **kw)  # type: ignore[arg-type]
    assert (status, error["exit_code"]) == ("crash", 3)


def test_a_case_event_with_an_unknown_status_is_no_pass() -> None:
    assert from_event({"status": "pass", "time_ms": 1.5}, "", "")["status"] == "pass"
    assert from_event({"status": "PASS!"}, "", "")["status"] == "crash"
    assert from_event({"status": "gone"}, "", "")["status"] == "crash"


def _suite(cases: list[str], setup: str = "", entry: list[str] | None = None) -> Suite:
    return Suite.build({"sid": "s", "kind": "assert", "cases": [{"code": c} for c in cases], "setup": setup,
                        "entry_points": entry or []})


def test_names_the_cases_call_are_entry_points_not_builtins_the_program_shadows() -> None:
    suite = _suite(["assert abs(f(2) - 1.5) < 1e-9"])
    wanted, entry, shadowing = suite.wanted_names(set())
    assert "f" in entry and "abs" not in entry and "abs" in shadowing and "abs" in wanted


def test_a_builtin_name_is_the_entry_point_when_the_cases_call_nothing_else() -> None:
    wanted, entry, shadowing = _suite(["assert sum(10, 15) == 6"]).wanted_names(set())
    assert entry == set() and shadowing == {"sum"} and wanted == ["sum"]


def test_setup_definitions_and_prompt_helpers_stay_the_tests() -> None:
    setup = "def check(candidate):\n    assert poly([1], candidate([1])) == 0\n"
    suite = _suite(["check(find_zero)"], setup=setup, entry=["find_zero"])
    wanted, entry, _ = suite.wanted_names({"poly", "find_zero"})
    assert entry == {"find_zero"}
    assert "check" not in wanted and "poly" not in wanted


def test_the_cpu_clock_reads_its_process_through_one_descriptor_for_good() -> None:
    """H's clock of X: one ``stat`` descriptor for the clock's life (nothing opened per
    read), the kernel's count of the process's CPU, kept once the process is gone (a
    descriptor of a dead process reads nothing, whoever gets its pid), closed by ``close``."""
    from agent.watch import CpuClock, process_cpu_ms

    pid = os.fork()
    if pid == 0:  # burn ~0.3 s of CPU, then wait to be killed
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        time.sleep(60)
        os._exit(0)
    clock = CpuClock(pid)
    try:
        assert clock.fd >= 0
        time.sleep(0.05)
        opened = len(os.listdir("/proc/self/fd"))
        readings = []
        deadline = time.monotonic() + 5
        while (not readings or readings[-1] < 250) and time.monotonic() < deadline:
            readings.append(clock.ms())
            time.sleep(0.02)
        assert len(os.listdir("/proc/self/fd")) == opened
        assert readings == sorted(readings) and readings[-1] >= 250
        assert abs(clock.ms() - process_cpu_ms(pid)) < 50
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert clock.ms() == clock.last >= readings[-1]  # gone: the last count stays
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        fd = clock.fd
        clock.close()
    assert clock.fd == -1
    with pytest.raises(OSError):
        os.fstat(fd)


def _frame(payload: bytes) -> bytes:
    return struct.pack("!II", len(payload), 0) + payload


def test_a_channel_carries_what_it_sent_and_refuses_anything_but_one_json_value() -> None:
    """Frames between the agent's processes: what ``send`` wrote comes back equal (NaN,
    non-ASCII and lone surrogates included, and a blob beside it); a frame that is not
    exactly one JSON value (empty, padded, two values, bad UTF-8, broken JSON, too deep)
    is a ChannelError, never a value."""
    from agent.frames import Channel, ChannelError

    a, b = socket.socketpair()
    sender, receiver = Channel(a), Channel(b)
    try:
        messages = [{"op": "call", "a": [1, 2.5, None, True, "é\ud800", [[]], {}]}, [], 0, "x"]
        for message in messages:
            sender.send(message, blob=b"\x00code" if message == [] else b"")
        got = []
        for _ in messages:
            got.append((receiver.recv(), receiver.blob))
        assert got == [(m, b"\x00code" if m == [] else b"") for m in messages]
        sender.send({"v": float("nan")})
        value = receiver.recv()
        assert isinstance(value, dict) and math.isnan(value["v"])
        bad = [b"", b" 1", b"1 ", b"1 2", b"{} {}", b'"\xff"', b'{"a":', b"[" * 100_000 + b"]" * 100_000]
        for payload in bad:
            a.sendall(_frame(payload))
            with pytest.raises(ChannelError, match="not JSON"):
                receiver.recv()
        sender.send({"after": "the bad ones"})
        assert receiver.recv() == {"after": "the bad ones"}
    finally:
        sender.close()
        receiver.close()
