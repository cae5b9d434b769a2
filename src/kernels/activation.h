// SwiGLU's elementwise half on the CPU: out = silu(gate) * up in one pass (LibTorch's bf16
// silu alone took 2.6 ms for a [512, 5632] block on 2 threads, about 1 % of a TinyLlama
// prefill). silu(x) = x / (1 + e^-x) in f32 with a vectorized e^x (within 2 ulp of the
// correctly rounded value); AVX-512, AVX2+FMA or scalar under the kernel limit (gemv.h).
#pragma once

#include <cstdint>

namespace llmprune::kernels {

// out[i] = silu(gate[i]) * up[i] on bf16 bit patterns, rounded as the two LibTorch ops round
// (to nearest even): silu(gate) computed in f32 and rounded to bf16, then its product with
// up rounded to bf16. (f32 compute keeps LibTorch's ops: its bits stay transformers'.)
void silu_mul(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n);

}  // namespace llmprune::kernels
