// AdamW and learning-rate schedules (see optimizer.h).
#include "train/optimizer.h"

#include <cmath>
#include <map>

#include "util/error.h"

namespace llmprune {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, const AdamWOptions& o)
    : params_(std::move(params)), o_(o) {
  for (const auto& [name, p] : params_) {
    const auto dt = p.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    m_.push_back(torch::zeros(p.sizes(), p.options().dtype(dt)));
    v_.push_back(torch::zeros(p.sizes(), p.options().dtype(dt)));
  }
}

void AdamW::step(const std::vector<torch::Tensor>& grads, double lr) {
  LLMPRUNE_ASSERT(grads.size() == params_.size(), "AdamW: ", grads.size(), " gradients for ",
                  params_.size(), " parameters");
  torch::NoGradGuard ng;
  ++t_;
  const double bc1 = 1 - std::pow(o_.beta1, static_cast<double>(t_));
  const double bc2 = 1 - std::pow(o_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i].second;
    torch::Tensor g = grads[i].to(m_[i].scalar_type());
    m_[i].mul_(o_.beta1).add_(g, 1 - o_.beta1);
    v_[i].mul_(o_.beta2).addcmul_(g, g, 1 - o_.beta2);
    torch::Tensor w = p.to(m_[i].scalar_type());
    if (o_.weight_decay != 0) w.mul_(1 - lr * o_.weight_decay);
    torch::Tensor denom = (v_[i] / bc2).sqrt_().add_(o_.eps);
    w.addcdiv_(m_[i], denom, -lr / bc1);
    p.copy_(w);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("m/" + params_[i].first, m_[i]);
    out.emplace_back("v/" + params_[i].first, v_[i]);
  }
  return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state, int64_t t,
                       const std::string& where) {
  std::map<std::string, torch::Tensor> by(state.begin(), state.end());
  torch::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::pair<const char*, torch::Tensor*> moments[] = {{"m/", &m_[i]}, {"v/", &v_[i]}};
    for (const auto& [prefix, dst] : moments) {
      auto it = by.find(prefix + params_[i].first);
      LLMPRUNE_CHECK(it != by.end(), "[resume] ", where, ": optimizer state has no ",
                     prefix + params_[i].first);
      LLMPRUNE_CHECK(it->second.sizes() == dst->sizes(), "[resume] ", where, ": ", it->first,
                     " has shape ", it->second.sizes(), ", expected ", dst->sizes());
      dst->copy_(it->second);
    }
  }
  t_ = t;
}

double clip_grad_norm(std::vector<torch::Tensor>& grads, double max_norm) {
  torch::NoGradGuard ng;
  double sq = 0;
  for (const auto& g : grads) sq += g.to(torch::kFloat64).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm)
    for (auto& g : grads) g.mul_(max_norm / (norm + 1e-6));
  return norm;
}

double scheduled_lr(const std::string& kind, double base, int64_t step, int64_t warmup,
                    int64_t total) {
  if (warmup > 0 && step < warmup)
    return base * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == "constant") return base;
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  if (kind == "linear") return base * (1 - progress);
  if (kind == "cosine") return base * 0.5 * (1 + std::cos(M_PI * progress));
  throw bad_input("[train] unknown --scheduler '", kind, "' (cosine, linear, constant)");
}

}  // namespace llmprune
