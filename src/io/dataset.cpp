// Evaluation texts (see dataset.h). Each named dataset reproduces the string the pruning
// papers tokenize (GPTQ / Wanda / LLM-Pruner / SliceGPT evaluation code).
#include "io/dataset.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace fs = std::filesystem;

const std::vector<std::string>& eval_dataset_names() {
  static const std::vector<std::string> names = {"wikitext2", "ptb", "c4"};
  return names;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Length of the Python-whitespace code point at s[i] (0 when it is not whitespace).
size_t space_len(const std::string& s, size_t i) {
  auto u = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = u(i);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c == 0xc2 && i + 1 < s.size() && (u(i + 1) == 0x85 || u(i + 1) == 0xa0)) return 2;
  if (i + 2 >= s.size()) return 0;
  unsigned char c1 = u(i + 1), c2 = u(i + 2);
  if (c == 0xe1 && c1 == 0x9a && c2 == 0x80) return 3;                // U+1680
  if (c == 0xe2 && c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf))
    return 3;                                                         // U+2000-200A, 2028/9, 202F
  if (c == 0xe2 && c1 == 0x81 && c2 == 0x9f) return 3;                // U+205F
  if (c == 0xe3 && c1 == 0x80 && c2 == 0x80) return 3;                // U+3000
  return 0;
}

// Lines as Python's text-mode file iteration gives them (universal newlines: \n, \r\n
// and \r end a line; a final line without a newline still counts), terminators removed.
std::vector<std::string> python_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(start, i - start));
      i += (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::vector<std::string> read_jsonl_texts(const std::string& path) {
  std::vector<std::string> texts;
  std::vector<std::string> lines = python_lines(read_file(path));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (python_strip(lines[i]).empty()) continue;  // blank lines carry no document
    const std::string where = "[dataset] " + path + ":" + std::to_string(i + 1) + ": ";
    json j = parse_json(lines[i], where + "line is not valid JSON: ");
    LLMPRUNE_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), where,
                   "expected a JSON object with a string \"text\" field");
    texts.push_back(j["text"].get<std::string>());
  }
  return texts;
}

std::vector<std::string> read_json_texts(const std::string& path) {
  json j = read_json_file(path);
  LLMPRUNE_CHECK(j.is_array(), "[dataset] ", path,
                 ": expected a JSON list of {\"text\": ...} objects or of strings");
  std::vector<std::string> texts;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& v = j[i];
    if (v.is_string()) {
      texts.push_back(v.get<std::string>());
      continue;
    }
    LLMPRUNE_CHECK(v.is_object() && v.contains("text") && v["text"].is_string(), "[dataset] ",
                   path, ": item ", i, " is neither a string nor an object with a string \"text\"");
    texts.push_back(v["text"].get<std::string>());
  }
  return texts;
}

std::string named_file(const std::string& dataset, const std::string& data_dir,
                       const std::string& rel) {
  LLMPRUNE_CHECK(!data_dir.empty(), "[dataset] ", dataset, ": no data folder found for ", rel,
                 " (pass --data-dir DIR or set LLMPRUNE_DATA_DIR)");
  std::string path = join_path(data_dir, rel);
  LLMPRUNE_CHECK(path_exists(path), "[dataset] ", dataset, ": ", path,
                 " does not exist (check --data-dir: it must hold ", rel, ")");
  return path;
}

}  // namespace

std::string python_strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t n = space_len(s, b);
    if (!n) break;
    b += n;
  }
  // Trailing: step back over whole code points (whitespace is 1-3 bytes).
  while (e > b) {
    size_t n = 0;
    for (size_t k = 1; k <= 3 && k <= e - b; ++k)
      if (space_len(s, e - k) == k) {
        n = k;
        break;
      }
    if (!n) break;
    e -= n;
  }
  return s.substr(b, e - b);
}

std::string load_eval_text(const std::string& dataset, const std::string& data_dir,
                           std::string* description) {
  std::string text, desc;
  if (dataset == "wikitext2") {
    std::string path = named_file(dataset, data_dir, "wikitext2/wikitext2_test_hfjoin.txt");
    text = read_file(path);
    desc = "wikitext2: WikiText-2 raw test split, \"\\n\\n\".join(rows) (" + path + ")";
  } else if (dataset == "ptb") {
    // HF ptb_text_only yields one row per line of ptb.test.txt, each line.strip()ed;
    // GPTQ-style evaluation then tokenizes " ".join(rows).
    std::string path = named_file(dataset, data_dir, "ptb/ptb.test.txt");
    std::vector<std::string> lines = python_lines(read_file(path));
    for (auto& l : lines) l = python_strip(l);
    text = join(lines, " ");
    desc = "ptb: Penn Treebank test split, " + std::to_string(lines.size()) +
           " lines stripped and joined with \" \" (" + path + ")";
  } else if (dataset == "c4") {
    std::string path = named_file(dataset, data_dir, "c4/redpajama_sample_c4-rp1.jsonl");
    std::vector<std::string> docs = read_jsonl_texts(path);
    text = join(docs, "\n\n");
    desc = "c4: C4 samples (" + std::to_string(docs.size()) +
           " documents of redpajama_sample_c4-rp1.jsonl), not the C4 validation set; "
           "\"text\" joined with \"\\n\\n\" (" + path + ")";
  } else if (path_exists(dataset) && !is_directory(dataset)) {
    if (ends_with(dataset, ".jsonl")) {
      std::vector<std::string> docs = read_jsonl_texts(dataset);
      text = join(docs, "\n\n");
      desc = dataset + ": " + std::to_string(docs.size()) +
             " JSONL \"text\" fields joined with \"\\n\\n\"";
    } else if (ends_with(dataset, ".json")) {
      std::vector<std::string> docs = read_json_texts(dataset);
      text = join(docs, "\n\n");
      desc = dataset + ": " + std::to_string(docs.size()) + " JSON texts joined with \"\\n\\n\"";
    } else {
      text = read_file(dataset);
      desc = dataset + ": text file as-is";
    }
  } else {
    throw bad_input("[dataset] unknown dataset \"", dataset, "\": not one of ",
                    join(eval_dataset_names(), ", "), " and not an existing file");
  }
  LLMPRUNE_CHECK(!text.empty(), "[dataset] ", dataset, ": the evaluation text is empty");
  desc += ", " + std::to_string(text.size()) + " bytes";
  if (description) *description = desc;
  return text;
}

std::string default_data_dir() {
  if (const char* env = std::getenv("LLMPRUNE_DATA_DIR"); env && *env) return env;
  std::error_code ec;
  std::vector<fs::path> candidates;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / ".." / ".." / "shared" / "assets" / "data");
  candidates.push_back(fs::current_path(ec) / ".." / "shared" / "assets" / "data");
  for (const fs::path& p : candidates)
    if (fs::is_directory(p, ec)) return fs::canonical(p, ec).string();
  return "";
}

}  // namespace llmprune
