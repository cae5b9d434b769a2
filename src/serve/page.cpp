// The page served at "/": one static HTML file with inline CSS and JS (no external assets).
// It posts to /v1/completions with "stream": true, reads the server-sent events as they
// arrive and shows the text, the stage that answered and the entropy that chose it.
// "/?prompt=TEXT&autorun=1" submits TEXT on load (headless browser tests); the answer box
// gets data-state="done" when the stream ends.
#include "serve/http_server.h"

namespace llmprune {

const std::string& index_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llmprune serve</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
         color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.3rem; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; }
  .row { display: flex; gap: .8rem; align-items: center; margin: .6rem 0; flex-wrap: wrap; }
  input[type=number] { width: 5rem; }
  button { font: inherit; padding: .35rem 1.1rem; }
  #output { white-space: pre-wrap; background: #fff; border: 1px solid #ccd; border-radius: 4px;
            min-height: 6rem; padding: .7rem; }
  #prompt-echo { color: #667; }
  .badge { display: inline-block; padding: .1rem .5rem; border-radius: 3px; background: #e3e8f2; }
  #status { color: #667; }
</style>
</head>
<body>
<h1>llmprune serve</h1>
<form id="form">
  <textarea id="prompt" rows="4" placeholder="Type a prompt"></textarea>
  <div class="row">
    <label>max tokens <input id="max_tokens" type="number" min="1" value="64"></label>
    <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0"></label>
    <button id="go" type="submit">Generate</button>
    <span id="status"></span>
  </div>
</form>
<div class="row">stage <span class="badge" id="stage">-</span>
  entropy <span class="badge" id="entropy">-</span> nats
  <span class="badge" id="tokens">-</span></div>
<div id="output" data-state="idle"><span id="prompt-echo"></span><span id="answer"></span></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
async function run() {
  const prompt = $("prompt").value;
  if (!prompt) return;
  $("go").disabled = true;
  $("output").dataset.state = "running";
  $("status").textContent = "generating...";
  $("prompt-echo").textContent = prompt;
  $("answer").textContent = "";
  $("stage").textContent = "-"; $("entropy").textContent = "-"; $("tokens").textContent = "-";
  try {
    const res = await fetch("/v1/completions", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({prompt: prompt, stream: true,
                            max_tokens: parseInt($("max_tokens").value, 10) || 64,
                            temperature: parseFloat($("temperature").value) || 0})});
    if (!res.ok) {
      const err = await res.json();
      throw new Error(err.error ? err.error.message : res.statusText);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut); buf = buf.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        if (j.llmprune) {
          $("stage").textContent = j.llmprune.stage;
          $("entropy").textContent = j.llmprune.entropy.toFixed(3);
        }
        if (j.usage) $("tokens").textContent = j.usage.completion_tokens + " tokens";
        if (j.choices && j.choices[0].text) $("answer").textContent += j.choices[0].text;
      }
    }
    $("status").textContent = "done";
    $("output").dataset.state = "done";
  } catch (e) {
    $("status").textContent = "error: " + e.message;
    $("output").dataset.state = "error";
  } finally {
    $("go").disabled = false;
  }
}
$("form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
const params = new URLSearchParams(location.search);
if (params.has("prompt")) $("prompt").value = params.get("prompt");
if (params.has("max_tokens")) $("max_tokens").value = params.get("max_tokens");
if (params.get("autorun") === "1") run();
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace llmprune
