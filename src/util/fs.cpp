// Filesystem helpers (see fs.h).
#include "util/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace llmprune {
namespace fs = std::filesystem;

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string join_path(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

std::string read_file(const std::string& path) {
  if (is_directory(path)) throw bad_input("cannot read ", path, ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input("cannot read ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
void fsync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

namespace {
// Write straight into `path` (devices, pipes, /dev/stdout: renaming over them would replace
// the device node or the link itself).
void write_file_direct(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw bad_input("cannot write ", path, ": ", std::strerror(errno));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) throw bad_input("cannot write ", path, ": ", std::strerror(errno));
}
}  // namespace

void write_file_atomic(const std::string& path, const std::string& data) {
  std::error_code lec;
  auto st = fs::symlink_status(path, lec);
  if (!lec && fs::exists(st) && !fs::is_regular_file(st)) {
    if (fs::is_directory(st)) throw bad_input("cannot write ", path, ": is a directory");
    return write_file_direct(path, data);
  }
  std::string tmp = path + ".partial-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw bad_input("cannot write ", tmp, ": ", std::strerror(errno));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw bad_input("cannot write ", tmp, ": ", std::strerror(errno));
    }
  }
  fsync_path(tmp, false);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw bad_input("cannot rename ", tmp, " to ", path, ": ", ec.message());
  }
  fs::path parent = fs::path(path).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), true);
}

void write_dir_atomic(const std::string& final_dir, bool overwrite,
                      const std::function<void(const std::string& tmp_dir)>& fill) {
  std::error_code ec;
  if (fs::exists(final_dir, ec) && !overwrite)
    throw bad_input("output ", final_dir, " already exists (pass --overwrite to replace it)");
  std::string tmp = final_dir + ".partial-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw bad_input("cannot create ", tmp, ": ", ec.message());
  try {
    fill(tmp);
    for (const auto& entry : fs::recursive_directory_iterator(tmp))
      fsync_path(entry.path().string(), entry.is_directory());
    std::string old = final_dir + ".old-" + std::to_string(::getpid());
    bool had_old = fs::exists(final_dir, ec);
    if (had_old) fs::rename(final_dir, old);
    fs::rename(tmp, final_dir);
    if (had_old) fs::remove_all(old, ec);
    fs::path parent = fs::path(final_dir).parent_path();
    fsync_path(parent.empty() ? "." : parent.string(), true);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace llmprune
