// Tokenizer metadata for GGUF (see gguf_tokenizer.h). llama.cpp tokenizes a "llama" vocabulary
// with SentencePiece's BPE rule (merge the adjacent pair whose joined piece has the highest
// score), so a tokenizer.json merge list becomes scores: the piece made by merge rank r
// scores -r, which makes that rule pick the merges in the order Hugging Face's BPE does.
#include "export/gguf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "export/spm_model.h"
#include "tokenizer/tokenizer_config.h"
#include "util/error.h"
#include "util/fs.h"

namespace llmprune {
namespace {

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;  // "llama" only
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // "gpt2" only
  std::string model, pre;
  std::optional<int64_t> unk;
};

void put_token(Vocab& v, int64_t id, const std::string& text, GgufTokenType type, float score,
               const std::string& where) {
  LLMPRUNE_CHECK(id >= 0 && id < static_cast<int64_t>(v.tokens.size()), where, ": token id ", id,
                 " (", text, ") is outside the model's ", v.tokens.size(), " embedding rows");
  v.tokens[id] = text;
  v.types[id] = static_cast<int32_t>(type);
  if (!v.scores.empty()) v.scores[id] = score;
}

void init(Vocab& v, int64_t n, bool with_scores) {
  v.tokens.assign(n, "");
  v.types.assign(n, static_cast<int32_t>(GgufTokenType::kUnused));
  if (with_scores) v.scores.assign(n, -1000.0f);
  for (int64_t i = 0; i < n; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
}

bool is_byte_token(const std::string& s) {
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s.back() == '>' &&
         std::isxdigit(static_cast<unsigned char>(s[3])) &&
         std::isxdigit(static_cast<unsigned char>(s[4]));
}

std::string merge_text(const json& m, const std::string& where) {
  if (m.is_string()) return m.get<std::string>();
  LLMPRUNE_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where,
                 ": a merge is neither \"a b\" nor [\"a\", \"b\"]: ", json_excerpt(m));
  return m[0].get<std::string>() + " " + m[1].get<std::string>();
}

// The joined piece of a merge "a b" (pieces never contain a space in either vocabulary style).
std::string merge_result(const std::string& m) {
  std::string r = m;
  r.erase(std::remove(r.begin(), r.end(), ' '), r.end());
  return r;
}

bool has_metaspace(const json& j) {
  if (j.is_object()) {
    if (j.value("type", "") == "Metaspace") return true;
    if (j.value("type", "") == "Replace" && j.contains("content") && j["content"] == "\xE2\x96\x81")
      return true;
    for (const auto& [k, v] : j.items())
      if (has_metaspace(v)) return true;
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (has_metaspace(v)) return true;
  }
  return false;
}

// llama.cpp's pre-tokenizer name for a byte-level BPE tokenizer.json, from its declared
// pre_tokenizer (never from a guess: anything else is an error naming what was found).
std::string bpe_pre_name(const json& pre, const std::string& where) {
  static const char* kLlama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char* kQwen2 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  auto is_bytelevel = [](const json& p, bool regex) {
    return p.is_object() && p.value("type", "") == "ByteLevel" &&
           p.value("use_regex", true) == regex;
  };
  if (is_bytelevel(pre, true)) return "gpt-2";
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers")) {
    const json& seq = pre["pretokenizers"];
    if (seq.size() == 2 && seq[0].value("type", "") == "Digits" &&
        seq[0].value("individual_digits", false) && is_bytelevel(seq[1], true))
      return "smollm";
    if (seq.size() == 2 && seq[0].value("type", "") == "Split" && is_bytelevel(seq[1], false) &&
        seq[0].contains("pattern") && seq[0]["pattern"].contains("Regex")) {
      const std::string rx = seq[0]["pattern"]["Regex"].get<std::string>();
      if (rx == kLlama3) return "llama-bpe";
      if (rx == kQwen2) return "qwen2";
    }
  }
  throw bad_input(where, ": unknown pre-tokenizer ", json_excerpt(pre),
                  " (GGUF export knows gpt-2, llama-bpe, qwen2 and smollm; refusing to guess)");
}

Vocab from_tokenizer_json(const std::string& path, int64_t n_vocab) {
  const json tj = read_json_file(path);
  return with_json_errors(path, [&] {
    const json& model = tj.at("model");
    const std::string type = model.value("type", "");
    LLMPRUNE_CHECK(
        type == "BPE", path, ": tokenizer model type \"", type,
        "\" cannot be exported to GGUF (supported: BPE, SentencePiece-style or byte-level)");
    const json pre = tj.value("pre_tokenizer", json());
    const bool spm = has_metaspace(tj.value("normalizer", json())) || has_metaspace(pre);
    Vocab v;
    v.model = spm ? "llama" : "gpt2";
    v.pre = spm ? "default" : bpe_pre_name(pre, path);
    init(v, n_vocab, spm);
    std::map<std::string, int64_t> rank;  // joined piece -> first merge rank making it
    const json& merges = model.at("merges");
    for (size_t r = 0; r < merges.size(); ++r) {
      std::string m = merge_text(merges[r], path);
      if (spm)
        rank.emplace(merge_result(m), static_cast<int64_t>(r));
      else
        v.merges.push_back(std::move(m));
    }
    const int64_t n_merges = static_cast<int64_t>(merges.size());
    for (const auto& [piece, idv] : model.at("vocab").items()) {
      const int64_t id = json_int(idv, path + ": id of token " + piece);
      GgufTokenType t = GgufTokenType::kNormal;
      float score = 0.0f;
      if (spm) {
        auto it = rank.find(piece);
        // Pieces no merge makes (single characters, bytes) are never merge candidates.
        score =
            it != rank.end() ? -static_cast<float>(it->second) : -static_cast<float>(n_merges + id);
        if (is_byte_token(piece)) {
          t = GgufTokenType::kByte;
          score = 0.0f;
        }
      }
      put_token(v, id, piece, t, score, path);
    }
    const std::string unk =
        model.value("unk_token", json()).is_string() ? model["unk_token"].get<std::string>() : "";
    for (const json& a : tj.value("added_tokens", json::array())) {
      const int64_t id = json_int(a.at("id"), path + ": added token id");
      const std::string content = a.at("content").get<std::string>();
      GgufTokenType t =
          a.value("special", false) ? GgufTokenType::kControl : GgufTokenType::kUserDefined;
      if (!unk.empty() && content == unk) {
        t = GgufTokenType::kUnknown;
        v.unk = id;
      }
      put_token(v, id, content, t, 0.0f, path);
    }
    return v;
  });
}

Vocab from_spm_model(const std::string& path, int64_t n_vocab) {
  const SpmModel m = read_spm_model(path);
  Vocab v;
  v.model = "llama";
  v.pre = "default";
  LLMPRUNE_CHECK(m.bpe, path,
                 ": a SentencePiece Unigram model cannot be exported to GGUF's "
                 "\"llama\" vocabulary (only BPE models are supported)");
  init(v, n_vocab, true);
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const SpmPiece& p = m.pieces[i];
    put_token(v, static_cast<int64_t>(i), p.piece, static_cast<GgufTokenType>(p.type), p.score,
              path);
    if (p.type == static_cast<int32_t>(GgufTokenType::kUnknown)) v.unk = static_cast<int64_t>(i);
  }
  return v;
}

std::optional<int64_t> find_id(const Vocab& v, const std::optional<std::string>& tok) {
  if (!tok) return std::nullopt;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i] == *tok) return static_cast<int64_t>(i);
  return std::nullopt;
}

std::optional<int64_t> config_id(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& j = config[key];
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_array() && !j.empty() && j[0].is_number_integer()) return j[0].get<int64_t>();
  return std::nullopt;
}

// add_bos / add_eos when tokenizer_config.json does not say: the post-processor's template.
std::pair<bool, bool> template_bos_eos(const json& tj) {
  std::function<std::optional<json>(const json&)> find_template =
      [&](const json& p) -> std::optional<json> {
    if (!p.is_object()) return std::nullopt;
    if (p.value("type", "") == "TemplateProcessing") return p;
    if (p.contains("processors"))
      for (const json& q : p["processors"])
        if (auto t = find_template(q)) return t;
    return std::nullopt;
  };
  auto t = find_template(tj.value("post_processor", json()));
  if (!t || !t->contains("single") || (*t)["single"].empty()) return {false, false};
  const json& s = (*t)["single"];
  return {s.front().contains("SpecialToken"), s.back().contains("SpecialToken")};
}

}  // namespace

GgufMetadata gguf_tokenizer_metadata(const std::string& dir, int64_t n_vocab, const json& config) {
  const std::string json_path = join_path(dir, "tokenizer.json");
  const std::string spm_path = join_path(dir, "tokenizer.model");
  // A SentencePiece BPE tokenizer.model wins, as in llama.cpp's converter: its scores are the
  // model's own. A tokenizer.model that is not one (Llama-3 ships tiktoken ranks under that
  // name) leaves tokenizer.json in charge.
  const tok::TokenizerConfig tc = tok::read_tokenizer_config(dir);
  std::optional<Vocab> spm;
  if (path_exists(spm_path)) {
    try {
      spm = from_spm_model(spm_path, n_vocab);
    } catch (const Error&) {
      if (!path_exists(json_path)) throw;
    }
  }
  Vocab v;
  json tj;
  bool default_bos = false, default_eos = false;
  if (spm) {
    v = std::move(*spm);
    default_bos = true;  // SentencePiece's own default
    // Tokens added on top of the SentencePiece model (Phi-3's <|user|> ...), as the
    // converter takes them from tokenizer_config.json.
    for (const tok::AddedToken& a : tc.added_tokens_decoder)
      if (a.id >= 0 && a.id < n_vocab &&
          v.types[a.id] == static_cast<int32_t>(GgufTokenType::kUnused))
        put_token(v, a.id, a.content,
                  a.special ? GgufTokenType::kControl : GgufTokenType::kUserDefined, 0.0f,
                  spm_path);
  } else if (path_exists(json_path)) {
    v = from_tokenizer_json(json_path, n_vocab);
    tj = read_json_file(json_path);
    std::tie(default_bos, default_eos) = template_bos_eos(tj);
  } else {
    throw bad_input("[gguf] ", dir,
                    ": no tokenizer.json or tokenizer.model (GGUF files carry their tokenizer)");
  }

  GgufMetadata md;
  md.emplace_back("tokenizer.ggml.model", GgufValue::str(v.model));
  md.emplace_back("tokenizer.ggml.pre", GgufValue::str(v.pre));
  md.emplace_back("tokenizer.ggml.tokens", GgufValue::strings(v.tokens));
  if (!v.scores.empty()) md.emplace_back("tokenizer.ggml.scores", GgufValue::f32s(v.scores));
  md.emplace_back("tokenizer.ggml.token_type", GgufValue::i32s(v.types));
  if (!v.merges.empty()) md.emplace_back("tokenizer.ggml.merges", GgufValue::strings(v.merges));

  auto bos = find_id(v, tc.bos), eos = find_id(v, tc.eos), pad = find_id(v, tc.pad);
  auto unk = tc.unk ? find_id(v, tc.unk) : v.unk;
  if (!bos) bos = config_id(config, "bos_token_id");
  if (!eos) eos = config_id(config, "eos_token_id");
  auto put_id = [&](const char* key, const std::optional<int64_t>& id) {
    if (id && *id >= 0 && *id < n_vocab)
      md.emplace_back(key, GgufValue::u32(static_cast<uint32_t>(*id)));
  };
  put_id("tokenizer.ggml.bos_token_id", bos);
  put_id("tokenizer.ggml.eos_token_id", eos);
  put_id("tokenizer.ggml.unknown_token_id", unk);
  put_id("tokenizer.ggml.padding_token_id", pad);
  md.emplace_back("tokenizer.ggml.add_bos_token",
                  GgufValue::boolean(tc.add_bos.value_or(default_bos)));
  md.emplace_back("tokenizer.ggml.add_eos_token",
                  GgufValue::boolean(tc.add_eos.value_or(default_eos)));

  const std::string tc_path = join_path(dir, "tokenizer_config.json");
  if (path_exists(tc_path)) {
    const json c = read_json_file(tc_path);
    if (c.contains("chat_template")) {
      const json& ct = c["chat_template"];
      std::string text;
      if (ct.is_string())
        text = ct.get<std::string>();
      else if (ct.is_array())  // [{"name": "default", "template": ...}, ...]
        for (const json& e : ct)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template"))
            text = e["template"].get<std::string>();
      if (!text.empty()) md.emplace_back("tokenizer.chat_template", GgufValue::str(text));
    }
  }
  return md;
}

}  // namespace llmprune
