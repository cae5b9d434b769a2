// JSON file helpers (see json.h).
#include "util/json.h"

#include "util/error.h"
#include "util/fs.h"

namespace llmprune {

json read_json_file(const std::string& path) {
  std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw bad_input("malformed JSON in ", path, ": ", e.what());
  }
}

void write_json_file(const std::string& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace llmprune
