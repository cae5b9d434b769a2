// Post-processor parsing (see post_processor.h). Only single sequences are encoded here, so
// each processor reduces to ids added before and after the text's ids.
#include "tokenizer/post_processor.h"

#include "tokenizer/components.h"
#include "util/error.h"

namespace llmprune::tok {

namespace {
void append(SingleTemplate& into, const SingleTemplate& t) {
  // Sequence: the second processor wraps what the first produced.
  into.prefix.insert(into.prefix.begin(), t.prefix.begin(), t.prefix.end());
  into.suffix.insert(into.suffix.end(), t.suffix.begin(), t.suffix.end());
}
TokenId token_id(const json& v, const std::string& what, const std::string& where) {
  return static_cast<TokenId>(json_int(v, "[tokenizer] " + where + ": " + what, 0, kMaxTokenId));
}
TokenId pair_id(const json& pair, const char* name, const std::string& where) {
  if (!pair.is_array() || pair.size() != 2)
    throw bad_input("[tokenizer] post_processor '", name, "' is not [token, id] in ", where);
  return token_id(pair[1], std::string("post_processor ") + name + " id", where);
}

SingleTemplate make_one(const json& j, const std::string& type, const std::string& where);
}  // namespace

SingleTemplate make_post_processor(const json& j, const std::string& where) {
  SingleTemplate out;
  if (j.is_null()) return out;
  const std::string what = "post_processor";
  std::string type = type_of(j, what, where);
  if (type != "Sequence") return make_one(j, type, where);
  for (const json* sub : flatten_sequence(j, "processors", what, where))
    append(out, make_one(*sub, type_of(*sub, what, where), where));
  return out;
}

namespace {
// One processor that is not a Sequence.
SingleTemplate make_one(const json& j, const std::string& type, const std::string& where) {
  SingleTemplate out;
  const std::string what = "post_processor";
  try {
    if (type == "ByteLevel") return out;
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      out.prefix.push_back(pair_id(require_field(j, "cls", what, where), "cls", where));
      out.suffix.push_back(pair_id(require_field(j, "sep", what, where), "sep", where));
      return out;
    }
    if (type == "TemplateProcessing") {
      const json& specials = require_field(j, "special_tokens", what, where);
      bool seen_sequence = false;
      for (const auto& item : require_field(j, "single", what, where)) {
        if (item.contains("Sequence")) {
          if (seen_sequence)
            throw bad_input("[tokenizer] TemplateProcessing single template has two sequences in ", where);
          seen_sequence = true;
        } else if (item.contains("SpecialToken")) {
          std::string name = item["SpecialToken"].at("id").get<std::string>();
          if (!specials.contains(name))
            throw bad_input("[tokenizer] TemplateProcessing uses special token '", name,
                            "' that its special_tokens map does not define in ", where);
          const json& ids = specials[name].at("ids");
          if (!ids.is_array())
            throw bad_input("[tokenizer] TemplateProcessing special token '", name,
                            "' ids is not a list in ", where);
          auto& dst = seen_sequence ? out.suffix : out.prefix;
          for (const json& id : ids)
            dst.push_back(token_id(id, "TemplateProcessing special token '" + name + "' id", where));
        } else {
          throw bad_input("[tokenizer] TemplateProcessing item ", json_excerpt(item), " is neither Sequence nor SpecialToken in ", where);
        }
      }
      return out;
    }
  } catch (const json::exception& e) {
    throw bad_input("[tokenizer] malformed ", type, " post_processor in ", where, ": ", e.what());
  }
  throw bad_input("[tokenizer] unsupported post_processor type '", type, "' in ", where);
}
}  // namespace

}  // namespace llmprune::tok
