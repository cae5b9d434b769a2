// Overflow-checked size arithmetic for shapes and counts read from files or flags: a wrapped
// product would look like a small, valid size ("2^40 heads x 2^40 head_dim needs 0 rows").
#pragma once

#include <cstdint>
#include <string>

#include "util/error.h"

namespace llmprune {

// a * b, or bad_input "<what>: a x b overflows int64".
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw bad_input(what, ": ", a, " x ", b, " overflows a 64-bit size");
  return r;
}

// a + b, or bad_input "<what>: a + b overflows int64".
inline int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw bad_input(what, ": ", a, " + ", b, " overflows a 64-bit size");
  return r;
}

}  // namespace llmprune
