// RoPE frequencies and rotation (see rope.h).
#include "model/rope.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmprune {

RopeFrequencies rope_frequencies(const RopeSpec& rope, int64_t head_dim) {
  RopeFrequencies f;
  f.rot_dim = static_cast<int64_t>(static_cast<double>(head_dim) * rope.partial_rotary_factor);
  f.rot_dim -= f.rot_dim % 2;
  LLMPRUNE_CHECK(f.rot_dim > 0, "[rope] head_dim ", head_dim, " x partial_rotary_factor ",
                 rope.partial_rotary_factor, " leaves no dimension to rotate");
  const int64_t half = f.rot_dim / 2;
  const double d = static_cast<double>(f.rot_dim);
  std::vector<double> base(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    base[static_cast<size_t>(i)] = 1.0 / std::pow(rope.theta, (2.0 * i) / d);
  f.inv_freq = base;
  const double pi = 3.14159265358979323846;
  if (rope.scaling == "default") return f;
  if (rope.scaling == "linear") {
    for (auto& x : f.inv_freq) x /= rope.factor;
    return f;
  }
  if (rope.scaling == "llama3") {
    // Llama 3.1: wavelengths longer than old_ctx / low_freq_factor are slowed by `factor`,
    // shorter than old_ctx / high_freq_factor kept, and the band between interpolated.
    const double old_ctx = static_cast<double>(rope.original_max_position_embeddings);
    const double low_wl = old_ctx / rope.low_freq_factor, high_wl = old_ctx / rope.high_freq_factor;
    for (auto& x : f.inv_freq) {
      const double wl = 2 * pi / x;
      if (wl < high_wl) continue;
      if (wl > low_wl) {
        x /= rope.factor;
        continue;
      }
      const double smooth = (old_ctx / wl - rope.low_freq_factor) /
                            (rope.high_freq_factor - rope.low_freq_factor);
      x = (1 - smooth) * x / rope.factor + smooth * x;
    }
    return f;
  }
  if (rope.scaling == "yarn") {
    const double orig = static_cast<double>(rope.original_max_position_embeddings);
    auto correction_dim = [&](double rotations) {
      return d * std::log(orig / (rotations * 2 * pi)) / (2 * std::log(rope.theta));
    };
    double low = std::max(std::floor(correction_dim(rope.beta_fast)), 0.0);
    double high = std::min(std::ceil(correction_dim(rope.beta_slow)), d - 1);
    if (low == high) high += 0.001;  // transformers' guard against a zero-width ramp
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolation_factor = 1.0 - ramp;
      const double b = base[static_cast<size_t>(i)];
      f.inv_freq[static_cast<size_t>(i)] =
          (b / rope.factor) * (1 - extrapolation_factor) + b * extrapolation_factor;
    }
    f.attention_scaling = rope.attention_factor != 0.0
                              ? rope.attention_factor
                              : (rope.factor <= 1 ? 1.0 : 0.1 * std::log(rope.factor) + 1.0);
    return f;
  }
  throw bad_input("[rope] unsupported rope_scaling type '", rope.scaling,
                  "' (supported: default, linear, llama3, yarn)");
}

RopeTable rope_table(const RopeFrequencies& f, int64_t start, int64_t len,
                     torch::ScalarType dtype, torch::Device device) {
  auto inv = torch::tensor(f.inv_freq, torch::kFloat64);
  auto pos = torch::arange(start, start + len, torch::kFloat64);
  auto angles = torch::outer(pos, inv);  // [len, rot_dim/2]
  RopeTable t;
  t.rot_dim = f.rot_dim;
  t.cos = (angles.cos() * f.attention_scaling).to(device, dtype);
  t.sin = (angles.sin() * f.attention_scaling).to(device, dtype);
  return t;
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTable& t) {
  const int64_t hd = x.size(-1), half = t.rot_dim / 2;
  // x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1] on the rotated part.
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto out1 = x1 * t.cos - x2 * t.sin;
  auto out2 = x2 * t.cos + x1 * t.sin;
  if (t.rot_dim == hd) return torch::cat({out1, out2}, -1);
  return torch::cat({out1, out2, x.narrow(-1, t.rot_dim, hd - t.rot_dim)}, -1);
}

}  // namespace llmprune
