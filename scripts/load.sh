#!/usr/bin/env bash
# The full load test (20,000 programs from 8 keys; CI runs 3,000) and the fault tests:
#
#   scripts/load.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
export UTRS_SANDBOX_IMAGE="${UTRS_SANDBOX_IMAGE:-$(bash sandbox_images/build.sh --tag)}"
UTRS_LOAD_BAR=1 UTRS_LOAD_PROGRAMS=${UTRS_LOAD_PROGRAMS:-20000} .venv/bin/python -m pytest -q -p no:cacheprovider -s tests/load "$@"
