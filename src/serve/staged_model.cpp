// Staged model loading (see staged_model.h): A's tensors are mapped back to their original
// names (layers_map.json), the bundles' tensors carry them already; the union is loaded into
// one DecoderLM of the deepest stage's spec, and each stage runs a schedule over its layers.
#include "serve/staged_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "apply/depth_apply.h"
#include "apply/depth_map.h"
#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "io/safetensors.h"
#include "model/stored_weights.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace llmprune {
namespace fs = std::filesystem;

namespace {

// A stage seen as a checkpoint: its own spec, the shared model's weights, run over a schedule.
class StageLM : public CausalLM {
 public:
  StageLM(DecoderLM& shared, const StageInfo& info) : shared_(shared), info_(info) {}
  const ModelSpec& spec() const override { return info_.spec; }
  torch::Device device() const override { return shared_.device(); }
  torch::ScalarType dtype() const override { return shared_.dtype(); }
  const Family& family() const override { return shared_.family(); }
  torch::Tensor forward(const torch::Tensor& ids, KVCache* cache,
                        const ForwardHook* hook) override {
    return lm_head(forward_hidden(ids, cache, hook));
  }
  torch::Tensor forward_hidden(const torch::Tensor& ids, KVCache* cache,
                               const ForwardHook* hook) override {
    return shared_.forward_hidden_schedule(ids, info_.schedule, cache, hook);
  }
  torch::Tensor lm_head(const torch::Tensor& hidden) const override {
    return shared_.lm_head(hidden);
  }
  // The stage's parameters under the names its checkpoint would use (layers renumbered).
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const override {
    const Family& f = shared_.family();
    std::map<std::string, TensorInfo> table;
    for (const TensorInfo& t : f.tensors(shared_.spec())) table.emplace(t.name, t);
    std::map<int64_t, size_t> pos;
    for (size_t j = 0; j < info_.schedule.size(); ++j) pos[info_.schedule[j].index] = j;
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [name, p] : shared_.named_parameters()) {
      auto it = table.find(name);
      if (it == table.end() || it->second.layer < 0) {
        out.emplace_back(name, p);
        continue;
      }
      auto at = pos.find(it->second.layer);
      if (at == pos.end()) continue;
      const SubBlockMask& m = info_.schedule[at->second].mask;
      const bool attn =
          is_attention_role(it->second.role) || it->second.role == TensorRole::kAttnNorm;
      if (attn ? !m.attn : !m.mlp) continue;
      const std::string prefix = f.naming().layer_prefix(it->second.layer);
      out.emplace_back(
          f.naming().layer_prefix(static_cast<int64_t>(at->second)) + name.substr(prefix.size()),
          p);
    }
    return out;
  }
  torch::nn::Module& module() override { return shared_.module(); }

 private:
  DecoderLM& shared_;
  const StageInfo& info_;
};

template <typename T>
T get(const json& j, const char* key, const std::string& file) {
  return json_get<T>(j, key, file, "[staged]");
}

struct Bundle {
  std::string dir, name, stage;
  std::vector<std::unique_ptr<TensorStore>> stores;
};

}  // namespace

StagedModel::~StagedModel() = default;

int StagedModel::stage_index(const std::string& name) const {
  for (int i = 0; i < n_stages(); ++i)
    if (stages_[static_cast<size_t>(i)].name == name) return i;
  throw bad_input("unknown stage \"", name, "\": this model has ", stage_names());
}

std::string StagedModel::stage_names() const {
  std::string s;
  for (const auto& st : stages_) s += (s.empty() ? "" : ", ") + st.name;
  return s;
}

std::unique_ptr<StagedModel> StagedModel::load(const std::string& dir,
                                               const std::string& bundles_dir,
                                               const LoadOptions& opts) {
  std::unique_ptr<StagedModel> m(new StagedModel());
  m->model_dir_ = dir;
  const std::string map_path = join_path(dir, "layers_map.json");
  if (bundles_dir.empty()) {
    // One stage: the checkpoint itself.
    m->shared_ = CausalLM::load(dir, opts);
    auto* lm = dynamic_cast<DecoderLM*>(m->shared_.get());
    LLMPRUNE_ASSERT(lm, "CausalLM::load returned a model that is not a DecoderLM");
    StageInfo s;
    s.name = "A";
    s.spec = lm->spec();
    for (int64_t i = 0; i < s.spec.n_layers(); ++i) {
      s.schedule.push_back({i, {}});
      s.original_layers.push_back(i);
    }
    m->stages_.push_back(std::move(s));
    m->views_.push_back(std::make_unique<StageLM>(*lm, m->stages_.back()));
    return m;
  }
  LLMPRUNE_CHECK(path_exists(map_path), "[staged] ", dir,
                 " has no layers_map.json: --bundles-dir needs a model written by `llmprune "
                 "prune depth`");
  LLMPRUNE_CHECK(fs::is_directory(bundles_dir), "[staged] --bundles-dir ", bundles_dir,
                 " is not a folder");
  const DepthMap dm = read_depth_map(dir, "[staged]");
  const std::string& manifest_sha = dm.manifest_sha;
  const CheckpointConfig& cc = dm.pruned;
  const Family& family = *dm.family;
  const ModelSpec& source = dm.source;
  const TensorNaming& n = family.naming();
  const DepthState& state = dm.state;
  const std::set<std::string>& restored = dm.restored;

  // Original tensor name -> (store, name in it).
  std::map<std::string, std::pair<const TensorStore*, std::string>> available;
  const TensorStore a_store = open_checkpoint_tensors(cc);
  std::map<std::string, TensorInfo> src_table;
  for (const TensorInfo& t : family.tensors(source)) src_table.emplace(t.name, t);
  for (const auto& [orig, name] : original_tensor_names(dm, a_store))
    available[orig] = {&a_store, name};

  // Bundles: every sub-folder with a bundle_meta.json, in name order (B before C).
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(bundles_dir))
    if (e.is_directory() && fs::exists(e.path() / "bundle_meta.json"))
      dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  LLMPRUNE_CHECK(!dirs.empty(), "[staged] --bundles-dir ", bundles_dir,
                 " holds no bundle (no sub-folder with a bundle_meta.json)");
  std::vector<DepthState> states = {state};
  std::vector<std::unique_ptr<Bundle>> bundles;
  for (const std::string& bdir : dirs) {
    const std::string meta_path = join_path(bdir, "bundle_meta.json");
    const json meta = read_json_file(meta_path);
    const std::string their = get<std::string>(meta, "manifest_sha256", meta_path);
    LLMPRUNE_CHECK(their == manifest_sha, "[staged] bundle ", bdir, " does not belong to ", dir,
                   ": its manifest hash ", their.substr(0, 12), "... is not the model's (",
                   manifest_sha.substr(0, 12), "...)");
    auto b = std::make_unique<Bundle>();
    b->dir = bdir;
    b->name = meta.value("bundle", fs::path(bdir).filename().string());
    b->stage = meta.value("stage", "A+" + b->name);
    if (restored.count(b->name)) {
      log_info("bundle ", b->name, " is already part of ", dir, ": skipped");
      continue;
    }
    LLMPRUNE_CHECK(meta.contains("units") && meta.at("units").is_array(), "[staged] ", meta_path,
                   ": missing \"units\"");
    if (meta.at("units").empty()) continue;  // nothing to restore: no stage of its own
    DepthState next = states.back();
    for (const json& u : meta.at("units")) {
      const std::string file = get<std::string>(u, "file", meta_path);
      LLMPRUNE_CHECK(!file.empty() && file.find('/') == std::string::npos && file != "..",
                     "[staged] ", meta_path, ": unit file \"", file,
                     "\" must be a file name inside the bundle");
      b->stores.push_back(std::make_unique<TensorStore>(TensorStore::open(join_path(bdir, file))));
      const TensorStore& st = *b->stores.back();
      for (const std::string& name : st.names()) {
        LLMPRUNE_CHECK(!available.count(name), "[staged] bundle ", bdir, " is already applied to ",
                       dir, ": tensor ", name, " is present twice");
        available[name] = {&st, name};
        auto it = src_table.find(name);
        if (it == src_table.end() || it->second.layer < 0) continue;
        const bool attn =
            is_attention_role(it->second.role) || it->second.role == TensorRole::kAttnNorm;
        (attn ? next.attn : next.mlp)[static_cast<size_t>(it->second.layer)] = true;
      }
    }
    states.push_back(next);
    bundles.push_back(std::move(b));
  }

  // The shared model: the deepest stage's spec, every available tensor under its name there.
  std::vector<int64_t> kept_full;
  ModelSpec full = cc.spec;
  full.layers = depth_spec(source, states.back(), &kept_full).layers;
  std::map<int64_t, int64_t> full_index;
  for (size_t i = 0; i < kept_full.size(); ++i) full_index[kept_full[i]] = static_cast<int64_t>(i);
  std::map<std::string, std::pair<const TensorStore*, std::string>> by_full_name;
  ShapeMap present;
  for (const auto& [orig, where] : available) {
    std::string name = orig;
    auto it = src_table.find(orig);
    if (it != src_table.end() && it->second.layer >= 0) {
      auto fi = full_index.find(it->second.layer);
      if (fi == full_index.end()) continue;
      name = n.layer_prefix(fi->second) + orig.substr(n.layer_prefix(it->second.layer).size());
    }
    by_full_name[name] = where;
    present[name] = where.first->entry(where.second).shape;
  }
  m->shared_ = load_stored_weights(
      family, full, present, [&](const std::string& name) { return by_full_name.at(name); },
      opts, "[staged] " + dir + " + " + bundles_dir);
  auto* lm = dynamic_cast<DecoderLM*>(m->shared_.get());
  LLMPRUNE_ASSERT(lm, "load_stored_weights returned a model that is not a DecoderLM");

  // One stage per state: A, then each bundle on top of the previous stage.
  for (size_t s = 0; s < states.size(); ++s) {
    StageInfo info;
    info.name = s == 0 ? "A" : bundles[s - 1]->stage;
    for (size_t k = 0; k < s; ++k) info.bundles.push_back(bundles[k]->name);
    std::vector<int64_t> kept;
    info.spec = cc.spec;
    info.spec.layers = depth_spec(source, states[s], &kept).layers;
    for (int64_t l : kept) {
      const size_t u = static_cast<size_t>(l);
      info.schedule.push_back({full_index.at(l), {states[s].attn[u], states[s].mlp[u]}});
      info.original_layers.push_back(l);
    }
    m->stages_.push_back(std::move(info));
  }
  LLMPRUNE_CHECK(m->stages_.front().spec.n_layers() == cc.spec.n_layers(), "[staged] ", map_path,
                 " does not describe ", dir, "'s layers");
  for (const auto& s : m->stages_) m->views_.push_back(std::make_unique<StageLM>(*lm, s));
  std::string desc;
  for (const auto& s : m->stages_)
    desc += (desc.empty() ? "" : ", ") + s.name + " (" + std::to_string(s.spec.n_layers()) + ")";
  log_info("staged model ", dir, " + ", bundles_dir, ": stages ", desc, " of ", source.n_layers(),
           " source layers");
  return m;
}

}  // namespace llmprune
