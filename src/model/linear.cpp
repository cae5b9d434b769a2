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
  return (x.defined() && x.requires_grad()) || w.requires_grad() ||
         (b.defined() && b.requires_grad());
}

// The GEMV path for maps of the same x, or an empty vector when it does not apply to all.
std::vector<torch::Tensor> try_gemv(const torch::Tensor& x, const std::vector<LinearParams>& maps) {
  if (!g_gemv || !x.device().is_cpu() || x.dim() < 1 || x.numel() == 0) return {};
  const auto xt = x.scalar_type();
  if (xt != torch::kFloat32 && xt != torch::kBFloat16) return {};
  const int64_t cols = x.size(-1), n = x.numel() / cols;
  std::vector<kernels::GemvTask> tasks(maps.size());
  std::vector<torch::Tensor> keep, ys;  // contiguous weights, f32 biases; the outputs
  // The kernels write f32 (into scratch when x is bf16) and round bf16 results into the
  // outputs themselves (as Tensor::to does: to nearest, ties to even).
  thread_local std::vector<float> scratch;
  std::vector<int64_t> offsets;  // task i's f32 output in scratch (bf16 x only)
  int64_t total = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    const LinearParams& m = maps[i];
    const torch::Tensor& weight = m.weight;
    if (!weight.device().is_cpu() || weight.dim() != 2 || weight.size(1) != cols) return {};
    if ((n > kGemvMaxRows && !m.q8) || wants_grad(x, weight, m.bias)) return {};
    kernels::WeightView& view = tasks[i].w;
    const auto wt = weight.scalar_type();
    if (m.q8) {
      view = m.q8->view();
    } else if (wt == torch::kFloat32 && xt == torch::kFloat32) {
      view.kind = kernels::WeightKind::kF32;
    } else if (wt == torch::kBFloat16) {
      view.kind = kernels::WeightKind::kBF16;
    } else {
      return {};
    }
    if (view.kind != tasks[0].w.kind || view.padded_cols != tasks[0].w.padded_cols) return {};
    if (!m.q8) {
      keep.push_back(weight.contiguous());
      view.rows = weight.size(0);
      view.cols = cols;
      view.data = keep.back().data_ptr();
    }
    if (m.bias.defined()) {
      keep.push_back(m.bias.to(torch::kFloat32).contiguous());
      tasks[i].bias = keep.back().data_ptr<float>();
    }
    auto sizes = x.sizes().vec();
    sizes.back() = view.rows;
    ys.push_back(torch::empty(sizes, x.options()));
    offsets.push_back(total);
    total += n * view.rows;
  }
  std::vector<float> large;  // a prefill's outputs: not kept for the thread's lifetime
  float* f32_out = nullptr;
  if (xt == torch::kBFloat16) {
    std::vector<float>& buf = total <= (int64_t{1} << 18) ? scratch : large;
    buf.resize(static_cast<size_t>(total));
    f32_out = buf.data();
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    tasks[i].y = f32_out ? f32_out + offsets[i] : ys[i].data_ptr<float>();
    if (f32_out) tasks[i].y_bf16 = reinterpret_cast<uint16_t*>(ys[i].data_ptr<at::BFloat16>());
  }
  const torch::Tensor xc = x.contiguous();
  kernels::Activations act;
  act.n = n;
  if (xt == torch::kBFloat16)
    act.bf16 = reinterpret_cast<const uint16_t*>(xc.data_ptr<at::BFloat16>());
  else
    act.f32 = xc.data_ptr<float>();
  kernels::gemv(tasks, act);
  return ys;
}

torch::Tensor dequantize(const kernels::Q8Weight& q8) {
  torch::Tensor w = torch::empty({q8.rows, q8.cols}, torch::kFloat32);
  kernels::dequantize_q8_weight(q8, w.data_ptr<float>());
  return w;
}

}  // namespace

bool raw_gemv_applies(const LinearParams& m, int64_t cols) {
  const torch::Tensor &w = m.weight, &b = m.bias;
  if (!g_gemv || !w.defined() || !w.device().is_cpu() || w.dim() != 2 || w.size(1) != cols ||
      wants_grad(torch::Tensor(), w, b))
    return false;
  if (!m.q8 && (w.scalar_type() != torch::kBFloat16 || !w.is_contiguous())) return false;
  return !b.defined() ||
         (b.device().is_cpu() && b.is_contiguous() && b.dim() == 1 && b.size(0) == w.size(0) &&
          (b.scalar_type() == torch::kBFloat16 || b.scalar_type() == torch::kFloat32));
}

kernels::WeightView raw_gemv_view(const LinearParams& m) {
  if (m.q8) return m.q8->view();
  kernels::WeightView v;
  v.kind = kernels::WeightKind::kBF16;
  v.rows = m.weight.size(0);
  v.cols = m.weight.size(1);
  v.data = m.weight.data_ptr();
  return v;
}

void set_gemv_enabled(bool on) { g_gemv = on; }
bool gemv_enabled() { return g_gemv; }

torch::Tensor linear_forward(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const kernels::Q8Weight* q8) {
  return linear_forward_group(x, {LinearParams{weight, bias, q8}}).front();
}

std::vector<torch::Tensor> linear_forward_group(const torch::Tensor& x,
                                                const std::vector<LinearParams>& maps) {
  std::vector<torch::Tensor> ys = try_gemv(x, maps);
  if (!ys.empty()) return ys;
  const auto dt = x.scalar_type();
  for (const LinearParams& m : maps) {
    // With a Q8_0 copy, every product uses the quantized weights (prefill too), as llama.cpp's
    // Q8_0 models do; they are widened per call.
    const torch::Tensor w = m.q8                           ? dequantize(*m.q8).to(dt)
                            : m.weight.scalar_type() == dt ? m.weight
                                                           : m.weight.to(dt);
    const torch::Tensor b =
        !m.bias.defined() || m.bias.scalar_type() == dt ? m.bias : m.bias.to(dt);
    ys.push_back(torch::nn::functional::linear(x, w, b));
  }
  return ys;
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
