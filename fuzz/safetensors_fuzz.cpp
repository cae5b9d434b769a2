// libFuzzer harness: a whole .safetensors file (8-byte length + JSON header + data) through
// the header parser and validator. Invariant: bad input throws llmprune::Error and nothing
// else; anything else (another exception, a crash, a sanitizer report, a hang) is a bug.
#include <cstddef>
#include <cstdint>

#include "io/safetensors_header.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto parsed = llmprune::detail::parse_header("fuzz.safetensors", data, size);
    // A valid header's spans lie inside the data section: touch the first and last bytes.
    for (const auto& e : parsed.entries)
      if (e.end > e.begin) {
        volatile uint8_t a = data[parsed.data_start + e.begin];
        volatile uint8_t b = data[parsed.data_start + e.end - 1];
        (void)a;
        (void)b;
      }
  } catch (const llmprune::Error&) {
  }
  return 0;
}
