"""Reference numbers for tests/golden/prune (run outside the repo's build, in a venv with
torch and transformers; the numbers are stored in reference_transformers.json).

    python3 make_reference.py BUILD/llmprune ../../../../shared/assets OUT.json

1. Prunes stories260K with the fixed plan plan_stories260K_drop_2_3.json (layers 2 and 3) using
   llmprune, loads the result with transformers' AutoModelForCausalLM (a stock config: it must
   load there as is) and computes HF-style perplexity on the TinyStories text at 128-token
   windows.
2. For plan_stories260K_drop_attn_1_mlp_3.json (attention of layer 1, MLP of layer 3: a
   heterogeneous model transformers cannot load), runs the *source* model in transformers with
   those sub-blocks made pass-throughs (their forward returns zeros, so the residual add keeps
   the input) and computes the same perplexity.
Tokenization: transformers' AutoTokenizer on the source's tokenizer.json (one BOS at the start).
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


def ppl(model, ids, window):
    n = len(ids) // window
    total, scored = 0.0, 0
    with torch.no_grad():
        for w in range(n):
            x = torch.tensor([ids[w * window:(w + 1) * window]])
            logits = model(x).logits.double()
            logp = torch.log_softmax(logits[0, :-1], -1)
            total += -logp.gather(1, x[0, 1:, None]).sum().item()
            scored += window - 1
    return {"windows": n, "scored": scored, "nll": total, "ppl": math.exp(total / scored)}


def main():
    binary, assets, out = sys.argv[1:4]
    src = os.path.join(assets, "models/stories260K-hf")
    text = open(os.path.join(assets, "reference/stories260K/ppl_text.txt"), encoding="utf-8").read()
    tok = AutoTokenizer.from_pretrained(src)
    ids = tok(text)["input_ids"]
    result = {"producer": f"make_reference.py, transformers {transformers.__version__}, torch {torch.__version__}, float32",
              "text": "reference/stories260K/ppl_text.txt", "tokens": len(ids), "window": 128}
    with tempfile.TemporaryDirectory() as tmp:
        a = os.path.join(tmp, "A")
        subprocess.run([binary, "-q", "prune", "depth", "--model", src, "--plan",
                        os.path.join(HERE, "plan_stories260K_drop_2_3.json"), "--out", a,
                        "--bundles-dir", os.path.join(tmp, "bundles")], check=True)
        model = AutoModelForCausalLM.from_pretrained(a, torch_dtype=torch.float32).eval()
        assert model.config.num_hidden_layers == 3
        result["drop_layers_2_3"] = ppl(model, ids, 128)
    model = AutoModelForCausalLM.from_pretrained(src, torch_dtype=torch.float32).eval()
    layers = model.model.layers

    def zero_attn(module, args, kwargs, output):
        return (torch.zeros_like(output[0]),) + tuple(output[1:])

    def zero_mlp(module, args, output):
        return torch.zeros_like(output)

    layers[1].self_attn.register_forward_hook(zero_attn, with_kwargs=True)
    layers[3].mlp.register_forward_hook(zero_mlp)
    result["skip_attn_1_mlp_3"] = ppl(model, ids, 128)
    json.dump(result, open(out, "w"), indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
