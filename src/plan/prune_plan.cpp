// PrunePlan JSON round trip and validation (see prune_plan.h).
#include "plan/prune_plan.h"

#include <cmath>

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
  return json{{"format", "llmprune-plan"}, {"version", kVersion}, {"kind", kind},
              {"method", method},          {"family", family},    {"source_layers", source_layers},
              {"params", params},          {"units", us}};
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
  if (p.kind != "depth") throw fail("plan kind \"" + p.kind + "\" is not supported here (depth)");
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
  return p;
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
