// Filesystem helpers: whole-file reads with errors naming the path, and atomic writes
// (temp in the same folder + checked fsync + rename/exchange) so a killed run never leaves a
// half-written output where a complete one was, and its litter is swept by the next run.
#pragma once

#include <functional>
#include <string>

namespace llmprune {

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string join_path(const std::string& a, const std::string& b);

// Read a whole file; throws bad_input "cannot read <path>: <reason>".
std::string read_file(const std::string& path);

// Write `data` to `path` atomically ("<path>.partial-<pid>", fsync, rename, fsync of the
// folder). Devices, pipes and links to them are written in place. Failures (disk full,
// permissions) are environment errors (exit 1) naming `path` and the reason.
void write_file_atomic(const std::string& path, const std::string& data);

// Write the file `path` atomically when its content is streamed: `fill` writes into
// "<path>.partial-<pid>"; it is fsynced and renamed onto `path` (an existing file only when
// `overwrite`, else bad_input before `fill` runs), then the folder is fsynced. On an
// exception the temporary file is removed and the exception propagates.
void write_file_atomic_streamed(const std::string& path, bool overwrite,
                                const std::function<void(const std::string& tmp)>& fill);

// Create or replace the folder `final_dir` atomically: `fill` writes into a fresh
// "<final_dir>.partial-<pid>"; every file and folder there is fsynced, then it takes the
// place of `final_dir` (an existing one only when `overwrite`): with one
// renameat2(RENAME_EXCHANGE) where the filesystem has it, else rename old away + rename new
// in, restoring the old one if the second step fails. At any instant `final_dir` holds the
// old complete output or the new complete one; a crash between the fallback's two renames
// leaves "<final_dir>.old-<pid>", which the next call puts back. On an exception the
// partial folder is removed and the exception propagates.
void write_dir_atomic(const std::string& final_dir, bool overwrite,
                      const std::function<void(const std::string& tmp_dir)>& fill);

// Remove "<path><tag><pid>" siblings whose process is gone (killed runs). For tag ".old-"
// (a replaced output) the entry is renamed back onto `path` when `path` is missing.
void remove_stale_litter(const std::string& path, const std::string& tag);

}  // namespace llmprune
