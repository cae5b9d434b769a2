// Runtime options -> LibTorch settings (see runtime.h).
#include "runtime.h"

#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {

void apply_runtime(const RuntimeOptions& opts) {
  if (opts.threads > 0) torch::set_num_threads(opts.threads);
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
