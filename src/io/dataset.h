// Evaluation text for perplexity (DESIGN.md "Perplexity protocol"): the named datasets
// (wikitext2, ptb, c4) from the shared data folder, or any .txt/.jsonl/.json file, as the
// single string that is tokenized once.
#pragma once

#include <string>
#include <vector>

namespace llmprune {

// Names accepted by load_eval_text besides file paths.
const std::vector<std::string>& eval_dataset_names();

// The evaluation text of `dataset`:
//   wikitext2  <data_dir>/wikitext2/wikitext2_test_hfjoin.txt as-is ("\n\n".join(rows))
//   ptb        <data_dir>/ptb/ptb.test.txt: each line stripped, joined with " "
//   c4         <data_dir>/c4/redpajama_sample_c4-rp1.jsonl: "text" fields joined with "\n\n"
//   a path     .txt as-is; .jsonl "text" per line; .json list of {"text"} or of strings;
//              the texts joined with "\n\n"
// `description` (optional) receives a one-line account of what was read, for reports.
// Throws bad_input for an unknown name, a missing file (naming it and --data-dir), empty
// text, or a malformed line (file:line).
std::string load_eval_text(const std::string& dataset, const std::string& data_dir,
                           std::string* description = nullptr);

// Where the shared data lives: $LLMPRUNE_DATA_DIR, else <exe dir>/../../shared/assets/data,
// else ./../shared/assets/data, whichever exists first; "" when none does.
std::string default_data_dir();

// Python's str.strip() with no argument on UTF-8 text: removes leading/trailing whitespace
// (ASCII \t\n\v\f\r, \x1c-\x1f, space, and the Unicode White_Space code points).
std::string python_strip(const std::string& s);

}  // namespace llmprune
