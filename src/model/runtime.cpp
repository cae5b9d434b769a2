// --device / --dtype parsing (see runtime.h).
#include "model/runtime.h"

#include "util/error.h"

namespace llmprune {

torch::Device parse_device(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (device.rfind("cuda", 0) != 0)
    throw bad_input("unknown device '", device, "' (use cpu, cuda or cuda:N)");
  if (!torch::cuda::is_available())
    throw bad_input("device '", device, "' requested but CUDA is not available (this LibTorch "
                    "build or machine has no GPU); use --device cpu");
  int index = 0;
  if (device != "cuda") {
    if (device.size() < 6 || device[4] != ':' ||
        device.find_first_not_of("0123456789", 5) != std::string::npos)
      throw bad_input("unknown device '", device, "' (use cpu, cuda or cuda:N)");
    index = std::stoi(device.substr(5));
  }
  const int64_t n = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= n)
    throw bad_input("device '", device, "' does not exist: ", n, " CUDA device(s) visible");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

torch::ScalarType parse_dtype(const std::string& dtype) {
  if (dtype == "f32" || dtype == "fp32" || dtype == "float32") return torch::kFloat32;
  if (dtype == "bf16" || dtype == "bfloat16") return torch::kBFloat16;
  if (dtype == "f16" || dtype == "fp16" || dtype == "float16") return torch::kFloat16;
  if (dtype == "f64" || dtype == "float64") return torch::kFloat64;
  throw bad_input("unsupported compute dtype '", dtype, "' (use f32 or bf16)");
}

std::string dtype_label(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "f32";
    case torch::kBFloat16: return "bf16";
    case torch::kFloat16: return "f16";
    case torch::kFloat64: return "f64";
    default: return c10::toString(t);
  }
}

}  // namespace llmprune
