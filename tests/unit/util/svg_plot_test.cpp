// util/svg_plot: the SVG is well-formed XML with escaped text, draws exactly one shape per
// finite value, and its color scale, ticks and log axis follow the rules stated in svg_plot.h.
#include "util/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "util/error.h"

namespace llmprune {
namespace {

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// A minimal XML check, enough for what the plotter writes: the prolog, one <svg> root with
// the SVG namespace and size, tags that nest and close, quoted attributes, no raw '<' or
// '&' outside markup and entities. Returns "" when fine, else what is wrong.
std::string xml_problem(const std::string& s) {
  const std::string prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  if (s.compare(0, prolog.size(), prolog) != 0) return "missing XML prolog";
  std::vector<std::string> stack;
  bool saw_root = false;
  for (size_t i = prolog.size(); i < s.size();) {
    if (s[i] == '&') {
      static const std::regex kEntity("^&(amp|lt|gt|quot|apos|#[0-9]+);");
      if (!std::regex_search(s.substr(i, 8), kEntity)) return "bare & at " + std::to_string(i);
      ++i;
      continue;
    }
    if (s[i] == '>') return "bare > at " + std::to_string(i);
    if (s[i] != '<') {
      ++i;
      continue;
    }
    size_t end = s.find('>', i);
    if (end == std::string::npos) return "unclosed tag at " + std::to_string(i);
    std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside tag at " + std::to_string(i);
    if (count(tag, "\"") % 2 != 0) return "unbalanced quotes in <" + tag + ">";
    std::string name = tag.substr(tag[0] == '/', tag.find_first_of(" />", 1) - (tag[0] == '/'));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
    } else {
      if (stack.empty()) {
        if (saw_root) return "second root element <" + name + ">";
        if (name != "svg" ||
            tag.find("xmlns=\"http://www.w3.org/2000/svg\"") == std::string::npos ||
            tag.find(" width=\"") == std::string::npos ||
            tag.find(" height=\"") == std::string::npos ||
            tag.find(" viewBox=\"") == std::string::npos)
          return "root is not a sized SVG element: <" + tag + ">";
        saw_root = true;
      }
      if (tag.back() != '/') stack.push_back(name);
    }
    i = end + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return saw_root ? "" : "no root element";
}

// Attribute `name` of the first element after `from` (e.g. fill of a cell).
std::string attr_after(const std::string& s, size_t from, const std::string& name) {
  size_t p = s.find(" " + name + "=\"", from);
  if (p == std::string::npos) return "";
  p += name.size() + 3;
  return s.substr(p, s.find('"', p) - p);
}

// Every element with class="<cls>", in document order, as the text of its start tag.
std::vector<std::string> elements(const std::string& s, const std::string& cls) {
  std::vector<std::string> out;
  const std::string key = "class=\"" + cls + "\"";
  for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + 1)) {
    size_t start = s.rfind('<', p);
    out.push_back(s.substr(start, s.find('>', p) - start));
  }
  return out;
}

HeatmapSpec small_heatmap() {
  HeatmapSpec h;
  h.title = "angular distance";
  h.x_label = "starting layer l";
  h.y_label = "block size n";
  h.values = {{0.1, 0.4, NAN, 0.9}, {0.2, NAN, 0.6, 0.3}, {0.5, 0.7, 0.8, INFINITY}};
  return h;
}

TEST(SvgHeatmap, WellFormedOneCellPerFiniteValueNanLeftEmpty) {
  std::string svg = svg_heatmap(small_heatmap());
  EXPECT_EQ(xml_problem(svg), "") << svg;
  // 12 entries, of which NAN, NAN and INFINITY have no value: 9 cells, 9 tooltips. The
  // empty ones show the grey plot background; no "nan"/"inf" text leaks into the file.
  EXPECT_EQ(count(svg, "class=\"cell\""), 9u);
  EXPECT_EQ(count(svg, "</title></rect>"), 9u);
  EXPECT_EQ(count(svg, "class=\"plot-bg\" fill=\"#ececec\""), 1u);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_EQ(svg, svg_heatmap(small_heatmap())) << "output must be deterministic";
}

TEST(SvgHeatmap, AllNanGivesValidEmptyPlotWithoutLegend) {
  HeatmapSpec h;
  h.values = {{NAN, NAN}, {NAN, NAN}};
  std::string svg = svg_heatmap(h);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(count(svg, "class=\"cell\""), 0u);
  EXPECT_EQ(count(svg, "class=\"colorbar\""), 0u);
  EXPECT_NE(svg.find(">no values</text>"), std::string::npos);
  EXPECT_EQ(xml_problem(svg_heatmap(HeatmapSpec{})), "");
}

TEST(SvgHeatmap, EscapesAllText) {
  HeatmapSpec h = small_heatmap();
  h.title = "a<&\">'b";
  h.row_labels = {"r<0>", "r&1", "r\"2\""};
  h.x_label = "x \x01 label";  // a control character is not allowed in XML 1.0: dropped
  std::string svg = svg_heatmap(h);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_NE(svg.find(">a&lt;&amp;&quot;&gt;&apos;b</title>"), std::string::npos);
  EXPECT_NE(svg.find(">r&lt;0&gt;</text>"), std::string::npos);
  EXPECT_EQ(svg.find("a<&"), std::string::npos);
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
  EXPECT_EQ(xml_escape("<&\">'"), "&lt;&amp;&quot;&gt;&apos;");
}

TEST(SvgHeatmap, ColorScaleEndpointsAndMidpoint) {
  // Stops are viridisLite::viridis(8): first #440154, last #FDE725. 0.5 lies halfway between
  // stop 3 (#277F8E) and stop 4 (#1FA187): (0x27+0x1F)/2 = 0x23, (0x7F+0xA1)/2 = 0x90,
  // (0x8E+0x87)/2 = 138.5 -> 139 = 0x8b.
  EXPECT_EQ(heatmap_color(0.0), "#440154");
  EXPECT_EQ(heatmap_color(1.0), "#fde725");
  EXPECT_EQ(heatmap_color(0.5), "#23908b");
  EXPECT_EQ(heatmap_color(-3), "#440154");  // clamped
  HeatmapSpec h;
  h.values = {{2.0, 5.0, 8.0}};  // min 2 -> t 0, 5 -> t 0.5, max 8 -> t 1
  auto cells = elements(svg_heatmap(h), "cell");
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(attr_after(cells[0], 0, "fill"), "#440154");
  EXPECT_EQ(attr_after(cells[1], 0, "fill"), "#23908b");
  EXPECT_EQ(attr_after(cells[2], 0, "fill"), "#fde725");
  // A fixed color range clamps: 8 is past color_max 4, so it gets the last stop too.
  h.color_min = 0;
  h.color_max = 4;
  cells = elements(svg_heatmap(h), "cell");
  EXPECT_EQ(attr_after(cells[0], 0, "fill"), "#23908b");
  EXPECT_EQ(attr_after(cells[2], 0, "fill"), "#fde725");
}

TEST(SvgHeatmap, MarkedCellIsOutlinedAtItsCell) {
  HeatmapSpec h = small_heatmap();
  h.tooltips = {{"a", "b", "c", "d"}, {"e", "f", "target", "h"}, {"i", "j", "k", "l"}};
  h.marked = {{1, 2}};
  std::string svg = svg_heatmap(h);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  auto marks = elements(svg, "mark");
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(attr_after(marks[0], 0, "fill"), "none");
  size_t target = svg.rfind("<rect", svg.find("<title>target</title>"));
  EXPECT_EQ(attr_after(marks[0], 0, "x"), attr_after(svg, target, "x"));
  EXPECT_EQ(attr_after(marks[0], 0, "y"), attr_after(svg, target, "y"));
  h.marked = {{3, 0}};
  EXPECT_THROW(svg_heatmap(h), Error);
}

TEST(SvgHeatmap, ManyLabelsAreThinnedByValue) {
  // 100 x 100: 560 px / 100 -> 5 px cells. A row label needs 11 * 1.3 = 14.3 px and a column
  // label "99" 2 * 11 * 0.6 + 6 = 19.2 px, so both show every 5th of 1, 2, 5, 10, ...
  HeatmapSpec h;
  h.values.assign(100, std::vector<double>(100, 0.5));
  for (int i = 0; i < 100; ++i) h.row_labels.push_back(std::to_string(i + 1));
  std::string svg = svg_heatmap(h);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "class=\"cell\""), 10000u);
  EXPECT_EQ(count(svg, ">35</text>"), 2u);  // row label n=35 and column label 35
  EXPECT_EQ(count(svg, ">36</text>"), 0u);
  EXPECT_EQ(count(svg, ">1</text>"), 0u);  // rows 1..100: 5, 10, ... not 1, 6, ...
}

TEST(SvgHeatmap, FirstRowAtBottomByDefaultAndFewLabelsNeverAllHidden) {
  HeatmapSpec h;
  h.values = {{1.0}, {2.0}};
  auto cells = elements(svg_heatmap(h), "cell");
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_GT(std::stod(attr_after(cells[0], 0, "y")), std::stod(attr_after(cells[1], 0, "y")));
  h.first_row_at_bottom = false;
  cells = elements(svg_heatmap(h), "cell");
  EXPECT_LT(std::stod(attr_after(cells[0], 0, "y")), std::stod(attr_after(cells[1], 0, "y")));
  // 3 x 100: 5 px cells give step 5, and rows "1".."3" hold no multiple of 5; the first
  // row label is kept so the axis is not bare.
  h.values.assign(3, std::vector<double>(100, 0.5));
  h.row_labels = {"1", "2", "3"};
  std::string svg = svg_heatmap(h);
  EXPECT_EQ(count(svg, ">1</text>"), 1u);
  EXPECT_EQ(count(svg, ">2</text>"), 0u);
}

TEST(SvgHeatmap, RaggedRowsAreRejectedOnOneLine) {
  HeatmapSpec h;
  h.values = {{1, 2, 3}, {4, 5}};
  try {
    svg_heatmap(h);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[svg] heatmap values row 1 has 2 columns, expected 3");
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST(SvgNiceTicks, RoundStepsCoverTheRange) {
  // By hand: 0.93 / 5 = 0.186 = 1.86 * 10^-1 -> step 2 * 10^-1; floor(0 / 0.2) = 0 and
  // ceil(0.93 / 0.2) = ceil(4.65) = 5, so 0, 0.2, ..., 1.0.
  std::vector<double> t = nice_ticks(0, 0.93);
  std::vector<double> want = {0, 0.2, 0.4, 0.6, 0.8, 1.0};
  ASSERT_EQ(t.size(), want.size());
  for (size_t i = 0; i < t.size(); ++i) EXPECT_DOUBLE_EQ(t[i], want[i]) << i;
  // -3.2 .. 7: 10.2 / 5 = 2.04 -> step 5; floor(-0.64) = -1, ceil(1.4) = 2.
  EXPECT_EQ(nice_ticks(-3.2, 7), (std::vector<double>{-5, 0, 5, 10}));
  // 5 .. 5 widens by 10% to 4.5 .. 5.5: 1 / 5 = 0.2 -> step 0.2 from 4.4 to 5.6.
  t = nice_ticks(5, 5);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_DOUBLE_EQ(t.front(), 4.4);
  EXPECT_DOUBLE_EQ(t.back(), 5.6);
}

BarChartSpec layer_bars() {
  BarChartSpec b;
  b.title = "layer importance";
  b.x_label = "layer";
  b.y_label = "score";
  b.categories = {"0", "1", "2", "3"};
  b.series = {{"base", {0.5, -0.25, NAN, 1.0}, {false, true, false, true}},
              {"pruned", {0.4, 0.1, 0.2, 0.9}, {}}};
  b.highlight_label = "removed";
  b.reference_y = 0.75;
  b.reference_label = "threshold";
  return b;
}

TEST(SvgBarChart, OneBarPerFiniteValueHighlightedHatched) {
  std::string svg = svg_bar_chart(layer_bars());
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(count(svg, "class=\"bar\""), 7u);        // 8 values, one NaN
  EXPECT_EQ(count(svg, "class=\"bar-hatch\""), 2u);  // layers 1 and 3 of "base"
  EXPECT_EQ(count(svg, "class=\"reference\""), 1u);
  EXPECT_NE(svg.find(">removed</text>"), std::string::npos);
  EXPECT_NE(svg.find(">threshold</text>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(SvgBarChart, NegativeBarsHangFromZeroAndEqualValuesDrawEqualBars) {
  BarChartSpec b;
  b.categories = {"a", "b"};
  b.series = {{"s", {-2.0, 2.0}, {}}};
  auto bars = elements(svg_bar_chart(b), "bar");
  ASSERT_EQ(bars.size(), 2u);
  // The negative bar starts where the positive one ends (the zero line) and has its height.
  double y_neg = std::stod(attr_after(bars[0], 0, "y")),
         h_neg = std::stod(attr_after(bars[0], 0, "height"));
  double y_pos = std::stod(attr_after(bars[1], 0, "y")),
         h_pos = std::stod(attr_after(bars[1], 0, "height"));
  EXPECT_NEAR(y_neg, y_pos + h_pos, 0.011);
  EXPECT_NEAR(h_neg, h_pos, 0.011);
  EXPECT_GT(h_pos, 0);

  b.series = {{"s", {3.0, 3.0}, {}}};
  bars = elements(svg_bar_chart(b), "bar");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(attr_after(bars[0], 0, "height"), attr_after(bars[1], 0, "height"));
  b.series = {{"s", {0.0, 0.0}, {}}};
  EXPECT_EQ(xml_problem(svg_bar_chart(b)), "");
  EXPECT_EQ(xml_problem(svg_bar_chart(BarChartSpec{})), "");
  b.series = {{"s", {1.0}, {}}};
  EXPECT_THROW(svg_bar_chart(b), Error);
}

size_t polyline_points(const std::string& svg) {
  size_t n = 0;
  for (const auto& e : elements(svg, "line")) n += count(attr_after(e, 0, "points"), ",");
  return n;
}

TEST(SvgLineChart, DrawsEveryFinitePointAndBreaksAtGaps) {
  LineChartSpec l;
  l.title = "loss";
  l.series = {{"train", {0, 1, 2, 3, 4}, {3.0, 2.5, NAN, 2.0, 1.9}},
              {"val <&>", {0, 2, 4}, {3.1, 2.6, 2.2}}};
  std::string svg = svg_line_chart(l);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(count(svg, "class=\"line\""), 3u);  // train split at the NaN, plus val
  EXPECT_EQ(polyline_points(svg), 7u);
  EXPECT_NE(svg.find(">val &lt;&amp;&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find("1 point non-finite, not shown"), std::string::npos);
  EXPECT_EQ(xml_problem(svg_line_chart(LineChartSpec{})), "");
}

TEST(SvgLineChart, LogYSkipsNonPositivePointsWithAFootnote) {
  // Documented choice (svg_plot.h): y <= 0 is skipped and counted, never thrown, so a report
  // at the end of a long run still gets its plot.
  LineChartSpec l;
  l.log_y = true;
  l.series = {{"loss", {0, 0.1, 0.2, 0.3, 0.4}, {1.0, 0.0, -1.0, 10.0, 100.0}}};
  std::string svg;
  ASSERT_NO_THROW(svg = svg_line_chart(l));
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(polyline_points(svg), 3u);        // 1 | 10, 100
  EXPECT_EQ(count(svg, "class=\"pt\""), 1u);  // the lone point 1 gets a dot
  EXPECT_NE(svg.find("2 points with y &lt;= 0 not shown (log scale)"), std::string::npos);
  // 1 .. 100 spans two decades: ticks 1, 2, 5, 10, 20, 50, 100.
  for (const char* t : {">1</text>", ">2</text>", ">5</text>", ">20</text>", ">100</text>"})
    EXPECT_NE(svg.find(t), std::string::npos) << t;
}

}  // namespace
}  // namespace llmprune
