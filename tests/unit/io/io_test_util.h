// Helpers shared by the io tests: raw file writing, bit-level tensor comparison, and
// "this call throws a one-line bad_input containing ...".
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "util/error.h"

namespace llmprune::test {

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Same dtype, shape and bytes (NaN payloads included).
inline bool bit_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  torch::Tensor ca = a.contiguous(), cb = b.contiguous();
  size_t n = static_cast<size_t>(ca.numel()) * ca.element_size();
  return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

// Runs `fn`, expects llmprune::Error of kind bad input whose one-line message contains
// every string of `parts`. Returns the message ("" when it did not throw).
inline std::string expect_bad_input(const std::function<void()>& fn,
                                    std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p
                                                                        << "\" in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "no llmprune::Error thrown";
  return "";
}

}  // namespace llmprune::test
