// libFuzzer harness: a whole GGUF file through the header parser (metadata of every type,
// tensor infos, alignment, data ranges). Invariant: bad input throws llmprune::Error and
// nothing else; anything else (another exception, a crash, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>

#include "io/gguf.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto g = llmprune::GgufFile::parse(data, size, "fuzz.gguf");
    // A valid file's tensor data lies inside the buffer: touch its first and last bytes.
    for (const auto& t : g.tensors())
      if (t.bytes > 0) {
        volatile uint8_t a = g.data(t)[0];
        volatile uint8_t b = g.data(t)[t.bytes - 1];
        (void)a;
        (void)b;
      }
    for (const auto& [k, v] : g.metadata()) (void)v.to_json(4).dump();
  } catch (const llmprune::Error&) {
  }
  return 0;
}
