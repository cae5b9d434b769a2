#!/usr/bin/env python3
"""Load llmprune's GGUF exports in llama.cpp (through llama-cpp-python) and compare with
../shared/assets/reference: logits (max |diff|), HF-style perplexity, tokenization.
Not part of ctest (CI has no llama.cpp); docs/export.md records what it printed.

usage: check_llamacpp.py ASSETS FAMILY=FILE.gguf [...]   (FAMILY: stories260K, qwen2-tiny, ...)
       check_llamacpp.py ASSETS --ppl-only W FILE.gguf     (HF-style PPL of any model)
"""
import json
import math
import sys

import numpy as np
from llama_cpp import Llama, llama_cpp


def load(path, n_ctx=256):
    # F32 KV cache (type 0), one thread, every position's logits.
    return Llama(model_path=path, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=1,
                 logits_all=True, verbose=False, type_k=0, type_v=0, flash_attn=False)


def logits_of(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float64)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ppl(llm, ids, w):
    nll, n = 0.0, 0
    for i in range(len(ids) // w):
        win = ids[i * w:(i + 1) * w]
        lp = log_softmax(logits_of(llm, win))
        nll -= sum(lp[t, win[t + 1]] for t in range(w - 1))
        n += w - 1
    return math.exp(nll / n), n


def main():
    assets = sys.argv[1]
    ref_tok = json.load(open(f"{assets}/reference/stories260K/ppl_w128.json"))
    text = open(f"{assets}/reference/stories260K/ppl_text.txt", encoding="utf-8").read()
    if sys.argv[2] == "--ppl-only":
        w, path = int(sys.argv[3]), sys.argv[4]
        llm = load(path, n_ctx=max(w, 64))
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)
        p, n = ppl(llm, ids, w)
        print(f"{path}: W={w} tokens={len(ids)} scored={n} ppl={p:.6f}")
        return
    for arg in sys.argv[2:]:
        fam, path = arg.split("=", 1)
        ref = json.load(open(f"{assets}/reference/{fam}/logits.json"))
        llm = load(path)
        seqs = ref.get("sequences") or ref.get("prompts")
        worst = 0.0
        for s in seqs:
            ids = s.get("ids") or s.get("tokens")
            got = logits_of(llm, ids)
            worst = max(worst, float(np.abs(got - np.array(s["logits"])).max()))
        line = f"{fam}: {path}: logits max|diff| {worst:.3g} over {len(seqs)} sequences"
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)
        line += f"; ppl_text tokens {len(ids)} (reference 15537, equal ids: {ids == ids_ref(assets)})"
        for w in (64, 128):
            r = json.load(open(f"{assets}/reference/{fam}/ppl_w{w}.json"))
            p, n = ppl(llm, ids_ref(assets), w)
            line += f"; W={w} ppl {p:.6f} (reference {r['ppl']:.6f}, rel {abs(p / r['ppl'] - 1):.2g})"
        if fam == "stories260K":
            tk = json.load(open(f"{assets}/reference/stories260K/tokenize.json"))
            ok = sum(llm.tokenize(p["text"].encode(), add_bos=True, special=False) == p["ids_with_bos"]
                     for p in tk["prompts"])
            line += f"; tokenize.json prompts equal {ok}/{len(tk['prompts'])}"
        print(line, flush=True)


_IDS = None


def ids_ref(assets):
    # The reference tokenization: llama.cpp on the asset GGUF (same for every family).
    global _IDS
    if _IDS is None:
        llm = load(f"{assets}/gguf/stories260K-hf-f32.gguf")
        text = open(f"{assets}/reference/stories260K/ppl_text.txt", encoding="utf-8").read()
        _IDS = llm.tokenize(text.encode(), add_bos=True, special=False)
    return _IDS


if __name__ == "__main__":
    main()
