// GGUF export driver (see gguf_export.h): validate the checkpoint, build the metadata and the
// tensor declarations, then stream tensor by tensor (load, permute, convert, write, drop).
#include "export/gguf_export.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "arch/checkpoint_check.h"
#include "arch/gguf_arch.h"
#include "export/gguf_tokenizer.h"
#include "io/safetensors.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/q8_0.h"
#include "util/timer.h"

namespace llmprune {
namespace {

// Hugging Face's rotate_half layout -> llama.cpp's interleaved pairs: within each head the rows
// [x0 .. x(d/2-1) | y0 .. y(d/2-1)] become [x0 y0 x1 y1 ...] (convert_hf_to_gguf's permute).
torch::Tensor permute_rotary_rows(const torch::Tensor& t, int64_t n_head) {
  std::vector<int64_t> shape = t.sizes().vec();
  std::vector<int64_t> split = {n_head, 2, shape[0] / n_head / 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return t.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

}  // namespace

torch::Tensor gguf_llama3_rope_factors(const RopeSpec& r, int64_t head_dim) {
  const double old_ctx = static_cast<double>(r.original_max_position_embeddings);
  const double low_wavelen = old_ctx / r.low_freq_factor;
  const double high_wavelen = old_ctx / r.high_freq_factor;
  std::vector<float> f;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(r.theta, static_cast<double>(i) / head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      f.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      f.push_back(static_cast<float>(r.factor));
    } else {
      const double smooth =
          (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      f.push_back(static_cast<float>(1.0 / ((1 - smooth) / r.factor + smooth)));
    }
  }
  return torch::tensor(f, torch::kFloat32);
}

namespace {

std::vector<int64_t> reversed(const std::vector<int64_t>& v) { return {v.rbegin(), v.rend()}; }

struct Planned {
  TensorInfo info;  // the checkpoint tensor (unused for a generated one)
  GgufTensorDecl decl;
  int64_t permute_heads = 0;            // > 0: permute rows with this many heads
  std::function<torch::Tensor()> make;  // a generated tensor (llama3 rope factors, zero FFN)
};

Planned generated(const std::string& name, GgmlType type, const std::vector<int64_t>& shape,
                  std::function<torch::Tensor()> make) {
  Planned p;
  p.decl = {name, type, reversed(shape)};
  p.make = std::move(make);
  return p;
}

// llama.cpp's deci graph skips the rest of a layer whose feed_forward_length is 0 without
// taking its attention output ("continue" before the residual update in models/deci.cpp), so a
// layer with attention and no MLP would lose its attention. It gets an FFN of width 1 whose
// weights are all zero instead: it adds exactly 0 to the residual stream.
void add_zero_ffn(std::vector<Planned>& plan, int64_t layer, int64_t hidden, GgufOutType out) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  plan.push_back(generated(p + "ffn_norm.weight", GgmlType::kF32, {hidden},
                           [hidden] { return torch::ones({hidden}); }));
  for (const char* n : {"ffn_gate", "ffn_up"})
    plan.push_back(
        generated(p + n + ".weight", gguf_tensor_type(out, {1, hidden}), {1, hidden}, [hidden] {
          return torch::zeros({1, hidden});
        }));
  plan.push_back(
      generated(p + "ffn_down.weight", gguf_tensor_type(out, {hidden, 1}), {hidden, 1}, [hidden] {
        return torch::zeros({hidden, 1});
      }));
}

// The bytes of `t` (float) as `type`.
std::string encode(const torch::Tensor& t, GgmlType type) {
  torch::Tensor c;
  switch (type) {
    case GgmlType::kF32:
      c = t.to(torch::kFloat32).contiguous();
      break;
    case GgmlType::kF16:
      c = t.to(torch::kFloat32).to(torch::kHalf).contiguous();
      break;
    case GgmlType::kBF16:
      c = t.to(torch::kBFloat16).contiguous();
      break;
    case GgmlType::kQ8_0: {
      c = t.to(torch::kFloat32).contiguous();
      std::string out(static_cast<size_t>(c.numel() / kQ8_0Block * kQ8_0BlockBytes), '\0');
      quantize_q8_0(c.data_ptr<float>(), c.numel(), reinterpret_cast<uint8_t*>(out.data()));
      return out;
    }
  }
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

// llama.cpp gives every model whose lower-cased general.name contains "phi3" or "phi-3" the
// Phi-3 special-token attributes and fails to load when the vocabulary lacks
// <|endoftext|> (a Phi-3 model with a Llama-2 tokenizer, as the tiny test checkpoint). Such a
// name is written "phi_3" instead, which that rule does not match.
std::string loadable_name(std::string name, const GgufMetadata& md) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("phi3") == std::string::npos && lower.find("phi-3") == std::string::npos)
    return name;
  for (const auto& [k, v] : md)
    if (k == "tokenizer.ggml.tokens")
      for (const GgufValue& t : v.items)
        if (t.s == "<|endoftext|>") return name;
  for (const char* pat : {"phi3", "phi-3"})
    for (size_t at = lower.find(pat); at != std::string::npos; at = lower.find(pat, at + 1)) {
      const size_t n = std::string(pat).size();
      name.replace(at, n, name.substr(at, 3) + "_3");
      lower.replace(at, n, "phi_3");
    }
  log_warn("[gguf] general.name written as \"", name, "\": llama.cpp applies its Phi-3 token ",
           "rule to names containing \"phi3\" and cannot load this vocabulary (no <|endoftext|>)");
  return name;
}

}  // namespace

json export_gguf(const GgufExportOptions& o) {
  Timer timer;
  const GgufOutType out_type = parse_gguf_out_type(o.type);
  LLMPRUNE_CHECK(!o.out.empty(), "[gguf] --out is required");
  {
    const std::filesystem::path parent = std::filesystem::path(o.out).parent_path();
    LLMPRUNE_CHECK(parent.empty() || is_directory(parent.string()), "[gguf] cannot write ", o.out,
                   ": folder ", parent.string(), " does not exist");
  }
  LLMPRUNE_CHECK(o.overwrite || !path_exists(o.out), "[gguf] ", o.out,
                 " already exists (pass --overwrite to replace it)");
  CheckpointConfig cc = read_checkpoint_config(o.model);
  const Family& family = *cc.family;
  const ModelSpec& spec = cc.spec;
  const std::string arch = gguf_architecture(family, spec);  // unsupported family: error here
  const GgufArch& ga = gguf_arch_for(family.name());
  const bool permute = ga.permute_qk;

  TensorStore store = TensorStore::open(o.model);
  ShapeMap present;
  for (const auto& n : store.names()) present[n] = store.entry(n).shape;
  const std::string where = "[gguf] " + o.model;
  validate_tensor_set(family, spec, present, where);

  std::string name = o.name;
  if (name.empty()) name = std::filesystem::path(o.model).lexically_normal().filename().string();
  if (name.empty() || name == ".")
    name = std::filesystem::path(o.model).parent_path().filename().string();
  GgufMetadata tok_md = gguf_tokenizer_metadata(o.model, spec.vocab_size, cc.config);
  name = loadable_name(name, tok_md);
  GgufMetadata md = gguf_model_metadata(family, spec, cc.config, name, out_type);
  for (auto& kv : tok_md) md.push_back(std::move(kv));

  // Declarations in the family's tensor order (embeddings, layer by layer, final norm, head).
  std::vector<Planned> plan;
  std::map<std::string, int64_t> type_counts;
  json fallbacks = json::array();
  const AttentionSpec* ra = nullptr;
  for (const LayerSpec& L : spec.layers)
    if (L.attn && !ra) ra = &*L.attn;
  if (spec.rope.scaling == "llama3" && ra) {
    const RopeSpec rope = spec.rope;
    const int64_t hd = ra->head_dim;
    plan.push_back(generated(kGgufRopeFreqs, GgmlType::kF32, {hd / 2},
                             [rope, hd] { return gguf_llama3_rope_factors(rope, hd); }));
  }
  const bool deci = arch == "deci";
  int64_t prev_layer = -1;
  for (const TensorInfo& t : family.tensors(spec)) {
    if (deci && t.layer != prev_layer && prev_layer >= 0 &&
        gguf_deci_zero_ffn(spec.layers[static_cast<size_t>(prev_layer)]))
      add_zero_ffn(plan, prev_layer, spec.hidden_size, out_type);
    prev_layer = t.layer;
    Planned pl;
    pl.info = t;
    const GgmlType type = gguf_tensor_type(out_type, t.shape);
    pl.decl = {gguf_tensor_name(t), type, reversed(t.shape)};
    if (out_type == GgufOutType::kQ8_0 && t.shape.size() >= 2 && type != GgmlType::kQ8_0)
      fallbacks.push_back(
          {{"tensor", pl.decl.name},
           {"type", "F16"},
           {"why", "row length " + std::to_string(t.shape.back()) + " is not a multiple of 32"}});
    if (permute && t.layer >= 0 && (t.role == TensorRole::kQ || t.role == TensorRole::kK)) {
      const AttentionSpec& a = *spec.layers[static_cast<size_t>(t.layer)].attn;
      pl.permute_heads = t.role == TensorRole::kQ ? a.n_heads : a.n_kv_heads;
    }
    plan.push_back(pl);
  }
  std::vector<GgufTensorDecl> decls;
  for (const Planned& p : plan) {
    decls.push_back(p.decl);
    type_counts[ggml_type_name(static_cast<uint32_t>(p.decl.type))]++;
  }
  if (!fallbacks.empty())
    log_warn("[gguf] ", fallbacks.size(),
             " tensors have rows that are not a multiple of 32: "
             "written as F16 instead of Q8_0 (first: ",
             fallbacks[0]["tensor"].get<std::string>(), ")");

  uint64_t file_bytes = 0;
  write_file_atomic_streamed(o.out, o.overwrite, [&](const std::string& tmp) {
    GgufStreamWriter w(tmp, md, decls);
    for (const Planned& p : plan) {
      torch::Tensor t;
      if (p.make) {
        t = p.make();
      } else {
        t = store.load(p.info.name, /*release=*/true).to(torch::kFloat32);
        if (p.permute_heads > 0) t = permute_rotary_rows(t, p.permute_heads);
      }
      const std::string bytes = encode(t, p.decl.type);
      w.write(p.decl.name, bytes.data(), bytes.size());
    }
    file_bytes = w.finish();
  });
  log_info("[gguf] wrote ", o.out, ": ", arch, ", ", plan.size(), " tensors, ",
           gguf_out_type_name(out_type), ", ", file_bytes, " bytes (", timer.seconds(), " s)");
  json report = {{"command", "export"},       {"format", "gguf"},
                 {"model", o.model},          {"out", o.out},
                 {"architecture", arch},      {"type", gguf_out_type_name(out_type)},
                 {"tensors", plan.size()},    {"tensor_types", type_counts},
                 {"bytes", file_bytes},       {"fallbacks", fallbacks},
                 {"seconds", timer.seconds()}};
  return report;
}

std::optional<GgufExportOptions> gguf_export_beside(const std::string& spec,
                                                    const std::string& out_dir, bool dry_run,
                                                    bool overwrite) {
  if (spec.empty()) return std::nullopt;
  const size_t colon = spec.find(':');
  const std::string format = spec.substr(0, colon);
  LLMPRUNE_CHECK(format == "gguf", "--export: unknown format '", format,
                 "' (expected gguf or gguf:TYPE)");
  GgufExportOptions g;
  g.type = colon == std::string::npos ? "f32" : spec.substr(colon + 1);
  parse_gguf_out_type(g.type);
  LLMPRUNE_CHECK(!dry_run && !out_dir.empty(), "--export needs --out (and no --dry-run)");
  std::string out = out_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  g.model = out;
  g.out = out + ".gguf";
  g.overwrite = overwrite;
  LLMPRUNE_CHECK(g.overwrite || !path_exists(g.out), g.out,
                 " already exists (pass --overwrite to replace it)");
  return g;
}

}  // namespace llmprune
