// `llmprune bench decode` and `bench load`: token-by-token decoding speed of a checkpoint
// as effective weight-read bandwidth, next to the machine's read bandwidth measured in the
// same rounds (interleaved, medians reported); and load time / peak RSS next to the time to
// read the weight files once.
#pragma once

#include <string>
#include <vector>

#include "util/json.h"

namespace llmprune {

struct DecodeBenchOptions {
  std::string model;           // checkpoint folder
  std::string dtype = "bf16";  // compute dtype (resolved by the caller)
  std::vector<std::string> weights{"native", "q8_0"};
  bool libtorch_row = false;       // also time LibTorch's matmul path (native)
  std::string kernels = "native";  // native | avx2 | scalar (kernel_limit)
  int64_t prompt_tokens = 32, tokens = 64;
  int64_t bandwidth_mib = 1024;  // buffer of the read-bandwidth probe
  int64_t rounds = 3;            // probe + every row once, per round
  uint64_t seed = 0;
  bool huge_pages = true;  // LoadOptions::huge_pages of every row
};

// One row's timed run in one round.
struct DecodeBenchSample {
  double prefill_tokens_per_second = 0, decode_tokens_per_second = 0;
  double effective_gbps = 0;         // bytes_per_token x decode tokens/s
  double read_gbps = 0;  // mean of the probes just before and just after this run
  double fraction_of_bandwidth = 0;  // effective_gbps / read_gbps
  double speedup = 0;                // decode tokens/s / the reference row's, this round (0: none)
};

struct DecodeBenchRound {
  double read_gbps = 0;                 // median of the round's probes (one before each row,
                                        // one after the last)
  std::vector<DecodeBenchSample> rows;  // in the order of DecodeBenchResult::rows
};

// One model (weight form) over all rounds; the speeds are medians over the rounds.
struct DecodeBenchRow {
  std::string weights, kernel;  // "native"/"q8_0", kernel name or "libtorch"
  double load_seconds = 0, prefill_tokens_per_second = 0, decode_tokens_per_second = 0;
  double bytes_per_token = 0;  // weights read per token (+ the mean KV cache read)
  double effective_gbps = 0, fraction_of_bandwidth = 0;
  double fraction_min = 0, fraction_max = 0;
  // Median of the per-round speed-ups over the reference row (the first native/bf16 GEMV
  // row): speedup_vs names its weights form; "" and 0 for the reference itself or when the
  // run has no reference row.
  std::string speedup_vs;
  double speedup_median = 0;
  // Share of the weights decoding reads that Linux put on huge pages while loading this row
  // (util/huge_pages.h; -1 when unknown).
  double huge_page_fraction = -1;
};

struct DecodeBenchResult {
  DecodeBenchOptions opts;
  double read_gbps = 0;  // median of the rounds' probes
  // Linux's transparent huge page setting, and the least share of a probe's buffer on huge
  // pages (-1 when unknown).
  std::string huge_pages;
  double probe_huge_page_fraction = -1;
  int threads = 0;
  std::string cpu;
  std::vector<DecodeBenchRow> rows;
  std::vector<DecodeBenchRound> rounds;
  json to_json() const;
};

// The median of `v` (mean of the two middle values when v.size() is even; 0 when empty).
double bench_median(std::vector<double> v);

DecodeBenchResult bench_decode(const DecodeBenchOptions& opts);

struct LoadBenchResult {
  std::string model, dtype;
  bool huge_pages = false;
  double read_seconds = 0;  // reading every weight file once (warm cache, best of 2)
  double load_seconds = 0;  // CausalLM::load
  int64_t file_bytes = 0, weight_bytes = 0;  // on disk; parameters in memory
  int64_t peak_rss_bytes = 0, rss_before_bytes = 0;
  json to_json() const;
};

// Run in a fresh process (peak RSS is the process's).
// `huge_pages`: LoadOptions::huge_pages.
LoadBenchResult bench_load(const std::string& model, const std::string& dtype, bool huge_pages);

}  // namespace llmprune
