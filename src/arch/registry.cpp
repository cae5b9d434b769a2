// Family registry, detection and the llmprune config block (see registry.h).
#include "arch/registry.h"

#include "arch/hf_config.h"
#include "util/error.h"

namespace llmprune {

const std::vector<const Family*>& families() {
  static const std::vector<const Family*> all = {&llama_family(), &mistral_family(),
                                                 &qwen2_family(), &phi3_family(),
                                                 &opt_family()};
  return all;
}

std::string supported_families() {
  std::string out;
  for (const Family* f : families()) out += (out.empty() ? "" : ", ") + f->name();
  return out;
}

const Family& family_by_name(const std::string& name) {
  for (const Family* f : families())
    if (f->name() == name) return *f;
  throw bad_input("unknown model family '", name, "'; supported: ", supported_families());
}

namespace {

const Family* by_model_type(const std::string& t) {
  for (const Family* f : families())
    for (const auto& m : f->model_types())
      if (m == t) return f;
  return nullptr;
}

const Family* by_architecture(const std::string& a) {
  for (const Family* f : families())
    for (const auto& x : f->architectures())
      if (x == a) return f;
  return nullptr;
}

}  // namespace

const Family& detect_family(const json& config, const std::string& path) {
  if (!config.is_object()) throw bad_input("[config] ", path, ": not a JSON object");
  std::string model_type;
  if (config.contains("model_type") && config.at("model_type").is_string())
    model_type = config.at("model_type").get<std::string>();
  std::vector<std::string> archs;
  if (config.contains("architectures") && config.at("architectures").is_array())
    for (const auto& a : config.at("architectures"))
      if (a.is_string()) archs.push_back(a.get<std::string>());
  std::string arch_list;
  for (const auto& a : archs) arch_list += (arch_list.empty() ? "" : ", ") + a;

  const Family* f = model_type.empty() ? nullptr : by_model_type(model_type);
  if (!f) {
    throw bad_input("[config] ", path, ": unknown model_type '", model_type,
                    "' (architectures [", arch_list, "]); supported: ", supported_families());
  }
  for (const auto& a : archs) {
    const Family* g = by_architecture(a);
    if (!g)
      throw bad_input("[config] ", path, ": unsupported architecture '", a, "' for model_type '",
                      model_type, "' (expected ", f->architectures()[0],
                      "); supported families: ", supported_families());
    if (g != f)
      throw bad_input("[config] ", path, ": model_type '", model_type,
                      "' disagrees with architectures [", arch_list, "] (", a, " is ",
                      g->name(), "): refusing to guess");
  }
  return *f;
}

void apply_llmprune_block(const json& block, const std::string& path, ModelSpec& spec) {
  if (!block.is_object())
    throw bad_input("[config] ", path, ": \"llmprune\" must be an object, got ", json_excerpt(block));
  if (!block.contains("layers")) return;
  const json& layers = block.at("layers");
  if (!layers.is_array() || static_cast<int64_t>(layers.size()) != spec.n_layers())
    throw bad_input("[config] ", path, ": llmprune.layers must list num_hidden_layers = ",
                    spec.n_layers(), " entries, got ",
                    layers.is_array() ? std::to_string(layers.size()) : json_excerpt(layers));
  // Same bounds as the stock keys (hf_config.h), so per-layer products cannot overflow.
  auto get = [&](const json& obj, const char* key, int64_t i, int64_t fallback,
                 int64_t max) -> int64_t {
    if (!obj.contains(key) || obj.at(key).is_null()) {
      if (fallback > 0) return fallback;
      throw bad_input("[config] ", path, ": llmprune.layers[", i, "] is missing \"", key, "\"");
    }
    return json_int(obj.at(key),
                    "[config] " + path + ": llmprune.layers[" + std::to_string(i) + "]." + key, 1,
                    max);
  };
  for (int64_t i = 0; i < spec.n_layers(); ++i) {
    const json& e = layers[static_cast<size_t>(i)];
    LayerSpec& L = spec.layers[static_cast<size_t>(i)];
    if (!e.is_object())
      throw bad_input("[config] ", path, ": llmprune.layers[", i, "] must be an object, got ",
                      json_excerpt(e));
    if (e.contains("attn")) {
      const json& a = e.at("attn");
      if (a.is_null()) {
        L.attn.reset();
      } else {
        AttentionSpec base = L.attn ? *L.attn : AttentionSpec{};
        base.n_heads = get(a, "n_heads", i, 0, kMaxHeads);
        base.n_kv_heads = get(a, "n_kv_heads", i, 0, kMaxHeads);
        base.head_dim = get(a, "head_dim", i, base.head_dim, kMaxHeadDim);
        if (base.n_heads % base.n_kv_heads != 0)
          throw bad_input("[config] ", path, ": llmprune.layers[", i, "].attn n_heads ",
                          base.n_heads, " is not a multiple of n_kv_heads ", base.n_kv_heads);
        L.attn = base;
      }
    }
    if (e.contains("mlp")) {
      const json& m = e.at("mlp");
      if (m.is_null()) {
        L.mlp.reset();
      } else {
        MlpSpec base = L.mlp ? *L.mlp : MlpSpec{};
        base.intermediate_size = get(m, "intermediate_size", i, 0, kMaxIntermediateSize);
        L.mlp = base;
      }
    }
  }
}

json llmprune_block(const ModelSpec& spec) {
  json layers = json::array();
  for (const auto& L : spec.layers) {
    json e;
    e["attn"] = L.attn ? json{{"n_heads", L.attn->n_heads},
                              {"n_kv_heads", L.attn->n_kv_heads},
                              {"head_dim", L.attn->head_dim}}
                       : json(nullptr);
    e["mlp"] = L.mlp ? json{{"intermediate_size", L.mlp->intermediate_size}} : json(nullptr);
    layers.push_back(e);
  }
  return json{{"layers", layers}};
}

bool is_uniform(const ModelSpec& spec) {
  if (spec.layers.empty()) return true;
  const auto& f = spec.layers[0];
  if (!f.attn || !f.mlp) return false;
  for (const auto& L : spec.layers) {
    if (!L.attn || !L.mlp) return false;
    if (L.attn->n_heads != f.attn->n_heads || L.attn->n_kv_heads != f.attn->n_kv_heads ||
        L.attn->head_dim != f.attn->head_dim ||
        L.mlp->intermediate_size != f.mlp->intermediate_size)
      return false;
  }
  return true;
}

ModelSpec spec_from_config(const Family& family, const json& config, const std::string& path) {
  ModelSpec spec = family.config_to_spec(config, path);
  if (config.contains("llmprune") && !config.at("llmprune").is_null())
    apply_llmprune_block(config.at("llmprune"), path, spec);
  return spec;
}

json config_for_spec(const Family& family, const ModelSpec& spec) {
  json c = family.spec_to_config(spec);
  if (!is_uniform(spec)) c["llmprune"] = llmprune_block(spec);
  return c;
}

}  // namespace llmprune
