// Width cuts (see width_apply.h).
#include "apply/width_apply.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "util/error.h"

namespace llmprune {
namespace {

struct Range {
  int64_t axis, offset, length;
};

std::vector<int64_t> all_of(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

const std::vector<int64_t>* find(const std::map<int64_t, std::vector<int64_t>>& m, int64_t l) {
  auto it = m.find(l);
  return it == m.end() ? nullptr : &it->second;
}

// Checks that the query heads kept in each kept KV group of `layer` are equally many.
void check_gqa(const AttentionSpec& a, int64_t layer, const std::vector<int64_t>* kv,
               const std::vector<int64_t>* q) {
  const int64_t g = a.n_heads / a.n_kv_heads;
  std::set<int64_t> gone_kv, gone_q;
  if (kv) gone_kv.insert(kv->begin(), kv->end());
  if (q) gone_q.insert(q->begin(), q->end());
  int64_t per = -1;
  for (int64_t k = 0; k < a.n_kv_heads; ++k) {
    if (gone_kv.count(k)) continue;
    int64_t keep = 0;
    for (int64_t h = k * g; h < (k + 1) * g; ++h) keep += gone_q.count(h) ? 0 : 1;
    LLMPRUNE_CHECK(keep > 0 && (per < 0 || keep == per), "width cut: layer ", layer,
                   " would keep ", keep, " query heads in KV group ", k,
                   per < 0 ? std::string() : " and " + std::to_string(per) + " in another",
                   ": every kept KV group needs the same number (at least 1)");
    per = keep;
  }
}

// Tensor name -> the ranges the cut removes from it.
std::map<std::string, std::vector<Range>> cut_ranges(const Family& family, const ModelSpec& spec,
                                                     const WidthCut& cut) {
  std::map<std::string, std::vector<Range>> out;
  std::set<int64_t> layers;
  for (const auto* m : {&cut.kv_groups, &cut.q_heads, &cut.channels})
    for (const auto& [l, idx] : *m) {
      LLMPRUNE_CHECK(l >= 0 && l < spec.n_layers(), "width cut: layer ", l,
                     " outside layers 0..", spec.n_layers() - 1);
      layers.insert(l);
    }
  if (!cut.hidden.empty()) {
    const GroupSet set = family.hidden_set(spec);
    for (int64_t i : cut.hidden) {
      LLMPRUNE_CHECK(i >= 0 && i < set.count, "width cut: hidden channel ", i, " outside 0..",
                     set.count - 1);
      for (const SliceRule& r : set.rules)
        out[r.tensor].push_back({r.axis, r.base + i * r.length, r.length});
    }
    LLMPRUNE_CHECK(static_cast<int64_t>(cut.hidden.size()) < set.count,
                   "width cut: every hidden channel is cut");
  }
  for (int64_t l : layers) {
    const LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    const auto* kv = find(cut.kv_groups, l);
    const auto* q = find(cut.q_heads, l);
    const auto* ch = find(cut.channels, l);
    LLMPRUNE_CHECK(L.attn || (!kv && !q), "width cut: layer ", l, " has no attention to cut");
    LLMPRUNE_CHECK(L.mlp || !ch, "width cut: layer ", l, " has no MLP to cut");
    const bool attn_gone = kv && L.attn && static_cast<int64_t>(kv->size()) == L.attn->n_kv_heads;
    if (L.attn && !attn_gone && (kv || q)) check_gqa(*L.attn, l, kv, q);
    for (const GroupSet& set : family.group_sets(spec, l)) {
      const std::vector<int64_t>* idx = set.kind == GroupKind::kKvGroup     ? kv
                                        : set.kind == GroupKind::kQueryHead ? q
                                                                            : ch;
      if (!idx) continue;
      for (int64_t i : *idx) {
        LLMPRUNE_CHECK(i >= 0 && i < set.count, "width cut: layer ", l, " has ", set.count, " ",
                       group_kind_name(set.kind), "s (0..", set.count - 1, "), not ", i);
        for (const SliceRule& r : set.rules)
          out[r.tensor].push_back({r.axis, r.base + i * r.length, r.length});
      }
    }
  }
  return out;
}

}  // namespace

WidthCut full_cut(const ModelSpec& source, const PrunePlan& plan) {
  WidthCut cut = plan.width;
  for (const PruneUnit& u : plan.units) {
    const LayerSpec& L = source.layers[static_cast<size_t>(u.layer)];
    if (u.kind != UnitKind::kMlp && L.attn) {
      cut.kv_groups[u.layer] = all_of(L.attn->n_kv_heads);
      cut.q_heads.erase(u.layer);
    }
    if (u.kind != UnitKind::kAttn && L.mlp) cut.channels[u.layer] = all_of(L.mlp->intermediate_size);
  }
  return cut;
}

WidthLayout width_layout(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const std::map<std::string, std::vector<int64_t>>& shapes) {
  const auto ranges = cut_ranges(family, source, cut);
  WidthLayout out;
  std::map<std::string, std::vector<int64_t>> new_shape;
  std::map<std::string, WidthLayout::Entry> entries;
  for (const auto& [name, shape] : shapes) {
    WidthLayout::Entry e{name, {}, 1.0, shape};
    auto it = ranges.find(name);
    if (it != ranges.end()) {
      // Ranges of one tensor along at most two axes (q/k/v rows by heads and columns by
      // hidden channels, for instance).
      std::map<int64_t, std::vector<bool>> keep;
      for (const Range& r : it->second) {
        const int64_t size = shape.at(static_cast<size_t>(r.axis));
        auto& k = keep.emplace(r.axis, std::vector<bool>(static_cast<size_t>(size), true)).first->second;
        LLMPRUNE_ASSERT(r.offset + r.length <= size, "width cut of ", name);
        for (int64_t i = r.offset; i < r.offset + r.length; ++i) k[static_cast<size_t>(i)] = false;
      }
      for (const auto& [axis, k] : keep) {
        std::vector<int64_t> idx;
        for (size_t i = 0; i < k.size(); ++i)
          if (k[i]) idx.push_back(static_cast<int64_t>(i));
        e.shape[static_cast<size_t>(axis)] = static_cast<int64_t>(idx.size());
        e.keep.emplace_back(axis, std::move(idx));
      }
    }
    new_shape[name] = e.shape;
    entries[name] = e;
  }
  // Shapes from the sliced tensors: o_proj columns give the query heads, k rows (or the fused
  // qkv rows) the KV heads; down_proj columns give the MLP width.
  ModelSpec spec = source;
  const TensorNaming& n = family.naming();
  for (const TensorInfo& t : family.tensors(source)) {
    if (t.layer < 0 || t.is_bias) continue;
    LayerSpec& L = spec.layers[static_cast<size_t>(t.layer)];
    const std::vector<int64_t>& shape = new_shape.at(t.name);
    if (t.role == TensorRole::kO) L.attn->n_heads = shape[1] / L.attn->head_dim;
    if (t.role == TensorRole::kK) L.attn->n_kv_heads = shape[0] / L.attn->head_dim;
    if (t.role == TensorRole::kDown) L.mlp->intermediate_size = shape[1];
  }
  if (!cut.hidden.empty()) {
    const int64_t H = source.hidden_size, kept = H - static_cast<int64_t>(cut.hidden.size());
    spec.hidden_size = kept;
    spec.rms_norm_eps = source.rms_norm_eps * static_cast<double>(H) / static_cast<double>(kept);
    for (const TensorInfo& t : family.tensors(source))
      if (t.role == TensorRole::kAttnNorm || t.role == TensorRole::kMlpNorm ||
          t.role == TensorRole::kFinalNorm)
        entries.at(t.name).scale = std::sqrt(static_cast<double>(H) / static_cast<double>(kept));
  }
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    if (L.attn && n.fused_qkv()) {
      const std::string qkv = n.layer_prefix(l) + n.attn + "." + n.qkv + "." + n.weight;
      const int64_t rows = new_shape.at(qkv)[0] / L.attn->head_dim;
      L.attn->n_kv_heads = (rows - L.attn->n_heads) / 2;
    }
    if (L.attn && L.attn->n_heads == 0) L.attn.reset();
    if (L.mlp && L.mlp->intermediate_size == 0) L.mlp.reset();
    if (L.attn)
      LLMPRUNE_ASSERT(L.attn->n_kv_heads > 0 && L.attn->n_heads % L.attn->n_kv_heads == 0,
                      "width cut left layer ", l, " with ", L.attn->n_heads, " query and ",
                      L.attn->n_kv_heads, " KV heads");
  }
  // Tensors of sub-blocks that are gone entirely (norms included) leave the checkpoint.
  std::set<std::string> keep, known;
  for (const TensorInfo& t : family.tensors(spec)) keep.insert(t.name);
  for (const TensorInfo& t : family.tensors(source)) known.insert(t.name);
  for (const auto& [name, shape] : shapes) {
    if (keep.count(name) || !known.count(name))
      out.kept.push_back(entries.at(name));
    else
      out.dropped.push_back(name);
  }
  out.spec = spec;
  return out;
}

torch::Tensor slice_entry(const WidthLayout::Entry& e, const torch::Tensor& t) {
  torch::Tensor out = t;
  for (const auto& [axis, idx] : e.keep)
    out = out.index_select(axis, torch::tensor(idx, torch::kLong).to(t.device()));
  if (e.scale != 1.0) out = (out.to(torch::kFloat64) * e.scale).to(t.scalar_type());
  return e.keep.empty() && e.scale == 1.0 ? out : out.contiguous();
}

NamedTensors slice_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const NamedTensors& tensors, ModelSpec* sliced_spec) {
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [name, t] : tensors) {
    shapes[name] = t.sizes().vec();
    by_name[name] = t;
  }
  const WidthLayout layout = width_layout(family, source, cut, shapes);
  // Source order, as the input.
  std::map<std::string, const WidthLayout::Entry*> entry;
  for (const auto& e : layout.kept) entry[e.name] = &e;
  NamedTensors out;
  for (const auto& [name, t] : tensors) {
    auto it = entry.find(name);
    if (it != entry.end()) out.emplace_back(name, slice_entry(*it->second, t));
  }
  *sliced_spec = layout.spec;
  return out;
}

void mask_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                NamedTensors& tensors) {
  const auto ranges = cut_ranges(family, source, cut);
  // A sub-block cut whole loses its o_proj / down_proj bias too (the sliced model has none);
  // its norm stays (it only feeds the zeroed sub-block in a pre-LN layer).
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, t] : tensors) shapes[name] = t.sizes().vec();
  const WidthLayout layout = width_layout(family, source, cut, shapes);
  std::set<std::string> gone(layout.dropped.begin(), layout.dropped.end());
  for (const TensorInfo& t : family.tensors(source))
    if (t.role == TensorRole::kAttnNorm || t.role == TensorRole::kMlpNorm) gone.erase(t.name);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : tensors) {
    if (gone.count(name)) t.zero_();
    auto it = ranges.find(name);
    if (it == ranges.end()) continue;
    for (const Range& r : it->second) t.narrow(r.axis, r.offset, r.length).zero_();
  }
}

}  // namespace llmprune
