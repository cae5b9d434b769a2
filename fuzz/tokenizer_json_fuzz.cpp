// libFuzzer harness: tokenizer.json text loaded as a model folder's tokenizer, then a fixed
// text encoded and decoded with it. Invariant: only llmprune::Error escapes, no hang.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace llmprune;

namespace {
std::string scratch_dir() {
  // One file rewritten per input, in memory (/dev/shm) where there is one.
  static std::string dir = [] {
    char shm[] = "/dev/shm/llmprune-fuzz-tok-XXXXXX", tmp[] = "/tmp/llmprune-fuzz-tok-XXXXXX";
    const char* d = mkdtemp(shm);
    return std::string(d ? d : mkdtemp(tmp));
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = scratch_dir();
  {
    std::ofstream out(dir + "/tokenizer.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    auto tk = Tokenizer::from_dir(dir);
    auto ids = tk->encode("Hello world! 12 \xC3\xA9t\xC3\xA9  x", true);
    tk->decode(ids, false);
    tk->decode(ids, true);
  } catch (const Error&) {
  }
  return 0;
}
