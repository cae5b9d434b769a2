#!/usr/bin/env bash
# Regenerates the depth-pruning table of docs/depth_pruning.md on the real stories260K model:
# every method at 1 and 2 removed layers (sub-block methods: 2 and 4 sub-blocks), calibrated on
# the C4 samples, evaluated on WikiText-2 (test, seq 256) and TinyStories (ppl_text, seq 128).
# Usage: scripts/depth_table.sh [OUT_DIR]   (needs ../shared/assets and a built ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/llmprune}
M=../shared/assets/models/stories260K-hf
TS=../shared/assets/reference/stories260K/ppl_text.txt
OUT=${1:-$(mktemp -d)}
CAL="--dataset c4 --nsamples 64 --seqlen 256 --batch-size 8 --seed 0"
ppl() { "$BIN" -q eval --model "$1" --dataset "$2" --seq-len "$3" | sed -E 's/.*PPL ([0-9.e+]+).*/\1/'; }
row() {  # name dir removed
  printf '| %s | %s | %s | %s |\n' "$1" "$3" "$(ppl "$2" wikitext2 256)" "$(ppl "$2" "$TS" 128)"
}
echo "| method | removed (original indices) | WikiText-2 PPL (seq 256) | TinyStories PPL (seq 128) |"
echo "|---|---|---|---|"
row "none (source)" "$M" "-"
for spec in "angular 1" "angular 2" "block-influence 1" "block-influence 2" \
            "block-influence-iterative 1" "block-influence-iterative 2" "sleb 1" "sleb 2" \
            "attn-drop 2" "attn-drop 4" "mlp-drop 2" "mlp-drop 4" "joint 2" "joint 4" \
            "sleb-sub-block 2" "sleb-sub-block 4"; do
  set -- $spec
  name=$1 n=$2 extra=""
  method=$name
  case $name in
    block-influence-iterative) method=block-influence extra="--iterative" ;;
    sleb-sub-block) method=sleb extra="--unit sub-block" ;;
  esac
  dir=$OUT/$name-$n
  "$BIN" -q prune depth --model "$M" --method "$method" $extra --n-drop "$n" $CAL \
    --out "$dir/A" --bundles-dir "$dir/bundles" --overwrite --report "$dir/report.json"
  removed=$(python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['plan']['units']; print(', '.join(('' if u['kind']=='layer' else u['kind']+' ')+str(u['layer']) for u in sorted(p,key=lambda u:(u['layer'],u['kind']))))" "$dir/report.json" 2>/dev/null || echo "?")
  row "$name" "$dir/A" "$removed"
done
echo
echo "Outputs in $OUT (the angular heatmap: $OUT/angular-2/A/analysis/angular_distance.svg)"
