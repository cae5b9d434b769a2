// libFuzzer harness: config.json text through the JSON entry point, family detection, the
// family's config adapter and the llmprune block, then the tensor table and config writer
// for the spec it produced. Invariant: only llmprune::Error escapes; a spec that was read
// back must write a config that reads back to the same tensor table.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "arch/registry.h"
#include "util/error.h"
#include "util/json.h"

using namespace llmprune;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    json config = parse_json(text, "config.json: ");
    const Family& family = detect_family(config, "config.json");
    ModelSpec spec = spec_from_config(family, config, "config.json");
    auto tensors = family.tensors(spec);
    json again = config_for_spec(family, spec);
    ModelSpec spec2 = spec_from_config(family, again, "again.json");
    if (family.tensors(spec2).size() != tensors.size()) std::abort();  // lost a tensor
  } catch (const Error&) {
  }
  return 0;
}
