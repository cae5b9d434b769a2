// Shared tensor-table and prune-group construction for every family: both follow from the
// family's TensorNaming and the per-layer spec, so a family only declares names.
#include "arch/family.h"

#include "util/checked.h"
#include "util/error.h"

namespace llmprune {

std::string TensorNaming::layer_prefix(int64_t layer) const {
  return model + "." + layers + "." + std::to_string(layer) + ".";
}

const char* role_name(TensorRole role) {
  switch (role) {
    case TensorRole::kEmbed: return "embed";
    case TensorRole::kFinalNorm: return "final_norm";
    case TensorRole::kLmHead: return "lm_head";
    case TensorRole::kAttnNorm: return "attn_norm";
    case TensorRole::kMlpNorm: return "mlp_norm";
    case TensorRole::kQ: return "q";
    case TensorRole::kK: return "k";
    case TensorRole::kV: return "v";
    case TensorRole::kQkv: return "qkv";
    case TensorRole::kO: return "o";
    case TensorRole::kGate: return "gate";
    case TensorRole::kUp: return "up";
    case TensorRole::kGateUp: return "gate_up";
    case TensorRole::kDown: return "down";
    case TensorRole::kPositions: return "positions";
    case TensorRole::kProjIn: return "project_in";
    case TensorRole::kProjOut: return "project_out";
  }
  return "?";
}

bool is_attention_role(TensorRole r) {
  return r == TensorRole::kQ || r == TensorRole::kK || r == TensorRole::kV ||
         r == TensorRole::kQkv || r == TensorRole::kO;
}

bool is_mlp_role(TensorRole r) {
  return r == TensorRole::kGate || r == TensorRole::kUp || r == TensorRole::kGateUp ||
         r == TensorRole::kDown;
}

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// Adds "<prefix><module>.weight" (+ ".bias" when `bias`).
void add_linear(std::vector<TensorInfo>& out, const TensorNaming& n, const std::string& module,
                TensorRole role, int64_t layer, int64_t rows, int64_t cols, bool bias,
                const std::string& why) {
  out.push_back({module + "." + n.weight, {rows, cols}, role, layer, false, why});
  if (bias) out.push_back({module + "." + n.bias, {rows}, role, layer, true, why});
}

}  // namespace

std::vector<TensorInfo> Family::tensors(const ModelSpec& spec) const {
  const TensorNaming& n = naming();
  const int64_t h = spec.hidden_size, e = spec.token_dim();
  const std::string root = n.model + ".";
  const std::string edim = spec.embed_dim > 0 ? "word_embed_proj_dim" : "hidden_size";
  std::vector<TensorInfo> out;
  // Norm weight (+ bias for LayerNorm); nothing when the norms carry no parameters.
  auto add_norm = [&](const std::string& module, TensorRole role, int64_t layer) {
    if (!spec.norm_affine) return;
    out.push_back({module + "." + n.weight, {h}, role, layer, false, "hidden_size"});
    if (spec.norm == NormKind::kLayer)
      out.push_back({module + "." + n.bias, {h}, role, layer, true, "hidden_size"});
  };
  out.push_back({root + n.embed + "." + n.weight, {spec.vocab_size, e}, TensorRole::kEmbed, -1,
                 false, "vocab_size x " + edim});
  if (spec.positions == PositionKind::kLearned)
    out.push_back({root + n.positions + "." + n.weight,
                   {checked_add(spec.max_position_embeddings, spec.position_offset,
                                "[model] position table rows"),
                    h},
                   TensorRole::kPositions, -1, false,
                   "(max_position_embeddings + offset " + s(spec.position_offset) +
                       ") x hidden_size"});
  if (spec.embed_dim > 0) {
    out.push_back({root + n.project_in + "." + n.weight, {h, e}, TensorRole::kProjIn, -1, false,
                   "hidden_size x word_embed_proj_dim"});
    out.push_back({root + n.project_out + "." + n.weight, {e, h}, TensorRole::kProjOut, -1,
                   false, "word_embed_proj_dim x hidden_size"});
  }
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    const LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    const std::string p = n.layer_prefix(l);
    if (L.attn) {
      const AttentionSpec& a = *L.attn;
      const std::string lw = "[model] layer " + s(l);
      const int64_t q_rows = checked_mul(a.n_heads, a.head_dim, lw + " attention rows");
      const int64_t kv_rows = checked_mul(a.n_kv_heads, a.head_dim, lw + " key/value rows");
      const std::string hq = "num_attention_heads " + s(a.n_heads) + " x head_dim " +
                             s(a.head_dim) + " = " + s(q_rows) + " rows";
      const std::string hkv = "num_key_value_heads " + s(a.n_kv_heads) + " x head_dim " +
                              s(a.head_dim) + " = " + s(kv_rows) + " rows";
      add_norm(p + n.attn_norm, TensorRole::kAttnNorm, l);
      const std::string ap = p + n.attn + ".";
      if (n.fused_qkv()) {
        add_linear(out, n, ap + n.qkv, TensorRole::kQkv, l,
                   checked_add(q_rows, checked_mul(2, kv_rows, lw + " qkv rows"), lw + " qkv rows"),
                   h, a.qkv_bias,
                   "(" + hq + ") + 2 x (" + hkv + ")");
      } else {
        add_linear(out, n, ap + n.q, TensorRole::kQ, l, q_rows, h, a.qkv_bias, hq);
        add_linear(out, n, ap + n.k, TensorRole::kK, l, kv_rows, h, a.qkv_bias, hkv);
        add_linear(out, n, ap + n.v, TensorRole::kV, l, kv_rows, h, a.qkv_bias, hkv);
      }
      add_linear(out, n, ap + n.o, TensorRole::kO, l, h, q_rows, a.o_bias,
                 "hidden_size rows, " + hq.substr(0, hq.size() - 5) + " columns");
    }
    if (L.mlp) {
      const MlpSpec& m = *L.mlp;
      const int64_t I = m.intermediate_size;
      const std::string hi = "intermediate_size " + s(I);
      add_norm(p + n.mlp_norm, TensorRole::kMlpNorm, l);
      const std::string mp = n.mlp.empty() ? p : p + n.mlp + ".";
      if (n.fused_gate_up()) {
        add_linear(out, n, mp + n.gate_up, TensorRole::kGateUp, l,
                   checked_mul(2, I, "[model] layer " + s(l) + " gate_up rows"), h, m.bias,
                   "2 x " + hi + " rows");
      } else {
        if (!n.gate.empty())
          add_linear(out, n, mp + n.gate, TensorRole::kGate, l, I, h, m.bias, hi + " rows");
        add_linear(out, n, mp + n.up, TensorRole::kUp, l, I, h, m.bias, hi + " rows");
      }
      add_linear(out, n, mp + n.down, TensorRole::kDown, l, h, I, m.bias, hi + " columns");
    }
  }
  if (spec.final_norm) add_norm(root + n.final_norm, TensorRole::kFinalNorm, -1);
  if (!spec.tie_word_embeddings)
    out.push_back({n.lm_head + "." + n.weight, {spec.vocab_size, e}, TensorRole::kLmHead, -1,
                   false, "vocab_size x " + edim});
  return out;
}

const char* group_kind_name(GroupKind k) {
  switch (k) {
    case GroupKind::kKvGroup: return "kv-group";
    case GroupKind::kQueryHead: return "q-head";
    case GroupKind::kMlpChannel: return "channel";
    case GroupKind::kHidden: return "hidden";
  }
  return "?";
}

std::vector<GroupSet> Family::group_sets(const ModelSpec& spec, int64_t layer) const {
  LLMPRUNE_ASSERT(layer >= 0 && layer < spec.n_layers(), "layer ", layer, " out of range");
  const TensorNaming& n = naming();
  const LayerSpec& L = spec.layers[static_cast<size_t>(layer)];
  const int64_t h = spec.hidden_size;
  const std::string p = n.layer_prefix(layer);
  auto w = [&](const std::string& m) { return m + "." + n.weight; };
  auto b = [&](const std::string& m) { return m + "." + n.bias; };
  std::vector<GroupSet> sets;
  if (L.attn) {
    const AttentionSpec& a = *L.attn;
    const int64_t hd = a.head_dim, q_len = a.n_heads / a.n_kv_heads * hd;
    const std::string ap = p + n.attn + ".";
    GroupSet kv{GroupKind::kKvGroup, layer, a.n_kv_heads, {}};
    GroupSet qh{GroupKind::kQueryHead, layer, a.n_heads, {}};
    // Row ranges of q, k and v (fused rows are [q heads | k heads | v heads]).
    const bool fused = n.fused_qkv();
    const std::string qn = fused ? ap + n.qkv : ap + n.q;
    const std::string kn = fused ? ap + n.qkv : ap + n.k;
    const std::string vn = fused ? ap + n.qkv : ap + n.v;
    const int64_t k_base = fused ? a.n_heads * hd : 0;
    const int64_t v_base = fused ? (a.n_heads + a.n_kv_heads) * hd : 0;
    for (bool bias : {false, true}) {
      if (bias && !a.qkv_bias) continue;
      auto nm = [&](const std::string& m) { return bias ? b(m) : w(m); };
      const int64_t span = bias ? 1 : h;
      kv.rules.push_back({nm(qn), 0, 0, q_len, span});
      kv.rules.push_back({nm(kn), 0, k_base, hd, span});
      kv.rules.push_back({nm(vn), 0, v_base, hd, span});
      qh.rules.push_back({nm(qn), 0, 0, hd, span});
    }
    kv.rules.push_back({w(ap + n.o), 1, 0, q_len, h});
    qh.rules.push_back({w(ap + n.o), 1, 0, hd, h});
    sets.push_back(std::move(kv));
    sets.push_back(std::move(qh));
  }
  if (L.mlp) {
    const MlpSpec& m = *L.mlp;
    const int64_t I = m.intermediate_size;
    const std::string mp = n.mlp.empty() ? p : p + n.mlp + ".";
    GroupSet ch{GroupKind::kMlpChannel, layer, I, {}};
    for (bool bias : {false, true}) {
      if (bias && !m.bias) continue;
      auto nm = [&](const std::string& x) { return bias ? b(x) : w(x); };
      const int64_t span = bias ? 1 : h;
      if (n.fused_gate_up()) {
        // Fused rows are [gate | up] (transformers' Phi3MLP chunks gate first).
        ch.rules.push_back({nm(mp + n.gate_up), 0, 0, 1, span});
        ch.rules.push_back({nm(mp + n.gate_up), 0, I, 1, span});
      } else {
        if (n.gated_mlp()) ch.rules.push_back({nm(mp + n.gate), 0, 0, 1, span});
        ch.rules.push_back({nm(mp + n.up), 0, 0, 1, span});
      }
    }
    ch.rules.push_back({w(mp + n.down), 1, 0, 1, h});
    sets.push_back(std::move(ch));
  }
  return sets;
}

GroupSet Family::hidden_set(const ModelSpec& spec) const {
  if (spec.norm != NormKind::kRms || spec.positions != PositionKind::kRope || spec.embed_dim > 0)
    throw bad_input("hidden-dimension pruning needs RMSNorm, RoPE and no embedding projections; ",
                    name(), " models have ",
                    spec.norm != NormKind::kRms ? "LayerNorm (its mean couples the channels)"
                                                : "learned positions or projections");
  GroupSet set{GroupKind::kHidden, -1, spec.hidden_size, {}};
  for (const TensorInfo& t : tensors(spec)) {
    const bool vec = t.shape.size() == 1;
    switch (t.role) {
      case TensorRole::kEmbed: case TensorRole::kLmHead:
        set.rules.push_back({t.name, 1, 0, 1, t.shape[0]});
        break;
      case TensorRole::kFinalNorm: case TensorRole::kAttnNorm: case TensorRole::kMlpNorm:
        set.rules.push_back({t.name, 0, 0, 1, 1});
        break;
      case TensorRole::kQ: case TensorRole::kK: case TensorRole::kV: case TensorRole::kQkv:
      case TensorRole::kGate: case TensorRole::kUp: case TensorRole::kGateUp:
        if (!vec) set.rules.push_back({t.name, 1, 0, 1, t.shape[0]});  // input columns
        break;
      case TensorRole::kO: case TensorRole::kDown:  // output rows (and their biases)
        set.rules.push_back({t.name, 0, 0, 1, vec ? 1 : t.shape[1]});
        break;
      default:
        break;
    }
  }
  return set;
}

}  // namespace llmprune
