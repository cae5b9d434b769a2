// Training data for healing (see data.h).
#include "train/data.h"

#include <sstream>
#include <tuple>

#include "io/dataset.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

struct Record {
  std::string instruction, input, output;
};

// An alpaca record; `where` names it in errors ("<file>: record 3" or "<file>:3").
Record alpaca_record(const json& r, const std::string& where) {
  LLMPRUNE_CHECK(r.is_object(), "[data] ", where, ": expected an object, got ", json_excerpt(r));
  Record rec;
  const std::tuple<const char*, std::string*, bool> fields[] = {
      {"instruction", &rec.instruction, true},
      {"input", &rec.input, false},
      {"output", &rec.output, true}};
  for (const auto& [key, dst, required] : fields) {
    if (!r.contains(key) || r.at(key).is_null()) {
      LLMPRUNE_CHECK(!required, "[data] ", where, ": missing field \"", key, "\"");
      continue;
    }
    LLMPRUNE_CHECK(r.at(key).is_string(), "[data] ", where, ": field \"", key,
                   "\" must be a string, got ", json_excerpt(r.at(key)));
    *dst = r.at(key).get<std::string>();
  }
  LLMPRUNE_CHECK(!rec.instruction.empty() || !rec.output.empty(), "[data] ", where,
                 ": empty instruction and output");
  return rec;
}

TrainData alpaca_windows(const std::vector<Record>& recs, const Tokenizer& tok,
                         const DataOptions& o) {
  const int64_t T = o.seq_len, n = static_cast<int64_t>(recs.size());
  TrainData d;
  d.format = "alpaca";
  d.records = n;
  const int64_t pad = tok.eos_id() ? *tok.eos_id() : 0;
  d.ids = torch::full({n, T}, pad, torch::kLong);
  d.mask = torch::zeros({n, T}, torch::kBool);
  auto ids = d.ids.accessor<int64_t, 2>();
  auto mask = d.mask.accessor<bool, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const Record& r = recs[static_cast<size_t>(i)];
    const std::string prompt = alpaca_prompt(r.instruction, r.input);
    std::vector<TokenId> p = tok.encode(prompt, true), full = tok.encode(prompt + r.output, true);
    if (tok.eos_id()) full.push_back(*tok.eos_id());
    const int64_t len = std::min<int64_t>(T, static_cast<int64_t>(full.size()));
    const int64_t first = o.train_on_inputs ? 1 : std::min<int64_t>(p.size(), len);
    for (int64_t t = 0; t < len; ++t) {
      ids[i][t] = full[static_cast<size_t>(t)];
      mask[i][t] = t >= std::max<int64_t>(first, 1);
    }
  }
  return d;
}

TrainData text_windows(const std::string& text, const Tokenizer& tok, const DataOptions& o,
                       const std::string& path) {
  std::vector<TokenId> t = tok.encode(text, true);
  const int64_t T = o.seq_len, n = static_cast<int64_t>(t.size()) / T;
  LLMPRUNE_CHECK(n >= 1, "[data] ", path, ": ", t.size(), " tokens, fewer than one --seq-len ", T,
                 " window");
  TrainData d;
  d.format = "text";
  d.records = static_cast<int64_t>(t.size());
  d.ids = torch::empty({n, T}, torch::kLong);
  auto a = d.ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < T; ++j) a[i][j] = t[static_cast<size_t>(i * T + j)];
  d.mask = torch::ones({n, T}, torch::kBool);
  d.mask.narrow(1, 0, 1).fill_(false);
  return d;
}

}  // namespace

std::string alpaca_prompt(const std::string& instruction, const std::string& input) {
  if (input.empty())
    return "Below is an instruction that describes a task. Write a response that appropriately "
           "completes the request.\n\n### Instruction:\n" +
           instruction + "\n\n### Response:\n";
  return "Below is an instruction that describes a task, paired with an input that provides "
         "further context. Write a response that appropriately completes the request.\n\n"
         "### Instruction:\n" +
         instruction + "\n\n### Input:\n" + input + "\n\n### Response:\n";
}

TrainData load_train_data(const std::string& path, const Tokenizer& tok, const DataOptions& o) {
  LLMPRUNE_CHECK(o.seq_len >= 2, "[data] --seq-len must be at least 2, got ", o.seq_len);
  LLMPRUNE_CHECK(path_exists(path), "[data] cannot read ", path, ": no such file");
  std::vector<Record> recs;
  if (ends_with(path, ".json")) {
    const json j = read_json_file(path);
    LLMPRUNE_CHECK(j.is_array(), "[data] ", path, ": expected a JSON list of records");
    LLMPRUNE_CHECK(!j.empty(), "[data] ", path, ": no records");
    if (j[0].is_object() && j[0].contains("instruction"))
      for (size_t i = 0; i < j.size(); ++i)
        recs.push_back(alpaca_record(j[i], path + ": record " + std::to_string(i)));
  } else if (ends_with(path, ".jsonl")) {
    std::istringstream in(read_file(path));
    std::string line;
    bool alpaca = false, first = true;
    for (int64_t ln = 1; std::getline(in, line); ++ln) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path + ":" + std::to_string(ln);
      json r = parse_json(line, "[data] malformed JSON at " + where + ": ");
      if (first) alpaca = r.is_object() && r.contains("instruction");
      first = false;
      if (!alpaca) break;
      recs.push_back(alpaca_record(r, where));
    }
    LLMPRUNE_CHECK(!first, "[data] ", path, ": no records");
  }
  if (!recs.empty()) return alpaca_windows(recs, tok, o);
  return text_windows(load_eval_text(path, ""), tok, o, path);
}

TrainData slice(const TrainData& d, int64_t begin, int64_t end) {
  TrainData s = d;
  s.ids = d.ids.narrow(0, begin, end - begin);
  s.mask = d.mask.narrow(0, begin, end - begin);
  return s;
}

}  // namespace llmprune
