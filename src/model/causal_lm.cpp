// CausalLM construction: load a checkpoint folder (strict validation, then weights copied
// into modules registered under HF names), or build from a spec / in-memory tensors.
#include "model/causal_lm.h"

#include <optional>

#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "io/safetensors.h"
#include "model/decoder_lm.h"
#include "model/runtime.h"
#include "model/stored_weights.h"
#include "util/error.h"
#include "util/huge_pages.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

namespace {

using Fetch = std::function<torch::Tensor(const std::string&)>;

void warn_non_finite(const torch::Tensor& t, const std::string& name, const std::string& where) {
  if (!t.is_floating_point()) return;
  auto bad = torch::logical_not(torch::isfinite(t));
  const int64_t n = bad.sum().item<int64_t>();
  if (n > 0)
    log_warn(where, ": tensor ", name, " has ", n, " NaN/Inf value", n > 1 ? "s" : "", " of ",
             t.numel());
}

// An uninitialised CPU tensor on huge pages (util/huge_pages.h): what decoding streams.
torch::Tensor empty_on_huge_pages(at::IntArrayRef sizes, torch::ScalarType dtype) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  HugeBuffer buf(static_cast<size_t>(n) * c10::elementSize(dtype));
  // The deleter holds the memory: it is released with the tensor's storage.
  return torch::from_blob(
      buf.data(), sizes, [owner = buf.owner()](void*) {},
      torch::TensorOptions().dtype(dtype).device(torch::kCPU));
}

// Give every parameter of `model` its weights, then `done(name)` (release the source):
// - on the CPU, a tensor of at least one huge page (`huge`) is copied into memory on huge
//   pages, converted to the dtype the parameter keeps: decoding reads each weight once per
//   token, and reads it up to 1.4x faster from huge pages than from the mapped file's 4 KiB
//   pages (util/huge_pages.h);
// - otherwise `adopt(name)` in place when the stored dtype is the one the parameter keeps and
//   it lives on the CPU (no copy), else a copy of `fetch(name)` converted to that dtype.
// Handles a present-but-tied lm_head.
void fill_weights(DecoderLM& model, const Fetch& fetch, const Fetch& adopt,
                  const std::function<void(const std::string&)>& done, const TensorSetCheck& check,
                  const std::string& where, bool check_finite, bool keep_bf16, bool huge) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  // A progress bar only where loading takes a while (real models, not test fixtures).
  int64_t bytes = 0;
  for (const auto& [name, p] : params) bytes += p.numel() * static_cast<int64_t>(p.element_size());
  std::optional<Progress> progress;
  if (bytes > (int64_t{256} << 20))
    progress.emplace("loading weights", static_cast<int64_t>(params.size()), "tensor");
  int64_t huge_bytes = 0;
  for (auto& [name, p] : params) {
    torch::Tensor t = fetch(name);
    LLMPRUNE_ASSERT(t.sizes() == p.sizes(), "validated tensor ", name, " changed shape");
    if (check_finite) warn_non_finite(t, name, where);
    torch::ScalarType keep = p.scalar_type();
    if (keep_bf16 && t.scalar_type() == torch::kBFloat16 && keep == torch::kFloat32)
      keep = torch::kBFloat16;
    const bool on_huge = huge && p.device().is_cpu() &&
                         p.numel() * c10::elementSize(keep) >= static_cast<int64_t>(kHugePageBytes);
    if (!on_huge && adopt && p.device().is_cpu() && t.scalar_type() == keep) {
      p.set_data(adopt(name));  // the parameter is the mapped pages: nothing to release
    } else {
      if (on_huge) {
        p.set_data(empty_on_huge_pages(p.sizes(), keep));
        huge_bytes += p.numel() * static_cast<int64_t>(p.element_size());
      } else if (keep != p.scalar_type())
        p.set_data(torch::empty(p.sizes(), p.options().dtype(keep)));
      p.copy_(t);
      if (done) done(name);
    }
    if (progress) progress->advance();
  }
  if (progress) progress->finish();
  if (huge_bytes > 0)
    log_info(where, ": ", huge_bytes >> 20, " MiB of weights copied onto huge pages (THP ",
             huge_pages_mode(), ")");
  if (!check.tied_lm_head.empty()) {
    const std::string embed = params.front().first;  // embed_tokens is registered first
    torch::Tensor head = fetch(check.tied_lm_head), emb = fetch(embed);
    if (!torch::equal(head, emb))
      log_warn(where, ": ", check.tied_lm_head, " differs from ", embed,
               " but tie_word_embeddings is true: using ", embed, " (as transformers does)");
  }
}

void check_weights_option(const LoadOptions& opts) {
  if (opts.weights != "native" && opts.weights != "bf16" && opts.weights != "q8_0")
    throw bad_input("unknown --weights '", opts.weights, "' (use native, bf16 or q8_0)");
}

// Whether the parameters go on huge pages: when asked and Linux provides them, unless
// decoding reads Q8_0 copies instead (those are on huge pages themselves).
bool decode_on_huge_pages(const LoadOptions& opts) {
  return opts.huge_pages && opts.weights != "q8_0" && huge_pages_usable();
}

// LoadOptions::weights after the weights are in place.
void prepare_decode_weights(DecoderLM& model, const LoadOptions& opts) {
  if (opts.weights != "q8_0") return;
  Timer timer;
  const auto [maps, bytes] = model.quantize_q8_0();
  log_info("Q8_0 decode weights: ", maps, " linear maps, ", bytes >> 20, " MiB (", timer.seconds(),
           " s)");
}

}  // namespace

std::unique_ptr<CausalLM> CausalLM::create(const ModelSpec& spec, const LoadOptions& opts) {
  return std::make_unique<DecoderLM>(spec, family_by_name(spec.family), parse_device(opts.device),
                                     parse_dtype(opts.dtype));
}

std::unique_ptr<CausalLM> CausalLM::from_tensors(
    const ModelSpec& spec, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    const LoadOptions& opts, const std::string& where) {
  const Family& family = family_by_name(spec.family);
  ShapeMap present;
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [name, t] : tensors) {
    present[name] = t.sizes().vec();
    by_name[name] = t;
  }
  TensorSetCheck check = validate_tensor_set(family, spec, present, where);
  check_weights_option(opts);
  auto model =
      std::make_unique<DecoderLM>(spec, family, parse_device(opts.device), parse_dtype(opts.dtype));
  fill_weights(
      *model, [&](const std::string& n) { return by_name.at(n); }, {}, {}, check, where,
      opts.check_weights, /*keep_bf16=*/false, decode_on_huge_pages(opts));
  prepare_decode_weights(*model, opts);
  return model;
}

std::unique_ptr<CausalLM> load_stored_weights(const Family& family, const ModelSpec& spec,
                                              const ShapeMap& present, const TensorLocator& locate,
                                              const LoadOptions& opts, const std::string& where) {
  // Runtime options are checked before the (possibly long) weight scan.
  const torch::Device device = parse_device(opts.device);
  const torch::ScalarType dtype = parse_dtype(opts.dtype);
  check_weights_option(opts);
  const TensorSetCheck check = validate_tensor_set(family, spec, present, where);
  auto model = std::make_unique<DecoderLM>(spec, family, device, dtype);
  // A tensor stored in the dtype its parameter keeps becomes the parameter in place (the
  // mapping, private copy-on-write: loading costs one pass of page faults, no copy). Any other
  // is read in place, converted once into its parameter, and its pages are dropped from this
  // process right after (peak RSS ~ the model + one tensor).
  auto with = [&](auto op) {
    return [&locate, op](const std::string& n) {
      const auto [store, stored] = locate(n);
      return op(*store, stored);
    };
  };
  fill_weights(*model, with([](const TensorStore& s, const std::string& n) { return s.view(n); }),
               with([](const TensorStore& s, const std::string& n) { return s.adopt(n); }),
               with([](const TensorStore& s, const std::string& n) { s.release(n); }), check, where,
               opts.check_weights, opts.keep_bf16 || opts.weights == "bf16",
               decode_on_huge_pages(opts));
  prepare_decode_weights(*model, opts);
  return model;
}

std::unique_ptr<CausalLM> CausalLM::load(const std::string& dir, const LoadOptions& opts) {
  Timer timer;
  CheckpointConfig cc = read_checkpoint_config(dir);
  TensorStore store = open_checkpoint_tensors(cc);
  ShapeMap present;
  for (const auto& name : store.names()) present[name] = store.entry(name).shape;
  auto model = load_stored_weights(
      *cc.family, cc.spec, present, [&](const std::string& n) { return std::make_pair(&store, n); },
      opts, "[model] " + dir);
  int64_t n_params = 0;
  for (const auto& [name, p] : model->named_parameters()) n_params += p.numel();
  log_info("loaded ", cc.family->name(), " model from ", dir, ": ", cc.spec.n_layers(), " layers, ",
           n_params, " parameters, compute ", dtype_label(model->dtype()), " on ",
           model->device().str(), " (", timer.seconds(), " s)");
  return model;
}

}  // namespace llmprune
