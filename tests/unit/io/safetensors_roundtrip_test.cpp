// safetensors writer + reader: bit-exact round trips (F32/F16/BF16, 0-dim, empty), the
// on-disk layout (8-byte length, padded header, name order), sharding and its index, and
// the real stories260K checkpoints.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors.h"
#include "io_test_util.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

NamedTensors sample_tensors() {
  torch::manual_seed(7);
  torch::Tensor f32 = torch::randn({3, 5});
  // A NaN with a payload and infinities must survive bit for bit.
  uint32_t nan_bits = 0x7fc01234u;
  std::memcpy(f32.data_ptr<float>(), &nan_bits, 4);
  f32[1][1] = std::numeric_limits<float>::infinity();
  return {
      {"b.f16", torch::randn({4, 2}).to(torch::kFloat16)},
      {"a.f32", f32},
      {"c.bf16", torch::randn({7}).to(torch::kBFloat16)},
      {"d.scalar", torch::tensor(3.5f)},                  // 0-dim: shape [], 1 element
      {"e.empty", torch::empty({0}, torch::kFloat32)},     // empty: begin == end
      {"f.empty2d", torch::empty({3, 0}, torch::kBFloat16)},
      {"g.strided", torch::arange(12, torch::kFloat32).reshape({3, 4}).t()},  // non-contiguous
  };
}

TEST(SafetensorsRoundTrip, SingleFileBitExact) {
  std::string dir = test::temp_dir("st");
  NamedTensors in = sample_tensors();
  std::vector<std::string> files = write_safetensors(dir, in);
  ASSERT_EQ(files, std::vector<std::string>{"model.safetensors"});
  TensorStore store = TensorStore::open(dir);
  ASSERT_EQ(store.names().size(), in.size());
  uint64_t bytes = 0;
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(store.contains(name)) << name;
    torch::Tensor got = store.load(name);
    EXPECT_TRUE(test::bit_equal(got, t)) << name;
    bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
  }
  EXPECT_EQ(store.entry("d.scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(store.entry("d.scalar").numel(), 1);
  EXPECT_EQ(store.entry("e.empty").begin, store.entry("e.empty").end);
  EXPECT_EQ(store.entry("c.bf16").dtype, DType::kBF16);
  EXPECT_EQ(store.total_bytes(), bytes);
  EXPECT_EQ(store.metadata().at("format"), "pt");
  // The same store also opens from the file path itself.
  EXPECT_EQ(TensorStore::open(dir + "/model.safetensors").names(), store.names());
}

// adopt(): the stored bytes in place, writable privately. Invariants: the values equal
// load()'s; writing to an adopted tensor changes neither the file (its hash) nor what another
// store, or view() of the same store, reads; a neighbour sharing a page keeps its bytes.
TEST(SafetensorsRoundTrip, AdoptIsCopyOnWrite) {
  std::string dir = test::temp_dir("st_adopt");
  NamedTensors in = sample_tensors();
  write_safetensors(dir, in);
  const std::string file = dir + "/model.safetensors", hash = sha256_file(file);
  TensorStore store = TensorStore::open(dir);
  for (const auto& [name, t] : in) EXPECT_TRUE(test::bit_equal(store.adopt(name), t)) << name;
  torch::Tensor a = store.adopt("a.f32"), c = store.adopt("c.bf16");
  a.fill_(-1.0f);
  c.mul_(3);
  EXPECT_TRUE(torch::equal(a, torch::full({3, 5}, -1.0f)));
  EXPECT_TRUE(test::bit_equal(store.view("b.f16"), in[0].second));  // the page neighbour
  EXPECT_EQ(sha256_file(file), hash);
  TensorStore again = TensorStore::open(dir);
  for (const auto& [name, t] : in) EXPECT_TRUE(test::bit_equal(again.load(name), t)) << name;
}

TEST(SafetensorsRoundTrip, LayoutFollowsTheFormat) {
  std::string dir = test::temp_dir("st");
  write_safetensors(dir, sample_tensors());
  std::string raw = read_file(dir + "/model.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  std::string header = raw.substr(8, n);
  std::string trimmed = header.substr(0, header.find_last_not_of(' ') + 1);
  EXPECT_LT(n - trimmed.size(), 8u) << "padding is fewer than 8 spaces";
  json h = json::parse(header);
  EXPECT_EQ(h["__metadata__"], json({{"format", "pt"}}));
  // Tensors laid out in name order: a.f32 (15 x 4 = 60 bytes) first at offset 0, then
  // b.f16 (8 x 2 = 16 bytes) at 60.
  EXPECT_EQ(h["a.f32"]["data_offsets"], json({0, 60}));
  EXPECT_EQ(h["b.f16"]["data_offsets"], json({60, 76}));
  EXPECT_EQ(h["d.scalar"]["shape"], json::array());
  // Data section = sum of tensor bytes: 60 + 16 + 14 + 4 + 0 + 0 + 48 = 142.
  EXPECT_EQ(raw.size(), 8 + n + 142);
}

TEST(SafetensorsRoundTrip, ShardedWithIndex) {
  std::string dir = test::temp_dir("st");
  // Five F32 tensors of 100, 100, 100, 300 and 40 bytes; limit 250 bytes.
  // Greedy in name order: [t0 t1] (200; +t2 would be 300 > 250), [t2] (+t3 would be 400),
  // [t3] alone (larger than the limit, never split), [t4].
  NamedTensors in = {{"t0", torch::randn({25})}, {"t1", torch::randn({25})},
                     {"t2", torch::randn({25})}, {"t3", torch::randn({75})},
                     {"t4", torch::randn({10})}};
  SafetensorsWriteOptions opts;
  opts.max_shard_bytes = 250;
  std::vector<std::string> files = write_safetensors(dir, in, opts);
  std::vector<std::string> want = {"model-00001-of-00004.safetensors",
                                   "model-00002-of-00004.safetensors",
                                   "model-00003-of-00004.safetensors",
                                   "model-00004-of-00004.safetensors",
                                   "model.safetensors.index.json"};
  EXPECT_EQ(files, want);
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
  json index = read_json_file(dir + "/model.safetensors.index.json");
  EXPECT_EQ(index["metadata"]["total_size"], 640);  // 100 + 100 + 100 + 300 + 40
  EXPECT_EQ(index["weight_map"], json({{"t0", want[0]}, {"t1", want[0]}, {"t2", want[1]},
                                       {"t3", want[2]}, {"t4", want[3]}}));
  TensorStore store = TensorStore::open(dir);
  for (const auto& [name, t] : in) EXPECT_TRUE(test::bit_equal(store.load(name), t)) << name;
  EXPECT_EQ(store.entry("t3").file, join_path(dir, want[2]));
  EXPECT_EQ(store.total_bytes(), 640u);
  // The index file can also be opened directly.
  EXPECT_EQ(TensorStore::open(dir + "/model.safetensors.index.json").names().size(), 5u);
}

TEST(SafetensorsRoundTrip, ShardLimitAboveTotalGivesOneFile) {
  std::string dir = test::temp_dir("st");
  SafetensorsWriteOptions opts;
  opts.max_shard_bytes = 1000;
  EXPECT_EQ(write_safetensors(dir, {{"x", torch::randn({10})}}, opts),
            std::vector<std::string>{"model.safetensors"});
}

TEST(SafetensorsWrite, RejectsBadInput) {
  std::string dir = test::temp_dir("st");
  test::expect_bad_input([&] { write_safetensors(dir, {{"x", torch::zeros({2}, torch::kInt64)}}); },
                         {"tensor x", "Long"});
  test::expect_bad_input(
      [&] { write_safetensors(dir, {{"x", torch::zeros({2})}, {"x", torch::zeros({2})}}); },
      {"tensor x", "twice"});
  test::expect_bad_input([&] { write_safetensors(dir + "/nope", {{"x", torch::zeros({2})}}); },
                         {dir + "/nope", "does not exist"});
}

TEST(SafetensorsWrite, ParseByteSize) {
  EXPECT_EQ(parse_byte_size("1234"), 1234u);
  EXPECT_EQ(parse_byte_size("2GB"), 2000000000u);         // HF: GB = 10^9
  EXPECT_EQ(parse_byte_size("500MB"), 500000000u);
  EXPECT_EQ(parse_byte_size("4GiB"), 4ull << 30);          // GiB = 2^30
  EXPECT_EQ(parse_byte_size("1.5kb"), 1500u);
  EXPECT_EQ(parse_byte_size("10 MiB"), 10u << 20);
  EXPECT_EQ(parse_byte_size("0"), 0u);
  for (const char* bad : {"", "GB", "-1GB", "2XB", "1.2.3", "abc", "."})
    test::expect_bad_input([&] { parse_byte_size(bad); }, {"invalid byte size"});
}

TEST(SafetensorsDType, TorchMapping) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16}) EXPECT_EQ(from_torch(to_torch(d)), d);
  EXPECT_STREQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  test::expect_bad_input([] { from_torch(torch::kFloat64); }, {"Double", "F32, F16, BF16"});
}

TEST(SafetensorsRealModel, Stories260K) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/model.safetensors");
  TensorStore store = TensorStore::open(test::asset("models/stories260K-hf"));
  // 47 = embed + final norm + 5 layers x 9 (2 norms, q k v o, gate up down); tied lm_head.
  EXPECT_EQ(store.names().size(), 47u);
  // 1045016-byte file - 8 - 4880-byte header (read with Python struct/json).
  EXPECT_EQ(store.total_bytes(), 1040128u);
  EXPECT_EQ(store.metadata().at("source"), "stories260K.bin");
  torch::Tensor emb = store.load("model.embed_tokens.weight");
  EXPECT_EQ(emb.sizes(), torch::IntArrayRef({512, 64}));
  // First two floats, struct.unpack('<2f') of the file: -0.29474878, 0.56189561.
  EXPECT_FLOAT_EQ(emb[0][0].item<float>(), -0.29474878311157227f);
  EXPECT_FLOAT_EQ(emb[0][1].item<float>(), 0.5618956089019775f);
  torch::Tensor norm = store.load("model.norm.weight");
  EXPECT_FLOAT_EQ(norm[3].item<float>(), 1.1078318357467651f);

  // Re-writing the whole model (sharded) reads back bit-exactly.
  std::string dir = test::temp_dir("st");
  NamedTensors all;
  for (const auto& n : store.names()) all.emplace_back(n, store.load(n));
  SafetensorsWriteOptions opts;
  opts.max_shard_bytes = 300000;
  write_safetensors(dir, all, opts);
  TensorStore back = TensorStore::open(dir);
  ASSERT_EQ(back.names(), store.names());
  for (const auto& [n, t] : all) EXPECT_TRUE(test::bit_equal(back.load(n), t)) << n;
}

TEST(SafetensorsRealModel, Stories260KBf16) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf-bf16/model.safetensors");
  TensorStore store = TensorStore::open(test::asset("models/stories260K-hf-bf16"));
  EXPECT_EQ(store.names().size(), 47u);
  EXPECT_EQ(store.total_bytes(), 1040128u / 2);  // same tensors at 2 bytes each
  for (const auto& n : store.names()) EXPECT_EQ(store.entry(n).dtype, DType::kBF16) << n;
  EXPECT_EQ(store.load("model.norm.weight").scalar_type(), torch::kBFloat16);
}

}  // namespace
}  // namespace llmprune
