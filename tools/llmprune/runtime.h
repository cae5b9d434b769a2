// Applying the shared runtime options (--device, --dtype, --threads, --seed) to LibTorch.
#pragma once

#include "command.h"
#include "model/causal_lm.h"

namespace llmprune::cli {

// Set LibTorch's and OpenBLAS's threads and the seeds; check that the requested device
// exists; resolve --dtype auto (opts.dtype becomes f32 or bf16, opts.dtype_reason says why).
void apply_runtime(RuntimeOptions& opts);
LoadOptions load_options(const RuntimeOptions& opts);

}  // namespace llmprune::cli
