// save_checkpoint (see checkpoint.h).
#include "io/checkpoint.h"

#include <filesystem>

#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace llmprune {
namespace fs = std::filesystem;

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {
      "tokenizer.json",   "tokenizer.model",       "tokenizer_config.json",
      "special_tokens_map.json", "generation_config.json", "added_tokens.json",
      "vocab.json",       "merges.txt"};
  return names;
}

namespace {

// --overwrite must not be able to wipe an arbitrary folder (a typo like `--out ~`).
void check_replaceable(const std::string& out_dir) {
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return;
  LLMPRUNE_CHECK(fs::is_directory(out_dir, ec), "[checkpoint] output ", out_dir,
                 " exists and is not a folder; refusing to replace it");
  bool empty = fs::directory_iterator(out_dir, ec) == fs::directory_iterator();
  LLMPRUNE_CHECK(empty || fs::exists(fs::path(out_dir) / "config.json", ec), "[checkpoint] output ",
                 out_dir, " exists and has no config.json (not a model folder); refusing to ",
                 "replace it even with --overwrite");
}

}  // namespace

void save_checkpoint(const std::string& out_dir, const json& config, const NamedTensors& tensors,
                     const SaveOptions& opts) {
  LLMPRUNE_CHECK(!out_dir.empty(), "[checkpoint] empty output path");
  LLMPRUNE_CHECK(config.is_object(), "[checkpoint] config for ", out_dir,
                 " is not a JSON object");
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    LLMPRUNE_CHECK(opts.overwrite, "[checkpoint] output ", out_dir,
                   " already exists (pass --overwrite to replace it)");
    check_replaceable(out_dir);
  }
  if (!opts.copy_tokenizer_from.empty())
    LLMPRUNE_CHECK(is_directory(opts.copy_tokenizer_from), "[checkpoint] tokenizer source ",
                   opts.copy_tokenizer_from, " is not a folder");
  fs::path parent = fs::path(out_dir).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    // Permissions, disk full: the environment, not the input (exit 1).
    if (ec) throw internal_error("[checkpoint] cannot create ", parent.string(), ": ", ec.message());
  }

  write_dir_atomic(out_dir, opts.overwrite, [&](const std::string& tmp) {
    write_json_file(join_path(tmp, "config.json"), config);
    SafetensorsWriteOptions wo;
    wo.max_shard_bytes = opts.max_shard_bytes;
    std::vector<std::string> files = write_safetensors(tmp, tensors, wo);
    std::vector<std::string> copied;
    if (!opts.copy_tokenizer_from.empty()) {
      for (const std::string& name : tokenizer_file_names()) {
        std::string src = join_path(opts.copy_tokenizer_from, name);
        if (!path_exists(src)) continue;
        std::error_code cec;
        fs::copy_file(src, join_path(tmp, name), fs::copy_options::overwrite_existing, cec);
        if (cec) throw internal_error("[checkpoint] cannot copy ", src, ": ", cec.message());
        copied.push_back(name);
      }
      if (copied.empty())
        log_warn("no tokenizer files found in ", opts.copy_tokenizer_from,
                 "; the saved model has none");
    }
    std::string tok;
    for (const std::string& c : copied) tok += ", " + c;
    log_info("saving ", out_dir, ": config.json, ", files.size(), " weight file(s)", tok);
  });
}

}  // namespace llmprune
