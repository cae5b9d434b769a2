// Subcommand registry and shared option groups (see command.h).
#include "command.h"

#include "util/log.h"

namespace llmprune::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(const char* group, int order, RegisterFn fn) {
  registered_commands().push_back({group, order, std::move(fn)});
}

void add_model_option(CLI::App* cmd, std::string& dir) {
  cmd->add_option("-m,--model", dir,
                  "Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer)")
      ->required();
}

void add_calibration_options(CLI::App* cmd, CalibOptions& c) {
  auto* g = cmd->add_option_group("Calibration");
  g->add_option("-d,--dataset", c.dataset, "c4, wikitext2, ptb or a file path")
      ->capture_default_str();
  g->add_option("--data-dir", c.data_dir, "folder holding wikitext2/, ptb/, c4/");
  g->add_option("--nsamples", c.nsamples, "calibration windows")->capture_default_str();
  g->add_option("--seqlen", c.seqlen, "tokens per window")->capture_default_str();
  g->add_option("--batch-size", c.batch_size, "windows per forward pass")->capture_default_str();
  g->add_option("--max-batches", c.max_batches, "at most this many batches")->capture_default_str();
}

void add_runtime_options(CLI::App* cmd, RuntimeOptions& opts, bool with_dtype) {
  cmd->add_option("--device", opts.device, "cpu, cuda or cuda:N")
      ->capture_default_str()
      ->group("Runtime");
  if (with_dtype)
    cmd->add_option("--dtype", opts.dtype,
                    "compute dtype: f32 (exact, default), bf16 (fast on CPUs with AVX-512-BF16 "
                    "and on GPUs) or auto (bf16 where it is native: CUDA, or a CPU with "
                    "AVX-512-BF16; f32 otherwise)")
        ->check(CLI::IsMember({"f32", "bf16", "auto"}))
        ->capture_default_str()
        ->group("Runtime");
  cmd->add_option("--threads", opts.threads,
                  "LibTorch CPU threads (0 = LibTorch default, OMP_NUM_THREADS; fp32 matmuls also "
                  "use OpenBLAS's own threads)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group("Runtime");
  cmd->add_option("--seed", opts.seed, "random seed")->capture_default_str()->group("Runtime");
}

void add_weight_options(CLI::App* cmd, RuntimeOptions& opts) {
  cmd->add_option("--weights", opts.weights,
                  "native: the weights in the compute dtype; bf16: a bf16 checkpoint keeps bf16 "
                  "weights under --dtype f32 (half the memory and bytes per decoded token, "
                  "same results; prefill widens each weight per call, slower); q8_0: every "
                  "linear map with a multiple "
                  "of 32 inputs runs on a Q8_0 copy of its weight (llama.cpp's blocks of 32 "
                  "with an fp16 scale; decoding also quantizes the activations per block, as "
                  "llama.cpp does): ~1.8x fewer bytes per token than bf16")
      ->check(CLI::IsMember({"native", "bf16", "q8_0"}))
      ->capture_default_str()
      ->group("Runtime");
  cmd->add_flag("--check-weights", opts.check_weights,
                "count NaN/Inf values in every weight while loading and warn (one extra pass)")
      ->group("Runtime");
  add_huge_pages_option(cmd, opts.huge_pages);
}

void add_huge_pages_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--huge-pages", value,
                  "on: copy every weight of >= 2 MiB onto transparent huge pages while loading "
                  "(decoding reads them up to 1.4x faster than the mapped file's 4 KiB pages; "
                  "loading takes longer: fresh memory and one copy, 0.2 -> 3.4 s for 2 GiB on "
                  "a 2-core VM, so it pays off for long generations and servers); off: use the "
                  "mapped file in place. Q8_0 copies are always on huge pages. Needs Linux's "
                  "transparent_hugepage setting 'always' or 'madvise'")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->group("Runtime");
}

void add_report_option(CLI::App* cmd, std::string& path) {
  cmd->add_option("--report", path, "write a machine-readable JSON report to FILE")
      ->type_name("FILE");
}

namespace {
std::string& command_line_storage() {
  static std::string s;
  return s;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string& s = command_line_storage();
  s.clear();
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t'\"\\$`") == std::string::npos;
    s += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
}

const std::string& command_line() { return command_line_storage(); }

void write_report(const std::string& path, const json& report) {
  if (path.empty()) return;
  write_json_file(path, report);
  log_info("report written to ", path);
}

}  // namespace llmprune::cli
