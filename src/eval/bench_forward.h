// `llmprune bench forward`: prefill throughput of a decoder layer stack (Llama-7B-shaped by
// default) in each compute dtype, next to the matmul peak measured in the same run.
#pragma once

#include <string>
#include <vector>

#include "util/json.h"

namespace llmprune {

struct ForwardBenchOptions {
  int64_t layers = 2;
  int64_t hidden = 4096, heads = 32, kv_heads = 8, intermediate = 14336;
  int64_t seq_len = 2048, batch = 1;
  int64_t repeats = 2;  // timed passes per dtype (best is reported), after one warm-up
  std::vector<std::string> dtypes{"f32", "bf16"};
  std::string device = "cpu";
};

struct ForwardBenchRow {
  std::string dtype;
  double seconds = 0;          // best pass
  double tokens_per_second = 0;
  double gflops = 0;           // useful FLOPs / s (see flops_per_pass in the report)
  double peak_gflops = 0;      // n x n matmul of the same dtype, same run
  double fraction_of_peak = 0;
};

struct ForwardBenchResult {
  ForwardBenchOptions opts;
  double flops_per_pass = 0;
  std::vector<ForwardBenchRow> rows;
  json to_json() const;
};

ForwardBenchResult bench_forward(const ForwardBenchOptions& opts);

}  // namespace llmprune
