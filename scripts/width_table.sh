#!/usr/bin/env bash
# Regenerates the width-pruning table of docs/width_pruning.md on the real stories260K model:
# {magnitude, wanda, taylor, taylor2} x {uniform, global, hgsp} at 10 / 20 / 30 %, calibrated on
# the C4 samples (64 windows of 256 tokens, seed 0), evaluated on WikiText-2 (test, seq 256)
# and TinyStories (reference ppl_text, seq 128) with `llmprune eval` (batch 32).
# Usage: scripts/width_table.sh [OUT_DIR]   (needs ../shared/assets and a built ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/llmprune}
M=../shared/assets/models/stories260K-hf
TS=../shared/assets/reference/stories260K/ppl_text.txt
OUT=${1:-$(mktemp -d)}
CAL="--dataset c4 --nsamples 64 --seqlen 256 --batch-size 8 --gradient-batch-size 8 --seed 0"
ppl() { "$BIN" -q eval --model "$1" --dataset "$2" --seq-len "$3" --batch-size 32 |
        sed -E 's/.*PPL ([0-9.e+]+).*/\1/'; }
echo "| importance | selection | ratio | removed / prunable params | WikiText-2 PPL (seq 256) | TinyStories PPL (seq 128) |"
echo "|---|---|---|---|---|---|"
echo "| none (source) | - | 0 | - | $(ppl "$M" wikitext2 256) | $(ppl "$M" "$TS" 128) |"
for imp in magnitude wanda taylor taylor2; do
  for sel in uniform global hgsp; do
    for ratio in 0.1 0.2 0.3; do
      dir=$OUT/$imp-$sel-$ratio
      "$BIN" -q prune width --model "$M" --importance "$imp" --selection "$sel" --ratio "$ratio" \
        $CAL --out "$dir" --overwrite --report "$dir.json"
      removed=$(python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['analysis']; print('%d / %d' % (a['removed_parameters'], a['prunable_parameters']))" "$dir.json")
      echo "| $imp | $sel | $ratio | $removed | $(ppl "$dir" wikitext2 256) | $(ppl "$dir" "$TS" 128) |"
    done
  done
done
echo
echo "Outputs in $OUT"
