// Grouped-query attention (see attention.h). The score block of one query chunk is
// [B, n_kv, group * chunk, keys]: queries sharing a kv head are stacked so k/v are never
// repeated in memory, the 1/sqrt(d) scale is folded into q, the mask is applied in place.
#include "model/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/decode_attention.h"
#include "kernels/prefill_attention.h"
#include "model/decode_token.h"
#include "util/error.h"

namespace llmprune {

namespace {

#if TORCH_VERSION_MAJOR >= 2
// LibTorch 2.x: fused kernel for the two mask shapes it expresses without a mask tensor.
bool try_sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t past,
              int64_t window, torch::Tensor& out) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t S = k.size(2), kvh = k.size(1);
  const bool full_causal = past == 0 && (window <= 0 || window >= T);
  const bool single_query = T == 1 && (window <= 0 || window >= S);
  if (!full_causal && !single_query) return false;
  auto expand = [&](const torch::Tensor& t) {
    return t.unsqueeze(2).expand({B, kvh, H / kvh, S, hd}).reshape({B, H, S, hd});
  };
  auto o = at::scaled_dot_product_attention(q, expand(k), expand(v), {}, 0.0,
                                            /*is_causal=*/full_causal && T > 1);
  out = o.transpose(1, 2).reshape({B, T, H * hd});
  return true;
}
#endif

// The kernel's arguments for B x H queries of head_dim hd over the first S positions of the
// cache views k, v [B, KV, >= S, hd] (last dim contiguous); q and out are the caller's to set.
kernels::DecodeAttentionArgs cache_attention_args(int64_t B, int64_t H, int64_t hd, int64_t window,
                                                  const torch::Tensor& k, const torch::Tensor& v,
                                                  int64_t S) {
  kernels::DecodeAttentionArgs a;
  a.bf16 = k.scalar_type() == torch::kBFloat16;
  a.B = B;
  a.H = H;
  a.KV = k.size(1);
  a.S = S;
  a.hd = hd;
  a.window = window;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  a.k = k.data_ptr();
  a.v = v.data_ptr();
  for (int i = 0; i < 3; ++i) {
    a.k_stride[i] = k.stride(i);
    a.v_stride[i] = v.stride(i);
  }
  return a;
}

// One query per sequence (decoding) on the CPU, without LibTorch ops: the fused kernel
// (kernels/decode_attention.h) reads the KV cache slices in place (a matmul would copy them per
// token), each K / V row once for the query heads sharing it. Rounds as the chunked path does:
// q x scale and each score rounded to the compute dtype (what the matmul returns), softmax
// in f32, probabilities rounded, then their product with v accumulated in f32 and rounded;
// only the order of the f32 sums differs.
template <typename T>
torch::Tensor single_query_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, int64_t window) {
  const int64_t B = q.size(0), H = q.size(1), hd = q.size(3);
  LLMPRUNE_ASSERT(k.stride(3) == 1 && v.stride(3) == 1, "single-query attention: k/v rows");
  const torch::Tensor qc = q.contiguous();
  torch::Tensor out = torch::empty({B, 1, H * hd}, q.options());
  kernels::DecodeAttentionArgs a = cache_attention_args(B, H, hd, window, k, v, k.size(2));
  a.q = qc.data_ptr<T>();
  a.out = out.data_ptr<T>();
  kernels::decode_attention(a);
  return out;
}

// Several bf16 queries on the CPU (prefill): the fused kernel (kernels/prefill_attention.h)
// reads the KV cache slices in place and rounds where the chunked path below rounds.
torch::Tensor prefill_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t past, int64_t window) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const torch::Tensor qc = q.contiguous();
  torch::Tensor out = torch::empty({B, T, H * hd}, q.options());
  kernels::PrefillAttentionArgs a;
  a.B = B;
  a.H = H;
  a.KV = k.size(1);
  a.T = T;
  a.past = past;
  a.hd = hd;
  a.window = window;
  // As `q * (1 / sqrt(hd))` on a bf16 tensor: LibTorch 1.13 rounds the scalar to bf16 first,
  // 2.x multiplies by it in f32 (checked with 2.15).
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
#if TORCH_VERSION_MAJOR >= 2
  a.scale = static_cast<float>(scale);
#else
  a.scale = static_cast<float>(c10::BFloat16(static_cast<float>(scale)));
#endif
  a.q = reinterpret_cast<const uint16_t*>(qc.data_ptr<at::BFloat16>());
  a.k = reinterpret_cast<const uint16_t*>(k.data_ptr<at::BFloat16>());
  a.v = reinterpret_cast<const uint16_t*>(v.data_ptr<at::BFloat16>());
  for (int i = 0; i < 3; ++i) {
    a.k_stride[i] = k.stride(i);
    a.v_stride[i] = v.stride(i);
  }
  a.out = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  kernels::prefill_attention_bf16(a);
  return out;
}

}  // namespace

torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t past, int64_t window,
                                int64_t chunk) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t kvh = k.size(1), S = k.size(2);
  LLMPRUNE_ASSERT(H % kvh == 0 && S == past + T && v.size(2) == S, "attention shapes q ", q.sizes(),
                  " k ", k.sizes(), " v ", v.sizes(), " past ", past);
  const auto dt = q.scalar_type();
  const bool raw_cpu = q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu() &&
                       k.scalar_type() == dt && v.scalar_type() == dt &&
                       !(torch::GradMode::is_enabled() &&
                         (q.requires_grad() || k.requires_grad() || v.requires_grad()));
  if (T == 1 && raw_cpu && (dt == torch::kFloat32 || dt == torch::kBFloat16))
    return dt == torch::kFloat32 ? single_query_attention<float>(q, k, v, window)
                                 : single_query_attention<at::BFloat16>(q, k, v, window);
  if (T > 1 && raw_cpu && dt == torch::kBFloat16 && k.stride(3) == 1 && v.stride(3) == 1 &&
      kernels::prefill_attention_available())
    return prefill_attention(q, k, v, past, window);
#if TORCH_VERSION_MAJOR >= 2
  {
    torch::Tensor out;
    if (try_sdpa(q, k, v, past, window, out)) return out;
  }
#endif
  const int64_t g = H / kvh;
  const bool low_precision =
      q.scalar_type() != torch::kFloat32 && q.scalar_type() != torch::kFloat64;
  if (chunk <= 0) {
    // Measured on a 2-core AMD EPYC (32 heads, 4 kv heads, head_dim 64): fp32 at 2048 tokens,
    // 64-query chunks run 1.5x faster than 256 and 3.6x faster than one [H, T, T] block.
    // bf16 (2026-12-02, 128 / 512 / 2048 tokens): 32-query chunks were fastest or within 20 %
    // of it at every length (0.77 / 10.1 / 89 ms against 0.91 / 26.7 / 323 ms with 256): small
    // chunks skip most of the causally masked keys. (bf16 reaches this only on CPUs without
    // AVX-512 BF16, or under a kernel limit, or on CUDA: else prefill_attention runs.)
    const int64_t keys = window > 0 ? std::min(window, S) : S;
    chunk = low_precision ? 32
                          : std::clamp<int64_t>(
                                (int64_t{4} << 20) / std::max<int64_t>(1, B * H * keys), 16, 256);
  }
  auto qs = (q * (1.0 / std::sqrt(static_cast<double>(hd)))).view({B, kvh, g, T, hd});
  auto out = torch::empty({B, T, kvh, g, hd}, q.options());
  const auto opts_long = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t c = std::min(chunk, T - t0);
    const int64_t q_first = past + t0, q_last = past + t0 + c - 1;  // absolute positions
    const int64_t kv_end = q_last + 1;
    const int64_t kv_begin = window > 0 ? std::max<int64_t>(0, q_first - window + 1) : 0;
    const int64_t n_keys = kv_end - kv_begin;
    auto kc = k.narrow(2, kv_begin, n_keys), vc = v.narrow(2, kv_begin, n_keys);
    auto qc = qs.narrow(3, t0, c).reshape({B, kvh, g * c, hd});
    auto scores = torch::matmul(qc, kc.transpose(-1, -2));  // [B, kvh, g*c, n_keys]
    const bool causal_cut = c > 1;  // a key after the chunk's first query exists
    const bool window_cut = window > 0 && q_last - kv_begin >= window;
    if (causal_cut || window_cut) {
      auto qpos = torch::arange(q_first, q_last + 1, opts_long).unsqueeze(1);  // [c, 1]
      auto kpos = torch::arange(kv_begin, kv_end, opts_long).unsqueeze(0);     // [1, n]
      auto masked = kpos > qpos;
      if (window > 0) masked = masked.logical_or(qpos - kpos >= window);
      scores.view({B, kvh, g, c, n_keys}).masked_fill_(masked, -INFINITY);
    }
    // Softmax in fp32 like transformers' eager attention, then back to the compute dtype.
    auto probs = low_precision ? torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type())
                               : torch::softmax(scores, -1);
    auto oc = torch::matmul(probs, vc);  // [B, kvh, g*c, hd]
    out.narrow(1, t0, c).copy_(oc.view({B, kvh, g, c, hd}).permute({0, 3, 1, 2, 4}));
  }
  return out.view({B, T, H * hd});
}

AttentionImpl::AttentionImpl(const AttentionSpec& spec, int64_t hidden, const TensorNaming& n,
                             const torch::TensorOptions& opts)
    : spec_(spec) {
  const int64_t q_rows = spec.n_heads * spec.head_dim, kv_rows = spec.n_kv_heads * spec.head_dim;
  if (n.fused_qkv()) {
    qkv_ = register_module(n.qkv, Linear(hidden, q_rows + 2 * kv_rows, spec.qkv_bias, opts));
  } else {
    q_ = register_module(n.q, Linear(hidden, q_rows, spec.qkv_bias, opts));
    k_ = register_module(n.k, Linear(hidden, kv_rows, spec.qkv_bias, opts));
    v_ = register_module(n.v, Linear(hidden, kv_rows, spec.qkv_bias, opts));
  }
  o_ = register_module(n.o, Linear(q_rows, hidden, spec.o_bias, opts));
}

namespace {

void check_slot(const KVSlot& slot, int64_t B, int64_t T) {
  LLMPRUNE_CHECK(slot.k.size(0) == B, "[model] KV cache batch ", slot.k.size(0),
                 " does not match input batch ", B);
  LLMPRUNE_CHECK(slot.past + T <= slot.k.size(2), "[model] KV cache full: ", slot.past, " + ", T,
                 " tokens exceed its capacity of ", slot.k.size(2));
}

}  // namespace

torch::Tensor AttentionImpl::decode_step(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const RopeTable* rope,
                                         KVSlot& slot) const {
  const int64_t B = q.size(0), hd = spec_.head_dim, H = spec_.n_heads, KV = spec_.n_kv_heads;
  const auto dt = q.scalar_type();
  const bool cache_rows = slot.k.device().is_cpu() && slot.k.scalar_type() == dt &&
                          slot.v.scalar_type() == dt && slot.k.stride(3) == 1 &&
                          slot.v.stride(3) == 1;
  if (!cache_rows || k.scalar_type() != dt || v.scalar_type() != dt ||
      !rope_decode_rows_apply(q, rope) || !rope_decode_rows_apply(k, rope) ||
      !rope_decode_rows_apply(v, nullptr))
    return {};
  check_slot(slot, B, 1);
  const int64_t past = slot.past;
  const auto es = static_cast<int64_t>(q.element_size());
  auto row = [&](const torch::Tensor& cache) {  // the new position's row of kv head 0, batch 0
    return static_cast<char*>(cache.data_ptr()) + past * cache.stride(2) * es;
  };
  // As the general path below computes them, without its views and copies: q rotated into
  // [B, H, 1, hd], k rotated and v copied straight into the cache.
  torch::Tensor qr = torch::empty({B, H, 1, hd}, q.options());
  rope_decode_rows(q, H, rope, qr.data_ptr(), H * hd, hd);
  rope_decode_rows(k, KV, rope, row(slot.k), slot.k.stride(0), slot.k.stride(1));
  rope_decode_rows(v, KV, nullptr, row(slot.v), slot.v.stride(0), slot.v.stride(1));
  return grouped_attention(qr, slot.k.narrow(2, 0, past + 1), slot.v.narrow(2, 0, past + 1), past,
                           spec_.sliding_window);
}

std::vector<const LinearImpl*> AttentionImpl::qkv_maps() const {
  if (qkv_) return {qkv_.get()};
  return {q_.get(), k_.get(), v_.get()};
}

bool AttentionImpl::decode_token_applies(const KVSlot& slot, const RopeTable* rope) const {
  const int64_t cols = (qkv_ ? qkv_ : q_)->weight.size(1);
  auto cache_ok = [&](const torch::Tensor& c) {
    return c.device().is_cpu() && c.scalar_type() == torch::kBFloat16 && c.dim() == 4 &&
           c.size(0) == 1 && c.stride(3) == 1 && slot.past < c.size(2);
  };
  return raw_linear_group_applies(qkv_maps(), cols) &&
         raw_linear_group_applies({o_.get()}, spec_.n_heads * spec_.head_dim) && cache_ok(slot.k) &&
         cache_ok(slot.v) && rope_decode_table_ok(rope, torch::kBFloat16);
}

void AttentionImpl::decode_token(const uint16_t* h, const RopeTable* rope, KVSlot& slot,
                                 uint16_t* out) const {
  const int64_t hd = spec_.head_dim, H = spec_.n_heads, KV = spec_.n_kv_heads, past = slot.past;
  DecodeBuffers& b = decode_buffers();
  b.qkv.resize(static_cast<size_t>((H + 2 * KV) * hd));
  b.q.resize(static_cast<size_t>(H * hd));
  b.ctx.resize(static_cast<size_t>(H * hd));
  raw_linear_group(qkv_maps(), h, b.qkv.data());  // [q | k | v], as the fused projection
  const uint16_t* q = b.qkv.data();
  auto bits = [](const torch::Tensor& c) {
    return reinterpret_cast<uint16_t*>(c.data_ptr<at::BFloat16>());
  };
  // As decode_step: q rotated into its block, k rotated and v copied into the cache row.
  rope_decode_heads_bf16(q, H, hd, rope, b.q.data(), hd);
  rope_decode_heads_bf16(q + H * hd, KV, hd, rope, bits(slot.k) + past * slot.k.stride(2),
                         slot.k.stride(1));
  rope_decode_heads_bf16(q + (H + KV) * hd, KV, hd, nullptr, bits(slot.v) + past * slot.v.stride(2),
                         slot.v.stride(1));
  kernels::DecodeAttentionArgs a =
      cache_attention_args(1, H, hd, spec_.sliding_window, slot.k, slot.v, past + 1);
  a.q = b.q.data();
  a.out = b.ctx.data();
  kernels::decode_attention(a);
  raw_linear_group({o_.get()}, b.ctx.data(), out);
}

torch::Tensor AttentionImpl::context(const torch::Tensor& x, const RopeTable* rope,
                                     KVSlot* slot) const {
  const int64_t B = x.size(0), T = x.size(1), hd = spec_.head_dim;
  const int64_t H = spec_.n_heads, KV = spec_.n_kv_heads;
  torch::Tensor q, k, v;
  if (qkv_) {
    auto fused = qkv_->forward(x);
    q = fused.narrow(-1, 0, H * hd);
    k = fused.narrow(-1, H * hd, KV * hd);
    v = fused.narrow(-1, (H + KV) * hd, KV * hd);
  } else {
    auto qkv = forward_group(x, qkv_maps());
    q = qkv[0];
    k = qkv[1];
    v = qkv[2];
  }
  if (slot && T == 1) {
    torch::Tensor out = decode_step(q, k, v, rope, *slot);
    if (out.defined()) return out;
  }
  // [B, T, heads*hd] -> [B, heads, T, hd]
  q = q.view({B, T, H, hd}).transpose(1, 2);
  k = k.view({B, T, KV, hd}).transpose(1, 2);
  if (rope && rope->rot_dim > 0) {
    q = apply_rope(q, *rope);
    k = apply_rope(k, *rope);
  } else {
    q = q.contiguous();  // grouped_attention views q as [B, kv, group, T, hd]
    k = k.contiguous();
  }
  v = v.view({B, T, KV, hd}).transpose(1, 2);
  int64_t past = 0;
  if (slot) {
    past = slot->past;
    check_slot(*slot, B, T);
    slot->k.narrow(2, past, T).copy_(k);
    slot->v.narrow(2, past, T).copy_(v);
    k = slot->k.narrow(2, 0, past + T);
    v = slot->v.narrow(2, 0, past + T);
  }
  return grouped_attention(q, k, v, past, spec_.sliding_window);
}

}  // namespace llmprune
