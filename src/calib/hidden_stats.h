// Residual-stream statistics for depth scoring, captured at the model's hook points during a
// calibration run: cosine similarities (and angular distances) between the hidden states at
// layer boundaries, and between the input and output of every layer and sub-block. Sums are
// kept in double so passes can be added (and, later, all-reduced across processes).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "calib/runner.h"
#include "util/json.h"

namespace llmprune {

// Which token positions of a window count: the last one (Gromov et al.) or all of them.
enum class TokenPos { kLast, kAll };
const char* token_pos_name(TokenPos p);

struct HiddenStats {
  TokenPos pair_pos = TokenPos::kLast;  // positions counted for boundary pairs
  TokenPos layer_pos = TokenPos::kAll;  // positions counted for layers and sub-blocks
  int64_t n_layers = 0;
  // Boundary b is the hidden state entering layer b; boundary n_layers leaves the last layer.
  // For i < j: sums over counted positions of cos(x_i, x_j) and of arccos(cos(x_i, x_j)) / pi.
  // Only filled when the run recorded boundaries (pairwise).
  std::vector<std::vector<double>> cos_sum, angle_sum;
  int64_t pair_count = 0;  // positions counted for each pair
  // Per layer: sums of cos(input, output) of the whole layer and of its attention and MLP
  // sub-blocks (input = residual stream entering it, output = after its residual add).
  std::vector<double> layer_cos_sum, attn_cos_sum, mlp_cos_sum;
  std::vector<int64_t> layer_count, attn_count, mlp_count;

  explicit HiddenStats(int64_t layers = 0, TokenPos pair_pos = TokenPos::kLast,
                       TokenPos layer_pos = TokenPos::kAll);
};

class HiddenStatsObserver : public CalibObserver {
 public:
  // pairwise: also record every pair of layer boundaries (needed by the angular distance).
  HiddenStatsObserver(int64_t n_layers, TokenPos pair_pos, TokenPos layer_pos, bool pairwise);
  void observe(HookPoint p, int64_t layer, int64_t first, const torch::Tensor& x) override;
  void end_pass() override { boundaries_.clear(); }
  // All-token boundary pairs need every layer of a window at once: one batch per pass.
  bool whole_set_pass() const override { return !(pairwise_ && stats_.pair_pos == TokenPos::kAll); }
  const HiddenStats& stats() const { return stats_; }

 private:
  static torch::Tensor positions(const torch::Tensor& x, TokenPos pos);  // [rows, hidden] double
  void boundary(int64_t b, int64_t first, const torch::Tensor& x);

  HiddenStats stats_;
  bool pairwise_;
  torch::Tensor layer_in_, attn_in_, mlp_in_;
  // boundary -> first window -> (positions [rows, hidden] in double, their norms)
  std::map<int64_t, std::map<int64_t, std::pair<torch::Tensor, torch::Tensor>>> boundaries_;
};

}  // namespace llmprune
