// A table of corrupt safetensors files, each built byte by byte here, with the one-line
// error the reader must give (naming the file and, where there is one, the tensor).
// Plus broken sharded checkpoints (index vs shards).
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include "io/safetensors.h"
#include "io_test_util.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

// 8-byte little-endian length (the real one unless `len` overrides it) + header + data.
std::string st_bytes(const std::string& header, const std::string& data,
                     std::optional<uint64_t> len = std::nullopt) {
  uint64_t n = len ? *len : header.size();
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// One F32 tensor entry.
std::string f32(const std::string& name, const std::string& shape, int b, int e) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

struct CorruptCase {
  const char* what;       // how the file is corrupted
  std::string bytes;      // the whole file
  const char* expected;   // substring of the error
  const char* tensor;     // the tensor the message must name ("" = none)
};

std::vector<CorruptCase> corrupt_cases() {
  const std::string d8(8, '\0'), d12(12, '\0');
  return {
      {"empty file", "", "shorter than the 8-byte header length", ""},
      {"5-byte file", std::string(5, '\x01'), "file is 5 bytes, shorter than the 8-byte", ""},
      {"header length beyond the file", st_bytes("{}", "", 1000),
       "header length 1000 runs past the end of the file (10 bytes", ""},
      {"header length 2^63", st_bytes("{}", "", 1ull << 63), "runs past the end of the file", ""},
      {"header not JSON", st_bytes("{\"a\": nope}", ""), "header is not valid JSON", ""},
      {"truncated JSON", st_bytes("{\"a\":{\"dtype\":", ""), "header is not valid JSON", ""},
      {"header a JSON array", st_bytes("[1, 2]  ", ""), "header is not a JSON object", ""},
      {"header a JSON string", st_bytes("\"abc\"   ", ""), "header is not a JSON object", ""},
      {"entry not an object", st_bytes("{\"w\": 5}", ""), "entry is not an object (number)", "w"},
      {"missing dtype", st_bytes("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", d8),
       "missing \"dtype\"", "w"},
      {"missing shape", st_bytes("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", d8),
       "missing \"shape\"", "w"},
      {"missing data_offsets", st_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", d8),
       "missing \"data_offsets\"", "w"},
      {"dtype a number",
       st_bytes("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", d8),
       "\"dtype\" is not a string", "w"},
      {"shape a string",
       st_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", d8),
       "\"shape\" is not an array", "w"},
      {"shape with a float", st_bytes("{" + f32("w", "[2.5]", 0, 8) + "}", d8),
       "non-integer dimension", "w"},
      {"negative dimension", st_bytes("{" + f32("w", "[-2]", 0, 8) + "}", d8),
       "negative dimension -2 in shape [-2]", "w"},
      {"data_offsets one number",
       st_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", d8),
       "\"data_offsets\" is not an array of two integers", "w"},
      {"data_offsets negative", st_bytes("{" + f32("w", "[2]", -8, 0) + "}", d8),
       "are not non-negative integers", "w"},
      {"dtype I8 (unsupported)",
       st_bytes("{\"w\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", d8),
       "dtype I8 is not supported (supported: F32, F16, BF16)", "w"},
      {"dtype F64 (unsupported)",
       st_bytes("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", d8),
       "dtype F64 is not supported", "w"},
      {"dtype U8 (unsupported)",
       st_bytes("{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", d8),
       "dtype U8 is not supported", "w"},
      {"dtype unknown",
       st_bytes("{\"w\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", d8),
       "unknown dtype \"F99\"", "w"},
      // 3 x 4 bytes = 12, but the span is 8.
      {"shape x itemsize != span", st_bytes("{" + f32("w", "[3]", 0, 8) + "}", d8),
       "shape [3] x 4 bytes (F32) = 12 bytes but data_offsets [0, 8] span 8 bytes", "w"},
      // 2^62 x 2^62 elements overflow 64 bits; must not wrap to a small count.
      {"shape overflows 64 bits",
       st_bytes("{" + f32("w", "[4611686018427387904,4611686018427387904]", 0, 8) + "}", d8),
       "= overflow bytes", "w"},
      {"begin after end", st_bytes("{" + f32("w", "[2]", 8, 0) + "}", d8),
       "data_offsets [8, 0]: begin is after end", "w"},
      {"end beyond the data section", st_bytes("{" + f32("w", "[4]", 0, 16) + "}", d8),
       "data_offsets [0, 16] end beyond the data section (8 bytes)", "w"},
      {"overlapping tensors",
       st_bytes("{" + f32("a", "[2]", 0, 8) + "," + f32("b", "[2]", 4, 12) + "}", d12),
       "tensor b [4, 12) overlaps tensor a [0, 8)", "b"},
      {"two tensors on the same bytes",
       st_bytes("{" + f32("a", "[2]", 0, 8) + "," + f32("b", "[2]", 0, 8) + "}", d8),
       "overlaps tensor", "b"},
      {"gap between tensors",
       st_bytes("{" + f32("a", "[1]", 0, 4) + "," + f32("b", "[1]", 8, 12) + "}", d12),
       "data section bytes [4, 8) before tensor b belong to no tensor (gap)", "b"},
      {"gap at the start", st_bytes("{" + f32("a", "[1]", 4, 8) + "}", d8),
       "data section bytes [0, 4) before tensor a", "a"},
      {"trailing bytes", st_bytes("{" + f32("a", "[1]", 0, 4) + "}", d8),
       "data section bytes [4, 8) after the last tensor belong to no tensor", ""},
      {"data but no tensors", st_bytes("{}", d8), "bytes [0, 8) after the last tensor", ""},
      {"metadata not an object", st_bytes("{\"__metadata__\": [1]}", ""),
       "__metadata__ is not an object", ""},
      {"metadata value not a string", st_bytes("{\"__metadata__\": {\"format\": 1}}", ""),
       "__metadata__ value for format is not a string", ""},
      // Issue 12 (hostile headers, found by fuzzing and by hand):
      {"dimension 2^64-1 (was reported as -1)",
       st_bytes("{" + f32("w", "[18446744073709551615]", 0, 8) + "}", d8),
       "dimension 18446744073709551615 in shape [18446744073709551615] exceeds 2^63-1", "w"},
      {"identical duplicate entry (was accepted silently)",
       st_bytes("{" + f32("a", "[2]", 0, 8) + "," + f32("a", "[2]", 0, 8) + "}", d8),
       "duplicate key \"a\"", ""},
      {"duplicate entry (was reported as a gap)",
       st_bytes("{" + f32("a", "[1]", 0, 4) + "," + f32("b", "[1]", 4, 8) + "," +
                    f32("a", "[1]", 4, 8) + "}", d8),
       "duplicate key \"a\"", ""},
      {"shape nested 200000 deep (was a stack overflow in dump())",
       st_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":" + std::string(200000, '[') +
                    std::string(200000, ']') + ",\"data_offsets\":[0,8]}}", d8),
       "nested deeper than 128 levels", ""},
      {"offset 1e400 (was an internal error)",
       st_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e400]}}", d8),
       "header is not valid JSON: [json.exception.out_of_range.406] number overflow", ""},
      {"newline in a tensor name stays on one line",
       st_bytes("{" + f32("bad\\nname", "[-1]", 0, 4) + "}", d8), "tensor bad\\nname", ""},
  };
}

TEST(SafetensorsCorrupt, TableOfBadFiles) {
  std::string dir = test::temp_dir("corrupt");
  int i = 0;
  for (const CorruptCase& c : corrupt_cases()) {
    SCOPED_TRACE(c.what);
    std::string path = dir + "/case" + std::to_string(i++) + ".safetensors";
    test::write_bytes(path, c.bytes);
    std::string tensor = std::string(c.tensor).empty() ? "" : "tensor " + std::string(c.tensor);
    test::expect_bad_input([&] { TensorStore::open(path); },
                           {"[safetensors] " + path + ": ", c.expected, tensor});
  }
}

TEST(SafetensorsCorrupt, ValidMinimalFilesOpen) {
  // Counterparts of the table that must pass: no tensors at all, and an empty tensor
  // sharing its offset with the next one (HF allows zero-length spans anywhere).
  std::string dir = test::temp_dir("corrupt");
  test::write_bytes(dir + "/a.safetensors", st_bytes("{}", ""));
  EXPECT_TRUE(TensorStore::open(dir + "/a.safetensors").names().empty());
  std::string h = "{\"e\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[0,0]}," +
                  f32("w", "[2]", 0, 8) + "}";
  test::write_bytes(dir + "/b.safetensors", st_bytes(h, std::string(8, '\0')));
  TensorStore s = TensorStore::open(dir + "/b.safetensors");
  EXPECT_EQ(s.load("e").sizes(), torch::IntArrayRef({0, 3}));
  EXPECT_TRUE(s.load("w").equal(torch::zeros({2})));
}

// A valid 3-shard checkpoint in a fresh folder, limit 32 bytes: [t0 t1] (16 + 16),
// [t2] (32), [t3] (16; t2 + t3 = 48 > 32).
std::string make_sharded() {
  std::string dir = test::temp_dir("shards");
  SafetensorsWriteOptions opts;
  opts.max_shard_bytes = 32;
  write_safetensors(dir, {{"t0", torch::zeros({4})}, {"t1", torch::ones({4})},
                          {"t2", torch::zeros({8})}, {"t3", torch::ones({4})}}, opts);
  return dir;
}
const char* kShard1 = "model-00001-of-00003.safetensors";
const char* kShard2 = "model-00002-of-00003.safetensors";
const char* kIndex = "model.safetensors.index.json";

void edit_index(const std::string& dir, const std::function<void(json&)>& edit) {
  json idx = read_json_file(dir + "/" + kIndex);
  edit(idx);
  write_json_file(dir + "/" + kIndex, idx);
}

TEST(SafetensorsCorrupt, ShardedCheckpoints) {
  {
    std::string dir = make_sharded();
    ASSERT_EQ(TensorStore::open(dir).names().size(), 4u);
  }
  {  // the index names a shard that is not there
    std::string dir = make_sharded();
    fs::remove(dir + "/" + kShard2);
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {kIndex, "shard ", kShard2, "does not exist"});
  }
  {  // a tensor in the index missing from its file
    std::string dir = make_sharded();
    edit_index(dir, [](json& j) { j["weight_map"]["ghost"] = kShard1; });
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {"weight_map puts tensor ghost in ", kShard1,
                            "but that file does not contain it"});
  }
  {  // a tensor in a file missing from the index
    std::string dir = make_sharded();
    edit_index(dir, [](json& j) { j["weight_map"].erase("t1"); });
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {"tensor t1 of ", kShard1, "is not listed in weight_map"});
  }
  {  // the index puts a tensor in the wrong shard
    std::string dir = make_sharded();
    edit_index(dir, [](json& j) { j["weight_map"]["t1"] = kShard2; });
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {"weight_map puts tensor t1 in ", kShard2, "but it is in ", kShard1});
  }
  {  // the same tensor stored in two shards
    std::string dir = make_sharded();
    std::string other = test::temp_dir("dup");
    SafetensorsWriteOptions o;
    o.prefix = "x";
    write_safetensors(other, {{"t0", torch::zeros({4})}, {"t2", torch::zeros({4})}}, o);
    fs::copy_file(other + "/x.safetensors", dir + "/" + kShard2,
                  fs::copy_options::overwrite_existing);
    edit_index(dir, [](json& j) { j["weight_map"]["t0"] = kShard1; });
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {"tensor t0 is stored twice: in ", kShard1, kShard2});
  }
  {  // no weight_map
    std::string dir = make_sharded();
    edit_index(dir, [](json& j) { j.erase("weight_map"); });
    test::expect_bad_input([&] { TensorStore::open(dir); }, {kIndex, "no \"weight_map\""});
  }
  {  // a shard name escaping the folder
    std::string dir = make_sharded();
    edit_index(dir, [](json& j) { j["weight_map"]["t0"] = "../evil.safetensors"; });
    test::expect_bad_input([&] { TensorStore::open(dir); }, {"relative path inside the folder"});
  }
  {  // index not JSON
    std::string dir = make_sharded();
    test::write_bytes(dir + "/" + kIndex, "{\"weight_map\": ");
    test::expect_bad_input([&] { TensorStore::open(dir); }, {"malformed JSON", kIndex});
  }
  {  // a corrupt shard: the error names that shard
    std::string dir = make_sharded();
    test::write_bytes(dir + "/" + kShard2, "abc");
    test::expect_bad_input([&] { TensorStore::open(dir); },
                           {kShard2, "shorter than the 8-byte"});
  }
}

TEST(SafetensorsCorrupt, MissingPaths) {
  std::string dir = test::temp_dir("missing");
  test::expect_bad_input([&] { TensorStore::open(dir); },
                         {dir, "no model.safetensors or model.safetensors.index.json"});
  test::expect_bad_input([&] { TensorStore::open(dir + "/x.safetensors"); },
                         {dir + "/x.safetensors", "no such file"});
  test::write_bytes(dir + "/model.safetensors", st_bytes("{}", ""));
  TensorStore s = TensorStore::open(dir);
  test::expect_bad_input([&] { s.entry("nope"); }, {"tensor nope not found"});
  test::expect_bad_input([&] { s.load("nope"); }, {"tensor nope not found"});
}

}  // namespace
}  // namespace llmprune
