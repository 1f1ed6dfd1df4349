"""The API process tunes its garbage collector once started (service.runtime): what was
alive at start-up is frozen out of the collector's reach and a pass starts after
GEN0_THRESHOLD allocations. Checked in a fresh interpreter (the tuning is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.runtime import GEN0_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import asyncio, gc, json
from service.api.app import create_app
from service.settings import Settings

async def main():
    before = (gc.get_threshold()[0], gc.get_freeze_count())
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app):
        during = (gc.get_threshold()[0], gc.get_freeze_count())
    print(json.dumps({"before": before, "during": during}))

asyncio.run(main())
"""


def test_the_api_freezes_its_start_up_heap_and_collects_less_often() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["before"] == [700, 0]  # the interpreter's defaults
    threshold, frozen = got["during"]
    assert threshold == GEN0_THRESHOLD
    assert frozen > 10_000  # FastAPI, pydantic's schemas, the app: out of every pass's reach
