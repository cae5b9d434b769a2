// Applying the shared runtime options (--device, --dtype, --threads, --seed) to LibTorch.
#pragma once

#include "command.h"
#include "model/causal_lm.h"

namespace llmprune::cli {

// Set LibTorch threads and seeds; check that the requested device exists.
void apply_runtime(const RuntimeOptions& opts);
LoadOptions load_options(const RuntimeOptions& opts);
// Whether /proc/cpuinfo lists avx512_bf16 or amx_bf16 (true when it cannot tell).
bool cpu_has_native_bf16();

}  // namespace llmprune::cli
