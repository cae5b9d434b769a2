// Config keys shared by the llama-like families (see hf_config.h).
#include "arch/hf_config.h"

#include <cmath>

#include "util/error.h"

namespace llmprune {

bool ConfigReader::has(const std::string& key) const {
  return j_.contains(key) && !j_.at(key).is_null();
}

int64_t ConfigReader::get_int(const std::string& key) const {
  return get_required_int(key, INT64_MIN, INT64_MAX);
}

int64_t ConfigReader::get_required_int(const std::string& key, int64_t lo, int64_t hi) const {
  if (!has(key)) throw bad_input("[config] ", path_, ": missing required key \"", key, "\"");
  return get_int(key, 0, lo, hi);
}

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback, int64_t lo,
                              int64_t hi) const {
  if (!has(key)) return fallback;
  return json_int(j_.at(key), "[config] " + path_ + ": key \"" + key + "\"", lo, hi);
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = j_.at(key);
  if (!v.is_number())
    throw bad_input("[config] ", path_, ": key \"", key, "\" must be a number, got ", json_excerpt(v));
  return v.get<double>();
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = j_.at(key);
  if (!v.is_boolean())
    throw bad_input("[config] ", path_, ": key \"", key, "\" must be true or false, got ",
                    json_excerpt(v));
  return v.get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = j_.at(key);
  if (!v.is_string())
    throw bad_input("[config] ", path_, ": key \"", key, "\" must be a string, got ", json_excerpt(v));
  return v.get<std::string>();
}

namespace {

void positive(const ConfigReader& cfg, const char* key, int64_t v) {
  if (v <= 0) throw bad_input("[config] ", cfg.path(), ": \"", key, "\" must be > 0, got ", v);
}

double scaling_double(const json& s, const std::string& path, const char* key, double fallback) {
  if (!s.contains(key) || s.at(key).is_null()) return fallback;
  if (!s.at(key).is_number())
    throw bad_input("[config] ", path, ": rope_scaling.", key, " must be a number, got ",
                    json_excerpt(s.at(key)));
  return s.at(key).get<double>();
}

int64_t scaling_int(const json& s, const std::string& path, const char* key, int64_t fallback) {
  if (!s.contains(key) || s.at(key).is_null()) return fallback;
  return json_int(s.at(key), "[config] " + path + ": rope_scaling." + key, 0, kMaxPositions);
}

}  // namespace

RopeSpec parse_rope(const ConfigReader& cfg) {
  RopeSpec rope;
  rope.theta = cfg.get_double("rope_theta", 10000.0);
  rope.partial_rotary_factor = cfg.get_double("partial_rotary_factor", 1.0);
  json scaling = cfg.has("rope_scaling") ? cfg.raw().at("rope_scaling") : json();
  if (cfg.has("rope_parameters")) {  // transformers >= 5 folds rope_theta in here
    scaling = cfg.raw().at("rope_parameters");
    if (scaling.contains("rope_theta")) rope.theta = scaling_double(scaling, cfg.path(), "rope_theta", rope.theta);
    if (scaling.contains("partial_rotary_factor"))
      rope.partial_rotary_factor =
          scaling_double(scaling, cfg.path(), "partial_rotary_factor", rope.partial_rotary_factor);
  }
  if (rope.theta <= 0) throw bad_input("[config] ", cfg.path(), ": rope_theta must be > 0");
  if (rope.partial_rotary_factor <= 0 || rope.partial_rotary_factor > 1)
    throw bad_input("[config] ", cfg.path(), ": partial_rotary_factor must be in (0, 1], got ",
                    rope.partial_rotary_factor);
  if (scaling.is_null()) return rope;
  if (!scaling.is_object())
    throw bad_input("[config] ", cfg.path(), ": rope_scaling must be an object or null, got ",
                    json_excerpt(scaling));
  std::string type;
  if (scaling.contains("rope_type") && scaling.at("rope_type").is_string())
    type = scaling.at("rope_type").get<std::string>();
  else if (scaling.contains("type") && scaling.at("type").is_string())
    type = scaling.at("type").get<std::string>();
  if (type.empty() || type == "default") return rope;
  if (type != "linear" && type != "llama3" && type != "yarn")
    throw bad_input("[config] ", cfg.path(), ": unsupported rope_scaling type '", type,
                    "' (supported: default, linear, llama3, yarn)");
  rope.scaling = type;
  const std::string& p = cfg.path();
  rope.factor = scaling_double(scaling, p, "factor", 0.0);
  if (rope.factor <= 0)
    throw bad_input("[config] ", p, ": rope_scaling type '", type, "' needs a factor > 0");
  if (type == "llama3") {
    rope.low_freq_factor = scaling_double(scaling, p, "low_freq_factor", 1.0);
    rope.high_freq_factor = scaling_double(scaling, p, "high_freq_factor", 4.0);
    rope.original_max_position_embeddings =
        scaling_int(scaling, p, "original_max_position_embeddings", 8192);
    if (rope.high_freq_factor <= rope.low_freq_factor)
      throw bad_input("[config] ", p, ": rope_scaling high_freq_factor (", rope.high_freq_factor,
                      ") must exceed low_freq_factor (", rope.low_freq_factor, ")");
  } else if (type == "yarn") {
    rope.original_max_position_embeddings =
        scaling_int(scaling, p, "original_max_position_embeddings",
                    cfg.get_int("max_position_embeddings", 0, 0, kMaxPositions));
    rope.beta_fast = scaling_double(scaling, p, "beta_fast", 32.0);
    rope.beta_slow = scaling_double(scaling, p, "beta_slow", 1.0);
    rope.attention_factor = scaling_double(scaling, p, "attention_factor", 0.0);
    double mscale = scaling_double(scaling, p, "mscale", 0.0);
    double mscale_all_dim = scaling_double(scaling, p, "mscale_all_dim", 0.0);
    if (rope.attention_factor == 0.0 && mscale != 0.0 && mscale_all_dim != 0.0) {
      // DeepSeek-style: ratio of the two mscales (transformers' _compute_yarn_parameters).
      auto get_mscale = [](double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
      };
      rope.attention_factor =
          get_mscale(rope.factor, mscale) / get_mscale(rope.factor, mscale_all_dim);
    }
    if (rope.original_max_position_embeddings <= 0)
      throw bad_input("[config] ", p, ": yarn rope_scaling needs original_max_position_embeddings");
  }
  return rope;
}

void parse_token_ids(const ConfigReader& cfg, ModelSpec& spec) {
  // Token ids index the vocabulary (negative ids would be rejected by transformers too).
  if (cfg.has("bos_token_id"))
    spec.bos_token_id = cfg.get_int("bos_token_id", 0, 0, kMaxVocabSize - 1);
  if (cfg.has("eos_token_id")) {
    const json& e = cfg.raw().at("eos_token_id");
    if (e.is_array()) {
      for (size_t k = 0; k < e.size(); ++k)
        spec.eos_token_ids.push_back(json_int(
            e[k], "[config] " + cfg.path() + ": eos_token_id[" + std::to_string(k) + "]", 0,
            kMaxVocabSize - 1));
    } else {
      spec.eos_token_ids.push_back(cfg.get_int("eos_token_id", 0, 0, kMaxVocabSize - 1));
    }
  }
}

ModelSpec parse_common_config(const ConfigReader& cfg, const std::string& family) {
  ModelSpec spec;
  spec.family = family;
  spec.model_type = cfg.get_string("model_type", family);
  // Zero is refused by the checks below with their own message; the bounds here only keep
  // the values small enough for every product made from them.
  spec.vocab_size = cfg.get_required_int("vocab_size", INT64_MIN, kMaxVocabSize);
  spec.hidden_size = cfg.get_required_int("hidden_size", INT64_MIN, kMaxHiddenSize);
  int64_t n_layers = cfg.get_required_int("num_hidden_layers", 0, kMaxLayers);
  int64_t n_heads = cfg.get_required_int("num_attention_heads", INT64_MIN, kMaxHeads);
  // HF: MHA when absent.
  int64_t n_kv = cfg.get_int("num_key_value_heads", n_heads, INT64_MIN, kMaxHeads);
  int64_t inter = cfg.get_required_int("intermediate_size", INT64_MIN, kMaxIntermediateSize);
  positive(cfg, "vocab_size", spec.vocab_size);
  positive(cfg, "hidden_size", spec.hidden_size);
  positive(cfg, "num_attention_heads", n_heads);
  positive(cfg, "num_key_value_heads", n_kv);
  positive(cfg, "intermediate_size", inter);
  int64_t head_dim = cfg.get_int("head_dim", 0, INT64_MIN, kMaxHeadDim);
  if (head_dim == 0) {
    if (spec.hidden_size % n_heads != 0)
      throw bad_input("[config] ", cfg.path(), ": hidden_size ", spec.hidden_size,
                      " is not divisible by num_attention_heads ", n_heads,
                      " and no head_dim is given");
    head_dim = spec.hidden_size / n_heads;
  }
  positive(cfg, "head_dim", head_dim);
  if (n_heads % n_kv != 0)
    throw bad_input("[config] ", cfg.path(), ": num_attention_heads ", n_heads,
                    " is not a multiple of num_key_value_heads ", n_kv);
  std::string act = cfg.get_string("hidden_act", "silu");
  if (act != "silu")
    throw bad_input("[config] ", cfg.path(), ": unsupported hidden_act '", act,
                    "' (supported: silu)");
  spec.max_position_embeddings = cfg.get_int("max_position_embeddings", 0, 0, kMaxPositions);
  spec.rms_norm_eps = cfg.get_double("rms_norm_eps", 1e-6);
  spec.tie_word_embeddings = cfg.get_bool("tie_word_embeddings", false);
  spec.rope = parse_rope(cfg);
  parse_token_ids(cfg, spec);
  AttentionSpec attn;
  attn.n_heads = n_heads;
  attn.n_kv_heads = n_kv;
  attn.head_dim = head_dim;
  MlpSpec mlp;
  mlp.intermediate_size = inter;
  spec.layers.assign(static_cast<size_t>(n_layers), LayerSpec{attn, mlp});
  return spec;
}

const AttentionSpec* representative_attn(const ModelSpec& spec) {
  for (const auto& l : spec.layers)
    if (l.attn && l.mlp) return &*l.attn;
  for (const auto& l : spec.layers)
    if (l.attn) return &*l.attn;
  return nullptr;
}

const MlpSpec* representative_mlp(const ModelSpec& spec) {
  for (const auto& l : spec.layers)
    if (l.attn && l.mlp) return &*l.mlp;
  for (const auto& l : spec.layers)
    if (l.mlp) return &*l.mlp;
  return nullptr;
}

json rope_scaling_json(const RopeSpec& rope) {
  if (rope.scaling == "default") return nullptr;
  json s = {{"rope_type", rope.scaling}, {"factor", rope.factor}};
  if (rope.scaling == "llama3") {
    s["low_freq_factor"] = rope.low_freq_factor;
    s["high_freq_factor"] = rope.high_freq_factor;
    s["original_max_position_embeddings"] = rope.original_max_position_embeddings;
  } else if (rope.scaling == "yarn") {
    s["original_max_position_embeddings"] = rope.original_max_position_embeddings;
    s["beta_fast"] = rope.beta_fast;
    s["beta_slow"] = rope.beta_slow;
    if (rope.attention_factor != 0.0) s["attention_factor"] = rope.attention_factor;
  }
  return s;
}

json common_config_keys(const ModelSpec& spec, const std::string& architecture,
                        const std::string& torch_dtype) {
  const AttentionSpec* a = representative_attn(spec);
  const MlpSpec* m = representative_mlp(spec);
  // Stock keys need positive head counts and sizes (parse_common_config refuses 0): a model
  // with no attention or no MLP left anywhere cannot be described by this config format.
  if (!a || !m)
    throw bad_input("[config] cannot write a ", spec.family, " config: no layer keeps ",
                    !a ? "attention" : "an MLP", " (num_attention_heads / intermediate_size",
                    " would be 0 and the config could not be read back)");
  json c;
  c["architectures"] = json::array({architecture});
  c["model_type"] = spec.model_type.empty() ? spec.family : spec.model_type;
  c["attention_dropout"] = 0.0;
  c["bos_token_id"] = spec.bos_token_id ? json(*spec.bos_token_id) : json(nullptr);
  if (spec.eos_token_ids.size() == 1)
    c["eos_token_id"] = spec.eos_token_ids[0];
  else if (spec.eos_token_ids.empty())
    c["eos_token_id"] = nullptr;
  else
    c["eos_token_id"] = spec.eos_token_ids;
  c["hidden_act"] = "silu";
  c["hidden_size"] = spec.hidden_size;
  c["initializer_range"] = 0.02;
  c["intermediate_size"] = m ? m->intermediate_size : 0;
  c["max_position_embeddings"] = spec.max_position_embeddings;
  c["num_attention_heads"] = a ? a->n_heads : 0;
  c["num_hidden_layers"] = spec.n_layers();
  c["num_key_value_heads"] = a ? a->n_kv_heads : 0;
  c["rms_norm_eps"] = spec.rms_norm_eps;
  c["rope_scaling"] = rope_scaling_json(spec.rope);
  c["rope_theta"] = spec.rope.theta;
  c["tie_word_embeddings"] = spec.tie_word_embeddings;
  c["torch_dtype"] = torch_dtype;
  c["transformers_version"] = "4.44.0";
  c["use_cache"] = true;
  c["vocab_size"] = spec.vocab_size;
  return c;
}

}  // namespace llmprune
