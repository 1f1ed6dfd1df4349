"""service/api/keys.py: the default bind is loopback; another address without keys refuses
to start (the API runs code); keys from a file are rotated without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.api.keys import ApiKeys, ExposureRefused, check_exposure
from service.settings import Settings
from tests.support.paths import ROOT


def test_default_bind_is_loopback() -> None:
    assert Settings().api_host == "127.0.0.1"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_may_be_open(host: str) -> None:
    check_exposure(host, Settings())


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.org"])
def test_another_address_needs_keys(host: str) -> None:
    with pytest.raises(ExposureRefused, match="without API keys"):
        check_exposure(host, Settings())
    check_exposure(host, Settings(api_keys=["k"]))
    check_exposure(host, Settings(api_open=True))


def test_utrs_api_refuses_to_start_on_an_open_address() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTRS_API")}
    proc = subprocess.run([sys.executable, "-m", "service.api", "--host", "0.0.0.0", "--port", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "without API keys" in proc.stderr and "UTRS_API_KEYS" in proc.stderr


def test_keys_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# rotation\nold\n")
    keys = ApiKeys(Settings(api_keys=["fixed"], api_keys_file=str(path)))
    assert keys.configured and keys.accepts("old") and keys.accepts("fixed") and not keys.accepts("new")
    path.write_text("new\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    keys._checked = 0.0  # skip the once-a-second throttle
    assert keys.accepts("new") and not keys.accepts("old") and keys.accepts("fixed")


def test_no_keys_is_open() -> None:
    assert not ApiKeys(Settings()).configured
