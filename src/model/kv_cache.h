// KV cache for incremental decoding: per attention layer, preallocated key/value buffers
// [B, n_kv_heads, max_len, head_dim] (rotated keys, as transformers caches them).
// CausalLM::forward(ids, &cache) continues at position cache.length() and extends it.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "arch/model_spec.h"
#include "model/attention.h"

namespace llmprune {

class CausalLM;

class KVCache {
 public:
  KVCache(const ModelSpec& spec, int64_t batch, int64_t max_len, torch::Device device,
          torch::ScalarType dtype);
  // Sized for `model` (its spec, device and compute dtype).
  KVCache(const CausalLM& model, int64_t batch, int64_t max_len);

  int64_t length() const { return length_; }  // tokens stored
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }
  int64_t bytes() const;
  void reset() { length_ = 0; }
  // Forget tokens at positions >= len (e.g. to re-decode from a shorter prefix).
  void truncate(int64_t len);

  // Used by the model: the slot of `layer` (nullptr when the layer has no attention) with
  // past = length(); advance() after every layer has consumed the new tokens.
  KVSlot* slot(int64_t layer);
  void advance(int64_t n);

 private:
  std::vector<KVSlot> slots_;
  std::vector<bool> present_;
  int64_t batch_, capacity_, length_ = 0;
};

}  // namespace llmprune
