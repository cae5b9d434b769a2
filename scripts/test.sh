#!/usr/bin/env bash
# Set up, build and run the whole test suite: unit + golden through ctest, then the hardening
# step (scripts/sanitize.sh: ASan + UBSan parser tests, fuzz regressions and smoke runs).
# Extra args go to ctest and skip the hardening step, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@")
if (($# == 0)); then scripts/sanitize.sh; fi
