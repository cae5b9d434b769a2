// libFuzzer harness: arbitrary text through real tokenizers (the byte-level fixture and every
// tokenizer.json under $LLMPRUNE_FUZZ_TOKENIZERS, default ../shared/assets/tokenizers/*).
// Invariants, asserted with abort():
// - invalid UTF-8 is refused with llmprune::Error, valid UTF-8 always encodes;
// - byte-level tokenizers round-trip: decode(encode(text)) == text;
// - streaming decode (StreamDecoder push/flush) yields exactly decode(ids).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

using namespace llmprune;
namespace fs = std::filesystem;

namespace {
struct Loaded {
  std::unique_ptr<Tokenizer> tok;
  bool lossless;  // byte-level, no normalizer: decode(encode(x)) == x for valid UTF-8
};

std::vector<Loaded>& tokenizers() {
  static std::vector<Loaded> all = [] {
    std::vector<Loaded> v;
    char tmpl[] = "/tmp/llmprune-fuzz-text-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    std::ofstream(dir + "/tokenizer.json") << byte_level_tokenizer_json();
    v.push_back({Tokenizer::from_dir(dir), true});
    const char* env = std::getenv("LLMPRUNE_FUZZ_TOKENIZERS");
    fs::path root = env ? env : LLMPRUNE_SOURCE_DIR "/../shared/assets/tokenizers";
    std::error_code ec;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (fs::exists(it->path() / "tokenizer.json"))
        v.push_back({Tokenizer::from_dir(it->path().string()), false});
    return v;
  }();
  return all;
}
}  // namespace

// Loading (MBs of tokenizer.json under ASan) happens once here, outside the per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = tok::find_invalid_utf8(text) == std::string::npos;
  for (const Loaded& l : tokenizers()) {
    std::vector<TokenId> ids;
    try {
      ids = l.tok->encode(text, false);
    } catch (const Error&) {
      if (valid) std::abort();  // valid text must always encode
      continue;
    }
    if (!valid) std::abort();  // invalid UTF-8 must be refused
    std::string decoded = l.tok->decode(ids, false);
    if (l.lossless && decoded != text) std::abort();
    StreamDecoder stream(*l.tok, /*skip_special_tokens=*/false);
    std::string streamed;
    for (TokenId id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    if (streamed != decoded) std::abort();
  }
  return 0;
}
