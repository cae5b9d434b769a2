// `llmprune inspect`: what a checkpoint is (family, per-layer shapes, parameter counts,
// dtypes, tokenizer) and everything wrong with it, without loading it into a model.
#include <cstdio>
#include <map>
#include <sstream>

#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "command.h"
#include "inspect_gguf.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {
namespace {

struct InspectOptions {
  std::string model, report;
  bool no_scan = false;
};

std::string layer_summary(const LayerSpec& L) {
  std::ostringstream s;
  if (L.attn) {
    const auto& a = *L.attn;
    s << "attn " << a.n_heads << " heads / " << a.n_kv_heads << " kv x " << a.head_dim;
    if (a.qkv_bias) s << ", qkv bias";
    if (a.o_bias) s << ", o bias";
    if (a.sliding_window > 0) s << ", window " << a.sliding_window;
  } else {
    s << "attn removed";
  }
  if (L.mlp)
    s << "; mlp " << L.mlp->intermediate_size << (L.mlp->bias ? " (bias)" : "");
  else
    s << "; mlp removed";
  return s.str();
}

// Parameter count per component, from the tensors actually present.
json count_parameters(const Family& family, const ModelSpec& spec, const TensorStore& store) {
  std::map<std::string, TensorRole> role_of;
  for (const auto& t : family.tensors(spec)) role_of[t.name] = t.role;
  const TensorNaming& n = family.naming();
  role_of.emplace(n.lm_head + "." + n.weight, TensorRole::kLmHead);  // present though tied
  std::map<std::string, int64_t> c{{"embeddings", 0}, {"attention", 0}, {"mlp", 0},
                                   {"norms", 0},      {"lm_head", 0},   {"other", 0}};
  int64_t total = 0;
  for (const auto& name : store.names()) {
    const int64_t k = store.entry(name).numel();
    total += k;
    auto it = role_of.find(name);
    if (it == role_of.end()) {
      c["other"] += k;
      continue;
    }
    const TensorRole r = it->second;
    if (r == TensorRole::kEmbed || r == TensorRole::kPositions || r == TensorRole::kProjIn ||
        r == TensorRole::kProjOut)
      c["embeddings"] += k;
    else if (r == TensorRole::kLmHead) c["lm_head"] += k;
    else if (is_attention_role(r)) c["attention"] += k;
    else if (is_mlp_role(r)) c["mlp"] += k;
    else c["norms"] += k;
  }
  json j(c);
  j["total"] = total;
  return j;
}

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

void run_inspect(const InspectOptions& o) {
  if (is_gguf_path(o.model)) return inspect_gguf(o.model, o.report);
  CheckpointConfig cc = read_checkpoint_config(o.model);
  TensorStore store = open_checkpoint_tensors(cc);
  const Family& family = *cc.family;
  const ModelSpec& spec = cc.spec;
  std::vector<std::string> inconsistencies, warnings;

  ShapeMap present;
  std::map<std::string, int64_t> dtypes;
  for (const auto& name : store.names()) {
    present[name] = store.entry(name).shape;
    dtypes[dtype_name(store.entry(name).dtype)]++;
  }
  try {
    TensorSetCheck check = validate_tensor_set(family, spec, present, "[inspect] " + o.model);
    if (!check.tied_lm_head.empty())
      warnings.push_back(check.tied_lm_head + " present although tie_word_embeddings is true "
                         "(the embedding is used)");
  } catch (const Error& e) {
    inconsistencies.push_back(e.what());
  }
  if (!o.no_scan) {
    for (const auto& name : store.names()) {
      // In place from the mapping, its pages dropped afterwards: RSS stays ~ one tensor.
      const int64_t bad =
          torch::logical_not(torch::isfinite(store.view(name))).sum().item<int64_t>();
      store.release(name);
      if (bad > 0)
        warnings.push_back("tensor " + name + " has " + std::to_string(bad) + " NaN/Inf values");
    }
  }
  std::string tokenizer;
  try {
    tokenizer = Tokenizer::from_dir(o.model)->describe();
  } catch (const Error& e) {
    tokenizer = std::string("none (") + e.what() + ")";
  }
  json params = count_parameters(family, spec, store);

  std::printf("model       %s\n", o.model.c_str());
  std::printf("family      %s (model_type %s)\n", family.name().c_str(), spec.model_type.c_str());
  std::printf("sizes       vocab %lld, hidden %lld, %lld layers, max positions %lld, rms eps %g\n",
              (long long)spec.vocab_size, (long long)spec.hidden_size,
              (long long)spec.n_layers(), (long long)spec.max_position_embeddings,
              spec.rms_norm_eps);
  if (spec.positions == PositionKind::kRope) {
    std::printf("rope        theta %g, scaling %s", spec.rope.theta, spec.rope.scaling.c_str());
    if (spec.rope.scaling != "default") std::printf(" (factor %g)", spec.rope.factor);
    if (spec.rope.partial_rotary_factor != 1.0)
      std::printf(", partial rotary %g", spec.rope.partial_rotary_factor);
  } else {
    std::printf("positions   learned, table row = position + %lld",
                (long long)spec.position_offset);
  }
  std::printf("\nblocks      %s%s, %s%s\n", spec.norm == NormKind::kRms ? "RMSNorm" : "LayerNorm",
              spec.norm_affine ? "" : " (no affine)", spec.post_norm ? "post-norm" : "pre-norm",
              spec.final_norm ? "" : ", no final norm");
  std::printf("embeddings  %s", spec.tie_word_embeddings ? "tied (lm_head = embed_tokens)"
                                                         : "separate lm_head");
  if (spec.embed_dim > 0)
    std::printf(", width %lld with project_in / project_out", (long long)spec.embed_dim);
  std::printf("\n");
  std::printf("layers%s\n", is_uniform(spec) ? " (uniform)" : " (heterogeneous)");
  for (int64_t i = 0; i < spec.n_layers();) {
    const std::string s = layer_summary(spec.layers[static_cast<size_t>(i)]);
    int64_t j = i;
    while (j + 1 < spec.n_layers() && layer_summary(spec.layers[static_cast<size_t>(j + 1)]) == s)
      ++j;
    std::string range = i == j ? std::to_string(i) : std::to_string(i) + "-" + std::to_string(j);
    std::printf("  %-9s %s\n", range.c_str(), s.c_str());
    i = j + 1;
  }
  std::printf("parameters  %s total: embeddings %s, attention %s, mlp %s, norms %s, lm_head %s",
              human_count(params["total"]).c_str(), human_count(params["embeddings"]).c_str(),
              human_count(params["attention"]).c_str(), human_count(params["mlp"]).c_str(),
              human_count(params["norms"]).c_str(), human_count(params["lm_head"]).c_str());
  if (params["other"].get<int64_t>() > 0)
    std::printf(", other %s", human_count(params["other"]).c_str());
  std::printf(" (%lld)\n", (long long)params["total"].get<int64_t>());
  std::string dt;
  for (const auto& [name, count] : dtypes)
    dt += (dt.empty() ? "" : ", ") + name + " x " + std::to_string(count);
  std::printf("dtype       %s (%.1f MB)\n", dt.c_str(), store.total_bytes() / 1e6);
  std::printf("tokenizer   %s\n", tokenizer.c_str());
  for (const auto& w : warnings) std::printf("warning     %s\n", w.c_str());
  if (inconsistencies.empty())
    std::printf("consistency ok: tensors and shapes match the %s config\n", family.name().c_str());
  for (const auto& e : inconsistencies) std::printf("INCONSISTENT %s\n", e.c_str());

  json layers = llmprune_block(spec)["layers"];
  write_report(o.report, json{{"command", "inspect"},
                              {"model", o.model},
                              {"family", family.name()},
                              {"model_type", spec.model_type},
                              {"vocab_size", spec.vocab_size},
                              {"hidden_size", spec.hidden_size},
                              {"n_layers", spec.n_layers()},
                              {"uniform", is_uniform(spec)},
                              {"tie_word_embeddings", spec.tie_word_embeddings},
                              {"rope", {{"theta", spec.rope.theta}, {"scaling", spec.rope.scaling}}},
                              {"layers", layers},
                              {"parameters", params},
                              {"dtypes", dtypes},
                              {"bytes", store.total_bytes()},
                              {"tokenizer", tokenizer},
                              {"warnings", warnings},
                              {"inconsistencies", inconsistencies}});
  for (const auto& w : warnings) log_warn(w);
  // A checkpoint that would not load is an error for scripts too (exit 2).
  if (!inconsistencies.empty()) throw bad_input(inconsistencies.front());
}

}  // namespace

LLMPRUNE_COMMAND("", 20) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "describe a checkpoint: family, per-layer shapes, parameters, dtype, tokenizer");
  cmd->footer(
      "Validates the checkpoint as 'eval' and 'generate' would (tensor set and every shape\n"
      "against the config) and scans weights for NaN/Inf; prints the first inconsistency and\n"
      "exits 2 when the checkpoint would not load.\n\n"
      "Given a .gguf file instead of a folder, prints its metadata and tensor types.\n\n"
      "Example:\n  llmprune inspect --model ../shared/assets/models/stories260K-hf "
      "--report inspect.json");
  add_model_option(cmd, o->model);
  cmd->add_flag("--no-scan", o->no_scan, "skip the NaN/Inf scan of the weights (reads every byte)");
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_inspect(*o); });
}

}  // namespace llmprune::cli
