// Runtime options -> LibTorch settings (see runtime.h).
#include "runtime.h"

#include <fstream>
#include <string>

#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {

constexpr int kMaxThreads = 1024;

bool cpu_has_native_bf16() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0)
      return line.find(" avx512_bf16") != std::string::npos ||
             line.find(" amx_bf16") != std::string::npos;
  return true;  // unknown platform: do not warn
}

void apply_runtime(const RuntimeOptions& opts) {
  // 0 keeps LibTorch's default (OMP_NUM_THREADS). fp32 matmuls run on OpenBLAS's own
  // threads either way; more OpenMP threads than that can slow them down (measured in
  // docs/benchmarks.md), so we do not force "all cores".
  // Each thread costs a stack and a share of every parallel region: 100000 threads hang the
  // machine before the first matmul. 1024 is above any CPU this runs on.
  LLMPRUNE_CHECK(opts.threads <= kMaxThreads, "--threads ", opts.threads, " exceeds the limit of ",
                 kMaxThreads);
  if (opts.threads > 0) torch::set_num_threads(opts.threads);
  if (opts.dtype == "bf16" && opts.device == "cpu" && !cpu_has_native_bf16())
    log_warn("--dtype bf16: this CPU has no AVX512-BF16/AMX, so bf16 matmuls are emulated and "
             "much slower than --dtype f32 (see docs/benchmarks.md)");
  torch::manual_seed(opts.seed);
  if (opts.device.rfind("cuda", 0) == 0) {
    LLMPRUNE_CHECK(torch::cuda::is_available(), "--device ", opts.device,
                   ": no CUDA device is available to this build of LibTorch");
    torch::Device dev(torch::kCPU);
    try {
      dev = torch::Device(opts.device);
    } catch (const std::exception&) {
      throw bad_input("--device must be cpu, cuda or cuda:N, got '", opts.device, "'");
    }
    LLMPRUNE_CHECK(!dev.has_index() || dev.index() < (int)torch::cuda::device_count(),
                   "--device ", opts.device, ": only ", torch::cuda::device_count(),
                   " CUDA device(s) present");
    torch::cuda::manual_seed_all(opts.seed);
  } else {
    LLMPRUNE_CHECK(opts.device == "cpu", "--device must be cpu, cuda or cuda:N, got '",
                   opts.device, "'");
  }
  log_debug("runtime: device ", opts.device, ", dtype ", opts.dtype, ", threads ",
            torch::get_num_threads(), ", seed ", opts.seed);
}

LoadOptions load_options(const RuntimeOptions& opts) {
  LoadOptions lo;
  lo.device = opts.device;
  lo.dtype = opts.dtype;
  return lo;
}

}  // namespace llmprune::cli
