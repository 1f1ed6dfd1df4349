#!/usr/bin/env bash
# The full API fuzzing run (more than 20,000 generated cases; CI runs more than 2,000):
#
#   scripts/fuzz.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
export UTRS_SANDBOX_IMAGE="${UTRS_SANDBOX_IMAGE:-$(bash sandbox_images/build.sh --tag)}"
UTRS_FUZZ_EXAMPLES=${UTRS_FUZZ_EXAMPLES:-3000} UTRS_FUZZ_MIN_CASES=${UTRS_FUZZ_MIN_CASES:-20000} \
    .venv/bin/python -m pytest -q -p no:cacheprovider -s tests/e2e/test_api_fuzz.py "$@"
