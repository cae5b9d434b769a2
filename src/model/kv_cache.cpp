// KV cache (see kv_cache.h).
#include "model/kv_cache.h"

#include "model/causal_lm.h"
#include "util/error.h"

namespace llmprune {

KVCache::KVCache(const ModelSpec& spec, int64_t batch, int64_t max_len, torch::Device device,
                 torch::ScalarType dtype)
    : batch_(batch), capacity_(max_len) {
  LLMPRUNE_CHECK(batch > 0 && max_len > 0, "[kv_cache] batch (", batch, ") and max_len (",
                 max_len, ") must be positive");
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (const auto& L : spec.layers) {
    KVSlot s;
    if (L.attn) {
      s.k = torch::zeros({batch, L.attn->n_kv_heads, max_len, L.attn->head_dim}, opts);
      s.v = torch::zeros({batch, L.attn->n_kv_heads, max_len, L.attn->head_dim}, opts);
    }
    present_.push_back(L.attn.has_value());
    slots_.push_back(std::move(s));
  }
}

KVCache::KVCache(const CausalLM& model, int64_t batch, int64_t max_len)
    : KVCache(model.spec(), batch, max_len, model.device(), model.dtype()) {}

int64_t KVCache::bytes() const {
  int64_t b = 0;
  for (const auto& s : slots_)
    if (s.k.defined()) b += 2 * s.k.numel() * static_cast<int64_t>(s.k.element_size());
  return b;
}

void KVCache::truncate(int64_t len) {
  LLMPRUNE_CHECK(len >= 0 && len <= length_, "[kv_cache] cannot truncate to ", len,
                 " tokens: the cache holds ", length_);
  length_ = len;
}

KVSlot* KVCache::slot(int64_t layer) {
  LLMPRUNE_ASSERT(layer >= 0 && layer < static_cast<int64_t>(slots_.size()), "layer ", layer,
                  " out of range for a cache of ", slots_.size(), " layers");
  if (!present_[static_cast<size_t>(layer)]) return nullptr;
  KVSlot* s = &slots_[static_cast<size_t>(layer)];
  s->past = length_;
  return s;
}

void KVCache::advance(int64_t n) {
  LLMPRUNE_ASSERT(length_ + n <= capacity_, "cache advance past capacity");
  length_ += n;
}

}  // namespace llmprune
