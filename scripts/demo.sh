#!/usr/bin/env bash
# Quick start: set up, build, and run the main job (inspect -> perplexity -> depth pruning ->
# perplexity of the pruned model -> restore -> GGUF export -> width pruning with perplexity
# before and after -> generation) on a built-in default: the real stories260K model when
# ../shared/assets is beside the repo, else a synthetic Llama-layout checkpoint made on the spot.
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
  CALIB=(--dataset c4 --nsamples 32 --seqlen 256 --batch-size 8)
else
  echo "demo: ../shared/assets not found; using a synthetic random model (its PPL is meaningless)" >&2
  MODEL=$OUT/synthetic-llama
  "$BIN" make-test-model --family llama --out "$MODEL" --overwrite --byte-tokenizer
  DATASET=README.md
  SEQ=64
  CALIB=(--dataset README.md --nsamples 16 --seqlen 64 --batch-size 8)
fi

"$BIN" inspect --model "$MODEL" --report "$OUT/inspect.json"
"$BIN" eval --model "$MODEL" --dataset "$DATASET" --seq-len "$SEQ" --report "$OUT/eval.json"
"$BIN" prune depth --model "$MODEL" --method angular --n-drop 1 "${CALIB[@]}" \
  --out "$OUT/A" --bundles-dir "$OUT/bundles" --overwrite --report "$OUT/prune.json"
"$BIN" eval --model "$OUT/A" --dataset "$DATASET" --seq-len "$SEQ" --report "$OUT/eval_pruned.json"
"$BIN" restore --model "$OUT/A" --bundle "$OUT/bundles/B" --bundle "$OUT/bundles/C" \
  --out "$OUT/full" --overwrite --report "$OUT/restore.json"
"$BIN" export --model "$OUT/A" --format gguf --out "$OUT/A.gguf" --overwrite \
  --report "$OUT/export.json"
"$BIN" prune width --model "$MODEL" --ratio 0.2 --importance taylor --selection global \
  "${CALIB[@]}" --out "$OUT/W" --overwrite --eval "$DATASET" --eval-seq-len "$SEQ" \
  --report "$OUT/prune_width.json"
"$BIN" generate --model "$OUT/A" --prompt "Once upon a time" --max-new-tokens 40 \
  --report "$OUT/generate.json"
echo "demo: reports in $OUT/; depth-pruned model $OUT/A (+ $OUT/A.gguf for llama.cpp)," \
  "width-pruned model $OUT/W (plots: $OUT/A/analysis/*.svg, $OUT/W/analysis/*.svg)" >&2
