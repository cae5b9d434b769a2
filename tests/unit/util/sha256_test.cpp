// SHA-256 against the FIPS 180-4 / NIST example vectors, incremental updates, and files.
#include "util/sha256.h"

#include <gtest/gtest.h>

#include "support/assets.h"
#include "util/fs.h"

using namespace llmprune;

TEST(Sha256, NistVectors) {
  // FIPS 180-4 examples (csrc.nist.gov SHA256.pdf) and the empty string.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalAndFileEqualOneShot) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>(i * 31 % 251);
  for (size_t chunk : {1, 7, 63, 64, 65, 1000}) {
    Sha256 h;
    for (size_t p = 0; p < data.size(); p += chunk)
      h.update(data.data() + p, std::min(chunk, data.size() - p));
    EXPECT_EQ(h.hex_digest(), sha256_hex(data)) << "chunk " << chunk;
  }
  const std::string path = test::temp_dir("sha") + "/f.bin";
  write_file_atomic(path, data);
  EXPECT_EQ(sha256_file(path), sha256_hex(data));
}
