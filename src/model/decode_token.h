// One token through the decoder layers on raw buffers: decoding (one position, batch 1) of a
// bf16 model on the CPU without LibTorch ops between the kernels. Between two GEMV products
// of a token the module path spends ~20-75 us in LibTorch's op dispatch, allocations and
// checks, cold in the caches after every product streamed megabytes of weights (TinyLlama
// shape, 2-core Zen 5, 2026-12-02: ~160 us per layer, ~8 % of a token); this path runs the
// same kernels on preallocated buffers: RMSNorm (kernels/rms_norm.h), the grouped GEMV
// products (kernels/gemv.h), RoPE into the KV cache (model/rope.h), single-query attention
// (kernels/decode_attention.h), silu(gate) x up (kernels/activation.h) and the residual adds,
// rounding where the module path rounds, so its results are bit-equal (tested).
// DecoderLM::forward_hidden_schedule takes it where every scheduled layer applies
// (DecoderLayerImpl::decode_token_applies) and no hook is set; anything else (f32 compute,
// gradients, adapters, LayerNorm / post-norm, non-SiLU or ungated MLPs, another device) runs
// the module path.
#pragma once

#include <cstdint>
#include <vector>

#include "model/modules.h"

namespace llmprune {

// Process-wide switch (tests compare the two paths; on by default).
void set_decode_token_enabled(bool on);
bool decode_token_enabled();

// The calling thread's scratch of the raw path, grown on demand and reused between tokens:
// each buffer has one user (the layer: h, out; attention: qkv, q, ctx; MLP: gate_up, act;
// raw_linear_group: y, bias).
struct DecodeBuffers {
  std::vector<uint16_t> h, out, qkv, q, ctx, gate_up, act;
  std::vector<float> y, bias;
};
DecodeBuffers& decode_buffers();

// Whether maps of the same bf16 input of width `cols` run on raw buffers: no adapter, each
// as raw_gemv_applies (model/linear.h), all of one weight form (one kernel call).
bool raw_linear_group_applies(const std::vector<const LinearImpl*>& maps, int64_t cols);
// y = [x W_0^T + b_0 | x W_1^T + b_1 | ...] in bf16, one GEMV call over the maps (x: one row).
void raw_linear_group(const std::vector<const LinearImpl*>& maps, const uint16_t* x, uint16_t* y);

// NormImpl::forward on one bf16 row: RMSNorm with a bf16 weight or none.
bool raw_norm_applies(const NormImpl& norm);
void raw_norm(const NormImpl& norm, const uint16_t* x, int64_t n, uint16_t* out);

// x += y on bf16 values: each sum in f32, rounded to nearest even (LibTorch's bf16 add).
void bf16_residual_add(uint16_t* x, const uint16_t* y, int64_t n);

}  // namespace llmprune
