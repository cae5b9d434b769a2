// GEMV dispatch, activation preparation and the scalar reference kernels (see gemv.h).
#include "kernels/gemv.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemv_internal.h"
#include "kernels/q8_weight.h"
#include "util/error.h"
#include "util/q8_0.h"

namespace llmprune::kernels {

namespace detail {
namespace {

void scalar_f32(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  const float* W = static_cast<const float*>(w.data);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t m = 0; m < x.n; ++m) {
      float acc = 0;
      for (int64_t c = 0; c < w.cols; ++c) acc += W[r * w.cols + c] * x.f32[m * w.cols + c];
      y[m * w.rows + r] = acc;
    }
}

void scalar_bf16(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  const uint16_t* W = static_cast<const uint16_t*>(w.data);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t m = 0; m < x.n; ++m) {
      float acc = 0;
      for (int64_t c = 0; c < w.cols; ++c)
        acc += bf16_to_f32(W[r * w.cols + c]) * x.f32[m * w.cols + c];
      y[m * w.rows + r] = acc;
    }
}

void scalar_q8(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  const int64_t blocks = w.padded_cols / 32, row_bytes = w.padded_cols / kQ8Group * kQ8GroupBytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* Q = static_cast<const uint8_t*>(w.data) + r * row_bytes;
    for (int64_t m = 0; m < x.n; ++m) {
      float acc = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        // Block b of the row: 32 values spread over the interleaved group.
        int32_t dot = 0;
        for (int64_t e = 0; e < 32; ++e) {
          const int64_t c = b * 32 + e;
          dot += (static_cast<int32_t>(Q[q8_quant_byte(c)]) - 128) *
                 static_cast<int32_t>(
                     x.q[m * w.padded_cols + c / kQ8Group * kQ8Group + q8_lane_offset(c)]);
        }
        uint16_t h;
        std::memcpy(&h, Q + q8_scale_byte(b), 2);
        acc += fp16_to_fp32(h) * x.qd[m * blocks + b] * static_cast<float>(dot);
      }
      y[m * w.rows + r] = acc;
    }
  }
}

void scalar_quantize(const float* f32, const uint16_t* bf16, int64_t cols, int8_t* q, float* d,
                     int32_t* sum128) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    float v[32];
    for (int e = 0; e < 32; ++e) v[e] = f32 ? f32[b * 32 + e] : bf16_to_f32(bf16[b * 32 + e]);
    float amax = 0;
    for (float e : v) amax = std::max(amax, std::fabs(e));
    const float db = amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
    int32_t sum = 0;
    int8_t* dst = q + b / 16 * kQ8Group + q8_lane_offset(b * 32);
    for (int e = 0; e < 32; ++e) {
      const int qe = q8_round(v[e] * id);  // as the weights: ties away from zero
      dst[(e / 4) * 64 + e % 4] = static_cast<int8_t>(qe);
      sum += qe;
    }
    d[b] = db;
    sum128[b] = 128 * sum;
  }
}

}  // namespace

QuantizeRow scalar_quantizer() { return scalar_quantize; }

RowKernel scalar_kernel(WeightKind kind) {
  switch (kind) {
    case WeightKind::kF32: return scalar_f32;
    case WeightKind::kBF16: return scalar_bf16;
    case WeightKind::kQ8_0: return scalar_q8;
  }
  return nullptr;
}

}  // namespace detail

namespace {

std::atomic<KernelLevel> g_limit{KernelLevel::kAvx512};

enum class Isa { kScalar, kAvx2, kAvx512, kAvx512Bf16, kAvx512Vnni };

Isa choose(WeightKind kind, bool bf16_act) {
  const CpuFeatures& f = cpu_features();
  const KernelLevel limit = g_limit;
  if (limit == KernelLevel::kScalar) return Isa::kScalar;
  if (f.avx512() && limit == KernelLevel::kAvx512) {
    if (kind == WeightKind::kBF16 && bf16_act && f.avx512bf16) return Isa::kAvx512Bf16;
    if (kind == WeightKind::kQ8_0) {
      if (f.avx512vnni) return Isa::kAvx512Vnni;
    } else {
      return Isa::kAvx512;
    }
  }
  if (f.avx2_fma()) return Isa::kAvx2;
  return Isa::kScalar;
}

detail::RowKernel kernel_for(WeightKind kind, Isa isa) {
  detail::RowKernel k = nullptr;
  switch (isa) {
    case Isa::kAvx512Bf16: k = detail::avx512_kernel(kind, /*bf16_dot=*/true); break;
    case Isa::kAvx512:
    case Isa::kAvx512Vnni: k = detail::avx512_kernel(kind, false); break;
    case Isa::kAvx2: k = detail::avx2_kernel(kind); break;
    case Isa::kScalar: break;
  }
  return k ? k : detail::scalar_kernel(kind);
}

detail::QuantizeRow quantizer_for(Isa isa) {
  detail::QuantizeRow f = nullptr;
  if (isa == Isa::kAvx512Vnni) f = detail::avx512_quantizer();
  if (isa == Isa::kAvx2) f = detail::avx2_quantizer();
  return f ? f : detail::scalar_quantizer();
}

// Q8_0 activations in the weights' layout, reused between calls.
struct QuantizedX {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sum128;
};

}  // namespace

void set_kernel_limit(KernelLevel level) { g_limit = level; }
KernelLevel kernel_limit() { return g_limit; }

KernelLevel kernel_level() {
  const CpuFeatures& f = cpu_features();
  const KernelLevel limit = g_limit;
  if (limit == KernelLevel::kAvx512 && f.avx512()) return KernelLevel::kAvx512;
  if (limit != KernelLevel::kScalar && f.avx2_fma()) return KernelLevel::kAvx2;
  return KernelLevel::kScalar;
}

std::string gemv_kernel_name(WeightKind kind, bool bf16_activations) {
  switch (choose(kind, bf16_activations)) {
    case Isa::kAvx512Bf16: return "avx512_bf16";
    case Isa::kAvx512Vnni: return "avx512_vnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    case Isa::kScalar: break;
  }
  return "scalar";
}

void gemv(const WeightView& w, const Activations& x, const float* bias, float* y) {
  gemv({GemvTask{w, bias, y}}, x);
}

void gemv(const std::vector<GemvTask>& tasks, const Activations& x) {
  LLMPRUNE_ASSERT(x.n > 0 && (x.f32 || x.bf16) && !tasks.empty(), "gemv: no activations");
  const WeightView& w0 = tasks.front().w;
  for (const GemvTask& t : tasks)
    LLMPRUNE_ASSERT(t.w.kind == w0.kind && t.w.cols == w0.cols && t.w.padded_cols == w0.padded_cols,
                    "gemv: grouped weights differ in form or columns");
  const bool bf16_act = x.bf16 != nullptr;
  const Isa isa = choose(w0.kind, bf16_act);
  detail::Prepared p;
  p.n = x.n;
  p.cols = w0.cols;
  p.bf16 = x.bf16;
  p.f32 = x.f32;
  // Kernels other than the BF16 dot product and Q8_0 read f32 activations.
  thread_local std::vector<float> widened;
  if (!p.f32 && isa != Isa::kAvx512Bf16 && w0.kind != WeightKind::kQ8_0) {
    widened.resize(static_cast<size_t>(x.n * w0.cols));
    for (size_t i = 0; i < widened.size(); ++i) widened[i] = detail::bf16_to_f32(x.bf16[i]);
    p.f32 = widened.data();
  }
  thread_local QuantizedX qx;
  if (w0.kind == WeightKind::kQ8_0) {
    const int64_t padded = w0.padded_cols, blocks = padded / 32;
    qx.q.assign(static_cast<size_t>(x.n * padded), 0);
    qx.d.assign(static_cast<size_t>(x.n * blocks), 0.0f);
    qx.sum128.assign(static_cast<size_t>(x.n * blocks), 0);
    const detail::QuantizeRow quantize = quantizer_for(isa);
    for (int64_t m = 0; m < x.n; ++m)
      quantize(p.f32 ? p.f32 + m * w0.cols : nullptr, p.f32 ? nullptr : p.bf16 + m * w0.cols,
               w0.cols, qx.q.data() + m * padded, qx.d.data() + m * blocks,
               qx.sum128.data() + m * blocks);
    p.q = qx.q.data();
    p.qd = qx.d.data();
    p.qsum128 = qx.sum128.data();
  }
  const detail::RowKernel kernel = kernel_for(w0.kind, isa);
  // Rows in chunks (for several activation rows 16, which the four-row kernels' unroll
  // divides; for one, 4, so that the threads finish closer together), numbered across the
  // tasks; ~64 KiB of weights per thread at least, so small products stay on one thread.
  const int64_t chunk_rows = x.n == 1 ? 4 : 16;
  std::vector<int64_t> first_chunk{0};  // task i owns chunks [first_chunk[i], first_chunk[i+1])
  for (const GemvTask& t : tasks)
    first_chunk.push_back(first_chunk.back() + (t.w.rows + chunk_rows - 1) / chunk_rows);
  const int64_t chunks = first_chunk.back();
  auto run = [&](int64_t c0, int64_t c1) {  // chunks [c0, c1), possibly over several tasks
    for (size_t i = 0; i < tasks.size() && c0 < c1; ++i) {
      if (c0 >= first_chunk[i + 1]) continue;
      const int64_t end = std::min(c1, first_chunk[i + 1]), base = first_chunk[i];
      const GemvTask& t = tasks[i];
      const int64_t r0 = (c0 - base) * chunk_rows,
                    r1 = std::min(t.w.rows, (end - base) * chunk_rows);
      kernel(t.w, p, r0, r1, t.y);
      if (t.bias || t.y_bf16)
        for (int64_t m = 0; m < x.n; ++m)
          for (int64_t r = r0; r < r1; ++r) {
            float& v = t.y[m * t.w.rows + r];
            if (t.bias) v += t.bias[r];
            if (t.y_bf16) t.y_bf16[m * t.w.rows + r] = detail::to_bf16(v);
          }
      c0 = end;
    }
  };
  const int64_t row_bytes = w0.kind == WeightKind::kQ8_0
                                ? w0.padded_cols / kQ8Group * kQ8GroupBytes
                                : (w0.kind == WeightKind::kBF16 ? 2 : 4) * w0.cols;
  const int64_t grain =
      std::max<int64_t>(1, (int64_t{64} << 10) / std::max<int64_t>(1, chunk_rows * row_bytes));
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), (chunks + grain - 1) / grain);
  if (threads <= 1) {
    run(0, chunks);
    return;
  }
  // Guided: each thread takes the next piece, sized to a share of what is left
  // (remaining / 2 threads, down to one chunk), until none is left. A thread the host slows
  // down (shared VMs) does less instead of holding up the others, and the last pieces are
  // small, so the threads finish within about one chunk of each other.
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    int64_t c0 = next.load(std::memory_order_relaxed);
    while (c0 < chunks) {
      const int64_t c1 = std::min(chunks, c0 + std::max<int64_t>(1, (chunks - c0) / (2 * threads)));
      if (!next.compare_exchange_weak(c0, c1, std::memory_order_relaxed)) continue;
      run(c0, c1);
      c0 = next.load(std::memory_order_relaxed);
    }
  });
}

}  // namespace llmprune::kernels
