// llmprune: entry point. Builds the CLI from the registered subcommands and is the one
// place (with the server's request boundary) that catches llmprune::Error.
#include <algorithm>
#include <cstdio>
#include <map>
#include <new>
#include <string>

#include <c10/util/Exception.h>

#include "command.h"
#include "util/error.h"
#include "util/log.h"

namespace {
// `prefix` + `msg` with line breaks folded, so an error is always exactly one line.
std::string one_line(const char* prefix, const char* msg) {
  std::string s = std::string(prefix) + msg;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace llmprune;
  CLI::App app{
      "llmprune: structured pruning, evaluation and serving of large language models.\n"
      "Reads Hugging Face checkpoint folders; writes models that load in transformers, vLLM "
      "and llama.cpp.\nRun 'llmprune <command> --help' for each command's options."};
  app.require_subcommand(1);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "debug logging on stderr");
  app.add_flag("-q,--quiet", quiet, "only warnings and errors on stderr");

  std::map<std::string, CLI::App*> groups;
  groups["bench"] = app.add_subcommand("bench", "performance benchmarks (see docs/benchmarks.md)");
  groups["bench"]->require_subcommand(1);
  groups["prune"] = app.add_subcommand(
      "prune", "structured pruning: depth (layers, attention / MLP sub-blocks)");
  groups["prune"]->require_subcommand(1);
  cli::set_command_line(argc, argv);

  auto commands = cli::registered_commands();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& c : commands) c.fn(c.group.empty() ? app : *groups.at(c.group));

  try {
    app.parse_complete_callback([&] {
      if (verbose) set_log_level(LogLevel::kDebug);
      if (quiet) set_log_level(LogLevel::kWarn);
    });
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const Error& e) {
    log_line(LogLevel::kError, e.what());
    return e.exit_code();
  } catch (const c10::Error& e) {
    // LibTorch's what() carries a C++ backtrace over many lines; the user gets one.
    log_line(LogLevel::kError, one_line("LibTorch: ", e.what_without_backtrace()));
    return 1;
  } catch (const std::bad_alloc&) {
    log_line(LogLevel::kError, "out of memory");
    return 1;
  } catch (const std::exception& e) {
    log_line(LogLevel::kError, one_line("internal error: ", e.what()));
    return 1;
  }
  return 0;
}
