// GGUF reader and writer: a round trip of every metadata type (nested arrays included) and of
// tensor data with alignment padding; truncated and corrupt files give one-line errors; the
// asset GGUFs made by llama.cpp's tools read with the names, shapes and types they hold.
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "io_test_util.h"
#include "support/assets.h"
#include "util/fs.h"

namespace llmprune {
namespace {

GgufMetadata every_type() {
  GgufMetadata md;
  md.emplace_back("t.u8", GgufValue::uint(GgufType::kU8, 255));
  md.emplace_back("t.i8", GgufValue::sint(GgufType::kI8, -128));
  md.emplace_back("t.u16", GgufValue::uint(GgufType::kU16, 65535));
  md.emplace_back("t.i16", GgufValue::sint(GgufType::kI16, -32768));
  md.emplace_back("t.u32", GgufValue::u32(4000000000u));
  md.emplace_back("t.i32", GgufValue::i32(-2000000000));
  md.emplace_back("t.f32", GgufValue::f32(0.1f));
  md.emplace_back("t.bool", GgufValue::boolean(true));
  md.emplace_back("t.string", GgufValue::str(std::string("h\xC3\xA9llo\0x", 8)));
  md.emplace_back("t.u64", GgufValue::uint(GgufType::kU64, UINT64_MAX));
  md.emplace_back("t.i64", GgufValue::sint(GgufType::kI64, INT64_MIN));
  md.emplace_back("t.f64", GgufValue::sint(GgufType::kI64, 0));
  md.back().second.type = GgufType::kF64;
  md.back().second.f = 1e-300;
  md.emplace_back("t.strings", GgufValue::strings({"a", "", "\xE2\x96\x81the"}));
  md.emplace_back("t.f32s", GgufValue::f32s({-1000.0f, 0.0f, 3.5f}));
  md.emplace_back("t.i32s", GgufValue::i32s({0, -1, 7}));
  md.emplace_back("t.empty", GgufValue::array(GgufType::kU8, {}));
  md.emplace_back("t.nested", GgufValue::array(GgufType::kArray,
                                               {GgufValue::i32s({1, 2}), GgufValue::i32s({})}));
  md.emplace_back("t.bools", GgufValue::array(GgufType::kBool, {GgufValue::boolean(false)}));
  return md;
}

TEST(Gguf, RoundTripEveryMetadataTypeAndTensors) {
  const std::string path = test::temp_dir("gguf") + "/rt.gguf";
  const GgufMetadata md = every_type();
  std::vector<float> a(7 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) - 3.25f;
  std::vector<uint16_t> b(5, 0x3c00);  // fp16 1.0
  {
    GgufStreamWriter w(path, md, {{"a", GgmlType::kF32, {7, 3}}, {"b", GgmlType::kF16, {5}}});
    w.write("a", a.data(), a.size() * 4);
    w.write("b", b.data(), b.size() * 2);
    w.finish();
  }
  GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.version(), 3u);
  ASSERT_EQ(g.metadata().size(), md.size());
  for (size_t i = 0; i < md.size(); ++i) {
    EXPECT_EQ(g.metadata()[i].first, md[i].first);
    EXPECT_TRUE(g.metadata()[i].second == md[i].second) << md[i].first;
  }
  EXPECT_EQ(g.get("t.u64").u, UINT64_MAX);
  EXPECT_EQ(g.get("t.string").as_string("t.string").size(), 8u);
  EXPECT_FLOAT_EQ(static_cast<float>(g.get("t.f32").f), 0.1f);
  ASSERT_EQ(g.tensors().size(), 2u);
  const GgufTensorInfo& ta = g.tensor("a");
  EXPECT_EQ(ta.ne, (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(ta.shape(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(ta.type, 0u);
  EXPECT_EQ(ta.bytes, 84u);
  EXPECT_EQ(g.data_offset() % 32, 0u);
  EXPECT_EQ(g.tensor("b").offset, 96u);  // 84 bytes padded to the 32-byte alignment
  EXPECT_EQ(std::memcmp(g.data(ta), a.data(), 84), 0);
  EXPECT_EQ(std::memcmp(g.data(g.tensor("b")), b.data(), 10), 0);
  EXPECT_EQ(g.file_size() % 32, 0u);  // the last tensor is padded too
}

TEST(Gguf, CustomAlignment) {
  const std::string path = test::temp_dir("gguf") + "/al.gguf";
  GgufMetadata md = {{"general.alignment", GgufValue::u32(64)}};
  uint8_t x[3] = {1, 2, 3};
  GgufStreamWriter w(path, md, {{"x", GgmlType::kF16, {1}}, {"y", GgmlType::kF16, {1}}});
  w.write("x", x, 2);
  w.write("y", x + 1, 2);
  w.finish();
  GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(g.data_offset() % 64, 0u);
  EXPECT_EQ(g.tensor("y").offset, 64u);
}

// Every prefix of a valid file is refused with a one-line bad_input (never a crash).
TEST(Gguf, EveryTruncationIsAOneLineError) {
  const std::string dir = test::temp_dir("gguf");
  const std::string path = dir + "/full.gguf";
  std::vector<float> a(64, 1.0f);
  {
    GgufStreamWriter w(path, every_type(), {{"a", GgmlType::kF32, {64}}});
    w.write("a", a.data(), 256);
    w.finish();
  }
  const std::string full = read_file(path);
  const std::string cut = dir + "/cut.gguf";
  const uint64_t data_start = GgufFile::open(path).data_offset();
  for (size_t n = 0; n < full.size(); n += (n < data_start ? 1 : 64)) {
    test::write_bytes(cut, full.substr(0, n));
    test::expect_bad_input([&] { GgufFile::open(cut); }, {cut});
  }
}

std::string header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  std::string s = "GGUF";
  s.append(reinterpret_cast<const char*>(&version), 4);
  s.append(reinterpret_cast<const char*>(&n_tensors), 8);
  s.append(reinterpret_cast<const char*>(&n_kv), 8);
  return s;
}
template <typename T>
std::string pod(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}
std::string gstr(const std::string& s) { return pod<uint64_t>(s.size()) + s; }

TEST(Gguf, CorruptFilesNameTheProblem) {
  const std::string dir = test::temp_dir("gguf");
  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  const std::string tensor_a = gstr("a") + pod<uint32_t>(1) + pod<uint64_t>(32);
  const std::vector<Case> cases = {
      {"bad magic", "GGUX" + std::string(20, '\0'), "no \"GGUF\" magic"},
      {"version 1", header(1, 0, 0), "unsupported GGUF version 1"},
      {"huge kv count", header(3, 0, uint64_t{1} << 60), "metadata count"},
      {"huge tensor count", header(3, uint64_t{1} << 60, 0), "tensor count"},
      {"string past the end", header(3, 0, 1) + pod<uint64_t>(1000) + "k" + std::string(20, '\0'),
       "truncated"},
      {"unknown value type", header(3, 0, 1) + gstr("k") + pod<uint32_t>(13),
       "unknown value type 13"},
      {"huge array",
       header(3, 0, 1) + gstr("k") + pod<uint32_t>(9) + pod<uint32_t>(4) +
           pod<uint64_t>(uint64_t{1} << 62),
       "exceeds the file"},
      {"bool 2", header(3, 0, 1) + gstr("k") + pod<uint32_t>(7) + std::string(1, '\2'),
       "neither 0 nor 1"},
      {"duplicate key",
       header(3, 0, 2) + gstr("k") + pod<uint32_t>(0) + std::string(1, 'x') + gstr("k") +
           pod<uint32_t>(0) + std::string(1, 'y'),
       "duplicate metadata key k"},
      {"alignment 3",
       header(3, 0, 1) + gstr("general.alignment") + pod<uint32_t>(4) + pod<uint32_t>(3),
       "power of two"},
      {"5 dims",
       header(3, 1, 0) + gstr("t") + pod<uint32_t>(5) + std::string(40, '\1') +
           std::string(32, '\0'),
       "5 dimensions"},
      {"unknown tensor type", header(3, 1, 0) + tensor_a + pod<uint32_t>(99) + pod<uint64_t>(0),
       "unsupported tensor type 99"},
      {"q8_0 row of 33",
       header(3, 1, 0) + gstr("a") + pod<uint32_t>(1) + pod<uint64_t>(33) + pod<uint32_t>(8) +
           pod<uint64_t>(0),
       "not a multiple of the Q8_0 block size"},
      {"misaligned offset", header(3, 1, 0) + tensor_a + pod<uint32_t>(0) + pod<uint64_t>(4),
       "not a multiple of the alignment"},
      {"data past the end", header(3, 1, 0) + tensor_a + pod<uint32_t>(0) + pod<uint64_t>(0),
       "past the end of the file"},
      {"dims overflow",
       header(3, 1, 0) + gstr("a") + pod<uint32_t>(2) + pod<uint64_t>(uint64_t{1} << 40) +
           pod<uint64_t>(uint64_t{1} << 40) + pod<uint32_t>(0) + pod<uint64_t>(0),
       "overflows"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string p = dir + "/bad.gguf";
    test::write_bytes(p, c.bytes);
    test::expect_bad_input([&] { GgufFile::open(p); }, {p, c.expected});
  }
}

TEST(Gguf, TypedAccessorsRefuseTheWrongType) {
  GgufValue v = GgufValue::str("x");
  test::expect_bad_input([&] { v.as_int("k.x"); }, {"k.x", "expected an integer, got string"});
  EXPECT_EQ(GgufValue::uint(GgufType::kU16, 7).as_int("k"), 7);
  EXPECT_DOUBLE_EQ(GgufValue::i32(-3).as_float("k"), -3.0);
}

// The asset files were written by llama.cpp's converter and llama-quantize (c392e509).
TEST(GgufAssets, ReadsLlamaCppFiles) {
  LLMPRUNE_REQUIRE_ASSET("gguf/phi3-tiny-q8_0.gguf");
  GgufFile f32 = GgufFile::open(test::asset("gguf/phi3-tiny-f32.gguf"));
  EXPECT_EQ(f32.get("general.architecture").as_string("a"), "phi3");
  EXPECT_EQ(f32.get("phi3.block_count").as_int("b"), 3);
  EXPECT_EQ(f32.get("tokenizer.ggml.tokens").items.size(), 512u);
  EXPECT_EQ(f32.get("tokenizer.ggml.tokens").items[1].s, "<s>");
  EXPECT_EQ(f32.tensors().size(), 21u);  // embed, 3 x 6, output_norm, output
  const GgufTensorInfo& qkv = f32.tensor("blk.0.attn_qkv.weight");
  EXPECT_EQ(qkv.shape(), (std::vector<int64_t>{128, 64}));  // (8 + 2 x 4) heads x 8 rows
  EXPECT_EQ(qkv.type, 0u);
  GgufFile q8 = GgufFile::open(test::asset("gguf/phi3-tiny-q8_0.gguf"));
  EXPECT_EQ(q8.get("general.file_type").as_int("f"), 7);
  EXPECT_EQ(ggml_type_name(q8.tensor("blk.0.ffn_up.weight").type), std::string("Q8_0"));
  EXPECT_EQ(q8.tensor("blk.0.ffn_up.weight").bytes, 256u * 64 / 32 * 34);
  EXPECT_EQ(ggml_type_name(q8.tensor("output_norm.weight").type), std::string("F32"));
  for (const char* m : {"stories260K-hf", "qwen2-tiny", "mistral-tiny"}) {
    GgufFile g = GgufFile::open(test::asset(std::string("gguf/") + m + "-f32.gguf"));
    EXPECT_EQ(g.tensor("token_embd.weight").shape()[0], 512) << m;
  }
  GgufFile st = GgufFile::open(test::asset("gguf/stories260K-hf-f32.gguf"));
  EXPECT_EQ(st.tensors().size(), 47u);  // 5 layers x 9 + embed + norm (tied head)
  EXPECT_EQ(st.tensor("blk.4.attn_k.weight").shape(), (std::vector<int64_t>{32, 64}));
}

}  // namespace
}  // namespace llmprune
