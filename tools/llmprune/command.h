// Subcommand registry: each cmd_<name>.cpp registers itself with LLMPRUNE_COMMAND, so
// adding a subcommand touches one file. Shared option groups are declared once here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "calib/calib_data.h"
#include "util/json.h"

namespace llmprune::cli {

using RegisterFn = std::function<void(CLI::App& parent)>;

// `group` is "" for a top-level subcommand or the name of a group ("bench").
struct CommandRegistrar {
  CommandRegistrar(const char* group, int order, RegisterFn fn);
};

struct RegisteredCommand {
  std::string group;
  int order;
  RegisterFn fn;
};
std::vector<RegisteredCommand>& registered_commands();

// --- shared option groups -------------------------------------------------------------
struct RuntimeOptions {
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype = "f32";   // f32 | bf16 | auto (compute dtype; apply_runtime resolves auto)
  std::string dtype_reason;    // why apply_runtime chose the dtype (for logs and reports)
  int threads = 0;             // 0 = LibTorch default (all cores)
  uint64_t seed = 0;
  // Commands that load a model for inference (add_weight_options):
  std::string weights = "native";  // native | bf16 (kept under f32 compute) | q8_0
  bool check_weights = false;      // scan every weight for NaN/Inf while loading
  std::string huge_pages = "off";  // on | off: LoadOptions::huge_pages (a command's default)
};

// --model DIR (required): a Hugging Face checkpoint folder.
void add_model_option(CLI::App* cmd, std::string& dir);
// --device, --dtype (unless with_dtype is false), --threads, --seed.
void add_runtime_options(CLI::App* cmd, RuntimeOptions& opts, bool with_dtype = true);
// --weights native|bf16|q8_0 and --check-weights (commands that run a loaded model).
// Also --huge-pages (its default is opts.huge_pages as set by the command).
void add_weight_options(CLI::App* cmd, RuntimeOptions& opts);
// --huge-pages on|off into `value` (default: its current value).
void add_huge_pages_option(CLI::App* cmd, std::string& value);
// The "Calibration" option group: --dataset, --data-dir, --nsamples, --seqlen, --batch-size,
// --max-batches (the seed comes from --seed).
void add_calibration_options(CLI::App* cmd, CalibOptions& calib);
// --report FILE: machine-readable JSON report of the run.
void add_report_option(CLI::App* cmd, std::string& path);
// The command line as typed (for manifests), recorded by main.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// Write `report` to `path` atomically when path is non-empty.
void write_report(const std::string& path, const json& report);

}  // namespace llmprune::cli

#define LLMPRUNE_CONCAT_INNER(a, b) a##b
#define LLMPRUNE_CONCAT(a, b) LLMPRUNE_CONCAT_INNER(a, b)
// LLMPRUNE_COMMAND(group, order) { ...add_subcommand on `app`... }
#define LLMPRUNE_COMMAND(group, order)                                               \
  static void LLMPRUNE_CONCAT(register_cmd_, __LINE__)(CLI::App & app);              \
  static ::llmprune::cli::CommandRegistrar LLMPRUNE_CONCAT(registrar_, __LINE__)(    \
      group, order, LLMPRUNE_CONCAT(register_cmd_, __LINE__));                       \
  static void LLMPRUNE_CONCAT(register_cmd_, __LINE__)(CLI::App & app)
