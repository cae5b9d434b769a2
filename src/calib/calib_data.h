// Calibration windows: the dataset text tokenized once (the tokenizer's BOS rule applies once,
// at the start), then `nsamples` windows of `seqlen` tokens cut at seeded random offsets.
// The rule, so runs can be reproduced elsewhere: offsets come from std::mt19937_64(seed), the
// i-th offset = draw % (n_tokens - seqlen + 1); windows may overlap. Only the first
// min(nsamples, batch_size * max_batches) windows are used.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/json.h"

namespace llmprune {

class Tokenizer;

struct CalibOptions {
  std::string dataset = "c4";  // c4 | wikitext2 | ptb | a file (see io/dataset.h)
  std::string data_dir;        // "" = default_data_dir()
  int64_t nsamples = 64;
  int64_t seqlen = 1024;
  int64_t batch_size = 2;  // windows per forward pass
  int64_t max_batches = 32;
  uint64_t seed = 0;

  int64_t n_used() const;  // min(nsamples, batch_size * max_batches)
  // One-line errors for non-positive values (named by flag).
  void validate() const;
};

struct CalibSet {
  torch::Tensor windows;         // [n_used, seqlen] int64
  std::vector<int64_t> offsets;  // token offset of each window
  int64_t text_tokens = 0;
  std::string description;  // what was read, for reports
  json to_json(const CalibOptions& opts) const;
};

// Throws bad_input when the text has fewer than seqlen tokens (saying how many are needed and
// how many there are) or seqlen exceeds max_positions (> 0).
CalibSet make_calib_set(const Tokenizer& tokenizer, const CalibOptions& opts,
                        int64_t max_positions);

}  // namespace llmprune
