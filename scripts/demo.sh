#!/usr/bin/env bash
# Quick start: set up, build, and run the main job (inspect -> perplexity -> generation) on a
# built-in default: the real stories260K model when ../shared/assets is beside the repo,
# else a synthetic Llama-layout checkpoint made on the spot.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${BUILD_DIR:-build}/llmprune
OUT=${DEMO_OUT:-demo-out}
mkdir -p "$OUT"

ASSETS=../shared/assets
if [[ -d $ASSETS/models/stories260K-hf ]]; then
  MODEL=$ASSETS/models/stories260K-hf
  DATASET=$ASSETS/reference/stories260K/ppl_text.txt   # llama.cpp: PPL 5.978406 at W=128
  SEQ=128
else
  echo "demo: ../shared/assets not found; using a synthetic random model (its PPL is meaningless)" >&2
  MODEL=$OUT/synthetic-llama
  "$BIN" make-test-model --family llama --out "$MODEL" --overwrite --byte-tokenizer
  DATASET=README.md
  SEQ=64
fi

"$BIN" inspect --model "$MODEL" --report "$OUT/inspect.json"
"$BIN" eval --model "$MODEL" --dataset "$DATASET" --seq-len "$SEQ" --report "$OUT/eval.json"
"$BIN" generate --model "$MODEL" --prompt "Once upon a time" --max-new-tokens 40 \
  --report "$OUT/generate.json"
echo "demo: reports in $OUT/" >&2
