// LayerSource (see layer_source.h).
#include "model/layer_source.h"

#include "model/runtime.h"
#include "util/error.h"

namespace llmprune {

LayerSource::LayerSource(const std::string& dir, const LoadOptions& opts, bool resident)
    : cc_(read_checkpoint_config(dir)),
      store_(open_checkpoint_tensors(cc_)),
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
  const ModelSpec& sp = spec();
  const TensorNaming& n = family().naming();
  const std::string root = n.model + ".";
  const auto opts = torch::TensorOptions().dtype(dtype_).device(device_);
  if (!embed_) {
    embed_ = Embedding(sp.vocab_size, sp.token_dim(), opts);
    fill(**embed_, root + n.embed + ".");
    if (sp.embed_dim > 0) {
      project_in_ = Linear(sp.embed_dim, sp.hidden_size, false, opts);
      fill(**project_in_, root + n.project_in + ".");
    }
    if (sp.positions == PositionKind::kLearned) {
      positions_ = Embedding(sp.max_position_embeddings + sp.position_offset, sp.hidden_size, opts);
      fill(**positions_, root + n.positions + ".");
    }
  }
  torch::Tensor x = (*embed_)->forward(ids.to(device_, torch::kLong));
  if (project_in_) x = (*project_in_)->forward(x);
  if (positions_) {
    const int64_t T = ids.size(1);
    if (T > sp.max_position_embeddings)
      throw bad_input("[model] ", T, " positions exceed max_position_embeddings ",
                      sp.max_position_embeddings, " (learned position table; use a shorter "
                      "--seq-len)");
    x = x + (*positions_)->weight.narrow(0, sp.position_offset, T);
  }
  return x;
}

const DecoderLayerImpl& LayerSource::layer(int64_t i) {
  LLMPRUNE_ASSERT(i >= 0 && i < spec().n_layers(), "layer ", i, " out of range");
  auto it = layers_.find(i);
  if (it == layers_.end()) {
    const TensorNaming& n = family().naming();
    DecoderLayer l(i, spec().layers[static_cast<size_t>(i)], spec(), n,
                   torch::TensorOptions().dtype(dtype_).device(device_));
    fill(*l, n.layer_prefix(i));
    it = layers_.emplace(i, l).first;
  }
  return *it->second;
}

torch::Tensor LayerSource::final_norm(const torch::Tensor& x) {
  const ModelSpec& sp = spec();
  const TensorNaming& n = family().naming();
  const auto opts = torch::TensorOptions().dtype(dtype_).device(device_);
  if (sp.final_norm && !norm_) {
    norm_ = Norm(sp, opts);
    fill(**norm_, n.model + "." + n.final_norm + ".");
  }
  if (sp.embed_dim > 0 && !project_out_) {
    project_out_ = Linear(sp.hidden_size, sp.embed_dim, false, opts);
    fill(**project_out_, n.model + "." + n.project_out + ".");
  }
  torch::Tensor h = norm_ ? (*norm_)->forward(x) : x;
  return project_out_ ? (*project_out_)->forward(h) : h;
}

torch::Tensor LayerSource::lm_head(const torch::Tensor& normed) {
  const TensorNaming& n = family().naming();
  if (spec().tie_word_embeddings) {
    if (!tied_head_.defined()) tied_head_ = fetch(n.model + "." + n.embed + "." + n.weight);
    return torch::nn::functional::linear(normed, tied_head_);
  }
  if (!head_) {
    head_ = Linear(spec().token_dim(), spec().vocab_size, false,
                   torch::TensorOptions().dtype(dtype_).device(device_));
    fill(**head_, n.lm_head + ".");
  }
  return (*head_)->forward(normed);
}

std::vector<std::pair<std::string, torch::Tensor>> LayerSource::head_parameters() const {
  const TensorNaming& n = family().naming();
  std::vector<std::pair<std::string, torch::Tensor>> out;
  if (norm_)
    for (const auto& item : (*norm_)->named_parameters())
      out.emplace_back(n.model + "." + n.final_norm + "." + item.key(), item.value());
  if (head_) out.emplace_back(n.lm_head + "." + n.weight, (*head_)->weight);
  if (tied_head_.defined()) out.emplace_back(n.model + "." + n.embed + "." + n.weight, tied_head_);
  return out;
}

void LayerSource::release_layer(int64_t i) {
  if (!resident_) layers_.erase(i);
}

void LayerSource::release_edges() {
  if (resident_) return;
  embed_.reset();
  positions_.reset();
  project_in_.reset();
  project_out_.reset();
  norm_.reset();
  head_.reset();
  tied_head_ = torch::Tensor();
}

const RopeTable& LayerSource::rope(int64_t head_dim, int64_t T) {
  auto key = std::make_pair(head_dim, T);
  auto it = rope_.find(key);
  if (it == rope_.end() && spec().positions != PositionKind::kRope)
    it = rope_.emplace(key, RopeTable{}).first;  // rot_dim 0: attention applies no rotation
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
