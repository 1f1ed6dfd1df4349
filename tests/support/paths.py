"""Where the tests' files are."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Samples copied into the repository (tests/data/README.md says what and from where).
DATA = ROOT / "tests" / "data"
#: MBPP and APPS from the shared data folder (``../shared/data`` beside the checkout).
SHARED_DATA = Path(os.environ.get("UTRS_SHARED_DATA", ROOT.parent / "shared" / "data"))
