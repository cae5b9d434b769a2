// Entropy routing (see router.h).
#include "serve/router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "util/error.h"

namespace llmprune {

double entropy_nats(const torch::Tensor& logits) {
  torch::NoGradGuard no_grad;
  auto logp = torch::log_softmax(logits.to(torch::kCPU, torch::kDouble).reshape({-1}), 0);
  return -(logp.exp() * logp).nan_to_num(0.0).sum().item<double>();
}

int stage_for_entropy(double h, const RoutePolicy& p, int n_stages) {
  if (p.force_stage >= 0) return std::min(p.force_stage, n_stages - 1);
  if (n_stages <= 1) return 0;
  if (h < p.low) return 0;
  if (n_stages == 2) return 1;
  return h < p.high ? 1 : n_stages - 1;
}

namespace {

std::vector<double> parse_list(const std::string& text, const char* option) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !std::isfinite(v))
      throw bad_input(option, " \"", text, "\": \"", item, "\" is not a number");
    out.push_back(v);
  }
  return out;
}

}  // namespace

std::pair<double, double> parse_thresholds(const std::string& text) {
  std::vector<double> v = parse_list(text, "--thresholds");
  LLMPRUNE_CHECK(v.size() == 2, "--thresholds \"", text, "\": give LOW,HIGH (two numbers)");
  LLMPRUNE_CHECK(v[0] >= 0 && v[0] <= v[1], "--thresholds \"", text,
                 "\": out of order, need 0 <= LOW <= HIGH");
  return {v[0], v[1]};
}

std::vector<double> parse_fractions(const std::string& text) {
  std::vector<double> v = parse_list(text, "--fractions");
  LLMPRUNE_CHECK(v.size() == 3, "--fractions \"", text, "\": give a,b,c (three numbers)");
  double sum = 0;
  for (double x : v) {
    LLMPRUNE_CHECK(x >= 0, "--fractions \"", text, "\": negative fraction");
    sum += x;
  }
  LLMPRUNE_CHECK(std::fabs(sum - 1.0) < 1e-6, "--fractions \"", text, "\": sum to ", sum,
                 ", not 1");
  return v;
}

std::pair<double, double> calibrate_thresholds(std::vector<double> e,
                                               const std::vector<double>& f) {
  LLMPRUNE_CHECK(!e.empty(), "--calibrate: the prompt file has no prompts");
  LLMPRUNE_CHECK(f.size() == 3, "--fractions: need three fractions");
  std::sort(e.begin(), e.end());
  const size_t n = e.size();
  // Threshold with exactly `count` values strictly below it (where the values allow).
  auto cut = [&](double frac) {
    const size_t count = std::min(n, static_cast<size_t>(std::llround(frac * n)));
    if (count == 0) return e.front();
    if (count == n) return std::nextafter(e.back(), std::numeric_limits<double>::infinity());
    size_t i = count;
    while (i < n && e[i] == e[count - 1]) ++i;
    if (i == n) return std::nextafter(e.back(), std::numeric_limits<double>::infinity());
    return 0.5 * (e[i - 1] + e[i]);
  };
  return {cut(f[0]), cut(f[0] + f[1])};
}

}  // namespace llmprune
