// Fixtures for the staged-serving tests: a synthetic llama checkpoint depth-pruned through
// the real binary into A + BUNDLES/{B,C}, and the AB / FULL checkpoints `restore` makes.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/assets.h"
#include "unit/prune/prune_fixtures.h"

namespace llmprune::test {

struct StagedFixture {
  std::string root, source, a, bundles, ab, full;
};

// Prune `f.source` through the real binary into f.a + f.bundles/{B,C}, and restore AB / FULL.
inline void prune_into_stages(StagedFixture& f, const std::string& method, int n_drop) {
  const std::string text = calibration_text(f.root, 3000);
  f.a = f.root + "/A";
  f.bundles = f.root + "/BUNDLES";
  auto r =
      run_llmprune("prune depth --model " + f.source + " --dataset " + text +
                   " --nsamples 4 --seqlen 32 --batch-size 2 --method " + method + " --n-drop " +
                   std::to_string(n_drop) + " --out " + f.a + " --bundles-dir " + f.bundles);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  f.ab = f.root + "/AB";
  f.full = f.root + "/FULL";
  r = run_llmprune("restore --model " + f.a + " --bundle " + f.bundles + "/B --out " + f.ab);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_llmprune("restore --model " + f.a + " --bundle " + f.bundles + "/B --bundle " +
                   f.bundles + "/C --out " + f.full);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// `method`/`n_drop` as `prune depth` takes them; `planted`: layers 1 and 2 of the source made
// exact identities first (angular then removes them, and A computes what FULL computes).
inline StagedFixture make_staged(const std::string& tag, const std::string& method = "angular",
                                 int n_drop = 2, bool planted = false, int layers = 4,
                                 uint64_t seed = 7) {
  StagedFixture f;
  f.root = temp_dir(tag);
  f.source = make_prune_model("llama", f.root + "/source", layers, seed);
  if (planted) {
    plant_identity(f.source, f.root + "/planted", {1, 2}, {1, 2});
    f.source = f.root + "/planted";
  }
  prune_into_stages(f, method, n_drop);
  return f;
}

// A planted next-token distribution: token `token` (the last prompt token) has embedding
// scale x e_dir (dir = its index in the list), and lm_head column dir holds `a` in rows
// 0..m-1 and 0 elsewhere. With every layer an identity on the residual stream and the final
// norm weight 1, the final hidden state after a prompt ending in `token` is
// RMSNorm(scale e_dir) = s e_dir with s = scale / sqrt(scale^2 / hidden + eps), so the logits
// are s a (m of them) and 0 (the other vocab - m): see planted_entropy.
struct PlantedToken {
  int64_t token;
  int64_t m;
  double a;
};

inline constexpr double kPlantedScale = 0.1;  // small, so eps visibly matters in s

// The stages of a source whose layers are all identities (o_proj, down_proj zero) with the
// tokens of `plants` planted as above (all stages then compute the same distribution).
inline StagedFixture make_staged_planted_logits(const std::string& tag,
                                                const std::vector<PlantedToken>& plants) {
  StagedFixture f;
  f.root = temp_dir(tag);
  const std::string random = make_prune_model("llama", f.root + "/random", 4, 11);
  CheckpointConfig cc = read_checkpoint_config(random);
  const int64_t hidden = cc.spec.hidden_size;
  EXPECT_LE(static_cast<int64_t>(plants.size()), hidden) << "one direction per planted token";
  std::map<std::string, TensorInfo> table;
  for (const auto& t : cc.family->tensors(cc.spec)) table.emplace(t.name, t);
  f.source = f.root + "/source";
  rewrite_model(random, f.source, [&](const std::string& name, torch::Tensor& t) {
    auto it = table.find(name);
    if (it == table.end()) return;
    switch (it->second.role) {
      case TensorRole::kO:
      case TensorRole::kDown:
        t.zero_();
        break;
      case TensorRole::kFinalNorm:
        t.fill_(1.0);
        break;
      case TensorRole::kEmbed:  // [vocab, hidden]
        for (size_t i = 0; i < plants.size(); ++i) {
          t[plants[i].token].zero_();
          t[plants[i].token][static_cast<int64_t>(i)] = kPlantedScale;
        }
        break;
      case TensorRole::kLmHead:  // [vocab, hidden]
        for (size_t i = 0; i < plants.size(); ++i) {
          auto col = t.select(1, static_cast<int64_t>(i));
          col.zero_();
          col.narrow(0, 0, plants[i].m).fill_(plants[i].a);
        }
        break;
      default:
        break;
    }
  });
  prune_into_stages(f, "angular", 2);
  return f;
}

// Hand value of the entropy (nats) a planted token gives: logits L = s a (m of them) and 0
// (vocab - m of them), Z = m e^L + vocab - m, H = ln Z - sum_i p_i l_i = ln Z - m L e^L / Z.
inline double planted_entropy(const PlantedToken& p, int64_t vocab, int64_t hidden, double eps) {
  const double c = kPlantedScale;
  const double s = c / std::sqrt(c * c / static_cast<double>(hidden) + eps);
  const double L = s * p.a;
  // Divided through by e^L so a large L does not overflow.
  const double m = static_cast<double>(p.m), rest = static_cast<double>(vocab - p.m);
  const double z_scaled = m + rest * std::exp(-L);  // Z / e^L
  return L + std::log(z_scaled) - m * L / z_scaled;
}

}  // namespace llmprune::test
