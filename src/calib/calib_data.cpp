// Calibration windows (see calib_data.h).
#include "calib/calib_data.h"

#include <algorithm>
#include <random>

#include "io/dataset.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune {

int64_t CalibOptions::n_used() const { return std::min(nsamples, batch_size * max_batches); }

void CalibOptions::validate() const {
  LLMPRUNE_CHECK(nsamples >= 1, "--nsamples must be at least 1, got ", nsamples);
  LLMPRUNE_CHECK(seqlen >= 2, "--seqlen must be at least 2, got ", seqlen);
  LLMPRUNE_CHECK(batch_size >= 1, "--batch-size must be at least 1, got ", batch_size);
  LLMPRUNE_CHECK(max_batches >= 1, "--max-batches must be at least 1, got ", max_batches);
}

json CalibSet::to_json(const CalibOptions& o) const {
  return json{{"dataset", o.dataset},
              {"description", description},
              {"text_tokens", text_tokens},
              {"nsamples_requested", o.nsamples},
              {"nsamples_used", windows.size(0)},
              {"seqlen", o.seqlen},
              {"batch_size", o.batch_size},
              {"max_batches", o.max_batches},
              {"seed", o.seed},
              {"window_rule",
               "text tokenized once (BOS rule once at the start); offset_i = "
               "mt19937_64(seed) draw i mod (text_tokens - seqlen + 1); first "
               "min(nsamples, batch_size * max_batches) windows used"},
              {"offsets", offsets}};
}

CalibSet make_calib_set(const Tokenizer& tokenizer, const CalibOptions& o, int64_t max_positions) {
  o.validate();
  LLMPRUNE_CHECK(max_positions <= 0 || o.seqlen <= max_positions, "--seqlen ", o.seqlen,
                 " exceeds the model's max_position_embeddings ", max_positions);
  CalibSet set;
  const std::string data_dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
  const std::string text = load_eval_text(o.dataset, data_dir, &set.description);
  std::vector<TokenId> ids = tokenizer.encode(text, /*add_special_tokens=*/true);
  set.text_tokens = static_cast<int64_t>(ids.size());
  LLMPRUNE_CHECK(set.text_tokens >= o.seqlen, "calibration text ", o.dataset, " has ",
                 set.text_tokens, " tokens; --seqlen ", o.seqlen, " needs at least ", o.seqlen,
                 " (use a longer text or a smaller --seqlen)");
  const int64_t n = o.n_used();
  const uint64_t range = static_cast<uint64_t>(set.text_tokens - o.seqlen + 1);
  std::mt19937_64 rng(o.seed);
  set.windows = torch::empty({n, o.seqlen}, torch::kLong);
  auto w = set.windows.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t off = static_cast<int64_t>(rng() % range);
    set.offsets.push_back(off);
    for (int64_t t = 0; t < o.seqlen; ++t) w[i][t] = ids[static_cast<size_t>(off + t)];
  }
  log_info("calibration: ", n, " windows of ", o.seqlen, " tokens from ", set.description, " (",
           set.text_tokens, " tokens, seed ", o.seed, ")");
  return set;
}

}  // namespace llmprune
