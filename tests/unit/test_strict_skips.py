"""tests/support/strict.py: with UTRS_STRICT_SKIPS=1 a skip is a failure, at run time and at
collection (the rest of the suite still runs); without it a skip is a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT
from tests.support.strict import ENV


def _pytest(folder: Path, *, strict: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV: "1" if strict else "0"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.strict",
               "-c", str(folder / "pytest.ini"), "--rootdir", str(folder), str(folder)]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_skips_fail_only_in_strict_mode(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_missing.py").write_text("import pytest\npytest.importorskip('utrs_no_such_module')\n")
    (tmp_path / "test_mixed.py").write_text(
        "import pytest\n\ndef test_ok():\n    pass\n\ndef test_skips():\n    pytest.skip('no engine')\n\n"
        "@pytest.mark.xfail\ndef test_expected():\n    assert False\n"
    )
    lenient = _pytest(tmp_path, strict=False)
    assert lenient.returncode == 0, lenient.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in lenient.stdout
    strict = _pytest(tmp_path, strict=True)
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in strict.stdout
    assert "no engine" in strict.stdout and "utrs_no_such_module" in strict.stdout
    assert "skipped at collection" in strict.stdout
