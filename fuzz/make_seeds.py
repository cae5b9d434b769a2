#!/usr/bin/env python3
"""Seed corpora for the fuzz harnesses, made from ../shared/assets (nothing downloaded).

Usage: make_seeds.py ASSETS_DIR OUT_DIR. Writes OUT_DIR/<harness>/<name> files:
  safetensors_fuzz     each model's real header with every tensor shrunk to 2 elements (valid,
                       small files that keep the real names, dtypes and metadata)
  config_fuzz          every model's config.json
  tokenizer_json_fuzz  small tokenizer.json files as they are, and each large one cut down to
                       its first 300 vocabulary entries and the merges among them (the real
                       normalizers, pre-tokenizers, decoders and post-processors kept)
  text_fuzz            the reference strings of every tokenizer and 2 KB slices of each text set
"""
import glob
import json
import os
import struct
import sys

ITEM = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
        "BOOL": 1}


def put(out, harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def safetensors_seed(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    out, offset = {}, 0
    for name, e in header.items():
        if name == "__metadata__":
            out[name] = e
            continue
        size = 2 * ITEM.get(e["dtype"], 4)
        out[name] = {"dtype": e["dtype"], "shape": [2], "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(out).encode()
    return struct.pack("<Q", len(text)) + text + bytes(offset)


def small_tokenizer(j, keep=300):
    model = j.get("model", {})
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        return j
    kept = {t: i for t, i in vocab.items() if isinstance(i, int) and i < keep}
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in kept and b in kept and a + b in kept:
            merges.append(m)
    model["vocab"], model["merges"] = kept, merges
    j["added_tokens"] = [t for t in j.get("added_tokens", []) if t.get("id", 0) < keep]
    return j


def main():
    assets, out = sys.argv[1], sys.argv[2]
    for p in sorted(glob.glob(os.path.join(assets, "models/*/model.safetensors"))):
        put(out, "safetensors_fuzz", p.split("/")[-2], safetensors_seed(p))
    for p in sorted(glob.glob(os.path.join(assets, "models/*/config.json"))):
        put(out, "config_fuzz", p.split("/")[-2], open(p, "rb").read())
    for p in sorted(glob.glob(os.path.join(assets, "*/*/tokenizer.json"))):
        name = p.split("/")[-2]
        raw = open(p, "rb").read()
        if len(raw) > 64 << 10:
            raw = json.dumps(small_tokenizer(json.loads(raw)), ensure_ascii=False).encode()
        put(out, "tokenizer_json_fuzz", name, raw)
    k = 0
    for p in sorted(glob.glob(os.path.join(assets, "tokenizers/*/reference_ids.json"))):
        for case in json.load(open(p, encoding="utf-8"))[:200]:
            put(out, "text_fuzz", "ref%05d" % k, case["text"])
            k += 1
    for p in sorted(glob.glob(os.path.join(assets, "data/*/*.txt"))):
        raw = open(p, "rb").read()
        for i in range(0, min(len(raw), 20 << 10), 2048):
            put(out, "text_fuzz", "%s.%d" % (os.path.basename(p), i), raw[i:i + 2048])


if __name__ == "__main__":
    main()
