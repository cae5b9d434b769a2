// The one JSON entry point for everything llmprune reads (config.json, tokenizer.json,
// safetensors headers, indexes, datasets, later HTTP bodies): parsing with a nesting-depth
// limit and every nlohmann exception mapped to a one-line bad_input naming the source, and
// checked conversions from JSON numbers to integers.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/error.h"

namespace llmprune {

using json = nlohmann::json;

// Deeper nesting is refused before parsing. Real files nest < 20 levels; the limit keeps
// every recursive walk over a parsed value (dump(), copies, our own readers) far from the
// stack's end.
constexpr int kMaxJsonDepth = 128;

// Parse `text`. Throws bad_input "<context><problem>" for malformed JSON, nesting deeper than
// kMaxJsonDepth, out-of-range numbers (1e400) and, when `reject_duplicate_keys`, a key
// repeated in one object (nlohmann would silently keep the last).
// `context` starts the message: "malformed JSON in /x/config.json: ".
json parse_json(std::string_view text, const std::string& context,
                bool reject_duplicate_keys = false);

// Read and parse a JSON file; errors name the path.
json read_json_file(const std::string& path);

// Write `j` (pretty, 2 spaces) atomically: temp file in the same folder, fsync, rename.
void write_json_file(const std::string& path, const json& j);

// A JSON number that must be an integer in [lo, hi]. Integral floats (32.0) are accepted as
// transformers writes them; 1.5, 1e20, NaN, strings, ... throw bad_input
// "<what> must be an integer in [lo, hi], got <value>".
int64_t json_int(const json& v, const std::string& what,
                 int64_t lo = std::numeric_limits<int64_t>::min(),
                 int64_t hi = std::numeric_limits<int64_t>::max());

// Run `fn`, turning any nlohmann exception it throws (a missing key via at(), a wrong type via
// get<>()) into bad_input "<where>: <what the library said>". Readers wrap their
// interpretation of a parsed document in it so no JSON shape reaches main as "internal".
template <typename Fn>
auto with_json_errors(const std::string& where, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const json::exception& e) {
    throw bad_input(where, ": ", e.what());
  }
}

// A short, single-line rendering of `v` for error messages (long values are cut).
std::string json_excerpt(const json& v);
// `s` as valid UTF-8 (each invalid byte becomes U+FFFD), so it can be a JSON string or key:
// strings from binary files (GGUF metadata) are not guaranteed UTF-8, and dumping invalid
// UTF-8 throws.
std::string utf8_for_json(const std::string& s);

}  // namespace llmprune
