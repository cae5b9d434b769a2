// Width cuts (see width_apply.h).
#include "apply/width_apply.h"

#include <algorithm>
#include <set>

#include "util/error.h"

namespace llmprune {
namespace {

struct Range {
  int64_t axis, offset, length;
};

// Tensor name -> the ranges the cut removes from it.
std::map<std::string, std::vector<Range>> cut_ranges(const Family& family, const ModelSpec& spec,
                                                     const WidthCut& cut) {
  std::map<std::string, std::vector<Range>> out;
  auto add = [&](int64_t layer, PruneGroup::Kind kind, const std::vector<int64_t>& idx,
                 const char* what) {
    LLMPRUNE_CHECK(layer >= 0 && layer < spec.n_layers(), "width cut: layer ", layer,
                   " outside layers 0..", spec.n_layers() - 1);
    std::vector<PruneGroup> groups = family.prune_groups(spec, layer);
    std::set<int64_t> want(idx.begin(), idx.end());
    int64_t n = 0;
    for (const PruneGroup& g : groups) {
      if (g.kind != kind) continue;
      ++n;
      if (!want.count(g.index)) continue;
      want.erase(g.index);
      for (const PruneSlice& s : g.slices) out[s.tensor].push_back({s.axis, s.offset, s.length});
    }
    LLMPRUNE_CHECK(want.empty(), "width cut: layer ", layer, " has ", n, " ", what, " (0..", n - 1,
                   "), not ", want.empty() ? 0 : *want.begin());
  };
  for (const auto& [l, idx] : cut.kv_groups) add(l, PruneGroup::Kind::kAttnHeadGroup, idx, "KV groups");
  for (const auto& [l, idx] : cut.channels) add(l, PruneGroup::Kind::kMlpChannel, idx, "channels");
  return out;
}

// Indices along `axis` of a tensor of size `size` that survive `ranges`.
torch::Tensor kept_indices(int64_t size, const std::vector<Range>& ranges) {
  std::vector<bool> keep(static_cast<size_t>(size), true);
  for (const Range& r : ranges)
    for (int64_t i = r.offset; i < r.offset + r.length; ++i) keep[static_cast<size_t>(i)] = false;
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < size; ++i)
    if (keep[static_cast<size_t>(i)]) idx.push_back(i);
  return torch::tensor(idx, torch::kLong);
}

}  // namespace

void mask_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                NamedTensors& tensors) {
  const auto ranges = cut_ranges(family, source, cut);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : tensors) {
    auto it = ranges.find(name);
    if (it == ranges.end()) continue;
    for (const Range& r : it->second) t.narrow(r.axis, r.offset, r.length).zero_();
  }
}

NamedTensors slice_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const NamedTensors& tensors, ModelSpec* sliced_spec) {
  const auto ranges = cut_ranges(family, source, cut);
  std::map<std::string, torch::Tensor> sliced;
  for (const auto& [name, t] : tensors) {
    auto it = ranges.find(name);
    if (it == ranges.end()) {
      sliced[name] = t;
      continue;
    }
    // Every range of one tensor is along one axis (rows of q/k/v/gate/up, columns of o/down).
    const int64_t axis = it->second.front().axis;
    sliced[name] = t.index_select(axis, kept_indices(t.size(axis), it->second)).contiguous();
  }
  // Shapes from the sliced tensors: o_proj columns give the query heads, then k rows (or the
  // fused qkv rows) the KV heads; down_proj columns give the MLP width.
  ModelSpec spec = source;
  for (const TensorInfo& t : family.tensors(source)) {
    if (t.layer < 0 || t.is_bias) continue;
    LayerSpec& L = spec.layers[static_cast<size_t>(t.layer)];
    const auto& shape = sliced.at(t.name).sizes();
    if (t.role == TensorRole::kO) {
      L.attn->n_heads = shape[1] / L.attn->head_dim;
    } else if (t.role == TensorRole::kK) {
      L.attn->n_kv_heads = shape[0] / L.attn->head_dim;
    } else if (t.role == TensorRole::kDown) {
      L.mlp->intermediate_size = shape[1];
    }
  }
  const TensorNaming& n = family.naming();
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    if (L.attn && n.fused_qkv()) {
      const std::string qkv = n.layer_prefix(l) + n.attn + "." + n.qkv + "." + n.weight;
      const int64_t rows = sliced.at(qkv).size(0) / L.attn->head_dim;
      L.attn->n_kv_heads = (rows - L.attn->n_heads) / 2;
    }
    if (L.attn && L.attn->n_heads == 0) L.attn.reset();
    if (L.mlp && L.mlp->intermediate_size == 0) L.mlp.reset();
  }
  // Tensors of sub-blocks that are gone entirely (norms included) leave the checkpoint.
  std::set<std::string> keep;
  for (const TensorInfo& t : family.tensors(spec)) keep.insert(t.name);
  std::set<std::string> known;
  for (const TensorInfo& t : family.tensors(source)) known.insert(t.name);
  NamedTensors out;
  for (const auto& [name, t] : tensors)
    if (keep.count(name) || !known.count(name)) out.emplace_back(name, sliced.at(name));
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    const LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    if (L.attn)
      LLMPRUNE_ASSERT(L.attn->n_kv_heads > 0 && L.attn->n_heads % L.attn->n_kv_heads == 0,
                      "width cut left layer ", l, " with ", L.attn->n_heads, " query and ",
                      L.attn->n_kv_heads, " KV heads");
  }
  *sliced_spec = spec;
  return out;
}

}  // namespace llmprune
