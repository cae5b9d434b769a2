// Test helpers for the CPU kernels: run a check at every instruction-set level this CPU has.
#pragma once

#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemv.h"

namespace llmprune::kernels {

// Limits the kernels to one instruction-set level; restores all levels afterwards.
struct LevelGuard {
  explicit LevelGuard(KernelLevel level) { set_kernel_limit(level); }
  ~LevelGuard() { set_kernel_limit(KernelLevel::kAvx512); }
};

// Every level this CPU runs (the x86 kernels are only reachable where the CPU has them).
inline std::vector<KernelLevel> levels() {
  std::vector<KernelLevel> out{KernelLevel::kScalar};
  if (cpu_features().avx2_fma()) out.push_back(KernelLevel::kAvx2);
  if (cpu_features().avx512()) out.push_back(KernelLevel::kAvx512);
  return out;
}

}  // namespace llmprune::kernels
