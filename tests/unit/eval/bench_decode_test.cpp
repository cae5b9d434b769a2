// eval/bench_decode: the interleaved rounds on a tiny synthetic checkpoint. Timings are not
// checked (they are the machine's); what is checked follows from the definitions: every round
// times every row, each fraction is the row's GB/s over the probes around its run, the reported
// figures are medians of the per-round ones, and speed-ups are same-round ratios.
#include "eval/bench_decode.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "model/synthetic.h"
#include "support/assets.h"
#include "util/json.h"

namespace llmprune {
namespace {

// Hidden 64 and intermediate 96: multiples of 32, so the q8_0 row quantizes every map.
std::string tiny_model(const std::string& tag) {
  const std::string dir = test::temp_dir(tag) + "/m";
  SyntheticOptions s;
  s.n_layers = 2;
  s.hidden = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.intermediate = 96;
  s.vocab = 96;
  s.seed = 3;
  make_test_model("llama", dir, s);
  return dir;
}

// Median of two values, written out here rather than taken from bench_median.
double mid(double a, double b) { return (a + b) / 2; }

TEST(BenchDecode, RoundsAreInterleavedAndSummarizedByMedians) {
  DecodeBenchOptions o;
  o.model = tiny_model("bench-decode");
  o.dtype = "f32";
  o.weights = {"native", "q8_0"};
  o.prompt_tokens = 4;
  o.tokens = 4;
  o.bandwidth_mib = 64;  // the smallest probe allowed: keeps the test fast
  o.rounds = 2;
  const DecodeBenchResult r = bench_decode(o);

  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].weights, "native");
  EXPECT_EQ(r.rows[1].weights, "q8_0");
  EXPECT_NE(r.rows[0].kernel, "libtorch");
  // Native f32 bytes per token by hand: 2 layers x (q 64x64 + k, v 32x64 + o 64x64 + gate, up
  // 96x64 + down 64x96) = 61440 weights, lm_head 96x64 = 6144, x 4 bytes = 270336; one f32
  // embedding row, 256; K and V at the mean context 4 + 4/2 = 6 tokens: 2 layers x 2 x 32
  // values x 6 x 4 bytes = 3072. Total 273664.
  EXPECT_DOUBLE_EQ(r.rows[0].bytes_per_token, 273664.0);

  ASSERT_EQ(r.rounds.size(), 2u);
  for (size_t k = 0; k < r.rounds.size(); ++k) {
    SCOPED_TRACE("round " + std::to_string(k + 1));
    const DecodeBenchRound& round = r.rounds[k];
    EXPECT_GT(round.read_gbps, 0);
    ASSERT_EQ(round.rows.size(), r.rows.size());
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const DecodeBenchSample& s = round.rows[i];
      EXPECT_GT(s.decode_tokens_per_second, 0);
      EXPECT_GT(s.prefill_tokens_per_second, 0);
      EXPECT_DOUBLE_EQ(s.effective_gbps,
                       r.rows[i].bytes_per_token * s.decode_tokens_per_second / 1e9);
      // Each run against the mean of the probes either side of it (positive, finite).
      EXPECT_GT(s.read_gbps, 0);
      EXPECT_DOUBLE_EQ(s.fraction_of_bandwidth, s.effective_gbps / s.read_gbps);
    }
    // Row 0 is the reference (first native GEMV row): no speed-up of its own.
    EXPECT_EQ(round.rows[0].speedup, 0);
    EXPECT_DOUBLE_EQ(round.rows[1].speedup, round.rows[1].decode_tokens_per_second /
                                                round.rows[0].decode_tokens_per_second);
  }

  const DecodeBenchRound &a = r.rounds[0], &b = r.rounds[1];
  EXPECT_DOUBLE_EQ(r.read_gbps, mid(a.read_gbps, b.read_gbps));
  for (size_t i = 0; i < r.rows.size(); ++i) {
    SCOPED_TRACE(r.rows[i].weights);
    const DecodeBenchRow& row = r.rows[i];
    const DecodeBenchSample &x = a.rows[i], &y = b.rows[i];
    EXPECT_DOUBLE_EQ(row.decode_tokens_per_second,
                     mid(x.decode_tokens_per_second, y.decode_tokens_per_second));
    EXPECT_DOUBLE_EQ(row.prefill_tokens_per_second,
                     mid(x.prefill_tokens_per_second, y.prefill_tokens_per_second));
    EXPECT_DOUBLE_EQ(row.effective_gbps, mid(x.effective_gbps, y.effective_gbps));
    EXPECT_DOUBLE_EQ(row.fraction_of_bandwidth,
                     mid(x.fraction_of_bandwidth, y.fraction_of_bandwidth));
    EXPECT_EQ(row.fraction_min, std::min(x.fraction_of_bandwidth, y.fraction_of_bandwidth));
    EXPECT_EQ(row.fraction_max, std::max(x.fraction_of_bandwidth, y.fraction_of_bandwidth));
  }
  EXPECT_EQ(r.rows[0].speedup_vs, "");
  EXPECT_EQ(r.rows[0].speedup_median, 0);
  EXPECT_EQ(r.rows[1].speedup_vs, "native");
  EXPECT_DOUBLE_EQ(r.rows[1].speedup_median, mid(a.rows[1].speedup, b.rows[1].speedup));

  // The report carries the same numbers: medians in "results", every round in "rounds".
  const json j = r.to_json();
  EXPECT_DOUBLE_EQ(j["read_bandwidth_gbps"].get<double>(), r.read_gbps);
  ASSERT_EQ(j["rounds"].size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_DOUBLE_EQ(j["rounds"][k]["read_bandwidth_gbps"].get<double>(), r.rounds[k].read_gbps);
    ASSERT_EQ(j["rounds"][k]["results"].size(), 2u);
    EXPECT_DOUBLE_EQ(j["rounds"][k]["results"][1]["speedup"].get<double>(),
                     r.rounds[k].rows[1].speedup);
    EXPECT_TRUE(j["rounds"][k]["results"][0]["speedup"].is_null());
    EXPECT_DOUBLE_EQ(j["rounds"][k]["results"][0]["read_bandwidth_gbps"].get<double>(),
                     r.rounds[k].rows[0].read_gbps);
  }
  EXPECT_DOUBLE_EQ(j["results"][0]["decode_tokens_per_second"].get<double>(),
                   r.rows[0].decode_tokens_per_second);
  EXPECT_EQ(j["results"][1]["speedup_vs"], "native");
  EXPECT_TRUE(j["results"][0]["speedup_median"].is_null());
}

TEST(BenchDecode, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(bench_median({3, 1, 2}), 2);       // middle of 1 2 3
  EXPECT_EQ(bench_median({4, 1, 3, 2}), 2.5);  // mean of the middle two, 2 and 3
  EXPECT_EQ(bench_median({7}), 7);
}

TEST(BenchDecodeCli, RoundsOptionIsValidatedAndReported) {
  const std::string model = tiny_model("bench-decode-cli");
  test::expect_bad_input(test::run_llmprune("bench decode --model " + model + " --rounds 0"),
                         "--rounds");
  const std::string report = test::temp_dir("bench-decode-cli-report") + "/r.json";
  auto r = test::run_llmprune("bench decode --model " + model +
                              " --dtype f32 --tokens 3 --prompt-tokens 2 --rounds 2 "
                              "--bandwidth-mib 64 --libtorch --report " +
                              report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("round 2: read"), std::string::npos) << r.out;
  const json j = read_json_file(report);
  ASSERT_EQ(j["rounds"].size(), 2u);
  // Rows: the LibTorch row first, then native (the reference) and q8_0.
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][0]["kernel"], "libtorch");
  EXPECT_EQ(j["results"][0]["speedup_vs"], "native");
  EXPECT_TRUE(j["results"][1]["speedup_vs"].is_null());
  EXPECT_EQ(j["results"][2]["speedup_vs"], "native");
  for (const auto& round : j["rounds"]) EXPECT_EQ(round["results"].size(), 3u);
}

}  // namespace
}  // namespace llmprune
