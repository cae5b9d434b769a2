// Shared by the OPT tests: the transformers-made fixtures in tests/fixtures/opt.
#pragma once

#include <torch/torch.h>

#include <string>

namespace llmprune::test {

inline const std::string kOptFixtures = std::string(LLMPRUNE_SOURCE_DIR) + "/tests/fixtures/opt/";

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace llmprune::test
