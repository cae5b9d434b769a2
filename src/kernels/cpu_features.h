// What the CPU this process runs on can execute, read once (runtime dispatch: one binary for
// every x86-64 CPU; the fast kernels are compiled with target attributes, never -march).
#pragma once

#include <string>

namespace llmprune::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false;
  bool avx512bf16 = false, avx512vnni = false;
  bool avx512() const { return avx512f && avx512bw && avx512vl; }
  bool avx2_fma() const { return avx2 && fma && f16c; }  // every AVX2 CPU has F16C
  // "avx512bf16 avx512vnni avx512 avx2" etc.: the ones the kernels use.
  std::string summary() const;
};

const CpuFeatures& cpu_features();

}  // namespace llmprune::kernels
