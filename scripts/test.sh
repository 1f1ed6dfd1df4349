#!/usr/bin/env bash
# The test command: install and start everything, lint, type-check, run every test.
#
#   scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] ruff" >&2
.venv/bin/ruff check service client trainer_example tests bench sandbox_images examples
echo "[test] mypy (strict)" >&2
.venv/bin/mypy
(cd sandbox_images/python && ../../.venv/bin/mypy --strict --python-version 3.11 --cache-dir ../../.mypy_cache -p agent)  # the agent
echo "[test] pytest" >&2
# The image this checkout's sandbox_images/ builds, by its content tag (not :latest, which
# another checkout on the same engine may have moved).
export UTRS_SANDBOX_IMAGE="${UTRS_SANDBOX_IMAGE:-$(bash sandbox_images/build.sh --tag)}"
UTRS_STRICT_SKIPS=1 DS_ACCELERATOR=cpu .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
