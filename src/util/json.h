// JSON helpers over nlohmann::json: load a file with a one-line error naming it, typed
// field access with errors naming the file and key.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llmprune {

using json = nlohmann::json;

// Parse a JSON file; throws bad_input naming the file (missing, unreadable, or malformed
// with the parser's byte offset).
json read_json_file(const std::string& path);

// Write `j` (pretty, 2 spaces) atomically: temp file in the same folder, fsync, rename.
void write_json_file(const std::string& path, const json& j);

}  // namespace llmprune
