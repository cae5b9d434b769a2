// Fixtures for the staged-serving tests: a synthetic llama checkpoint depth-pruned through
// the real binary into A + BUNDLES/{B,C}, and the AB / FULL checkpoints `restore` makes.
#pragma once

#include <string>

#include "support/assets.h"
#include "unit/prune/prune_fixtures.h"

namespace llmprune::test {

struct StagedFixture {
  std::string root, source, a, bundles, ab, full;
};

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
  return f;
}

}  // namespace llmprune::test
