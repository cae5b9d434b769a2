// Parsing of the --device / --dtype runtime options into LibTorch values, with one-line
// errors (unknown device, CUDA unavailable, unsupported dtype).
#pragma once

#include <torch/torch.h>

#include <string>

namespace llmprune {

torch::Device parse_device(const std::string& device);      // cpu | cuda | cuda:N
torch::ScalarType parse_dtype(const std::string& dtype);    // f32 | bf16 (| f16)
std::string dtype_label(torch::ScalarType t);               // "f32", "bf16", "f16"

}  // namespace llmprune
