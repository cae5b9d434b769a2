"""Reference numbers for the width-pruning golden test (width_golden_test.cpp); run in a venv
with torch and transformers, outside the build; the numbers go to reference_width.json.

    python3 make_width_reference.py BUILD/llmprune ../../../../shared/assets OUT.json

For each hand-made plan beside this file (width_*.json), the *source* checkpoint is run in
transformers (float32) with the plan's groups zeroed, written here from the definitions and
not from llmprune's code: KV group g = q_proj rows [g*G*hd, (g+1)*G*hd) (G = heads / kv heads),
k_proj and v_proj rows [g*hd, (g+1)*hd) (biases too), o_proj columns like q; query head h =
q rows and o columns [h*hd, (h+1)*hd); MLP channel i = gate/up row i (phi3: gate_up rows i and
I + i), down column i; hidden channel c = embedding column c, o_proj and down_proj row c in
every layer (the residual channel stays 0; the norms then see it as 0, which is what the pruned
model's compensated norms reproduce); an "mlp" unit zeroes the whole down_proj. Phi-3's
fused qkv_proj rows are [q | k | v]. HF-style perplexity on reference/stories260K/ppl_text.txt
at 128-token windows. Tokenization: the three checkpoints carry stories260K's tokenizer files,
but AutoTokenizer picks a Qwen2 tokenizer class for qwen2-tiny (18045 ids instead of the 15537
of reference/stories260K/ppl_w128.json), so stories260K's AutoTokenizer is used for all.
The uniform and hidden stories260K plans are also pruned by llmprune and loaded as is by
AutoModelForCausalLM (stock config): their perplexity must equal the masked source's.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [("stories260K-hf", "width_stories260K_uniform.json"),
         ("stories260K-hf", "width_stories260K_mixed.json"),
         ("stories260K-hf", "width_stories260K_hidden.json"),
         ("qwen2-tiny", "width_qwen2-tiny.json"),
         ("phi3-tiny", "width_phi3-tiny.json")]


def ppl(model, ids, window):
    n = len(ids) // window
    total, scored = 0.0, 0
    with torch.no_grad():
        for w in range(n):
            x = torch.tensor([ids[w * window:(w + 1) * window]])
            logp = torch.log_softmax(model(x).logits.double()[0, :-1], -1)
            total += -logp.gather(1, x[0, 1:, None]).sum().item()
            scored += window - 1
    return {"windows": n, "scored": scored, "nll": total, "ppl": math.exp(total / scored)}


def rows(t, lo, hi):
    t.data[lo:hi] = 0


def mask(model, plan):
    cfg = model.config
    H, KV = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // H
    G = H // KV
    for e in plan["width"]:
        layer = model.model.layers[e["layer"]]
        at, mlp = layer.self_attn, layer.mlp
        fused = hasattr(at, "qkv_proj")
        q_parts = [(at.qkv_proj if fused else at.q_proj, 0)]
        k_part = (at.qkv_proj, H * hd) if fused else (at.k_proj, 0)
        v_part = (at.qkv_proj, (H + KV) * hd) if fused else (at.v_proj, 0)

        def zero_rows(mod, base, lo, hi):
            rows(mod.weight, base + lo, base + hi)
            if mod.bias is not None:
                rows(mod.bias, base + lo, base + hi)

        heads = set(e.get("q_heads", []))
        for g in e.get("kv_groups", []):
            heads |= set(range(g * G, (g + 1) * G))
            for mod, base in (k_part, v_part):
                zero_rows(mod, base, g * hd, (g + 1) * hd)
        for h in heads:
            for mod, base in q_parts:
                zero_rows(mod, base, h * hd, (h + 1) * hd)
            at.o_proj.weight.data[:, h * hd:(h + 1) * hd] = 0
        I = cfg.intermediate_size
        for i in e.get("channels", []):
            if hasattr(mlp, "gate_up_proj"):
                rows(mlp.gate_up_proj.weight, i, i + 1)
                rows(mlp.gate_up_proj.weight, I + i, I + i + 1)
            else:
                rows(mlp.gate_proj.weight, i, i + 1)
                rows(mlp.up_proj.weight, i, i + 1)
            mlp.down_proj.weight.data[:, i] = 0
    for c in plan.get("hidden", []):
        model.model.embed_tokens.weight.data[:, c] = 0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.data[c, :] = 0
            layer.mlp.down_proj.weight.data[c, :] = 0
    for u in plan["units"]:
        assert u["kind"] == "mlp"
        model.model.layers[u["layer"]].mlp.down_proj.weight.data.zero_()


def main():
    binary, assets, out = sys.argv[1:4]
    text = open(os.path.join(assets, "reference/stories260K/ppl_text.txt"), encoding="utf-8").read()
    result = {"producer": f"make_width_reference.py, transformers {transformers.__version__}, "
                          f"torch {torch.__version__}, float32",
              "text": "reference/stories260K/ppl_text.txt", "window": 128}
    for name, plan_file in CASES:
        src = os.path.join(assets, "models", name)
        ids = AutoTokenizer.from_pretrained(os.path.join(assets, "models/stories260K-hf"))(text)["input_ids"]
        assert len(ids) == 15537
        plan = json.load(open(os.path.join(HERE, plan_file)))
        model = AutoModelForCausalLM.from_pretrained(src, torch_dtype=torch.float32).eval()
        mask(model, plan)
        result[plan_file] = ppl(model, ids, 128)
        if plan_file in ("width_stories260K_uniform.json", "width_stories260K_hidden.json"):
            with tempfile.TemporaryDirectory() as tmp:
                o = os.path.join(tmp, "out")
                subprocess.run([binary, "-q", "prune", "width", "--model", src, "--plan",
                                os.path.join(HERE, plan_file), "--out", o], check=True)
                pruned = AutoModelForCausalLM.from_pretrained(o, torch_dtype=torch.float32).eval()
                c = pruned.config
                result[plan_file]["loaded_pruned"] = dict(
                    ppl(pruned, ids, 128), num_attention_heads=c.num_attention_heads,
                    num_key_value_heads=c.num_key_value_heads, intermediate_size=c.intermediate_size,
                    hidden_size=c.hidden_size, rms_norm_eps=c.rms_norm_eps)
    json.dump(result, open(out, "w"), indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
