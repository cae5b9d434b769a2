#!/usr/bin/env bash
# Perplexity cost of --weights q8_0 (docs/benchmarks.md): every model in ../shared/assets,
# on the stories260K reference text at --seq-len 128, native vs Q8_0 weights, f32 compute.
# Usage: scripts/q8_ppl_table.sh [LLMPRUNE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/llmprune}
ASSETS=../shared/assets
TEXT=$ASSETS/reference/stories260K/ppl_text.txt
ppl() { "$BIN" eval --model "$1" --dataset "$TEXT" --seq-len 128 --weights "$2" 2>/dev/null |
          sed -E 's/.*PPL ([0-9.]+).*/\1/'; }
echo "| model | linear maps on Q8_0 | PPL native | PPL q8_0 | change |"
echo "|---|---|---|---|---|"
for m in stories260K-hf mistral-tiny qwen2-tiny phi3-tiny opt-tiny; do
  dir=$ASSETS/models/$m
  maps=$("$BIN" eval --model "$dir" --dataset "$TEXT" --seq-len 128 --max-windows 1 \
           --weights q8_0 2>&1 >/dev/null | sed -nE 's/.*Q8_0 decode weights: ([0-9]+) linear maps.*/\1/p')
  a=$(ppl "$dir" native)
  b=$(ppl "$dir" q8_0)
  echo "| $m | $maps | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%+.3f %%", 100*(b/a-1)}') |"
done
