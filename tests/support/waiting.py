"""Free ports and polling, for tests that start servers."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

__all__ = ["free_port", "wait_until"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout_s: float, what: str, every_s: float = 0.05) -> None:
    """Poll ``check()`` until it is truthy; fail the test after ``timeout_s``."""
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")
