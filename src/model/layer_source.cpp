// LayerSource (see layer_source.h).
#include "model/layer_source.h"

#include "model/runtime.h"
#include "util/error.h"

namespace llmprune {

LayerSource::LayerSource(const std::string& dir, const LoadOptions& opts, bool resident)
    : cc_(read_checkpoint_config(dir)),
      store_(TensorStore::open(dir)),
      device_(parse_device(opts.device)),
      dtype_(parse_dtype(opts.dtype)),
      resident_(resident) {
  ShapeMap present;
  for (const auto& name : store_.names()) present[name] = store_.entry(name).shape;
  validate_tensor_set(*cc_.family, cc_.spec, present, "[model] " + dir);
}

torch::Tensor LayerSource::fetch(const std::string& name) const {
  // Streaming drops the mapped pages once copied: the resident set stays one layer.
  return store_.load(name, /*release=*/!resident_).to(device_, dtype_);
}

void LayerSource::fill(torch::nn::Module& m, const std::string& prefix) const {
  torch::NoGradGuard no_grad;
  for (auto& item : m.named_parameters(/*recurse=*/true)) {
    torch::Tensor t = fetch(prefix + item.key());
    LLMPRUNE_ASSERT(t.sizes() == item.value().sizes(), "validated tensor ", prefix + item.key(),
                    " changed shape");
    item.value().copy_(t);
  }
}

torch::Tensor LayerSource::embed(const torch::Tensor& ids) {
  if (!embed_) {
    const TensorNaming& n = family().naming();
    embed_ = Embedding(spec().vocab_size, spec().hidden_size,
                       torch::TensorOptions().dtype(dtype_).device(device_));
    fill(**embed_, n.model + "." + n.embed + ".");
  }
  return (*embed_)->forward(ids.to(device_, torch::kLong));
}

const DecoderLayerImpl& LayerSource::layer(int64_t i) {
  LLMPRUNE_ASSERT(i >= 0 && i < spec().n_layers(), "layer ", i, " out of range");
  auto it = layers_.find(i);
  if (it == layers_.end()) {
    const TensorNaming& n = family().naming();
    DecoderLayer l(i, spec().layers[static_cast<size_t>(i)], spec().hidden_size,
                   spec().rms_norm_eps, n, torch::TensorOptions().dtype(dtype_).device(device_));
    fill(*l, n.layer_prefix(i));
    it = layers_.emplace(i, l).first;
  }
  return *it->second;
}

torch::Tensor LayerSource::final_norm(const torch::Tensor& x) {
  if (!norm_) {
    const TensorNaming& n = family().naming();
    norm_ = RmsNorm(spec().hidden_size, spec().rms_norm_eps,
                    torch::TensorOptions().dtype(dtype_).device(device_));
    fill(**norm_, n.model + "." + n.final_norm + ".");
  }
  return (*norm_)->forward(x);
}

torch::Tensor LayerSource::lm_head(const torch::Tensor& normed) {
  const TensorNaming& n = family().naming();
  if (spec().tie_word_embeddings) {
    if (!tied_head_.defined()) tied_head_ = fetch(n.model + "." + n.embed + "." + n.weight);
    return torch::nn::functional::linear(normed, tied_head_);
  }
  if (!head_) {
    head_ = Linear(spec().hidden_size, spec().vocab_size, false,
                   torch::TensorOptions().dtype(dtype_).device(device_));
    fill(**head_, n.lm_head + ".");
  }
  return (*head_)->forward(normed);
}

void LayerSource::release_layer(int64_t i) {
  if (!resident_) layers_.erase(i);
}

void LayerSource::release_edges() {
  if (resident_) return;
  embed_.reset();
  norm_.reset();
  head_.reset();
  tied_head_ = torch::Tensor();
}

const RopeTable& LayerSource::rope(int64_t head_dim, int64_t T) {
  auto key = std::make_pair(head_dim, T);
  auto it = rope_.find(key);
  if (it == rope_.end())
    it = rope_
             .emplace(key,
                      rope_table(rope_frequencies(spec().rope, head_dim), 0, T, dtype_, device_))
             .first;
  return it->second;
}

uint64_t LayerSource::weight_bytes() const {
  uint64_t numel = 0;
  for (const auto& name : store_.names())
    numel += static_cast<uint64_t>(store_.entry(name).numel());
  return numel * static_cast<uint64_t>(c10::elementSize(dtype_));
}

}  // namespace llmprune
