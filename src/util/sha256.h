// SHA-256 (FIPS 180-4) for manifests and bundle provenance: incremental, so multi-gigabyte
// weight files are hashed while they are written or streamed, never held in memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmprune {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  std::string hex_digest();  // finishes the hash: 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_;
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(const std::string& data);
// Hash of a whole file, read in chunks; bad_input naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace llmprune
