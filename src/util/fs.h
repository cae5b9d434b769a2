// Filesystem helpers: whole-file reads with errors naming the path, and atomic writes
// (temp in the same folder + fsync + rename) so a killed run never leaves a half file.
#pragma once

#include <functional>
#include <string>

namespace llmprune {

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string join_path(const std::string& a, const std::string& b);

// Read a whole file; throws bad_input "cannot read <path>: <reason>".
std::string read_file(const std::string& path);

// Write `data` to `path` atomically.
void write_file_atomic(const std::string& path, const std::string& data);

// Create the directory `final_dir` atomically: `fill` writes into a fresh
// "<final_dir>.partial-<pid>" folder; every file there is fsynced, then the folder is
// renamed onto `final_dir` (an existing final_dir is replaced only when `overwrite`).
// On any exception the partial folder is removed and the exception propagates.
void write_dir_atomic(const std::string& final_dir, bool overwrite,
                      const std::function<void(const std::string& tmp_dir)>& fill);

}  // namespace llmprune
