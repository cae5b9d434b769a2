// Runtime options -> LibTorch settings (see runtime.h).
#include "runtime.h"

#include <dlfcn.h>

#include <string>

#include "kernels/cpu_features.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {

namespace {

constexpr int kMaxThreads = 1024;

// OpenBLAS (fp32 matmuls) keeps its own thread pool; it is found at run time so that a
// LibTorch built against another BLAS still links.
void set_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    fn(n);
}

// --dtype auto: bf16 where its matmuls are native (CUDA, AVX-512-BF16), f32 otherwise.
void resolve_dtype(RuntimeOptions& opts) {
  const bool cuda = opts.device.rfind("cuda", 0) == 0;
  const bool native = kernels::cpu_features().avx512bf16;
  if (opts.dtype != "auto") {
    opts.dtype_reason = "requested";
  } else if (cuda) {
    opts.dtype = "bf16";
    opts.dtype_reason = "auto: bf16 on CUDA";
  } else if (native) {
    opts.dtype = "bf16";
    opts.dtype_reason = "auto: this CPU has AVX-512-BF16";
  } else {
    opts.dtype = "f32";
    opts.dtype_reason = "auto: this CPU has no AVX-512-BF16 (bf16 would be emulated)";
  }
  if (opts.dtype_reason != "requested") log_info("--dtype ", opts.dtype_reason);
  if (opts.dtype == "bf16" && !cuda && !native)
    log_warn("--dtype bf16: this CPU has no AVX512-BF16, so bf16 matmuls are emulated and "
             "much slower than --dtype f32 (see docs/benchmarks.md)");
}

}  // namespace

void apply_runtime(RuntimeOptions& opts) {
  // 0 keeps LibTorch's and OpenBLAS's defaults (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS);
  // more OpenMP threads than OpenBLAS's can slow fp32 matmuls down (measured in
  // docs/benchmarks.md), so we do not force "all cores". --threads N sets both pools.
  // Each thread costs a stack and a share of every parallel region: 100000 threads hang the
  // machine before the first matmul. 1024 is above any CPU this runs on.
  LLMPRUNE_CHECK(opts.threads <= kMaxThreads, "--threads ", opts.threads, " exceeds the limit of ",
                 kMaxThreads);
  if (opts.threads > 0) {
    torch::set_num_threads(opts.threads);
    set_blas_threads(opts.threads);
  }
  resolve_dtype(opts);
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
  lo.weights = opts.weights;
  lo.check_weights = opts.check_weights;
  lo.huge_pages = opts.huge_pages == "on";
  return lo;
}

}  // namespace llmprune::cli
