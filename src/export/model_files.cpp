// Shared model-writing pieces (see model_files.h).
#include "export/model_files.h"

#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "io/checkpoint.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace llmprune {
namespace fs = std::filesystem;

namespace {

bool inside(const std::string& child, const std::string& parent) {
  const std::string c = canonical_path(child) + "/", p = canonical_path(parent) + "/";
  return c.rfind(p, 0) == 0;
}

}  // namespace

std::string canonical_path(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return (ec ? fs::absolute(p) : c).lexically_normal().string();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json files_json(const std::vector<WrittenFile>& files) {
  json out = json::array();
  for (const auto& f : files)
    out.push_back({{"file", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return out;
}

void check_output_paths(const std::string& source_dir, const std::vector<std::string>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string& o = outputs[i];
    LLMPRUNE_CHECK(!o.empty(), "empty output path");
    LLMPRUNE_CHECK(!inside(o, source_dir) && !inside(source_dir, o), "output ", o,
                   " is inside (or contains) the source model folder ", source_dir,
                   ": choose a folder outside it");
    for (size_t j = 0; j < i; ++j)
      LLMPRUNE_CHECK(!inside(o, outputs[j]) && !inside(outputs[j], o), "outputs ", outputs[j],
                     " and ", o, " must be separate folders (neither inside the other)");
  }
}

json weight_file_hashes(const std::string& dir, const TensorStore& store) {
  std::set<std::string> files;
  for (const auto& name : store.names()) files.insert(store.entry(name).file);
  const std::string index = join_path(dir, "model.safetensors.index.json");
  if (path_exists(index)) files.insert(index);
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& f : files) total += static_cast<uint64_t>(fs::file_size(f, ec));
  if (total > (uint64_t{1} << 30))
    log_info("hashing ", files.size(), " source weight file(s), ", total >> 20,
             " MiB, for the manifest");
  json out = json::array();
  for (const auto& f : files) {
    out.push_back({{"file", fs::path(f).filename().string()},
                   {"bytes", static_cast<uint64_t>(fs::file_size(f, ec))},
                   {"sha256", sha256_file(f)}});
  }
  return out;
}

uint64_t source_shard_bytes(const std::string& dir, const TensorStore& store) {
  if (!path_exists(join_path(dir, "model.safetensors.index.json"))) return 0;
  std::map<std::string, uint64_t> per_file;
  for (const auto& name : store.names()) {
    const TensorEntry& e = store.entry(name);
    per_file[e.file] += e.end - e.begin;
  }
  uint64_t m = 0;
  for (const auto& [f, b] : per_file) m = std::max(m, b);
  return m;
}

std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to) {
  std::vector<std::string> copied;
  for (const std::string& name : tokenizer_file_names()) {
    const std::string src = join_path(from, name);
    if (!path_exists(src)) continue;
    std::error_code ec;
    fs::copy_file(src, join_path(to, name), fs::copy_options::overwrite_existing, ec);
    LLMPRUNE_CHECK(!ec, "cannot copy ", src, ": ", ec.message());
    copied.push_back(name);
  }
  return copied;
}

std::vector<WrittenFile> copy_tensors(const TensorStore& store,
                                      const std::vector<std::pair<std::string, std::string>>& names,
                                      const std::string& dir, const SafetensorsWriteOptions& opts,
                                      const std::string& progress_label) {
  std::vector<TensorDecl> decls;
  std::map<std::string, std::string> source_of;  // output name -> source name
  uint64_t bytes = 0;
  for (const auto& [src, dst] : names) {
    const TensorEntry& e = store.entry(src);
    decls.push_back({dst, e.dtype, e.shape});
    source_of[dst] = src;
    bytes += e.end - e.begin;
  }
  SafetensorsStreamWriter writer(dir, std::move(decls), opts);
  std::unique_ptr<Progress> progress;
  if (!progress_label.empty() && bytes > (uint64_t{64} << 20))
    progress = std::make_unique<Progress>(progress_label, static_cast<int64_t>(names.size()), "B");
  for (const std::string& dst : writer.order()) {
    const std::string& src = source_of.at(dst);
    torch::Tensor t = store.load(src, /*release=*/true);
    writer.write(dst, t);
    if (progress) progress->advance(1, t.numel() * static_cast<int64_t>(t.element_size()));
  }
  if (progress) progress->finish();
  return writer.finish();
}

}  // namespace llmprune
