// tokenizer_config.json / special_tokens_map.json reader (see tokenizer_config.h).
#include "tokenizer/tokenizer_config.h"

#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune::tok {
namespace {

// A token setting is a string, {"content": ...} (a serialized AddedToken) or null.
std::optional<std::string> token_string(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string())
    return j["content"].get<std::string>();
  return std::nullopt;
}

void read_specials(const json& j, TokenizerConfig& cfg, bool override_existing) {
  auto set = [&](const char* key, std::optional<std::string>& dst) {
    if (!j.contains(key)) return;
    if (dst && !override_existing) return;
    dst = token_string(j[key]);
  };
  set("bos_token", cfg.bos);
  set("eos_token", cfg.eos);
  set("unk_token", cfg.unk);
  set("pad_token", cfg.pad);
}

}  // namespace

bool TokenizerConfig::llama_style() const {
  static const char* kClasses[] = {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                   "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"};
  for (const char* c : kClasses)
    if (tokenizer_class == c) return true;
  return false;
}

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig cfg;
  std::string map_path = join_path(dir, "special_tokens_map.json");
  if (path_exists(map_path)) {
    json j = read_json_file(map_path);
    if (!j.is_object()) throw bad_input("[tokenizer] ", map_path, ": expected a JSON object");
    read_specials(j, cfg, true);
    cfg.files.push_back("special_tokens_map.json");
  }
  std::string cfg_path = join_path(dir, "tokenizer_config.json");
  if (path_exists(cfg_path)) {
    json j = read_json_file(cfg_path);
    if (!j.is_object()) throw bad_input("[tokenizer] ", cfg_path, ": expected a JSON object");
    try {
      read_specials(j, cfg, true);
      if (j.contains("add_bos_token") && j["add_bos_token"].is_boolean())
        cfg.add_bos = j["add_bos_token"].get<bool>();
      if (j.contains("add_eos_token") && j["add_eos_token"].is_boolean())
        cfg.add_eos = j["add_eos_token"].get<bool>();
      if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string())
        cfg.tokenizer_class = j["tokenizer_class"].get<std::string>();
      if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
        for (auto it = j["added_tokens_decoder"].begin(); it != j["added_tokens_decoder"].end(); ++it) {
          const json& t = it.value();
          const std::string& key = it.key();
          LLMPRUNE_CHECK(!key.empty() && key.size() <= 9 &&
                             key.find_first_not_of("0123456789") == std::string::npos &&
                             std::stol(key) <= kMaxTokenId,
                         "[tokenizer] ", cfg_path, ": added_tokens_decoder key '", key,
                         "' is not a token id in [0, ", kMaxTokenId, "]");
          cfg.added_tokens_decoder.push_back(
              added_token_from_json(t, static_cast<TokenId>(std::stol(key))));
        }
      }
    } catch (const json::exception& e) {
      throw bad_input("[tokenizer] ", cfg_path, ": malformed: ", e.what());
    }
    cfg.files.push_back("tokenizer_config.json");
  }
  return cfg;
}

}  // namespace llmprune::tok
