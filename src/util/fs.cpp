// Filesystem helpers (see fs.h).
#include "util/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
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

// Disk full, permissions, I/O errors: the environment, not the input (exit 1).
Error write_error(const std::string& path, const std::string& why) {
  return internal_error("cannot write ", path, ": ", why);
}

std::string parent_of(const std::string& path) {
  fs::path p = fs::path(path).parent_path();
  return p.empty() ? "." : p.string();
}

// fsync a file or folder; `target` names the output in the error.
void fsync_path(const std::string& path, bool dir, const std::string& target) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw write_error(target, std::string("open ") + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some filesystems cannot sync folders (EINVAL); the data itself was synced.
  if (rc != 0 && !(dir && (err == EINVAL || err == EROFS)))
    throw write_error(target, std::string("fsync ") + path + ": " + std::strerror(err));
}

// Write straight into `path` (devices, pipes, /dev/stdout: renaming over them would replace
// the device node or the link itself).
void write_file_direct(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw write_error(path, std::strerror(errno));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) throw write_error(path, std::strerror(errno));
}

// write(2) everything, fsync, close: each step checked (a full disk often shows only at
// fsync or close on network filesystems).
void write_all_synced(const std::string& tmp, const std::string& data, const std::string& target) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw write_error(target, std::strerror(errno));
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw write_error(target, std::strerror(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw write_error(target, std::string("fsync: ") + std::strerror(err));
  }
  if (::close(fd) != 0) throw write_error(target, std::string("close: ") + std::strerror(errno));
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string pid_suffix() { return std::to_string(::getpid()); }

}  // namespace

void remove_stale_litter(const std::string& path, const std::string& tag) {
  fs::path target(path);
  std::string dir = parent_of(path), prefix = target.filename().string() + tag;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string pid = name.substr(prefix.size());
    if (pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    long p = std::stol(pid);
    if (p == ::getpid() || process_alive(p)) continue;
    std::error_code rec;
    if (tag == ".old-" && !fs::exists(fs::symlink_status(path, rec))) {
      fs::rename(it->path(), path, rec);  // the complete old output, moved away and never replaced
      if (!rec) continue;
    }
    fs::remove_all(it->path(), rec);
  }
}

void write_file_atomic(const std::string& path, const std::string& data) {
  std::error_code lec;
  auto st = fs::status(path, lec);  // follows links: a link to a device is written through
  if (!lec && fs::exists(st) && !fs::is_regular_file(st)) {
    if (fs::is_directory(st)) throw bad_input("cannot write ", path, ": is a directory");
    return write_file_direct(path, data);
  }
  auto lst = fs::symlink_status(path, lec);
  if (!lec && fs::is_symlink(lst)) return write_file_direct(path, data);  // keep the link
  remove_stale_litter(path, ".partial-");
  std::string tmp = path + ".partial-" + pid_suffix();
  try {
    write_all_synced(tmp, data, path);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw write_error(path, std::strerror(errno));
    fsync_path(parent_of(path), true, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomic_streamed(const std::string& path, bool overwrite,
                                const std::function<void(const std::string& tmp)>& fill) {
  std::error_code ec;
  auto lst = fs::symlink_status(path, ec);
  if (!ec && fs::exists(lst)) {
    if (fs::is_directory(lst)) throw bad_input("cannot write ", path, ": is a directory");
    if (!overwrite) throw bad_input(path, " already exists (pass --overwrite to replace it)");
    if (!fs::is_regular_file(lst))
      throw bad_input("cannot write ", path, ": not a regular file (refusing to replace it)");
  }
  remove_stale_litter(path, ".partial-");
  std::string tmp = path + ".partial-" + pid_suffix();
  try {
    fill(tmp);
    fsync_path(tmp, false, path);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw write_error(path, std::strerror(errno));
    fsync_path(parent_of(path), true, path);
  } catch (...) {
    std::error_code rec;
    fs::remove(tmp, rec);
    throw;
  }
}

namespace {

// Test hooks for the kill -9 test (tests/unit/util/fs_atomic_test.cpp), read on every call
// (a forked writer sets them): LLMPRUNE_TEST_FS_PAUSE_US widens the instant of replacement
// so random kills land in it; LLMPRUNE_TEST_FS_NO_EXCHANGE takes the two-rename fallback.
long test_pause_us() {
  const char* v = std::getenv("LLMPRUNE_TEST_FS_PAUSE_US");
  return v ? std::atol(v) : 0L;
}
bool test_no_exchange() { return std::getenv("LLMPRUNE_TEST_FS_NO_EXCHANGE") != nullptr; }

// Put `tmp` in place of the existing `final_dir`; see write_dir_atomic.
void replace_existing(const std::string& tmp, const std::string& final_dir) {
#ifdef RENAME_EXCHANGE
  if (test_pause_us() > 0) ::usleep(static_cast<useconds_t>(test_pause_us()));
  if (!test_no_exchange() &&
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
    std::error_code ec;
    fs::remove_all(tmp, ec);  // now the old output
    return;
  }
  if (!test_no_exchange() && errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    throw write_error(final_dir, std::string("exchange with ") + tmp + ": " + std::strerror(errno));
#endif
  // No exchange on this filesystem: two renames, undone if the second fails. A crash in
  // between leaves ".old-<pid>", restored by remove_stale_litter on the next run.
  std::string old = final_dir + ".old-" + pid_suffix();
  if (::rename(final_dir.c_str(), old.c_str()) != 0)
    throw write_error(final_dir, std::string("move old output aside: ") + std::strerror(errno));
  if (test_pause_us() > 0) ::usleep(static_cast<useconds_t>(test_pause_us()));
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    ::rename(old.c_str(), final_dir.c_str());
    throw write_error(final_dir, std::strerror(err));
  }
  std::error_code ec;
  fs::remove_all(old, ec);
}

}  // namespace

void write_dir_atomic(const std::string& final_dir_arg, bool overwrite,
                      const std::function<void(const std::string& tmp_dir)>& fill) {
  // "out/" names the folder "out": its siblings .partial-PID / .old-PID sit beside it.
  std::string final_dir = final_dir_arg;
  while (final_dir.size() > 1 && final_dir.back() == '/') final_dir.pop_back();
  remove_stale_litter(final_dir, ".old-");
  remove_stale_litter(final_dir, ".partial-");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(final_dir, ec)) && !overwrite)
    throw bad_input("output ", final_dir, " already exists (pass --overwrite to replace it)");
  std::string tmp = final_dir + ".partial-" + pid_suffix();
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw write_error(final_dir, "cannot create " + tmp + ": " + ec.message());
  try {
    fill(tmp);
    for (const auto& entry : fs::recursive_directory_iterator(tmp))
      fsync_path(entry.path().string(), entry.is_directory(), final_dir);
    fsync_path(tmp, true, final_dir);
    if (fs::exists(fs::symlink_status(final_dir, ec))) {
      replace_existing(tmp, final_dir);
    } else if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      throw write_error(final_dir, std::strerror(errno));
    }
    fsync_path(parent_of(final_dir), true, final_dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace llmprune
