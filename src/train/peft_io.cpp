// PEFT adapter folders and merging (see peft_io.h).
#include "train/peft_io.h"

#include <map>
#include <set>

#include "arch/checkpoint_check.h"
#include "export/model_files.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"

namespace llmprune {

json peft_config(const LoraSet& set, const std::string& base_model) {
  const LoraConfig& c = set.config();
  json j;
  // Every field PEFT 0.21.2's LoraConfig.to_dict() writes, with its defaults except ours.
  for (const char* k :
       {"alora_invocation_tokens", "arrow_config", "auto_mapping", "corda_config", "eva_config",
        "exclude_modules", "kasa_config", "layer_replication", "layers_pattern",
        "layers_to_transform", "lora_ga_config", "megatron_config", "modules_to_save",
        "monteclora_config", "revision", "target_parameters", "trainable_token_indices",
        "use_bdlora", "velora_config"})
    j[k] = nullptr;
  j["alpha_pattern"] = json::object();
  j["base_model_name_or_path"] = base_model;
  j["bias"] = "none";
  j["ensure_weight_tying"] = false;
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["loftq_config"] = json::object();
  if (c.alpha == static_cast<double>(static_cast<int64_t>(c.alpha)))
    j["lora_alpha"] = static_cast<int64_t>(c.alpha);  // PEFT writes an int
  else
    j["lora_alpha"] = c.alpha;
  j["lora_bias"] = false;
  j["lora_dropout"] = c.dropout;
  j["megatron_core"] = "megatron.core";
  j["peft_type"] = "LORA";
  j["peft_version"] = kPeftFormatVersion;
  j["qalora_group_size"] = 16;
  j["r"] = c.r;
  j["rank_pattern"] = json::object();
  j["target_modules"] = set.target_names();
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_qalora"] = false;
  j["use_rslora"] = false;
  return j;
}

void save_adapter(const std::string& dir, const LoraSet& set, const std::string& base_model,
                  bool overwrite,
                  const std::vector<std::pair<std::string, std::string>>& extra_files) {
  NamedTensors tensors;
  for (auto& [name, t] : set.peft_tensors())
    tensors.emplace_back(name, t.detach().to(torch::kFloat32).contiguous());
  const json cfg = peft_config(set, base_model);
  write_dir_atomic(dir, overwrite, [&](const std::string& tmp) {
    write_file_atomic(join_path(tmp, "adapter_config.json"), cfg.dump(2) + "\n");
    SafetensorsWriteOptions wo;
    wo.prefix = "adapter_model";
    write_safetensors(tmp, tensors, wo);
    for (const auto& [name, content] : extra_files)
      write_file_atomic(join_path(tmp, name), content);
  });
}

LoraSet load_adapter(const std::string& dir, const Family& family, const ModelSpec& spec,
                     torch::ScalarType dtype) {
  const std::string cfg_path = join_path(dir, "adapter_config.json");
  LLMPRUNE_CHECK(path_exists(cfg_path), "[adapter] ", dir, " has no adapter_config.json");
  const json j = read_json_file(cfg_path);
  LoraConfig cfg;
  with_json_errors("[adapter] " + cfg_path, [&] {
    LLMPRUNE_CHECK(j.value("peft_type", std::string()) == "LORA", "[adapter] ", cfg_path,
                   ": peft_type ", json_excerpt(j.value("peft_type", json())),
                   " is not supported (LORA only)");
    cfg.r = json_int(j.at("r"), "[adapter] " + cfg_path + ": r", 1, 1 << 20);
    cfg.alpha = j.at("lora_alpha").get<double>();
    cfg.dropout = j.value("lora_dropout", 0.0);
    for (const char* off : {"use_dora", "use_rslora", "fan_in_fan_out"})
      LLMPRUNE_CHECK(!j.value(off, false), "[adapter] ", cfg_path, ": ", off,
                     " = true is not supported");
    LLMPRUNE_CHECK(j.value("bias", std::string("none")) == "none", "[adapter] ", cfg_path,
                   ": bias ", json_excerpt(j.at("bias")), " is not supported (none only)");
    for (const char* pat : {"rank_pattern", "alpha_pattern"})
      LLMPRUNE_CHECK(!j.contains(pat) || j.at(pat).is_null() || j.at(pat).empty(), "[adapter] ",
                     cfg_path, ": ", pat, " is not supported");
    return 0;
  });
  const std::string st_path = join_path(dir, "adapter_model.safetensors");
  LLMPRUNE_CHECK(path_exists(st_path), "[adapter] ", dir, " has no adapter_model.safetensors");
  TensorStore store = TensorStore::open(st_path);
  std::map<std::string, LinearSite> sites;
  for (const auto& s : linear_sites(family, spec)) sites[s.path] = s;
  const std::string pre = "base_model.model.";
  std::map<std::string, LoraModule> mods;  // by path
  std::map<std::string, torch::Tensor> a_of, b_of;
  for (const auto& name : store.names()) {
    std::string path;
    char ab = 0;
    for (char c : {'A', 'B'}) {
      const std::string suf = std::string(".lora_") + c + ".weight";
      if (name.size() > pre.size() + suf.size() && name.compare(0, pre.size(), pre) == 0 &&
          name.compare(name.size() - suf.size(), suf.size(), suf) == 0) {
        path = name.substr(pre.size(), name.size() - pre.size() - suf.size());
        ab = c;
      }
    }
    LLMPRUNE_CHECK(ab, "[adapter] ", st_path, ": tensor ", name,
                   " is not a LoRA weight (base_model.model.<module>.lora_A/B.weight)");
    auto it = sites.find(path);
    LLMPRUNE_CHECK(it != sites.end(), "[adapter] ", st_path, ": tensor ", name,
                   " names no linear map of this model (", path,
                   "); the adapter was made for another model");
    const LinearSite& s = it->second;
    const std::vector<int64_t> want =
        ab == 'A' ? std::vector<int64_t>{cfg.r, s.in} : std::vector<int64_t>{s.out, cfg.r};
    const auto& got = store.entry(name).shape;
    LLMPRUNE_CHECK(got == want, "[adapter] ", st_path, ": tensor ", name, " has shape ",
                   shape_str(got), " but this model needs ", shape_str(want), " (r = ", cfg.r,
                   "; the adapter was made for another model)");
    (ab == 'A' ? a_of : b_of)[path] = store.load(name).to(dtype);
  }
  std::vector<LoraModule> out;
  for (const auto& [path, s] : sites) {
    (void)s;
    const bool a = a_of.count(path), b = b_of.count(path);
    if (!a && !b) continue;
    LLMPRUNE_CHECK(a && b, "[adapter] ", st_path, ": ", path, " has lora_", a ? "A" : "B",
                   " but no lora_", a ? "B" : "A");
  }
  // Model order (family table order), so adapters index the same way on every load.
  for (const auto& s : linear_sites(family, spec)) {
    if (!a_of.count(s.path)) continue;
    out.push_back(lora_module(s, a_of[s.path], b_of[s.path]));
  }
  LLMPRUNE_CHECK(!out.empty(), "[adapter] ", st_path, " holds no LoRA tensors");
  return LoraSet::from_tensors(cfg, std::move(out));
}

void merge_adapter(const std::string& model_dir, const LoraSet& set, const std::string& out_dir,
                   bool overwrite) {
  CheckpointConfig cc = read_checkpoint_config(model_dir);
  TensorStore store = open_checkpoint_tensors(cc);
  std::map<std::string, const LoraModule*> by_weight;
  for (const auto& m : set.modules()) by_weight[m.path + "." + cc.family->naming().weight] = &m;
  std::vector<TensorDecl> decls;
  for (const auto& name : store.names()) {
    const TensorEntry& e = store.entry(name);
    decls.push_back({name, e.dtype, e.shape});
  }
  SafetensorsWriteOptions wo;
  wo.max_shard_bytes = source_shard_bytes(model_dir, store);
  write_dir_atomic(out_dir, overwrite, [&](const std::string& tmp) {
    write_json_file(join_path(tmp, "config.json"), cc.config);
    copy_tokenizer_files(model_dir, tmp);
    SafetensorsStreamWriter writer(tmp, decls, wo);
    for (const std::string& name : writer.order()) {
      torch::Tensor t = store.load(name, /*release=*/true);
      auto it = by_weight.find(name);
      if (it != by_weight.end()) {
        const LoraAdapter& ad = *it->second->adapter;
        torch::NoGradGuard ng;
        torch::Tensor delta = torch::matmul(ad.B.to(torch::kFloat32), ad.A.to(torch::kFloat32));
        t = (t.to(torch::kFloat32) + delta * ad.scaling).to(t.scalar_type());
      }
      writer.write(name, t);
    }
    writer.finish();
  });
}

}  // namespace llmprune

#include "model/causal_lm.h"

namespace llmprune {

void apply_adapter(CausalLM& model, const std::string& dir) {
  if (dir.empty()) return;
  const auto dt = model.dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  LoraSet set = load_adapter(dir, model.family(), model.spec(), dt);
  for (const auto& m : set.modules()) m.adapter->A.set_requires_grad(false);
  set.attach(model.module(), "");
}

}  // namespace llmprune
