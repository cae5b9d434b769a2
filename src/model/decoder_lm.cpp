// DecoderLM forward pass and construction (see decoder_lm.h).
#include "model/decoder_lm.h"

#include <algorithm>

#include "model/decode_token.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "util/error.h"

namespace llmprune {

DecoderModelImpl::DecoderModelImpl(const ModelSpec& spec, const TensorNaming& n,
                                   const torch::TensorOptions& opts)
    : position_offset_(spec.position_offset),
      max_positions_(spec.max_position_embeddings),
      dtype_(opts.dtype().toScalarType()) {
  const int64_t h = spec.hidden_size;
  embed = register_module(n.embed, Embedding(spec.vocab_size, spec.token_dim(), opts));
  if (spec.positions == PositionKind::kLearned)
    positions = register_module(
        n.positions, Embedding(spec.max_position_embeddings + spec.position_offset, h, opts));
  if (spec.embed_dim > 0) {
    project_in = register_module(n.project_in, Linear(spec.embed_dim, h, false, opts));
    project_out = register_module(n.project_out, Linear(h, spec.embed_dim, false, opts));
  }
  layers = register_module(n.layers, torch::nn::ModuleList());
  for (int64_t i = 0; i < spec.n_layers(); ++i)
    layers->push_back(DecoderLayer(i, spec.layers[static_cast<size_t>(i)], spec, n, opts));
  if (spec.final_norm) norm = register_module(n.final_norm, Norm(spec, opts));
}

torch::Tensor DecoderModelImpl::embed_forward(const torch::Tensor& ids, int64_t past) const {
  torch::Tensor x = embed->forward(ids);
  if (x.scalar_type() != dtype_) x = x.to(dtype_);
  if (project_in) x = project_in->forward(x);
  if (positions) {
    const int64_t T = ids.size(1);
    if (past + T > max_positions_)
      throw bad_input("[model] positions ", past, "..", past + T - 1,
                      " exceed max_position_embeddings ", max_positions_,
                      " (learned position table; use a shorter --seq-len or prompt)");
    x = x + positions->weight.narrow(0, past + position_offset_, T);
  }
  return x;
}

torch::Tensor DecoderModelImpl::head_input(const torch::Tensor& x) const {
  torch::Tensor h = norm ? norm->forward(x) : x;
  return project_out ? project_out->forward(h) : h;
}

LmRootImpl::LmRootImpl(const ModelSpec& spec, const TensorNaming& n,
                       const torch::TensorOptions& opts) {
  // "model.decoder": plain holder modules for every path component but the last.
  torch::nn::Module* parent = this;
  std::string path = n.model;
  for (size_t dot; (dot = path.find('.')) != std::string::npos; path = path.substr(dot + 1))
    parent =
        parent->register_module(path.substr(0, dot), std::make_shared<torch::nn::Module>()).get();
  model = parent->register_module(path, DecoderModel(spec, n, opts));
  if (!spec.tie_word_embeddings)
    lm_head = register_module(n.lm_head, Linear(spec.token_dim(), spec.vocab_size, false, opts));
}

DecoderLM::DecoderLM(const ModelSpec& spec, const Family& family, torch::Device device,
                     torch::ScalarType dtype)
    : spec_(spec), family_(&family), device_(device), dtype_(dtype) {
  LLMPRUNE_CHECK(spec.vocab_size > 0 && spec.hidden_size > 0, "[model] spec has vocab_size ",
                 spec.vocab_size, " and hidden_size ", spec.hidden_size);
  for (int64_t i = 0; i < spec.n_layers(); ++i) {
    const auto& L = spec.layers[static_cast<size_t>(i)];
    if (!L.attn) continue;
    const auto& a = *L.attn;
    LLMPRUNE_CHECK(
        a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0 && a.n_heads % a.n_kv_heads == 0,
        "[model] layer ", i, ": invalid attention shape n_heads ", a.n_heads, ", n_kv_heads ",
        a.n_kv_heads, ", head_dim ", a.head_dim);
    if (spec.positions == PositionKind::kRope && !rope_.count(a.head_dim))
      rope_[a.head_dim] = rope_frequencies(spec.rope, a.head_dim);
  }
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  root_ = LmRoot(spec, family.naming(), opts);
}

RopeTable DecoderLM::rope_rows(int64_t head_dim, int64_t past, int64_t T) {
  std::lock_guard<std::mutex> lock(rope_mu_);
  RopeTable& all = rope_tables_[head_dim];
  if (!all.cos.defined() || all.cos.size(0) < past + T || all.cos.scalar_type() != dtype_ ||
      all.cos.device() != device_) {
    const int64_t have = all.cos.defined() ? all.cos.size(0) : 0;
    all = rope_table(rope_.at(head_dim), 0, std::max<int64_t>({past + T, 2 * have, 256}), dtype_,
                     device_);
  }
  RopeTable t;
  t.rot_dim = all.rot_dim;
  t.cos = all.cos.narrow(0, past, T);
  t.sin = all.sin.narrow(0, past, T);
  return t;
}

torch::Tensor DecoderLM::forward_hidden(const torch::Tensor& ids, KVCache* cache,
                                        const ForwardHook* hook) {
  // Every layer in order with both sub-blocks: the schedule of the model itself.
  std::vector<ScheduledLayer> all(static_cast<size_t>(spec_.n_layers()));
  for (size_t i = 0; i < all.size(); ++i) all[i].index = static_cast<int64_t>(i);
  return forward_hidden_schedule(ids, all, cache, hook);
}

torch::Tensor DecoderLM::forward_hidden_schedule(const torch::Tensor& ids_in,
                                                 const std::vector<ScheduledLayer>& schedule,
                                                 KVCache* cache, const ForwardHook* hook) {
  LLMPRUNE_CHECK(ids_in.dim() == 2, "[model] token ids must be [batch, seq], got shape ",
                 ids_in.sizes());
  auto ids = ids_in.to(device_, torch::kLong);
  const int64_t T = ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  if (cache) {
    LLMPRUNE_CHECK(cache->batch() == ids.size(0), "[model] KV cache batch ", cache->batch(),
                   " does not match input batch ", ids.size(0));
    LLMPRUNE_CHECK(past + T <= cache->capacity(), "[model] KV cache full: ", past, " + ", T,
                   " tokens exceed its capacity of ", cache->capacity());
  }
  std::map<int64_t, RopeTable> tables;
  for (const auto& [hd, f] : rope_) tables[hd] = rope_rows(hd, past, T);
  torch::Tensor x = root_->model->embed_forward(ids, past);
  if (hook && *hook) (*hook)(HookPoint::kEmbedding, -1, x);
  struct Step {
    const DecoderLayerImpl* layer;
    const RopeTable* rope;
    KVSlot* slot;
    SubBlockMask mask;
  };
  std::vector<Step> steps;
  for (size_t j = 0; j < schedule.size(); ++j) {
    const ScheduledLayer& s = schedule[j];
    LLMPRUNE_ASSERT(s.index >= 0 && s.index < spec_.n_layers(), "scheduled layer ", s.index,
                    " out of range");
    const auto& L = spec_.layers[static_cast<size_t>(s.index)];
    const RopeTable* rope = L.attn && !tables.empty() ? &tables.at(L.attn->head_dim) : nullptr;
    KVSlot* slot = cache && s.mask.attn ? cache->slot(static_cast<int64_t>(j)) : nullptr;
    steps.push_back({&root_->model->layers->at<DecoderLayerImpl>(static_cast<size_t>(s.index)),
                     rope, slot, s.mask});
  }
  // One token of one sequence: the raw path (model/decode_token.h) where every layer takes it.
  bool raw = T == 1 && ids.size(0) == 1 && cache && !(hook && *hook) && decode_token_enabled() &&
             x.device().is_cpu() && x.scalar_type() == torch::kBFloat16 && x.is_contiguous() &&
             !(torch::GradMode::is_enabled() && x.requires_grad());
  for (size_t j = 0; raw && j < steps.size(); ++j)
    raw = steps[j].layer->decode_token_applies(steps[j].rope, steps[j].slot, steps[j].mask);
  if (raw) {
    // x is the embedding's fresh output: updated in place.
    auto* bits = reinterpret_cast<uint16_t*>(x.data_ptr<at::BFloat16>());
    for (const Step& s : steps) s.layer->decode_token(bits, x.size(-1), s.rope, s.slot, s.mask);
  } else {
    for (const Step& s : steps) x = s.layer->forward(x, s.rope, s.slot, hook, s.mask);
  }
  x = root_->model->head_input(x);
  if (hook && *hook) (*hook)(HookPoint::kFinalNorm, -1, x);
  if (cache) cache->advance(T);
  return x;
}

torch::Tensor DecoderLM::lm_head(const torch::Tensor& hidden) const {
  if (root_->lm_head) return root_->lm_head->forward(hidden);
  return linear_forward(hidden, root_->model->embed->weight, {}, tied_head_q8_.get());
}

int64_t DecoderLM::decode_weight_bytes() const {
  auto bytes = [](const torch::Tensor& w, const kernels::Q8Weight* q8) {
    return q8 ? q8->bytes() : w.numel() * static_cast<int64_t>(w.element_size());
  };
  int64_t total = 0;
  for (const auto& m : root_->modules(/*include_self=*/false))
    if (auto* lin = dynamic_cast<LinearImpl*>(m.get())) {
      total += bytes(lin->weight, lin->q8.get());
      if (lin->bias.defined())
        total += lin->bias.numel() * static_cast<int64_t>(lin->bias.element_size());
    }
  if (!root_->lm_head) total += bytes(root_->model->embed->weight, tied_head_q8_.get());
  return total;
}

std::pair<int64_t, int64_t> DecoderLM::quantize_q8_0() {
  torch::NoGradGuard no_grad;
  int64_t maps = 0, bytes = 0;
  auto quantize = [&](const torch::Tensor& w) -> std::shared_ptr<const kernels::Q8Weight> {
    if (w.size(1) % 32 != 0) return nullptr;
    auto q = make_q8_weight(w);
    ++maps;
    bytes += q->bytes();
    return q;
  };
  for (const auto& m : root_->modules(/*include_self=*/false))
    if (auto* lin = dynamic_cast<LinearImpl*>(m.get())) lin->q8 = quantize(lin->weight);
  if (!root_->lm_head) tied_head_q8_ = quantize(root_->model->embed->weight);
  return {maps, bytes};
}

torch::Tensor DecoderLM::forward(const torch::Tensor& ids, KVCache* cache,
                                 const ForwardHook* hook) {
  return lm_head(forward_hidden(ids, cache, hook));
}

std::vector<std::pair<std::string, torch::Tensor>> DecoderLM::named_parameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : root_->named_parameters(/*recurse=*/true))
    out.emplace_back(item.key(), item.value());
  return out;
}

}  // namespace llmprune
