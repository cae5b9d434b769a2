#!/usr/bin/env bash
# Build the libFuzzer harnesses (fuzz/*.cpp; clang 14, ASan + UBSan) into build-fuzz/ and run
# each for MINUTES (default 1), seeded from ../shared/assets (fuzz/make_seeds.py) plus the
# committed regression inputs (fuzz/regressions/<harness>/). A crash, sanitizer report, leak or
# hang (> 10 s per input) stops that harness and leaves the input in build-fuzz/crashes/:
# fix it and copy the input to fuzz/regressions/<harness>/.
#   scripts/fuzz.sh [MINUTES]           FUZZ_SECONDS=30 overrides (CI smoke runs)
#   FUZZ_ONLY="safetensors_fuzz" ...    a subset of the harnesses
# Prints executions and coverage per harness (the figures in docs/hardening.md).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-1}
SECS=${FUZZ_SECONDS:-$((MINUTES * 60))}
HARNESSES=(${FUZZ_ONLY:-safetensors_fuzz gguf_fuzz config_fuzz tokenizer_json_fuzz text_fuzz})
B=${FUZZ_BUILD_DIR:-build-fuzz}
ASSETS=${LLMPRUNE_ASSETS:-$(cd .. && pwd)/shared/assets}

scripts/setup.sh --sanitizers
if [[ ! -f "$B/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-g" -DLLMPRUNE_FUZZ=ON >/dev/null
fi
nice -n 15 cmake --build "$B" -j "${JOBS:-$(nproc)}" --target "${HARNESSES[@]}"

mkdir -p "$B/seeds" "$B/corpus" "$B/crashes" "$B/logs"
if [[ -d "$ASSETS" ]]; then python3 fuzz/make_seeds.py "$ASSETS" "$B/seeds"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-20s %12s %8s %8s %s\n' harness executions cov ft result
for h in "${HARNESSES[@]}"; do
  mkdir -p "$B/corpus/$h" "$B/seeds/$h" "fuzz/regressions/$h"
  log="$B/logs/$h.log"
  # The regression inputs first, each once: they must pass before new inputs are searched.
  if compgen -G "fuzz/regressions/$h/*" >/dev/null; then
    if ! "$B/fuzz/$h" -timeout=10 -rss_limit_mb=4096 fuzz/regressions/$h/* >"$log.regress" 2>&1; then
      echo "$h: a regression input fails (see $log.regress)" >&2
      status=1
      continue
    fi
  fi
  result=ok
  "$B/fuzz/$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$B/crashes/$h-" \
    "$B/corpus/$h" "$B/seeds/$h" "fuzz/regressions/$h" >"$log" 2>&1 || { result="FAILED (see $log)"; status=1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
  printf '%-20s %12s %8s %8s %s\n' "$h" "$execs" "$cov" "$ft" "$result"
done
exit $status
