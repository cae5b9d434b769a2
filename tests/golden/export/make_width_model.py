#!/usr/bin/env python3
"""Write a width-pruned stories260K (per-layer heads and MLP channels, plus one layer without
attention) in llmprune's layout: sliced tensors + config.json with an "llmprune" block. Used
to check the GGUF `deci` export in llama.cpp (docs/export.md); not part of ctest.

usage: make_width_model.py SRC_DIR OUT_DIR
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

# layer -> (kv groups kept, MLP channels kept); None removes the sub-block.
PLAN = {0: ([0, 1, 2, 3], 172), 1: ([0, 2, 3], 120), 2: ([1, 3], 172), 3: (None, 96),
        4: ([0, 1, 2, 3], 64)}


def main():
    src, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{src}/config.json"))
    w = load_file(f"{src}/model.safetensors")
    hd, nh, nkv = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    qpk = nh // nkv
    layers = []
    for l, (groups, ch) in PLAN.items():
        p = f"model.layers.{l}."
        if groups is None:
            for k in ["input_layernorm.weight"] + [f"self_attn.{m}_proj.weight" for m in "qkvo"]:
                del w[p + k]
            attn = None
        else:
            q_rows = torch.cat([torch.arange(h * hd, (h + 1) * hd)
                                for g in groups for h in range(g * qpk, (g + 1) * qpk)])
            kv_rows = torch.cat([torch.arange(g * hd, (g + 1) * hd) for g in groups])
            w[p + "self_attn.q_proj.weight"] = w[p + "self_attn.q_proj.weight"][q_rows].contiguous()
            w[p + "self_attn.o_proj.weight"] = w[p + "self_attn.o_proj.weight"][:, q_rows].contiguous()
            for m in "kv":
                w[p + f"self_attn.{m}_proj.weight"] = w[p + f"self_attn.{m}_proj.weight"][kv_rows].contiguous()
            attn = {"n_heads": len(groups) * qpk, "n_kv_heads": len(groups), "head_dim": hd}
        keep = torch.arange(ch)
        for m in ("gate", "up"):
            w[p + f"mlp.{m}_proj.weight"] = w[p + f"mlp.{m}_proj.weight"][keep].contiguous()
        w[p + "mlp.down_proj.weight"] = w[p + "mlp.down_proj.weight"][:, keep].contiguous()
        layers.append({"attn": attn, "mlp": {"intermediate_size": ch}})
    os.makedirs(out, exist_ok=True)
    cfg["llmprune"] = {"layers": layers}
    json.dump(cfg, open(f"{out}/config.json", "w"), indent=2)
    save_file(w, f"{out}/model.safetensors", metadata={"format": "pt"})
    for f in os.listdir(src):
        if f.startswith("tokenizer") or f in ("special_tokens_map.json", "generation_config.json"):
            shutil.copy(f"{src}/{f}", f"{out}/{f}")


if __name__ == "__main__":
    main()
