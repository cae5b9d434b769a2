// Next-token negative log-likelihood of token windows from final hidden states, shared by
// perplexity (eval/) and calibration loss (calib/, SLEB).
#pragma once

#include <torch/torch.h>

#include <functional>

namespace llmprune {

// hidden: [B, L, hidden] final-norm states of windows `ids` [B, L]; `head` maps hidden
// states to logits. Returns [B] double on the CPU: each window's NLL of tokens 1..L-1 from
// logits 0..L-2 (natural log, summed in double). The vocabulary projection is applied a few
// hundred positions at a time, so [B, L, vocab] logits are never materialised.
torch::Tensor window_nll(const torch::Tensor& hidden, const torch::Tensor& ids,
                         const std::function<torch::Tensor(const torch::Tensor&)>& head);

}  // namespace llmprune
