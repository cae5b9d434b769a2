// Parsing and validation of one safetensors header (the 8-byte length + JSON), shared by
// the reader; kept apart so the checks can be read (and tested) in one place.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace llmprune::detail {

// Largest header accepted, as in Hugging Face's safetensors (100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct ParsedHeader {
  std::vector<TensorEntry> entries;  // in header order; file = the given path
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;           // 8 + header length
};

// Validate the bytes of a whole .safetensors file (`path` names it in errors): sizes,
// JSON structure, dtypes, shapes against byte spans, offsets inside the data section,
// no overlaps, no gaps, no trailing bytes. Throws a one-line bad_input
// "[safetensors] <path>: tensor <name>: ...".
ParsedHeader parse_header(const std::string& path, const uint8_t* data, uint64_t size);

// `s` with control characters escaped, so names from a file cannot break a one-line error.
std::string one_line(const std::string& s);

}  // namespace llmprune::detail
