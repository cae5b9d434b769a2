// Fixtures for the pruning tests: synthetic checkpoints with a byte-level tokenizer, planted
// redundancy (layers made exact identities by zeroing the projections that write into the
// residual stream), calibration text, and tensor-by-tensor checkpoint comparison.
#pragma once

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/synthetic.h"
#include "support/assets.h"
#include "tokenizer/byte_tokenizer.h"
#include "util/fs.h"

namespace llmprune::test {

inline SyntheticOptions prune_model_options(int64_t layers, uint64_t seed = 7) {
  SyntheticOptions o;
  o.n_layers = layers;
  o.hidden = 32;
  o.heads = 4;
  o.kv_heads = 2;  // GQA 2:1 (qwen2 gets q/k/v biases from its family defaults)
  o.intermediate = 48;
  o.vocab = 257;  // the byte-level tokenizer's vocabulary
  o.max_position_embeddings = 256;
  o.seed = seed;
  return o;
}

// A synthetic checkpoint with a byte-level tokenizer.json.
inline std::string make_prune_model(const std::string& family, const std::string& dir,
                                    int64_t layers, uint64_t seed = 7) {
  make_test_model(family, dir, prune_model_options(layers, seed));
  write_file_atomic(join_path(dir, "tokenizer.json"), byte_level_tokenizer_json());
  return dir;
}

inline NamedTensors load_all(const std::string& dir) {
  TensorStore st = TensorStore::open(dir);
  NamedTensors out;
  for (const auto& n : st.names()) out.emplace_back(n, st.load(n));
  return out;
}

// Copy `src` to `dst` with the tensors `edit` changes (config and tokenizer kept).
template <typename Edit>
void rewrite_model(const std::string& src, const std::string& dst, Edit edit) {
  CheckpointConfig cc = read_checkpoint_config(src);
  NamedTensors t = load_all(src);
  for (auto& [name, tensor] : t) edit(name, tensor);
  SaveOptions so;
  so.copy_tokenizer_from = src;
  save_checkpoint(dst, cc.config, t, so);
}

// Zero the projections that write into the residual stream (o_proj / down_proj weights and
// biases) of the given layers and sub-blocks: they become exact identities.
inline void plant_identity(const std::string& src, const std::string& dst,
                           const std::set<int64_t>& attn_layers,
                           const std::set<int64_t>& mlp_layers) {
  CheckpointConfig cc = read_checkpoint_config(src);
  std::map<std::string, TensorInfo> table;
  for (const auto& t : cc.family->tensors(cc.spec)) table.emplace(t.name, t);
  rewrite_model(src, dst, [&](const std::string& name, torch::Tensor& t) {
    auto it = table.find(name);
    if (it == table.end()) return;
    const TensorInfo& info = it->second;
    if ((info.role == TensorRole::kO && attn_layers.count(info.layer)) ||
        (info.role == TensorRole::kDown && mlp_layers.count(info.layer)))
      t.zero_();
  });
}

// Text of printable bytes, deterministic.
inline std::string calibration_text(const std::string& dir, size_t bytes, uint64_t seed = 3) {
  std::string text;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    text += static_cast<char>(' ' + x % 90);
  }
  const std::string path = join_path(dir, "calib.txt");
  write_file_atomic(path, text);
  return path;
}

// Every tensor of `a` equals the tensor of `b` named by `name_in_b` (same dtype, shape, bytes).
inline void expect_same_tensors(const std::string& a, const std::string& b,
                                const std::map<std::string, std::string>& name_in_b = {}) {
  TensorStore sa = TensorStore::open(a), sb = TensorStore::open(b);
  EXPECT_EQ(sa.names().size(), sb.names().size()) << a << " vs " << b;
  for (const auto& n : sa.names()) {
    auto it = name_in_b.find(n);
    const std::string m = it == name_in_b.end() ? n : it->second;
    ASSERT_TRUE(sb.contains(m)) << m << " missing in " << b;
    torch::Tensor x = sa.load(n), y = sb.load(m);
    EXPECT_EQ(x.scalar_type(), y.scalar_type()) << n;
    EXPECT_TRUE(x.sizes() == y.sizes() && torch::equal(x, y)) << n << " differs from " << m;
  }
}


}  // namespace llmprune::test
