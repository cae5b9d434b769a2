// PrunePlan JSON round trip and validation (see prune_plan.h).
#include "plan/prune_plan.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "util/error.h"

namespace llmprune {

const char* unit_kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::kLayer:
      return "layer";
    case UnitKind::kAttn:
      return "attn";
    case UnitKind::kMlp:
      return "mlp";
  }
  return "?";
}

DepthState DepthState::of(const ModelSpec& spec) {
  DepthState s;
  for (const auto& L : spec.layers) {
    s.attn.push_back(L.attn.has_value());
    s.mlp.push_back(L.mlp.has_value());
  }
  return s;
}

void DepthState::remove(UnitKind kind, int64_t layer) {
  const size_t l = static_cast<size_t>(layer);
  if (kind != UnitKind::kMlp) attn[l] = false;
  if (kind != UnitKind::kAttn) mlp[l] = false;
}

namespace {
// JSON has no NaN: a missing score is written as null.
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
}  // namespace

json PrunePlan::to_json() const {
  json us = json::array();
  for (const auto& u : units)
    us.push_back({{"kind", unit_kind_name(u.kind)},
                  {"layer", u.layer},
                  {"score", num(u.score)},
                  {"priority", num(u.priority)},
                  {"bundle", u.bundle},
                  {"why", u.why}});
  json j{{"format", "llmprune-plan"}, {"version", kVersion}, {"kind", kind},
         {"method", method},          {"family", family},    {"source_layers", source_layers},
         {"params", params},          {"units", us}};
  if (kind == "width") {
    std::set<int64_t> layers;
    for (const auto* m : {&width.kv_groups, &width.q_heads, &width.channels})
      for (const auto& [l, idx] : *m) layers.insert(l);
    json ls = json::array();
    for (int64_t l : layers) {
      json e{{"layer", l}};
      auto put = [&](const char* key, const std::map<int64_t, std::vector<int64_t>>& m) {
        auto it = m.find(l);
        if (it != m.end() && !it->second.empty()) e[key] = it->second;
      };
      put("kv_groups", width.kv_groups);
      put("q_heads", width.q_heads);
      put("channels", width.channels);
      ls.push_back(e);
    }
    j["width"] = ls;
    if (!width.hidden.empty()) j["hidden"] = width.hidden;
  }
  return j;
}

PrunePlan PrunePlan::from_json(const json& j, const std::string& where) {
  auto fail = [&](const std::string& what) { return bad_input("[plan] ", where, ": ", what); };
  if (!j.is_object() || j.value("format", "") != "llmprune-plan")
    throw fail("not an llmprune plan (expected \"format\": \"llmprune-plan\")");
  if (!j.contains("version") || !j.at("version").is_number_integer() ||
      j.at("version").get<int>() != kVersion)
    throw fail("unsupported plan version " +
               (j.contains("version") ? j.at("version").dump() : "(none)") +
               " (this llmprune reads version " + std::to_string(kVersion) + ")");
  PrunePlan p;
  auto str = [&](const json& o, const char* key, bool required) -> std::string {
    if (!o.contains(key) || o.at(key).is_null()) {
      if (required) throw fail(std::string("missing \"") + key + "\"");
      return "";
    }
    if (!o.at(key).is_string()) throw fail(std::string("\"") + key + "\" must be a string");
    return o.at(key).get<std::string>();
  };
  auto integer = [&](const json& o, const char* key) -> int64_t {
    if (!o.contains(key) || !o.at(key).is_number_integer())
      throw fail(std::string("\"") + key + "\" must be an integer" +
                 (o.contains(key) ? ", got " + o.at(key).dump() : " (missing)"));
    return o.at(key).get<int64_t>();
  };
  auto real = [&](const json& o, const char* key) -> double {
    if (!o.contains(key) || o.at(key).is_null()) return NAN;
    if (!o.at(key).is_number()) throw fail(std::string("\"") + key + "\" must be a number or null");
    return o.at(key).get<double>();
  };
  p.kind = str(j, "kind", true);
  if (p.kind != "depth" && p.kind != "width")
    throw fail("plan kind \"" + p.kind + "\" is not depth or width");
  p.method = str(j, "method", true);
  p.family = str(j, "family", false);
  p.source_layers = integer(j, "source_layers");
  if (j.contains("params")) p.params = j.at("params");
  if (!j.contains("units") || !j.at("units").is_array()) throw fail("\"units\" must be a list");
  size_t i = 0;
  for (const json& u : j.at("units")) {
    const std::string at = "units[" + std::to_string(i++) + "]";
    if (!u.is_object()) throw fail(at + " must be an object");
    PruneUnit unit;
    const std::string kind = str(u, "kind", true);
    if (kind == "layer")
      unit.kind = UnitKind::kLayer;
    else if (kind == "attn")
      unit.kind = UnitKind::kAttn;
    else if (kind == "mlp")
      unit.kind = UnitKind::kMlp;
    else
      throw fail(at + ".kind \"" + kind + "\" is not one of layer, attn, mlp");
    unit.layer = integer(u, "layer");
    unit.score = real(u, "score");
    unit.priority = real(u, "priority");
    unit.bundle = str(u, "bundle", false);
    if (unit.bundle.empty()) unit.bundle = "B";
    if (unit.bundle != "B" && unit.bundle != "C")
      throw fail(at + ".bundle must be \"B\" or \"C\", got \"" + unit.bundle + "\"");
    unit.why = str(u, "why", false);
    p.units.push_back(unit);
  }
  if (p.kind == "width") {
    if (!j.contains("width") || !j.at("width").is_array())
      throw fail("a width plan needs \"width\": a list of per-layer cuts");
    i = 0;
    for (const json& e : j.at("width")) {
      const std::string at = "width[" + std::to_string(i++) + "]";
      if (!e.is_object()) throw fail(at + " must be an object");
      const int64_t l = integer(e, "layer");
      auto list = [&](const char* key, std::map<int64_t, std::vector<int64_t>>& m) {
        if (!e.contains(key)) return;
        const json& a = e.at(key);
        if (!a.is_array()) throw fail(at + "." + key + " must be a list of integers");
        std::vector<int64_t> idx;
        for (const json& v : a) {
          if (!v.is_number_integer())
            throw fail(at + "." + key + " must be a list of integers, got " + json_excerpt(v));
          idx.push_back(v.get<int64_t>());
        }
        std::sort(idx.begin(), idx.end());
        if (std::adjacent_find(idx.begin(), idx.end()) != idx.end())
          throw fail(at + "." + key + " lists index " +
                     std::to_string(*std::adjacent_find(idx.begin(), idx.end())) + " twice");
        if (m.count(l)) throw fail(at + ": layer " + std::to_string(l) + " is listed twice");
        if (!idx.empty()) m[l] = idx;
      };
      list("kv_groups", p.width.kv_groups);
      list("q_heads", p.width.q_heads);
      list("channels", p.width.channels);
    }
    if (j.contains("hidden")) {
      const json& a = j.at("hidden");
      if (!a.is_array()) throw fail("\"hidden\" must be a list of integers");
      for (const json& v : a) {
        if (!v.is_number_integer())
          throw fail("\"hidden\" must be a list of integers, got " + json_excerpt(v));
        p.width.hidden.push_back(v.get<int64_t>());
      }
      std::sort(p.width.hidden.begin(), p.width.hidden.end());
      if (std::adjacent_find(p.width.hidden.begin(), p.width.hidden.end()) != p.width.hidden.end())
        throw fail("\"hidden\" lists a channel twice");
    }
  }
  return p;
}

void PrunePlan::validate_width(const ModelSpec& spec, const DepthState& left,
                               const std::string& where) const {
  auto fail = [&](int64_t l, const std::string& what) {
    return bad_input("[plan] ", where, ": layer ", l, ": ", what);
  };
  auto check = [&](const std::map<int64_t, std::vector<int64_t>>& m, const char* what,
                   bool attn) {
    for (const auto& [l, idx] : m) {
      if (l < 0 || l >= spec.n_layers())
        throw bad_input("[plan] ", where, ": width cut of layer ", l, " is outside layers 0..",
                        spec.n_layers() - 1);
      const LayerSpec& L = spec.layers[static_cast<size_t>(l)];
      const bool kept = attn ? left.attn[static_cast<size_t>(l)] : left.mlp[static_cast<size_t>(l)];
      if (!kept) throw fail(l, std::string(what) + " cut from a sub-block the model no longer has");
      const int64_t n = !attn                     ? L.mlp->intermediate_size
                        : std::string(what) == "KV groups" ? L.attn->n_kv_heads
                                                           : L.attn->n_heads;
      if (idx.front() < 0 || idx.back() >= n)
        throw fail(l, std::string(what) + " index " +
                          std::to_string(idx.front() < 0 ? idx.front() : idx.back()) +
                          " outside 0.." + std::to_string(n - 1));
    }
  };
  check(width.kv_groups, "KV groups", true);
  check(width.q_heads, "query heads", true);
  check(width.channels, "MLP channels", false);
  if (!width.hidden.empty() && (width.hidden.front() < 0 ||
                                width.hidden.back() >= spec.hidden_size ||
                                static_cast<int64_t>(width.hidden.size()) >= spec.hidden_size))
    throw bad_input("[plan] ", where, ": hidden channels must be indices in 0..",
                    spec.hidden_size - 1, " and leave at least one");
  for (const auto& [l, idx] : width.channels)
    if (static_cast<int64_t>(idx.size()) == spec.layers[static_cast<size_t>(l)].mlp->intermediate_size)
      throw fail(l, "every MLP channel is cut: list the MLP as a unit (an MLP drop) instead");
  std::set<int64_t> attn_layers;
  for (const auto& [l, idx] : width.kv_groups) attn_layers.insert(l);
  for (const auto& [l, idx] : width.q_heads) attn_layers.insert(l);
  for (int64_t l : attn_layers) {
    const AttentionSpec& a = *spec.layers[static_cast<size_t>(l)].attn;
    const int64_t g = a.n_heads / a.n_kv_heads;
    std::set<int64_t> gone_kv, gone_q;
    if (width.kv_groups.count(l)) gone_kv.insert(width.kv_groups.at(l).begin(), width.kv_groups.at(l).end());
    if (width.q_heads.count(l)) gone_q.insert(width.q_heads.at(l).begin(), width.q_heads.at(l).end());
    if (static_cast<int64_t>(gone_kv.size()) == a.n_kv_heads)
      throw fail(l, "every KV group is cut: list the attention as a unit (an attention drop) "
                    "instead");
    int64_t per_group = -1;
    for (int64_t kv = 0; kv < a.n_kv_heads; ++kv) {
      if (gone_kv.count(kv)) continue;
      int64_t keep = 0;
      for (int64_t h = kv * g; h < (kv + 1) * g; ++h) keep += gone_q.count(h) ? 0 : 1;
      if (keep == 0)
        throw fail(l, "KV group " + std::to_string(kv) + " loses all its query heads");
      if (per_group >= 0 && keep != per_group)
        throw fail(l, "kept KV groups would keep different numbers of query heads (" +
                          std::to_string(per_group) + " and " + std::to_string(keep) +
                          "): a GQA layer needs the same number in every group");
      per_group = keep;
    }
  }
}

void PrunePlan::validate(const ModelSpec& spec, const std::string& where) const {
  if (source_layers != spec.n_layers())
    throw bad_input("[plan] ", where, ": made for a model with ", source_layers,
                    " layers, this model has ", spec.n_layers());
  if (!family.empty() && family != spec.family)
    throw bad_input("[plan] ", where, ": made for a ", family, " model, this model is ",
                    spec.family);
  DepthState s = DepthState::of(spec);
  for (const auto& u : units) {
    if (u.layer < 0 || u.layer >= spec.n_layers())
      throw bad_input("[plan] ", where, ": unit ", unit_kind_name(u.kind), " of layer ", u.layer,
                      " is outside layers 0..", spec.n_layers() - 1);
    const size_t l = static_cast<size_t>(u.layer);
    const bool has = u.kind == UnitKind::kLayer  ? s.has_layer(u.layer)
                     : u.kind == UnitKind::kAttn ? s.attn[l]
                                                 : s.mlp[l];
    if (!has)
      throw bad_input("[plan] ", where, ": ", unit_kind_name(u.kind), " of layer ", u.layer,
                      " is not in the model (removed already, or listed twice)");
    s.remove(u.kind, u.layer);
  }
  if (kind == "width") validate_width(spec, s, where);
  bool any = false;
  for (int64_t l = 0; l < s.n_layers(); ++l) any = any || s.has_layer(l);
  if (!any && spec.n_layers() > 0)
    throw bad_input("[plan] ", where, ": removing ", units.size(),
                    " units leaves no layer with attention or MLP");
}

DepthState PrunePlan::result(const ModelSpec& spec) const {
  DepthState s = DepthState::of(spec);
  for (const auto& u : units) s.remove(u.kind, u.layer);
  return s;
}

}  // namespace llmprune
