// DecoderLM forward pass and construction (see decoder_lm.h).
#include "model/decoder_lm.h"

#include "model/kv_cache.h"
#include "util/error.h"

namespace llmprune {

DecoderModelImpl::DecoderModelImpl(const ModelSpec& spec, const TensorNaming& n,
                                   const torch::TensorOptions& opts) {
  embed = register_module(n.embed, Embedding(spec.vocab_size, spec.hidden_size, opts));
  layers = register_module(n.layers, torch::nn::ModuleList());
  for (int64_t i = 0; i < spec.n_layers(); ++i)
    layers->push_back(DecoderLayer(i, spec.layers[static_cast<size_t>(i)], spec.hidden_size,
                                   spec.rms_norm_eps, n, opts));
  norm = register_module(n.final_norm, RmsNorm(spec.hidden_size, spec.rms_norm_eps, opts));
}

LmRootImpl::LmRootImpl(const ModelSpec& spec, const TensorNaming& n,
                       const torch::TensorOptions& opts) {
  model = register_module(n.model, DecoderModel(spec, n, opts));
  if (!spec.tie_word_embeddings)
    lm_head = register_module(n.lm_head, Linear(spec.hidden_size, spec.vocab_size, false, opts));
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
    LLMPRUNE_CHECK(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0 &&
                       a.n_heads % a.n_kv_heads == 0,
                   "[model] layer ", i, ": invalid attention shape n_heads ", a.n_heads,
                   ", n_kv_heads ", a.n_kv_heads, ", head_dim ", a.head_dim);
    if (!rope_.count(a.head_dim)) rope_[a.head_dim] = rope_frequencies(spec.rope, a.head_dim);
  }
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  root_ = LmRoot(spec, family.naming(), opts);
}

torch::Tensor DecoderLM::forward_hidden(const torch::Tensor& ids_in, KVCache* cache,
                                        const ForwardHook* hook) {
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
  for (const auto& [hd, f] : rope_) tables[hd] = rope_table(f, past, T, dtype_, device_);

  torch::Tensor x = root_->model->embed->forward(ids);
  if (hook && *hook) (*hook)(HookPoint::kEmbedding, -1, x);
  for (int64_t i = 0; i < spec_.n_layers(); ++i) {
    const auto& L = spec_.layers[static_cast<size_t>(i)];
    const RopeTable* rope = L.attn ? &tables.at(L.attn->head_dim) : nullptr;
    KVSlot* slot = cache ? cache->slot(i) : nullptr;
    x = root_->model->layers->at<DecoderLayerImpl>(static_cast<size_t>(i))
            .forward(x, rope, slot, hook);
  }
  x = root_->model->norm->forward(x);
  if (hook && *hook) (*hook)(HookPoint::kFinalNorm, -1, x);
  if (cache) cache->advance(T);
  return x;
}

torch::Tensor DecoderLM::lm_head(const torch::Tensor& hidden) const {
  if (root_->lm_head) return root_->lm_head->forward(hidden);
  return torch::nn::functional::linear(hidden, root_->model->embed->weight);
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
