// Raw one-token decoding helpers (see decode_token.h).
#include "model/decode_token.h"

#include <atomic>
#include <cstring>

#include "kernels/gemv.h"
#include "kernels/rms_norm.h"
#include "model/linear.h"

namespace llmprune {

namespace {

std::atomic<bool> g_enabled{true};

inline float bf16_value(uint16_t bits) {
  return static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
}

const uint16_t* bf16_data(const torch::Tensor& t) {
  return t.defined() ? reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()) : nullptr;
}

}  // namespace

void set_decode_token_enabled(bool on) { g_enabled = on; }
bool decode_token_enabled() { return g_enabled; }

DecodeBuffers& decode_buffers() {
  thread_local DecodeBuffers buffers;
  return buffers;
}

bool raw_linear_group_applies(const std::vector<const LinearImpl*>& maps, int64_t cols) {
  for (const LinearImpl* m : maps)
    if (m->adapter || !raw_gemv_applies({m->weight, m->bias, m->q8.get()}, cols) ||
        (m->q8 != nullptr) != (maps.front()->q8 != nullptr))
      return false;
  return !maps.empty();
}

void raw_linear_group(const std::vector<const LinearImpl*>& maps, const uint16_t* x, uint16_t* y) {
  DecodeBuffers& b = decode_buffers();
  int64_t rows = 0;
  for (const LinearImpl* m : maps) rows += m->weight.size(0);
  b.y.resize(static_cast<size_t>(rows));
  b.bias.resize(static_cast<size_t>(rows));
  std::vector<kernels::GemvTask> tasks(maps.size());
  int64_t offset = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    const LinearImpl& m = *maps[i];
    kernels::GemvTask& t = tasks[i];
    t.w = raw_gemv_view({m.weight, m.bias, m.q8.get()});
    t.y = b.y.data() + offset;
    t.y_bf16 = y + offset;
    if (m.bias.defined()) {
      // Widened exactly, as the module path's bias.to(f32).
      float* dst = b.bias.data() + offset;
      if (m.bias.scalar_type() == torch::kFloat32) {
        std::memcpy(dst, m.bias.data_ptr<float>(), static_cast<size_t>(t.w.rows) * sizeof(float));
      } else {
        const uint16_t* src = bf16_data(m.bias);
        for (int64_t r = 0; r < t.w.rows; ++r) dst[r] = bf16_value(src[r]);
      }
      t.bias = dst;
    }
    offset += t.w.rows;
  }
  kernels::Activations act;
  act.n = 1;
  act.bf16 = x;
  kernels::gemv(tasks, act);
}

bool raw_norm_applies(const NormImpl& norm) {
  const torch::Tensor& w = norm.weight;
  return norm.kind == NormKind::kRms &&
         (!w.defined() ||
          (w.device().is_cpu() && w.scalar_type() == torch::kBFloat16 && w.is_contiguous() &&
           !(torch::GradMode::is_enabled() && w.requires_grad())));
}

void raw_norm(const NormImpl& norm, const uint16_t* x, int64_t n, uint16_t* out) {
  kernels::rms_norm(x, n, bf16_data(norm.weight), static_cast<float>(norm.eps), 1, n, out);
}

void bf16_residual_add(uint16_t* x, const uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const c10::BFloat16 sum(bf16_value(x[i]) + bf16_value(y[i]));  // to nearest even
    x[i] = sum.x;
  }
}

}  // namespace llmprune
