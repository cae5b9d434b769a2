// Test support: where ../shared/assets is, and how tests that need it behave when it is
// missing (fail loudly under CI=true, skip with a message elsewhere). Also runs the
// llmprune binary for CLI tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>

namespace llmprune::test {

// Absolute path of ../shared/assets next to the source tree ("" when absent).
// LLMPRUNE_ASSETS overrides it.
std::string assets_dir();
// assets_dir() + "/" + rel.
std::string asset(const std::string& rel);
bool running_in_ci();
// A fresh empty temporary folder, removed at process exit.
std::string temp_dir(const std::string& tag);

// The message of the llmprune::Error that `f` throws ("" when it throws none); also checks
// that the error is bad input (exit code 2).
std::string bad_input_message(const std::function<void()>& f);

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Run `llmprune <args>` (args are passed to /bin/sh, quote as needed).
CommandResult run_llmprune(const std::string& args);
// A run that must fail as bad input: exit 2 and exactly one "error: " line on stderr, which
// contains `needle`.
void expect_bad_input(const CommandResult& r, const std::string& needle);

}  // namespace llmprune::test

// Use at the top of a test that reads ../shared/assets/<rel>.
#define LLMPRUNE_REQUIRE_ASSET(rel)                                                          \
  do {                                                                                       \
    std::string _p = ::llmprune::test::asset(rel);                                           \
    if (::llmprune::test::assets_dir().empty() || !std::ifstream(_p).good()) {               \
      if (::llmprune::test::running_in_ci())                                                 \
        FAIL() << "asset " << rel << " missing (expected ../shared/assets beside the repo)"; \
      else                                                                                   \
        GTEST_SKIP() << "asset " << rel << " missing: ../shared/assets is not beside the repo"; \
    }                                                                                        \
  } while (0)
