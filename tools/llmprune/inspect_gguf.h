// `llmprune inspect` on a .gguf file: architecture, metadata, tensor types and sizes.
#pragma once

#include <string>

namespace llmprune::cli {

// True for a path that names a GGUF file (a regular file ending in .gguf or starting with
// the "GGUF" magic).
bool is_gguf_path(const std::string& path);
// Print the summary; write the JSON report to `report` when it is not empty.
void inspect_gguf(const std::string& path, const std::string& report);

}  // namespace llmprune::cli
