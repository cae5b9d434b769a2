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
  gguf_fuzz            each asset GGUF with its arrays cut to 8 items and every tensor shrunk
                       to one row of one block (valid, small files with the real keys and types)
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


GGUF_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q",
               12: "d"}
GGUF_BLOCK = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}


def gguf_seed(path):
    raw = open(path, "rb").read()
    pos = [24]

    def take(fmt):
        v = struct.unpack_from("<" + fmt, raw, pos[0])
        pos[0] += struct.calcsize("<" + fmt)
        return v[0]

    def value(t):
        start = pos[0]
        if t == 8:
            pos[0] += 8 + take("Q")
            return raw[start:pos[0]]
        if t == 9:
            et, n = take("I"), take("Q")
            items = [value(et) for _ in range(n)][:8]
            return struct.pack("<IQ", et, len(items)) + b"".join(items)
        take(GGUF_SCALAR[t])
        return raw[start:pos[0]]

    n_tensors, n_kv = struct.unpack_from("<QQ", raw, 8)
    kvs = []
    for _ in range(n_kv):
        key = value(8)
        t = take("I")
        kvs.append(key + struct.pack("<I", t) + value(t))
    infos, offset = [], 0
    for _ in range(n_tensors):
        name = value(8)
        n_dims = take("I")
        for _ in range(n_dims):
            take("Q")
        t = take("I")
        take("Q")
        block, nbytes = GGUF_BLOCK[t]
        infos.append(name + struct.pack("<IQIQ", 1, block, t, offset))
        offset += (nbytes + 31) // 32 * 32
    head = raw[:8] + struct.pack("<QQ", n_tensors, n_kv) + b"".join(kvs) + b"".join(infos)
    head += b"\0" * (-len(head) % 32)
    return head + b"\x01" * offset


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
    for p in sorted(glob.glob(os.path.join(assets, "gguf/*.gguf"))):
        put(out, "gguf_fuzz", os.path.basename(p), gguf_seed(p))
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
