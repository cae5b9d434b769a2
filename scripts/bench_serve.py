#!/usr/bin/env python3
"""Staged-serving benchmark (docs/benchmarks.md), standard library only.

  scripts/bench_serve.py --bin build/llmprune --work /tmp/bench-serve [--tinyllama]

1. stories260K (../shared/assets/models/stories260K-hf) pruned by depth (angular, 2 of 5 layers;
   B and C one layer each); with --tinyllama also a TinyLlama-1.1B-shaped random bf16 model
   (22 layers, 6 in bundles; Mistral v0.1's 32000-token tokenizer from ../shared/assets).
2. `llmprune route --force-stage S` for each stage: mean decode tokens/s; then FULL with
   --speculative K: tokens/s and acceptance (random weights: acceptance means nothing there).
3. `llmprune serve` on a free port: requests/s and p50 / p99 latency at 1, 4 and 16 clients.
Prints a markdown table and writes bench_serve.json into --work.
"""
import argparse, json, os, re, subprocess, sys, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went to the park",
           "One day, a girl named Sue", "The sun was hot and"]


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def prune(bin_, model, work, tag, ndrop, dataset, seqlen, extra=()):
    a, b = os.path.join(work, tag + "-A"), os.path.join(work, tag + "-BUNDLES")
    if not os.path.exists(a):
        run([bin_, "prune", "depth", "--model", model, "--dataset", dataset, "--nsamples", "4",
             "--seqlen", str(seqlen), "--batch-size", "1", "--method", "angular",
             "--n-drop", str(ndrop), "--out", a, "--bundles-dir", b, *extra])
    return a, b


def route(bin_, a, b, args, n, extra=()):
    rep = os.path.join(os.path.dirname(a), "route.json")
    run([bin_, "route", "--model", a, "--bundles-dir", b, "-n", str(n), "--ignore-eos",
         "--report", rep, *args, *extra], input="\n".join(PROMPTS).encode(),
        stdout=subprocess.DEVNULL)
    return json.load(open(rep))


def stage_rates(bin_, a, b, stages, n, extra=()):
    rows = {}
    for s in stages:
        r = route(bin_, a, b, ["--force-stage", s], n, extra)
        d = r["decisions"]
        rows[s] = sum(x["decode_tokens_per_second"] for x in d) / len(d)
    for k in (2, 4, 8):
        r = route(bin_, a, b, ["--force-stage", stages[-1], "--speculative", str(k)], n, extra)
        d = r["decisions"]
        rows["%s spec K=%d" % (stages[-1], k)] = (
            sum(x["decode_tokens_per_second"] for x in d) / len(d), r["acceptance_rate"])
    return rows


def http_bench(bin_, a, b, clients_list, n_tokens, per_client, extra=()):
    p = subprocess.Popen([bin_, "serve", "--model", a, "--bundles-dir", b, "--port", "0",
                          "--parallel", "16", "--thresholds", "0,1000", *extra],
                         stderr=subprocess.PIPE, text=True)
    port = None
    for line in p.stderr:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    url = "http://127.0.0.1:%d/v1/completions" % port
    out = {}
    try:
        for c in clients_list:
            lat, lock = [], threading.Lock()

            def worker(i):
                for k in range(per_client):
                    body = json.dumps({"prompt": PROMPTS[(i + k) % len(PROMPTS)],
                                       "max_tokens": n_tokens, "ignore_eos": True}).encode()
                    t = time.perf_counter()
                    urllib.request.urlopen(urllib.request.Request(
                        url, body, {"Content-Type": "application/json"})).read()
                    with lock:
                        lat.append(time.perf_counter() - t)
            t0 = time.perf_counter()
            ts = [threading.Thread(target=worker, args=(i,)) for i in range(c)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            wall = time.perf_counter() - t0
            lat.sort()
            q = lambda f: lat[min(len(lat) - 1, int(round(f * (len(lat) - 1))))]
            out[c] = {"requests": len(lat), "rps": len(lat) / wall, "p50": q(0.5), "p99": q(0.99)}
    finally:
        p.terminate()
        p.wait()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "llmprune"))
    ap.add_argument("--work", default="/tmp/llmprune-bench-serve")
    ap.add_argument("--tinyllama", action="store_true")
    ap.add_argument("--tokens", type=int, default=64)
    o = ap.parse_args()
    os.makedirs(o.work, exist_ok=True)
    assets = os.path.join(ROOT, "..", "shared", "assets")
    text = os.path.join(assets, "reference", "stories260K", "ppl_text.txt")
    results = {}
    a, b = prune(o.bin, os.path.join(assets, "models", "stories260K-hf"), o.work, "stories",
                 2, text, 64)
    results["stories260K"] = {"stages": stage_rates(o.bin, a, b, ["A", "AB", "FULL"], o.tokens),
                              "http": http_bench(o.bin, a, b, [1, 4, 16], 32, 8)}
    if o.tinyllama:
        m = os.path.join(o.work, "tinyllama")
        if not os.path.exists(m):
            run([o.bin, "make-test-model", "--out", m, "--layers", "22", "--hidden", "2048",
                 "--heads", "32", "--kv-heads", "4", "--intermediate", "5632", "--vocab", "32000",
                 "--max-pos", "4096", "--dtype", "bf16", "--tokenizer-from",
                 os.path.join(assets, "tokenizers", "mistral", "v0.1")])
        a, b = prune(o.bin, m, o.work, "tinyllama", 6, text, 32, ["--dtype", "bf16"])
        results["tinyllama"] = {"stages": stage_rates(o.bin, a, b, ["A", "AB", "FULL"], 16,
                                                      ["--dtype", "bf16"]),
                                "http": http_bench(o.bin, a, b, [1, 4, 16], 8, 2,
                                                   ["--dtype", "bf16"])}
    json.dump(results, open(os.path.join(o.work, "bench_serve.json"), "w"), indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
