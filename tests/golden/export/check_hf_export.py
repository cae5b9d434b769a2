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
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

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
            for p in ref["prompts"]:
                got = m(torch.tensor([p["tokens"]])).logits[0]
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


if __name__ == "__main__":
    main()
