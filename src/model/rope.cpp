// RoPE frequencies and rotation (see rope.h).
#include "model/rope.h"

#include <ATen/Parallel.h>

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
      const double smooth =
          (old_ctx / wl - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
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

RopeTable rope_table(const RopeFrequencies& f, int64_t start, int64_t len, torch::ScalarType dtype,
                     torch::Device device) {
  auto inv = torch::tensor(f.inv_freq, torch::kFloat64);
  auto pos = torch::arange(start, start + len, torch::kFloat64);
  auto angles = torch::outer(pos, inv);  // [len, rot_dim/2]
  RopeTable t;
  t.rot_dim = f.rot_dim;
  t.cos = (angles.cos() * f.attention_scaling).to(device, dtype);
  t.sin = (angles.sin() * f.attention_scaling).to(device, dtype);
  return t;
}

namespace {

// x * cos - x2 * sin and x2 * cos + x1 * sin over the rotated pair, every product and sum
// rounded to T as LibTorch's elementwise ops on T tensors round each result (bf16: computed
// in f32, rounded to nearest even), so the result equals the op-by-op version bit for bit.
// One row: v[i * sd] for i < hd, table row c / s (rot_dim / 2 values each), into y.
template <typename T>
void rotate_row(const T* v, int64_t sd, const T* c, const T* s, int64_t rot_dim, int64_t hd, T* y) {
  const int64_t half = rot_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const T x1 = v[i * sd], x2 = v[(half + i) * sd];
    const T a = static_cast<T>(x1 * c[i]), bb = static_cast<T>(x2 * s[i]);
    const T e = static_cast<T>(x2 * c[i]), f = static_cast<T>(x1 * s[i]);
    y[i] = static_cast<T>(a - bb);
    y[half + i] = static_cast<T>(e + f);
  }
  for (int64_t i = rot_dim; i < hd; ++i) y[i] = v[i * sd];
}

template <typename T>
void rotate_rows(const torch::Tensor& x, const RopeTable& t, torch::Tensor& out) {
  const int64_t B = x.size(0), H = x.size(1), L = x.size(2), hd = x.size(3);
  const int64_t half = t.rot_dim / 2;
  const T* cs = t.cos.data_ptr<T>();
  const T* sn = t.sin.data_ptr<T>();
  const T* in = x.data_ptr<T>();
  T* o = out.data_ptr<T>();
  const int64_t sb = x.stride(0), sh = x.stride(1), st = x.stride(2), sd = x.stride(3);
  at::parallel_for(0, B * H * L, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (H * L), h = r / L % H, p = r % L;
      rotate_row(in + b * sb + h * sh + p * st, sd, cs + p * half, sn + p * half, t.rot_dim, hd,
                 o + r * hd);
    }
  });
}

// Heads of one sequence's row `in` (heads x hd values, contiguous) into out + h * out_h.
template <typename T>
void rotate_decode_heads(const T* in, int64_t heads, int64_t hd, const RopeTable* t, T* out,
                         int64_t out_h) {
  const bool rotate = t && t->rot_dim > 0;
  const T* c = rotate ? t->cos.data_ptr<T>() : nullptr;
  const T* s = rotate ? t->sin.data_ptr<T>() : nullptr;
  for (int64_t h = 0; h < heads; ++h) {
    const T* v = in + h * hd;
    T* y = out + h * out_h;
    if (rotate)
      rotate_row(v, 1, c, s, t->rot_dim, hd, y);
    else
      std::copy(v, v + hd, y);
  }
}

template <typename T>
void rotate_decode_rows(const torch::Tensor& x, int64_t heads, const RopeTable* t, T* out,
                        int64_t out_b, int64_t out_h) {
  const int64_t B = x.size(0), hd = x.size(-1) / heads, sb = x.stride(0);
  const T* in = x.data_ptr<T>();
  for (int64_t b = 0; b < B; ++b)
    rotate_decode_heads(in + b * sb, heads, hd, t, out + b * out_b, out_h);
}

}  // namespace

bool rope_decode_rows_apply(const torch::Tensor& x, const RopeTable* t) {
  const auto dt = x.scalar_type();
  if (x.dim() != 3 || x.size(1) != 1 || !x.device().is_cpu() || x.stride(-1) != 1 ||
      (dt != torch::kFloat32 && dt != torch::kBFloat16) ||
      (torch::GradMode::is_enabled() && x.requires_grad()))
    return false;
  return rope_decode_table_ok(t, dt);
}

bool rope_decode_table_ok(const RopeTable* t, torch::ScalarType dtype) {
  if (!t || t->rot_dim == 0) return true;
  return t->cos.device().is_cpu() && t->cos.scalar_type() == dtype &&
         t->sin.scalar_type() == dtype && t->cos.is_contiguous() && t->sin.is_contiguous() &&
         t->cos.size(0) == 1;
}

void rope_decode_rows(const torch::Tensor& x, int64_t heads, const RopeTable* t, void* out,
                      int64_t out_b, int64_t out_h) {
  LLMPRUNE_ASSERT(rope_decode_rows_apply(x, t) && x.size(-1) % heads == 0,
                  "rope_decode_rows: input of shape ", x.sizes());
  if (x.scalar_type() == torch::kFloat32)
    rotate_decode_rows<float>(x, heads, t, static_cast<float*>(out), out_b, out_h);
  else
    rotate_decode_rows<at::BFloat16>(x, heads, t, static_cast<at::BFloat16*>(out), out_b, out_h);
}

void rope_decode_heads_bf16(const uint16_t* x, int64_t heads, int64_t head_dim, const RopeTable* t,
                            uint16_t* out, int64_t out_h) {
  rotate_decode_heads(reinterpret_cast<const at::BFloat16*>(x), heads, head_dim, t,
                      reinterpret_cast<at::BFloat16*>(out), out_h);
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTable& t) {
  const int64_t hd = x.size(-1), half = t.rot_dim / 2;
  const auto dt = x.scalar_type();
  const bool fused = x.dim() == 4 && x.device().is_cpu() && t.cos.device().is_cpu() &&
                     (dt == torch::kFloat32 || dt == torch::kBFloat16) &&
                     t.cos.scalar_type() == dt && t.sin.scalar_type() == dt &&
                     t.cos.is_contiguous() && t.sin.is_contiguous() && t.cos.size(0) == x.size(2) &&
                     !(torch::GradMode::is_enabled() && x.requires_grad());
  if (fused) {
    torch::Tensor out = torch::empty(x.sizes(), x.options());
    if (dt == torch::kFloat32)
      rotate_rows<float>(x, t, out);
    else
      rotate_rows<at::BFloat16>(x, t, out);
    return out;
  }
  // x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1] on the rotated part.
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto out1 = x1 * t.cos - x2 * t.sin;
  auto out2 = x2 * t.cos + x1 * t.sin;
  if (t.rot_dim == hd) return torch::cat({out1, out2}, -1);
  return torch::cat({out1, out2, x.narrow(-1, t.rot_dim, hd - t.rot_dim)}, -1);
}

}  // namespace llmprune
