// Dependency-free SVG plots for reports: heatmap (e.g. the angular-distance matrix d(l, n) of
// Gromov et al.), grouped bar chart and line chart. Plain data in, a standalone SVG 1.1 string
// out (no assets, no script); the caller writes it with write_file_atomic.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace llmprune {

struct CellIndex {
  int row = 0;
  int col = 0;
};

struct HeatmapSpec {
  std::string title;
  std::string x_label;                      // e.g. "starting layer l"
  std::string y_label;                      // e.g. "block size n"
  std::string value_label;                  // beside the color legend, e.g. "angular distance"
  std::vector<std::string> row_labels;      // empty: row indices; else one per row
  std::vector<std::string> col_labels;      // empty: column indices; else one per column
  std::vector<std::vector<double>> values;  // [rows][cols]; NaN (any non-finite) = no value
  std::vector<CellIndex> marked;            // outlined cells, e.g. the chosen block
  // Per-cell tooltip text ([rows][cols]); empty: "<y_label> <row>, <x_label> <col>: <value>".
  std::vector<std::vector<std::string>> tooltips;
  // Row 0 at the bottom, so y grows upward as in the paper's figure.
  bool first_row_at_bottom = true;
  // Color range; NaN: the min/max of the finite values. Values outside are clamped.
  double color_min = NAN;
  double color_max = NAN;
};

struct BarSeries {
  std::string name;
  std::vector<double> values;     // one per category; non-finite values draw no bar
  std::vector<bool> highlighted;  // empty or one per category
};

struct BarChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;                // grouped side by side within each category
  std::string highlight_label = "highlighted";  // legend entry, e.g. "removed"
  double reference_y = NAN;                     // horizontal dashed line when finite
  std::string reference_label;
  int height = 420;
};

struct LineSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;  // same size as x
};

struct LineChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  // Log-scale y: points with y <= 0 are skipped like non-finite ones (a footnote counts them);
  // a line is broken at every skipped point rather than bridged.
  bool log_y = false;
  bool markers = false;  // a dot on every point
  int width = 720;
  int height = 420;
};

// All three throw bad_input naming the field when shapes disagree (e.g. values row 3 has
// 5 columns, expected 6); empty or all-NaN data gives a valid, empty plot.
std::string svg_heatmap(const HeatmapSpec& spec);
std::string svg_bar_chart(const BarChartSpec& spec);
std::string svg_line_chart(const LineChartSpec& spec);

// Helpers, exposed for tests and other report writers.
std::string xml_escape(const std::string& text);  // & < > " ' escaped, control chars dropped
// Round tick values covering [lo, hi] (the first <= lo, the last >= hi), about `target`
// intervals, step 1, 2 or 5 times a power of ten. lo == hi is widened around the value;
// non-finite bounds give {0, 1}.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Perceptual (viridis-like) color for t in [0, 1] (clamped) as "#rrggbb".
std::string heatmap_color(double t);

}  // namespace llmprune
