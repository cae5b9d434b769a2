#!/usr/bin/env bash
# The hardening step of CI (docs/hardening.md): the parser unit tests (util, io, tokenizer,
# arch) built with AddressSanitizer + UndefinedBehaviorSanitizer (clang 14) in build-fuzz/,
# then each libFuzzer harness replays its regression inputs and fuzzes for FUZZ_SECONDS
# (default 30) from the seeds. Any sanitizer report fails the run.
# Needs the normal build (build/llmprune) for the CLI tests; run after scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD_DIR:-build-fuzz}
SUITES=(test_util test_io test_tokenizer test_arch)
HARNESSES=(safetensors_fuzz config_fuzz tokenizer_json_fuzz text_fuzz)

scripts/setup.sh --sanitizers
if [[ ! -f "$B/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-g" -DLLMPRUNE_FUZZ=ON >/dev/null
fi
nice -n 15 cmake --build "$B" -j "${JOBS:-$(nproc)}" --target "${SUITES[@]}" "${HARNESSES[@]}"

# LibTorch and libgomp are not instrumented; their one-time allocations at exit are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# tokenizer.model needs dlopen(RTLD_DEEPBIND), which ASan refuses: those tests run in the
# normal build only.
(cd "$B" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" -L unit \
   -E "${SANITIZE_EXCLUDE:-NotASentencePieceModel}")
FUZZ_SECONDS=${FUZZ_SECONDS:-30} FUZZ_BUILD_DIR="$B" scripts/fuzz.sh
