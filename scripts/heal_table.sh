#!/usr/bin/env bash
# Regenerates the recovery table of docs/healing.md on the real stories260K model: pruned by
# one layer (depth, angular) and by 20 % (width, taylor / uniform), each healed with LoRA and
# with full fine-tuning on the first two thirds of the TinyStories sample (lines 1-13 of 19)
# and evaluated on the last third (lines 14-19; disjoint), seq 128. Loss curves are copied to
# docs/heal_<case>.svg.
# Usage: scripts/heal_table.sh [OUT_DIR]   (needs ../shared/assets and a built ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/llmprune}
M=../shared/assets/models/stories260K-hf
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
TS=../shared/assets/data/tinystories/TinyStories-valid.sample.txt
head -n 13 "$TS" > "$OUT/train.txt"
tail -n +14 "$TS" > "$OUT/eval.txt"
CAL="--dataset c4 --nsamples 64 --seqlen 256 --batch-size 8 --seed 0"
HEAL="--data $OUT/train.txt --seq-len 128 --batch-size 4 --epochs 4 --warmup-steps 4 --seed 0"
LORA="--method lora --targets all --lora-r 8 --lora-alpha 16 --lr 5e-3"
FULL="--method full --lr 1e-3"
ppl() { "$BIN" -q eval --model "$1" --dataset "$OUT/eval.txt" --seq-len 128 ${2:-} |
        sed -E 's/.*PPL ([0-9.e+]+).*/\1/'; }
"$BIN" -q prune depth --model "$M" --method angular --n-drop 1 $CAL --out "$OUT/depth" \
  --bundles-dir "$OUT/depth-bundles" --overwrite
"$BIN" -q prune width --model "$M" --importance taylor --selection uniform --ratio 0.2 $CAL \
  --out "$OUT/width" --overwrite
base=$(ppl "$M")
echo "| pruning | PPL before pruning | after pruning | after LoRA | after full FT |"
echo "|---|---|---|---|---|"
for c in depth width; do
  "$BIN" -q heal --model "$OUT/$c" $HEAL $LORA --out "$OUT/$c-lora" --overwrite \
    --report "$OUT/$c-lora.json"
  "$BIN" -q heal --model "$OUT/$c" $HEAL $FULL --out "$OUT/$c-full" --overwrite \
    --loss-svg "$OUT/$c-full.svg" --report "$OUT/$c-full.json"
  cp "$OUT/$c-lora/loss_curve.svg" "docs/heal_$c-lora.svg"
  cp "$OUT/$c-full.svg" "docs/heal_$c-full.svg"
  label=$([ $c = depth ] && echo "depth, 1 of 5 layers (angular)" || echo "width 20 % (taylor, uniform)")
  echo "| $label | $base | $(ppl "$OUT/$c") | $(ppl "$OUT/$c" "--adapter $OUT/$c-lora") | $(ppl "$OUT/$c-full") |"
done
echo
echo "Outputs in $OUT"
