// LoRA adapters (see lora.h).
#include "train/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "util/error.h"

namespace llmprune {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool linear_role(TensorRole r) {
  switch (r) {
    case TensorRole::kQ:
    case TensorRole::kK:
    case TensorRole::kV:
    case TensorRole::kQkv:
    case TensorRole::kO:
    case TensorRole::kGate:
    case TensorRole::kUp:
    case TensorRole::kGateUp:
    case TensorRole::kDown:
      return true;
    default:
      return false;
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

LoraAdapter::LoraAdapter(torch::Tensor a, torch::Tensor b, double scaling_, double dropout,
                         uint64_t index, std::shared_ptr<const LoraDropout> state)
    : A(std::move(a)),
      B(std::move(b)),
      scaling(scaling_),
      dropout_(dropout),
      index_(index),
      state_(std::move(state)) {}

torch::Tensor LoraAdapter::forward(const torch::Tensor& x) const {
  torch::Tensor h = x.to(A.scalar_type());
  if (dropout_ > 0 && state_ && state_->on) {
    auto gen = at::detail::createCPUGenerator(splitmix64(state_->seed ^ splitmix64(index_)));
    torch::Tensor keep =
        torch::rand(h.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32)) >=
        static_cast<float>(dropout_);
    h = h * keep.to(h.device(), h.scalar_type()) / (1.0 - dropout_);
  }
  namespace F = torch::nn::functional;
  return (F::linear(F::linear(h, A), B) * scaling).to(x.scalar_type());
}

std::string peft_key(const std::string& module_path, char ab) {
  return "base_model.model." + module_path + ".lora_" + std::string(1, ab) + ".weight";
}

std::vector<LinearSite> linear_sites(const Family& family, const ModelSpec& spec) {
  std::vector<LinearSite> out;
  const std::string suffix = "." + family.naming().weight;
  for (const TensorInfo& t : family.tensors(spec)) {
    if (t.layer < 0 || t.is_bias || !linear_role(t.role) || t.shape.size() != 2) continue;
    LLMPRUNE_ASSERT(t.name.size() > suffix.size() &&
                        t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0,
                    "linear weight name ", t.name);
    LinearSite s;
    s.path = t.name.substr(0, t.name.size() - suffix.size());
    s.short_name = s.path.substr(s.path.rfind('.') + 1);
    s.layer = t.layer;
    s.out = t.shape[0];
    s.in = t.shape[1];
    s.role = t.role;
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> resolve_targets(const std::vector<std::string>& targets,
                                         const std::vector<LinearSite>& sites) {
  std::set<std::string> valid, chosen;
  for (const auto& s : sites) valid.insert(s.short_name);
  LLMPRUNE_CHECK(!targets.empty(), "[lora] --targets is empty");
  for (const auto& t : targets) {
    if (t == "all" || t == "attn" || t == "mlp") {
      for (const auto& s : sites)
        if (t == "all" || (t == "attn" ? is_attention_role(s.role) : is_mlp_role(s.role)))
          chosen.insert(s.short_name);
    } else if (valid.count(t)) {
      chosen.insert(t);
    } else {
      throw bad_input("[lora] unknown target module '", t,
                      "'; valid: ", join(std::vector<std::string>(valid.begin(), valid.end())),
                      ", attn, mlp, all");
    }
  }
  return std::vector<std::string>(chosen.begin(), chosen.end());
}

LoraModule lora_module(const LinearSite& site, torch::Tensor a, torch::Tensor b) {
  LoraModule m;
  m.path = site.path;
  m.short_name = site.short_name;
  m.layer = site.layer;
  m.in = site.in;
  m.out = site.out;
  m.adapter = std::make_shared<LoraAdapter>(std::move(a), std::move(b), 0, 0, 0, nullptr);
  return m;
}

LoraSet LoraSet::create(const Family& family, const ModelSpec& spec, const LoraConfig& cfg,
                        uint64_t seed, torch::ScalarType dtype) {
  LLMPRUNE_CHECK(cfg.r >= 1, "[lora] --lora-r must be at least 1, got ", cfg.r);
  LLMPRUNE_CHECK(cfg.dropout >= 0 && cfg.dropout < 1,
                 "[lora] --lora-dropout must be in [0, 1), got ", cfg.dropout);
  auto sites = linear_sites(family, spec);
  auto targets = resolve_targets(cfg.targets, sites);
  std::vector<LoraModule> mods;
  auto gen = at::detail::createCPUGenerator(seed);
  const auto opts = torch::TensorOptions().dtype(dtype);
  for (const auto& s : sites) {
    if (!std::binary_search(targets.begin(), targets.end(), s.short_name)) continue;
    // kaiming_uniform_(a = sqrt(5)) as PEFT: bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(in).
    const double bound = 1.0 / std::sqrt(static_cast<double>(s.in));
    torch::Tensor a =
        (torch::rand({cfg.r, s.in}, gen, torch::TensorOptions().dtype(torch::kFloat64)) * 2 - 1) *
        bound;
    mods.push_back(lora_module(s, a.to(opts), torch::zeros({s.out, cfg.r}, opts)));
  }
  LoraSet set = from_tensors(cfg, std::move(mods));
  set.targets_ = targets;
  return set;
}

LoraSet LoraSet::from_tensors(const LoraConfig& cfg, std::vector<LoraModule> modules) {
  LoraSet set;
  set.cfg_ = cfg;
  std::set<std::string> names;
  for (size_t i = 0; i < modules.size(); ++i) {
    LoraModule& m = modules[i];
    names.insert(m.short_name);
    // Rebuild with the set's scaling, dropout and shared dropout state.
    m.adapter = std::make_shared<LoraAdapter>(m.adapter->A, m.adapter->B,
                                              cfg.alpha / static_cast<double>(cfg.r), cfg.dropout,
                                              static_cast<uint64_t>(i), set.dropout_);
    set.by_path_[m.path] = i;
  }
  set.targets_.assign(names.begin(), names.end());
  set.modules_ = std::move(modules);
  return set;
}

void LoraSet::attach(torch::nn::Module& root, const std::string& prefix, bool detach) const {
  for (const auto& item : root.named_modules()) {
    auto it = by_path_.find(prefix + item.key());
    if (it == by_path_.end()) continue;
    auto lin = std::dynamic_pointer_cast<LinearImpl>(item.value());
    LLMPRUNE_ASSERT(lin, "module ", prefix + item.key(), " is not a linear map");
    const LoraAdapter& ad = *modules_[it->second].adapter;
    LLMPRUNE_ASSERT(lin->weight.size(0) == ad.B.size(0) && lin->weight.size(1) == ad.A.size(1),
                    "adapter shape of ", prefix + item.key());
    lin->adapter = detach ? nullptr : modules_[it->second].adapter;
  }
}

std::vector<std::pair<std::string, torch::Tensor>> LoraSet::layer_tensors(int64_t layer) const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& m : modules_) {
    if (m.layer != layer) continue;
    out.emplace_back(peft_key(m.path, 'A'), m.adapter->A);
    out.emplace_back(peft_key(m.path, 'B'), m.adapter->B);
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> LoraSet::peft_tensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& m : modules_) {
    out.emplace_back(peft_key(m.path, 'A'), m.adapter->A);
    out.emplace_back(peft_key(m.path, 'B'), m.adapter->B);
  }
  return out;
}

int64_t LoraSet::n_parameters() const {
  int64_t n = 0;
  for (const auto& m : modules_) n += m.adapter->A.numel() + m.adapter->B.numel();
  return n;
}

}  // namespace llmprune
