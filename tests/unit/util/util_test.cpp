// util/: errors carry their exit code, JSON files give one-line errors naming the file,
// atomic writes leave nothing half-written.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/assets.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

TEST(Error, KindsMapToExitCodes) {
  // DESIGN.md: exit 2 for bad input, 1 for internal failure.
  EXPECT_EQ(bad_input("x").exit_code(), 2);
  EXPECT_EQ(internal_error("x").exit_code(), 1);
  try {
    LLMPRUNE_CHECK(1 + 1 == 3, "tensor ", "a.weight", ": shape [", 2, "]");
    FAIL() << "LLMPRUNE_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "tensor a.weight: shape [2]");
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  }
}

TEST(Json, MalformedFileNamesPathOnOneLine) {
  std::string dir = test::temp_dir("json");
  std::string path = dir + "/bad.json";
  write_file_atomic(path, "{\"a\": [1, 2,}");
  try {
    read_json_file(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(e.exit_code(), 2);
  }
  EXPECT_THROW(read_json_file(dir + "/missing.json"), Error);
}

TEST(Fs, WriteDirAtomicRemovesPartialOnFailure) {
  std::string dir = test::temp_dir("atomic") + "/out";
  EXPECT_THROW(write_dir_atomic(dir, false,
                                [](const std::string& tmp) {
                                  write_file_atomic(tmp + "/a.txt", "half");
                                  throw bad_input("simulated failure");
                                }),
               Error);
  EXPECT_FALSE(fs::exists(dir));
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path()))
    ADD_FAILURE() << "left behind: " << e.path();
  write_dir_atomic(dir, false, [](const std::string& tmp) {
    write_file_atomic(tmp + "/a.txt", "whole");
  });
  EXPECT_EQ(read_file(dir + "/a.txt"), "whole");
  // An existing output is only replaced when asked.
  EXPECT_THROW(write_dir_atomic(dir, false, [](const std::string&) {}), Error);
  write_dir_atomic(dir, true, [](const std::string& tmp) {
    write_file_atomic(tmp + "/b.txt", "new");
  });
  EXPECT_FALSE(fs::exists(dir + "/a.txt"));
  EXPECT_EQ(read_file(dir + "/b.txt"), "new");
}

TEST(Fs, AtomicWriteNeverReplacesDevicesOrLinks) {
  // Renaming a temp file over /dev/null or over a symlink such as /dev/stdout would replace
  // the node itself; such targets are written in place.
  std::string dir = test::temp_dir("links");
  write_file_atomic(dir + "/target.txt", "old");
  fs::create_symlink(dir + "/target.txt", dir + "/link.txt");
  write_file_atomic(dir + "/link.txt", "through the link");
  EXPECT_TRUE(fs::is_symlink(dir + "/link.txt"));
  EXPECT_EQ(read_file(dir + "/target.txt"), "through the link");
  write_file_atomic("/dev/null", "discarded");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_THROW(write_file_atomic(dir, "x"), Error);
}

}  // namespace
}  // namespace llmprune
