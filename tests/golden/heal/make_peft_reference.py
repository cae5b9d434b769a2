"""Reference numbers for the healing golden test (heal_golden_test.cpp): PEFT applies the
committed adapter (stories260K_lora/, made by `llmprune heal`, see below) to stories260K in
transformers (float32), and the logits of a fixed token sequence go to reference_peft.json.
Also checks llmprune's merged folder (`heal --merged-out`) loads in AutoModelForCausalLM and
gives the same logits, and PEFT's own merge_and_unload() likewise (numbers recorded).

    python3 make_peft_reference.py ../../../../shared/assets MERGED_DIR OUT.json

The adapter was made with (from the repository root):
    build/llmprune heal --model ../shared/assets/models/stories260K-hf \
      --data ../shared/assets/data/tinystories/TinyStories-valid.sample.txt \
      --out tests/golden/heal/stories260K_lora --merged-out /tmp/merged --targets all \
      --lora-r 4 --lora-alpha 8 --lr 1e-2 --max-steps 8 --seq-len 64 --batch-size 2 --seed 3
"""
import json
import os
import sys

import peft
import torch
import transformers
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    assets, merged_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    base_dir = os.path.join(assets, "models", "stories260K-hf")
    tok = AutoTokenizer.from_pretrained(base_dir)
    text = open(os.path.join(assets, "data", "tinystories",
                             "TinyStories-valid.sample.txt")).read()[:400]
    ids = tok(text)["input_ids"][:24]
    x = torch.tensor([ids])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        bare = base(x).logits[0]
        model = PeftModel.from_pretrained(base, os.path.join(HERE, "stories260K_lora"))
        model.eval()
        lora = model(x).logits[0]
        ours = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
        merged = ours(x).logits[0]
        peft_merged = model.merge_and_unload()(x).logits[0]
    ref = {
        "peft_version": peft.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "ids": ids,
        "logits": [[round(float(v), 7) for v in row] for row in lora[:8]],
        "positions": 8,
        "adapter_vs_bare_max_abs_diff": float((lora - bare).abs().max()),
        "llmprune_merged_vs_peft_max_abs_diff": float((merged - lora).abs().max()),
        "peft_merged_vs_peft_max_abs_diff": float((peft_merged - lora).abs().max()),
        "llmprune_merged_vs_peft_merged_max_abs_diff": float((merged - peft_merged).abs().max()),
    }
    with open(out, "w") as f:
        json.dump(ref, f)
    print({k: v for k, v in ref.items() if k not in ("logits", "ids")})


if __name__ == "__main__":
    main()
