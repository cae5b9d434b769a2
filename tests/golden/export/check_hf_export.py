"""By-hand check (not in ctest) that `llmprune export --format hf` folders load in transformers
and compute what llmprune computes on them. Run in a venv with torch and transformers:

    python3 check_hf_export.py BUILD/llmprune ../../../../shared/assets

For each asset checkpoint (and stories260K with --dtype-out bf16) the export is loaded with
AutoModelForCausalLM (float32 compute) and
  - its logits on the prompts of reference/<fam>/logits.json are compared with those references
    (llama.cpp's, printed %.6g; llmprune's golden logits test checks the same files), and
  - stories260K: HF-style perplexity over reference/stories260K/ppl_text.txt at 128-token windows
    (tokens from the export's own tokenizer, BOS first) against `llmprune eval` on the same
    folder (its protocol: non-overlapping windows, tail dropped, tokens 1..L-1 scored).

Nemotron-NAS: no DeciLM code is available offline, so the depth-pruned stories260K
(tests/golden/prune/plan_stories260K_drop_attn_1_mlp_3.json) exported as nemotron-nas is read
here with DeciLM's semantics as vLLM's nemotron_nas.py applies them (num_kv_heads =
num_attention_heads / n_heads_in_group; MLP width from ffn_mult by int(2 m hidden / 3) rounded
up to 256, else intermediate_size; no_op = sub-block absent). Every tensor must have the shape
those imply; since this model's remaining layers all share one shape, it then runs as a
LlamaForCausalLM whose no_op sub-blocks have all-zero weights (they add exactly 0 to the
residual), and its perplexity must equal `llmprune eval` on the pruned folder.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

CASES = [("stories260K-hf", "stories260K", ""), ("stories260K-hf", "stories260K", "bf16"),
         ("qwen2-tiny", "qwen2-tiny", ""), ("phi3-tiny", "phi3-tiny", ""),
         ("mistral-tiny", "mistral-tiny", "")]


def ppl(model, ids, window):
    n = len(ids) // window
    total, scored = 0.0, 0
    with torch.no_grad():
        for w in range(n):
            x = torch.tensor([ids[w * window:(w + 1) * window]])
            logp = torch.log_softmax(model(x).logits.double()[0, :-1], -1)
            total += -logp.gather(1, x[0, 1:, None]).sum().item()
            scored += window - 1
    return math.exp(total / scored)


def deci_width(ffn, hidden):
    if ffn.get("ffn_mult") is not None:
        n = int(2 * ffn["ffn_mult"] * hidden / 3)
        return n if n % 256 == 0 else n + 256 - n % 256
    return ffn["intermediate_size"]


def check_nemotron(binary, assets, work, text_file):
    plan = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "../prune/plan_stories260K_drop_attn_1_mlp_3.json")
    pruned, nas = f"{work}/depth", f"{work}/depth-nas"
    subprocess.run([binary, "-q", "prune", "depth", "--model", f"{assets}/models/stories260K-hf",
                    "--plan", plan, "--out", pruned, "--bundles-dir", f"{work}/depth-bundles",
                    "--no-pruned-ppl"], check=True, capture_output=True)
    subprocess.run([binary, "export", "--model", pruned, "--format", "nemotron-nas", "--out", nas],
                   check=True, capture_output=True)
    c = json.load(open(f"{nas}/config.json"))
    sd = load_file(f"{nas}/model.safetensors")
    heads, hidden = c["num_attention_heads"], c["hidden_size"]
    hd = c.get("head_dim") or hidden // heads
    kvs, widths, expected = set(), set(), {}
    for i, b in enumerate(c["block_configs"]):
        p = f"model.layers.{i}."
        if not b["attention"]["no_op"]:
            kv = heads // b["attention"]["n_heads_in_group"]
            kvs.add(kv)
            expected.update({p + "input_layernorm.weight": (hidden,),
                             p + "self_attn.q_proj.weight": (heads * hd, hidden),
                             p + "self_attn.k_proj.weight": (kv * hd, hidden),
                             p + "self_attn.v_proj.weight": (kv * hd, hidden),
                             p + "self_attn.o_proj.weight": (hidden, heads * hd)})
        if not b["ffn"]["no_op"]:
            w = deci_width(b["ffn"], hidden)
            widths.add(w)
            expected.update({p + "post_attention_layernorm.weight": (hidden,),
                             p + "mlp.gate_proj.weight": (w, hidden),
                             p + "mlp.up_proj.weight": (w, hidden),
                             p + "mlp.down_proj.weight": (hidden, w)})
    layer_tensors = {k: tuple(v.shape) for k, v in sd.items() if k.startswith("model.layers.")}
    assert layer_tensors == expected, "block_configs do not describe the tensors"
    assert len(kvs) == 1 and len(widths) == 1
    lc = {k: v for k, v in c.items() if k != "block_configs"}
    lc.update(model_type="llama", architectures=["LlamaForCausalLM"],
              num_key_value_heads=kvs.pop(), intermediate_size=widths.pop())
    m = LlamaForCausalLM(LlamaConfig(**lc)).eval()
    state = m.state_dict()
    for k in state:
        if k in sd:
            state[k] = sd[k]
        elif k.startswith("model.layers."):
            state[k] = torch.zeros_like(state[k])  # a no_op sub-block adds exactly 0
    m.load_state_dict(state)
    m.tie_weights()
    tok = AutoTokenizer.from_pretrained(nas)
    ids = tok(open(text_file, encoding="utf-8").read())["input_ids"]
    ours = ppl(m, ids, 128)
    rep = f"{work}/eval-depth.json"
    subprocess.run([binary, "eval", "--model", pruned, "-d", text_file, "--seq-len", "128",
                    "--report", rep], check=True, capture_output=True)
    theirs = json.load(open(rep))["ppl"]
    print(f"nemotron-nas depth-pruned stories260K: {len(expected)} layer tensors match "
          f"block_configs; W=128 ppl (DeciLM semantics in transformers) {ours:.10f}, "
          f"llmprune eval {theirs:.10f} (rel {abs(ours / theirs - 1):.2g})", flush=True)


def main():
    binary, assets = sys.argv[1], os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="check-hf-")
    text_file = f"{assets}/reference/stories260K/ppl_text.txt"
    for model, fam, dtype in CASES:
        out = f"{work}/{model}-{dtype or 'src'}"
        cmd = [binary, "export", "--model", f"{assets}/models/{model}", "--format", "hf",
               "--out", out] + (["--dtype-out", dtype] if dtype else [])
        subprocess.run(cmd, check=True, capture_output=True)
        m = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        ref = json.load(open(f"{assets}/reference/{fam}/logits.json"))
        worst = 0.0
        with torch.no_grad():
            for p in ref.get("sequences") or ref.get("prompts"):
                got = m(torch.tensor([p.get("ids") or p.get("tokens")])).logits[0]
                worst = max(worst, (got - torch.tensor(p["logits"])).abs().max().item())
        line = f"{model} {dtype or '(source dtype)'}: transformers logits max|diff| vs reference {worst:.3g}"
        if fam == "stories260K":
            tok = AutoTokenizer.from_pretrained(out)
            ids = tok(open(text_file, encoding="utf-8").read())["input_ids"]
            ours = ppl(m, ids, 128)
            rep = f"{work}/eval.json"
            subprocess.run([binary, "eval", "--model", out, "-d", text_file, "--seq-len", "128",
                            "--report", rep], check=True, capture_output=True)
            r = json.load(open(rep))
            theirs = r["perplexity"]["ppl"] if "perplexity" in r else r["ppl"]
            line += (f"; W=128 ppl transformers {ours:.10f} llmprune eval {theirs:.10f} "
                     f"(rel {abs(ours / theirs - 1):.2g}, {len(ids)} tokens)")
        print(line, flush=True)
    check_nemotron(binary, assets, work, text_file)


if __name__ == "__main__":
    main()
