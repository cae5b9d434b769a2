#!/usr/bin/env python3
"""Tokenize the assets' reference texts with llama.cpp (llama-cpp-python, vocab only) on
llmprune's GGUF exports and compare with tokenizers/*/reference_ids.json (the entries made by
llama.cpp c392e50 or sentencepiece). Not part of ctest; docs/export.md records the output.

usage: check_llamacpp_tokenizers.py ASSETS NAME=FILE.gguf ...   (NAME: gpt2, qwen2, llama3,
       smollm2, mistral/v0.1, mistral/v0.3, phi3)
"""
import json
import sys

from llama_cpp import Llama


def main():
    assets = sys.argv[1]
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        refs = json.load(open(f"{assets}/tokenizers/{name}/reference_ids.json"))
        ok = n = 0
        first_bad = None
        for r in refs:
            if not (r["source"].startswith("llama.cpp") or r["source"] == "sentencepiece"):
                continue
            n += 1
            got = llm.tokenize(r["text"].encode("utf-8"), add_bos=r["add_special_tokens"],
                               special=False)
            if got == r["ids"]:
                ok += 1
            elif first_bad is None:
                first_bad = (r["text"][:40], r["ids"][:10], got[:10])
        print(f"{name}: {ok}/{n} equal" + (f"; first miss {first_bad}" if first_bad else ""),
              flush=True)


if __name__ == "__main__":
    main()
