// Linear maps: GEMV kernels for decoding, LibTorch matmul otherwise (see linear.h).
#include "model/linear.h"

#include <atomic>
#include <cstring>

#include "util/error.h"

namespace llmprune {

namespace {

std::atomic<bool> g_gemv{true};

bool wants_grad(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  if (!torch::GradMode::is_enabled()) return false;
  return x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad());
}

// The GEMV path, or an undefined tensor when it does not apply.
torch::Tensor try_gemv(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias, const kernels::Q8Weight* q8) {
  if (!g_gemv || !x.device().is_cpu() || !weight.device().is_cpu() || weight.dim() != 2 ||
      x.dim() < 1)
    return {};
  const int64_t cols = weight.size(1), rows = weight.size(0);
  if (x.size(-1) != cols || x.numel() == 0) return {};
  const int64_t n = x.numel() / cols;
  if ((n > kGemvMaxRows && !q8) || wants_grad(x, weight, bias)) return {};
  const auto xt = x.scalar_type(), wt = weight.scalar_type();
  if (xt != torch::kFloat32 && xt != torch::kBFloat16) return {};
  kernels::WeightView view;
  if (q8) {
    view = q8->view();
  } else if (wt == torch::kFloat32 && xt == torch::kFloat32) {
    view.kind = kernels::WeightKind::kF32;
  } else if (wt == torch::kBFloat16) {
    view.kind = kernels::WeightKind::kBF16;
  } else {
    return {};
  }
  torch::Tensor w;
  if (!q8) {
    w = weight.contiguous();
    view.rows = rows;
    view.cols = cols;
    view.data = w.data_ptr();
  }
  const torch::Tensor xc = x.contiguous();
  kernels::Activations act;
  act.n = n;
  if (xt == torch::kBFloat16)
    act.bf16 = reinterpret_cast<const uint16_t*>(xc.data_ptr<at::BFloat16>());
  else
    act.f32 = xc.data_ptr<float>();
  torch::Tensor b;
  if (bias.defined()) b = bias.to(torch::kFloat32).contiguous();
  auto sizes = x.sizes().vec();
  sizes.back() = rows;
  torch::Tensor y = torch::empty(sizes, x.options().dtype(torch::kFloat32));
  kernels::gemv(view, act, b.defined() ? b.data_ptr<float>() : nullptr, y.data_ptr<float>());
  return xt == torch::kFloat32 ? y : y.to(xt);
}

torch::Tensor dequantize(const kernels::Q8Weight& q8) {
  torch::Tensor w = torch::empty({q8.rows, q8.cols}, torch::kFloat32);
  kernels::dequantize_q8_weight(q8, w.data_ptr<float>());
  return w;
}

}  // namespace

void set_gemv_enabled(bool on) { g_gemv = on; }
bool gemv_enabled() { return g_gemv; }

torch::Tensor linear_forward(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const kernels::Q8Weight* q8) {
  torch::Tensor y = try_gemv(x, weight, bias, q8);
  if (y.defined()) return y;
  const auto dt = x.scalar_type();
  // With a Q8_0 copy, every product uses the quantized weights (prefill too), as llama.cpp's
  // Q8_0 models do; they are widened per call.
  const torch::Tensor w = q8                           ? dequantize(*q8).to(dt)
                          : weight.scalar_type() == dt ? weight
                                                       : weight.to(dt);
  const torch::Tensor b = !bias.defined() || bias.scalar_type() == dt ? bias : bias.to(dt);
  return torch::nn::functional::linear(x, w, b);
}

std::shared_ptr<const kernels::Q8Weight> make_q8_weight(const torch::Tensor& weight) {
  LLMPRUNE_ASSERT(weight.dim() == 2, "make_q8_weight: weight of shape ", weight.sizes());
  // Row by row from bf16 (widened exactly) or f32: no f32 copy of the whole matrix.
  const torch::Tensor w = weight.scalar_type() == torch::kBFloat16
                              ? weight.to(torch::kCPU).contiguous()
                              : weight.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t cols = w.size(1);
  const bool bf16 = w.scalar_type() == torch::kBFloat16;
  const void* data = w.data_ptr();
  return std::make_shared<const kernels::Q8Weight>(
      kernels::quantize_q8_weight(w.size(0), cols, [&](int64_t r, float* out) {
        if (!bf16) {
          std::memcpy(out, static_cast<const float*>(data) + r * cols,
                      static_cast<size_t>(cols) * sizeof(float));
          return;
        }
        const uint16_t* in = static_cast<const uint16_t*>(data) + r * cols;
        for (int64_t c = 0; c < cols; ++c) {
          const uint32_t bits = static_cast<uint32_t>(in[c]) << 16;
          std::memcpy(out + c, &bits, 4);
        }
      }));
}

}  // namespace llmprune
