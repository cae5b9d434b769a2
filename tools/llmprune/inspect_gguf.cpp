// `llmprune inspect FILE.gguf` (see inspect_gguf.h): reads the header through the bounds-checked
// GGUF reader; long arrays (the vocabulary) are summarized, not printed.
#include "inspect_gguf.h"

#include <cstdio>
#include <fstream>
#include <map>

#include "command.h"
#include "io/gguf.h"
#include "util/fs.h"

namespace llmprune::cli {

bool is_gguf_path(const std::string& path) {
  if (is_directory(path) || !path_exists(path)) return false;
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return true;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string(magic, 4) == "GGUF";
}

void inspect_gguf(const std::string& path, const std::string& report) {
  const GgufFile g = GgufFile::open(path);
  std::map<std::string, int64_t> types;
  std::map<std::string, uint64_t> type_bytes;
  int64_t params = 0;
  for (const GgufTensorInfo& t : g.tensors()) {
    types[ggml_type_name(t.type)]++;
    type_bytes[ggml_type_name(t.type)] += t.bytes;
    params += t.numel();
  }
  const GgufValue* arch = g.find("general.architecture");
  std::printf("file        %s (GGUF v%u, %.1f MB, alignment %llu)\n", path.c_str(), g.version(),
              g.file_size() / 1e6, static_cast<unsigned long long>(g.alignment()));
  std::printf("arch        %s\n", arch && arch->type == GgufType::kString ? arch->s.c_str() : "?");
  std::printf("metadata    %zu keys\n", g.metadata().size());
  json md = json::object();
  for (const auto& [k, v] : g.metadata()) {
    md[utf8_for_json(k)] = v.to_json(16);
    std::string text;
    if (v.type == GgufType::kArray && v.items.size() > 8)
      text = "[" + std::to_string(v.items.size()) + " x " + gguf_type_name(v.elem) + "] " +
             v.to_json(4).dump();
    else
      text = v.to_json(8).dump();
    if (text.size() > 160) text = text.substr(0, 157) + "...";
    std::printf("  %-44s %s\n", k.c_str(), text.c_str());
  }
  std::string dt;
  json tensors = json::array();
  for (const auto& [name, count] : types)
    dt += (dt.empty() ? "" : ", ") + name + " x " + std::to_string(count) + " (" +
          std::to_string(type_bytes[name] / 1000) + " kB)";
  std::printf("tensors     %zu, %lld parameters: %s\n", g.tensors().size(),
              static_cast<long long>(params), dt.c_str());
  for (const GgufTensorInfo& t : g.tensors())
    tensors.push_back({{"name", t.name},
                       {"type", ggml_type_name(t.type)},
                       {"shape", t.shape()},
                       {"offset", g.data_offset() + t.offset},
                       {"bytes", t.bytes}});
  write_report(report, json{{"command", "inspect"},
                            {"file", path},
                            {"format", "gguf"},
                            {"version", g.version()},
                            {"bytes", g.file_size()},
                            {"alignment", g.alignment()},
                            {"metadata", md},
                            {"parameters", params},
                            {"tensor_types", types},
                            {"tensors", tensors}});
}

}  // namespace llmprune::cli
