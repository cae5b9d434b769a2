// Test support (see assets.h).
#include "support/assets.h"

#include "util/error.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace llmprune::test {
namespace fs = std::filesystem;

std::string assets_dir() {
  if (const char* env = std::getenv("LLMPRUNE_ASSETS")) return env;
  fs::path p = fs::path(LLMPRUNE_SOURCE_DIR).parent_path() / "shared" / "assets";
  std::error_code ec;
  return fs::is_directory(p, ec) ? fs::canonical(p).string() : std::string();
}

std::string asset(const std::string& rel) { return assets_dir() + "/" + rel; }

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) != "" && std::string(ci) != "0" && std::string(ci) != "false";
}

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    std::string templ = (fs::temp_directory_path() / "llmprune-test-XXXXXX").string();
    path = mkdtemp(templ.data());
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir(const std::string& tag) {
  static TempRoot root;
  static int counter = 0;
  fs::path p = fs::path(root.path) / (tag + "-" + std::to_string(counter++));
  fs::create_directories(p);
  return p.string();
}

std::string bad_input_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "";
}

CommandResult run_llmprune(const std::string& args) {
  std::string dir = temp_dir("cmd");
  std::string out = dir + "/stdout", err = dir + "/stderr";
  std::string cmd = std::string("'") + LLMPRUNE_BINARY + "' " + args + " >'" + out + "' 2>'" +
                    err + "' </dev/null";
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, slurp(out), slurp(err)};
}

void expect_bad_input(const CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::istringstream lines(r.err);
  int errors = 0;
  std::string error_line;
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("error: ", 0) == 0) {
      ++errors;
      error_line = l;
    }
  EXPECT_EQ(errors, 1) << "exactly one error line: " << r.err;
  EXPECT_NE(error_line.find(needle), std::string::npos) << r.err;
}

}  // namespace llmprune::test
