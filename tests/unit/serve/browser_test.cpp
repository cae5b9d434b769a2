// The page at "/" in a real browser: headless Chromium loads "/?prompt=...&autorun=1", the page
// streams the answer from /v1/completions into the DOM, and the dumped DOM must hold the same
// text the API gives; a screenshot is saved under the build folder. Under CI=true Chromium is
// installed with apt-get when missing; elsewhere the test skips unless it is present.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "http_fixtures.h"

namespace llmprune {
namespace {

std::string find_chromium() {
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string cmd = std::string("command -v ") + c + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return c;
  }
  return "";
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else
      o += c;
  }
  return o;
}

TEST(Browser, PageStreamsTheAnswerInHeadlessChromium) {
  std::string chromium = find_chromium();
  if (chromium.empty() && test::running_in_ci()) {
    std::system(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        "chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        "chromium >/dev/null 2>&1)");
    chromium = find_chromium();
    ASSERT_FALSE(chromium.empty()) << "CI=true but chromium could not be installed";
  }
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium; CI installs it)";
  auto f = test::make_staged("browser", "angular", 2);
  RoutePolicy p;
  p.force_stage = 2;
  test::RunningServer s(f.a, f.bundles, p);
  // Printable prompt and answer (the byte-level toy model answers in arbitrary bytes, so the
  // expectation is whatever the API returns for the same request).
  auto c = s.client();
  auto r =
      c.Post("/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 24}}.dump(),
             "application/json");
  ASSERT_TRUE(r);
  const std::string want = json::parse(r->body).at("choices")[0].at("text").get<std::string>();
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port) +
                          "/?prompt=Once%20upon%20a%20time&max_tokens=24&autorun=1";
  const std::string shots = std::string(LLMPRUNE_BUILD_DIR) + "/test-artifacts";
  std::filesystem::create_directories(shots);
  const std::string shot = shots + "/serve_page.png";
  std::filesystem::remove(shot);
  auto flags_with = [&](int budget_ms) {
    return " --headless --no-sandbox --disable-gpu --no-first-run "
           "--disable-dev-shm-usage --user-data-dir=" +
           test::temp_dir("chromium") + " --virtual-time-budget=" + std::to_string(budget_ms) +
           " ";
  };
  // The virtual-time budget can run out before the stream ends when the machine is loaded
  // (the whole suite on 2 cores): up to two more tries with a longer budget.
  std::string dom, flags;
  for (int budget_ms : {15000, 45000, 120000}) {
    flags = flags_with(budget_ms);
    dom = run_capture(chromium + flags + "--dump-dom '" + url + "' 2>/dev/null");
    if (dom.find("data-state=\"done\"") != std::string::npos) break;
  }
  EXPECT_NE(dom.find("data-state=\"done\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("<span class=\"badge\" id=\"stage\">FULL</span>"), std::string::npos) << dom;
  // The DOM text of the answer span; the browser's serializer escapes &, <, > only.
  const std::string key = "<span id=\"answer\">";
  const size_t at = dom.find(key);
  ASSERT_NE(at, std::string::npos) << dom;
  EXPECT_EQ(dom.substr(at + key.size(), html_escape(want).size()), html_escape(want));
  run_capture(chromium + flags + "--window-size=900,600 --screenshot=" + shot + " '" + url +
              "' 2>/dev/null");
  EXPECT_TRUE(std::filesystem::exists(shot)) << shot;
  EXPECT_GT(std::filesystem::exists(shot) ? std::filesystem::file_size(shot) : 0u, 1000u);
}

}  // namespace
}  // namespace llmprune
