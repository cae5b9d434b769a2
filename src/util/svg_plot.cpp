// SVG plots (see svg_plot.h). Layout is estimated from label lengths since there is no font
// engine here; numbers are printed with fixed formats so the same data gives the same bytes.
#include "util/svg_plot.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "util/error.h"

namespace llmprune {
namespace {

constexpr double kTick = 11, kLabel = 13, kTitle = 16;  // font sizes, px
// Okabe-Ito colors: distinguishable with the common color-vision deficiencies. Vermillion is
// kept out of the series cycle for highlighted bars.
const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                "#56B4E9", "#F0E442", "#000000"};
constexpr const char* kHighlight = "#D55E00";
constexpr const char* kEmpty = "#ececec";  // heatmap cells without a value
constexpr const char* kGrid = "#e3e3e3";

const char* series_color(size_t i) { return kPalette[i % (sizeof(kPalette) / sizeof(*kPalette))]; }

// Coordinates: two decimals is sub-pixel and keeps files small and byte-stable.
std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::abs(v) < 0.005 ? 0.0 : v);
  return buf;
}
std::string num(double v) {  // values shown to people
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v == 0 ? 0.0 : v);  // never "-0"
  return buf;
}

// Width of `s` at `font` px. 0.6 em per glyph slightly overestimates sans-serif so laid-out
// labels do not touch; UTF-8 continuation bytes are not glyphs.
double text_width(const std::string& s, double font) {
  size_t glyphs = 0;
  for (unsigned char c : s) glyphs += (c & 0xC0) != 0x80;
  return glyphs * font * 0.6;
}
double max_width(const std::vector<std::string>& v, double font) {
  double w = 0;
  for (const auto& s : v) w = std::max(w, text_width(s, font));
  return w;
}

// Smallest k in 1, 2, 5, 10, 20, 50, ... so labels k*pitch apart each get `need` px.
int label_step(double pitch, double need) {
  for (int base = 1; base < 100000000; base *= 10)
    for (int k : {base, base * 2, base * 5})
      if (k * pitch >= need) return k;
  return 100000000;
}

// Whether label i is shown at step k. Labels that are consecutive integers are thinned by
// value (n = 1..31 shows 5, 10, 15), anything else by position.
std::vector<bool> shown_labels(const std::vector<std::string>& labels, int k) {
  long base = 0;
  bool consecutive = !labels.empty();
  for (size_t i = 0; i < labels.size() && consecutive; ++i) {
    char* end = nullptr;
    long v = std::strtol(labels[i].c_str(), &end, 10);
    consecutive = !labels[i].empty() && *end == '\0' && (i == 0 || v == base + long(i));
    if (i == 0) base = v;
  }
  std::vector<bool> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    long key = consecutive ? base + long(i) : long(i);
    out[i] = ((key % k) + k) % k == 0;
  }
  // Few labels on tiny cells (3 rows "1".."3" at step 5) would otherwise show none.
  if (!labels.empty() && std::find(out.begin(), out.end(), true) == out.end()) out[0] = true;
  return out;
}

std::vector<std::string> default_labels(const std::vector<std::string>& given, size_t n,
                                        const char* field) {
  if (given.empty()) {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
    return out;
  }
  LLMPRUNE_CHECK(given.size() == n, "[svg] ", field, " has ", given.size(), " entries, expected ",
                 n);
  return given;
}

// Maps a data interval to a pixel interval, linearly or in log10.
struct Scale {
  double d0, d1, p0, p1;
  bool log = false;
  double operator()(double v) const {
    double a = log ? std::log10(d0) : d0, b = log ? std::log10(d1) : d1;
    double x = log ? std::log10(v) : v;
    return b == a ? (p0 + p1) / 2 : p0 + (x - a) / (b - a) * (p1 - p0);
  }
};

class Svg {
 public:
  Svg(double w, double h, const std::string& title) {
    int wi = int(std::ceil(w)), hi = int(std::ceil(h));
    os_ << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << wi
        << "\" height=\"" << hi << "\" viewBox=\"0 0 " << wi << ' ' << hi
        << "\" font-family=\"sans-serif\">\n";
    if (!title.empty()) os_ << "<title>" << xml_escape(title) << "</title>\n";
    os_ << "<rect width=\"" << wi << "\" height=\"" << hi << "\" fill=\"#ffffff\"/>\n";
    if (!title.empty()) text(w / 2, 26, title, kTitle, "middle", "font-weight=\"bold\"");
  }
  std::ostringstream& raw() { return os_; }
  void text(double x, double y, const std::string& s, double size, const char* anchor = "start",
            const std::string& extra = "") {
    os_ << "<text x=\"" << px(x) << "\" y=\"" << px(y) << "\" font-size=\"" << size
        << "\" text-anchor=\"" << anchor << '"' << (extra.empty() ? "" : " ") << extra << '>'
        << xml_escape(s) << "</text>\n";
  }
  // Text turned 90 degrees counter-clockwise, centered on (x, y).
  void vtext(double x, double y, const std::string& s, double size) {
    text(x, y, s, size, "middle", "transform=\"rotate(-90 " + px(x) + ' ' + px(y) + ")\"");
  }
  void line(double x1, double y1, double x2, double y2, const char* stroke,
            const std::string& extra = "") {
    os_ << "<line x1=\"" << px(x1) << "\" y1=\"" << px(y1) << "\" x2=\"" << px(x2) << "\" y2=\""
        << px(y2) << "\" stroke=\"" << stroke << '"' << (extra.empty() ? "" : " ") << extra
        << "/>\n";
  }
  void rect(double x, double y, double w, double h, const std::string& attrs,
            const std::string& tooltip = "") {
    os_ << "<rect x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(w) << "\" height=\""
        << px(h) << "\" " << attrs;
    if (tooltip.empty())
      os_ << "/>\n";
    else
      os_ << "><title>" << xml_escape(tooltip) << "</title></rect>\n";
  }
  std::string finish() {
    os_ << "</svg>\n";
    return os_.str();
  }

 private:
  std::ostringstream os_;
};

// Horizontal grid, tick labels left of the plot, and the y axis title.
void draw_y_axis(Svg& svg, const Scale& ys, const std::vector<double>& ticks, double left,
                 double right, const std::string& label, double label_x) {
  for (double t : ticks) {
    double y = ys(t);
    svg.line(left, y, right, y, kGrid);
    svg.text(left - 6, y + kTick * 0.35, num(t), kTick, "end");
  }
  svg.line(left, ys.p0, left, ys.p1, "#444444");
  if (!label.empty()) svg.vtext(label_x, (ys.p0 + ys.p1) / 2, label, kLabel);
}

struct LegendEntry {
  std::string name, swatch;  // swatch: the attributes of a 12x12 rect, or "line:<color>"
  bool hatch = false;
};
double legend_width(const std::vector<LegendEntry>& entries) {
  double w = 0;
  for (const auto& e : entries) w = std::max(w, text_width(e.name, kTick));
  return entries.empty() ? 0 : w + 26;
}
void draw_legend(Svg& svg, const std::vector<LegendEntry>& entries, double x, double y) {
  for (const auto& e : entries) {
    if (e.swatch.rfind("line:", 0) == 0)
      svg.line(x, y + 6, x + 14, y + 6, e.swatch.c_str() + 5, "stroke-width=\"2.5\"");
    else
      svg.rect(x, y, 12, 12, e.swatch);
    if (e.hatch) svg.rect(x, y, 12, 12, "fill=\"url(#llmprune-hatch)\"");
    svg.text(x + 20, y + 10, e.name, kTick);
    y += 18;
  }
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const char* entity = c == '&'    ? "&amp;"
                         : c == '<'  ? "&lt;"
                         : c == '>'  ? "&gt;"
                         : c == '"'  ? "&quot;"
                         : c == '\'' ? "&apos;"
                                     : nullptr;
    if (entity) out += entity;
    // Other control characters are not allowed anywhere in XML 1.0.
    else if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
      out += char(c);
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / std::max(target, 1);
  int e = int(std::floor(std::log10(raw)));
  double norm = raw / std::pow(10.0, e);
  double nice = norm <= 1 + 1e-9 ? 1 : norm <= 2 + 1e-9 ? 2 : norm <= 5 + 1e-9 ? 5 : 10;
  // k * nice / 10^-e is the closest double to the decimal tick (0.6, not 0.6000000000000001).
  auto tick = [&](long k) {
    return e < 0 ? k * nice / std::pow(10.0, -e) : k * nice * std::pow(10.0, e);
  };
  double step = tick(1);
  long first = long(std::floor(lo / step + 1e-9)), last = long(std::ceil(hi / step - 1e-9));
  std::vector<double> out;
  for (long k = first; k <= last; ++k) out.push_back(tick(k));
  return out;
}

std::string heatmap_color(double t) {
  // viridis at 8 equal steps (R: viridisLite::viridis(8)); linear RGB interpolation between
  // neighbors, which is also what the SVG gradient of the legend does.
  static const int kStops[8][3] = {{0x44, 0x01, 0x54}, {0x46, 0x33, 0x7E}, {0x36, 0x5C, 0x8D},
                                   {0x27, 0x7F, 0x8E}, {0x1F, 0xA1, 0x87}, {0x4A, 0xC1, 0x6D},
                                   {0x9F, 0xDA, 0x3A}, {0xFD, 0xE7, 0x25}};
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  int i = std::min(int(t * 7), 6);
  double f = t * 7 - i;
  char buf[8];
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = int(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

std::string svg_heatmap(const HeatmapSpec& s) {
  size_t rows = s.values.size(), cols = rows ? s.values[0].size() : 0;
  for (size_t r = 0; r < rows; ++r)
    LLMPRUNE_CHECK(s.values[r].size() == cols, "[svg] heatmap values row ", r, " has ",
                   s.values[r].size(), " columns, expected ", cols);
  auto row_labels = default_labels(s.row_labels, rows, "heatmap row_labels");
  auto col_labels = default_labels(s.col_labels, cols, "heatmap col_labels");
  LLMPRUNE_CHECK(s.tooltips.empty() || s.tooltips.size() == rows, "[svg] heatmap tooltips has ",
                 s.tooltips.size(), " rows, expected ", rows);
  for (size_t r = 0; r < s.tooltips.size(); ++r)
    LLMPRUNE_CHECK(s.tooltips[r].size() == cols, "[svg] heatmap tooltips row ", r, " has ",
                   s.tooltips[r].size(), " columns, expected ", cols);
  for (const auto& m : s.marked)
    LLMPRUNE_CHECK(m.row >= 0 && size_t(m.row) < rows && m.col >= 0 && size_t(m.col) < cols,
                   "[svg] heatmap marked cell (", m.row, ", ", m.col, ") outside ", rows, "x",
                   cols);

  double vmin = INFINITY, vmax = -INFINITY;
  for (const auto& row : s.values)
    for (double v : row)
      if (std::isfinite(v)) vmin = std::min(vmin, v), vmax = std::max(vmax, v);
  bool any = vmin <= vmax;
  if (std::isfinite(s.color_min)) vmin = s.color_min;
  if (std::isfinite(s.color_max)) vmax = s.color_max;

  // Whole pixels per cell, so crispEdges draws no seams between neighbors.
  double cs = std::floor(std::clamp(560.0 / std::max<size_t>({rows, cols, 1}), 3.0, 36.0));
  double pw = cols * cs, ph = rows * cs;
  auto row_shown = shown_labels(row_labels, label_step(cs, kTick * 1.3));
  auto col_shown = shown_labels(col_labels, label_step(cs, max_width(col_labels, kTick) + 6));

  std::vector<double> cticks;
  if (any && vmax > vmin) cticks = nice_ticks(vmin, vmax, 5);
  std::vector<std::string> clabels = {num(vmin), num(vmax)};
  for (double t : cticks) clabels.push_back(num(t));

  double top = s.title.empty() ? 14 : 44;
  double left = 14 + (s.y_label.empty() ? 0 : 22) + max_width(row_labels, kTick) + 8;
  double cb_h = std::max(ph, 120.0);
  double right =
      any ? 20 + 14 + 8 + max_width(clabels, kTick) + (s.value_label.empty() ? 0 : 24) + 10 : 16;
  double bottom = 10 + kTick * 1.4 + (s.x_label.empty() ? 0 : 26);
  double width = std::max(left + pw + right, text_width(s.title, kTitle) + 30);
  Svg svg(width, top + std::max(ph, cb_h) + bottom, s.title);
  auto& os = svg.raw();

  svg.rect(left, top, pw, ph, "class=\"plot-bg\" fill=\"" + std::string(kEmpty) + "\"");
  auto cell_y = [&](size_t r) { return top + (s.first_row_at_bottom ? rows - 1 - r : r) * cs; };
  auto color_t = [&](double v) { return vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5; };
  os << "<g shape-rendering=\"crispEdges\">\n";
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      double v = s.values[r][c];
      if (!std::isfinite(v)) continue;  // the grey background shows through
      std::string tip = s.tooltips.empty()
                            ? (s.y_label.empty() ? "row" : s.y_label) + " " + row_labels[r] + ", " +
                                  (s.x_label.empty() ? "column" : s.x_label) + " " + col_labels[c] +
                                  ": " + num(v)
                            : s.tooltips[r][c];
      svg.rect(left + c * cs, cell_y(r), cs, cs,
               "class=\"cell\" fill=\"" + heatmap_color(color_t(v)) + "\"", tip);
    }
  }
  os << "</g>\n";
  // Marks go on top of all cells; red with a white halo reads on both ends of viridis.
  for (const auto& m : s.marked) {
    double x = left + m.col * cs, y = cell_y(size_t(m.row));
    svg.rect(x - 1, y - 1, cs + 2, cs + 2, "fill=\"none\" stroke=\"#ffffff\" stroke-width=\"3.5\"");
    svg.rect(x, y, cs, cs, "class=\"mark\" fill=\"none\" stroke=\"#e8112d\" stroke-width=\"2\"");
  }
  svg.rect(left, top, pw, ph, "fill=\"none\" stroke=\"#444444\"");
  if (!any && rows && cols)
    svg.text(left + pw / 2, top + ph / 2, "no values", kLabel, "middle", "fill=\"#666666\"");

  for (size_t r = 0; r < rows; ++r) {
    if (!row_shown[r]) continue;
    double y = cell_y(r) + cs / 2;
    svg.line(left - 4, y, left, y, "#444444");
    svg.text(left - 6, y + kTick * 0.35, row_labels[r], kTick, "end");
  }
  for (size_t c = 0; c < cols; ++c) {
    if (!col_shown[c]) continue;
    double x = left + c * cs + cs / 2;
    svg.line(x, top + ph, x, top + ph + 4, "#444444");
    svg.text(x, top + ph + 6 + kTick, col_labels[c], kTick, "middle");
  }
  if (!s.x_label.empty())
    svg.text(left + pw / 2, top + ph + 10 + kTick * 1.4 + kLabel, s.x_label, kLabel, "middle");
  if (!s.y_label.empty()) svg.vtext(14 + kLabel * 0.8, top + ph / 2, s.y_label, kLabel);

  if (any) {
    double bx = left + pw + 20, by = top + (std::max(ph, cb_h) - cb_h) / 2;
    Scale cy{vmin, vmax, by + cb_h, by};
    if (vmax > vmin) {
      os << "<defs><linearGradient id=\"llmprune-cbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
      for (int i = 0; i < 8; ++i)
        os << "<stop offset=\"" << px(i / 7.0) << "\" stop-color=\"" << heatmap_color(i / 7.0)
           << "\"/>";
      os << "</linearGradient></defs>\n";
      svg.rect(bx, by, 14, cb_h,
               "class=\"colorbar\" fill=\"url(#llmprune-cbar)\" stroke=\"#444444\"");
    } else {
      svg.rect(bx, by, 14, cb_h,
               "class=\"colorbar\" fill=\"" + heatmap_color(0.5) + "\" stroke=\"#444444\"");
    }
    // Min and max at the ends; round ticks in between unless they would overlap those.
    std::vector<double> marks = {vmin};
    if (vmax > vmin) marks.push_back(vmax);
    for (double t : cticks)
      if (cy(t) < cy(vmin) - kTick * 1.3 && cy(t) > cy(vmax) + kTick * 1.3) marks.push_back(t);
    for (double t : marks) {
      double y = vmax > vmin ? cy(t) : by + cb_h / 2;
      svg.line(bx + 14, y, bx + 18, y, "#444444");
      svg.text(bx + 21, y + kTick * 0.35, num(t), kTick);
    }
    if (!s.value_label.empty())
      svg.vtext(bx + 14 + 8 + max_width(clabels, kTick) + 18, by + cb_h / 2, s.value_label, kLabel);
  }
  return svg.finish();
}

std::string svg_bar_chart(const BarChartSpec& s) {
  size_t n = s.categories.size(), ns = s.series.size();
  bool any_hl = false;
  double lo = 0, hi = 0;  // bars grow from 0, so 0 is always on the axis
  for (const auto& b : s.series) {
    LLMPRUNE_CHECK(b.values.size() == n, "[svg] bar series '", b.name, "' has ", b.values.size(),
                   " values, expected ", n, " (one per category)");
    LLMPRUNE_CHECK(b.highlighted.empty() || b.highlighted.size() == n, "[svg] bar series '", b.name,
                   "' has ", b.highlighted.size(), " highlighted flags, expected ", n);
    for (size_t c = 0; c < n; ++c) {
      if (!std::isfinite(b.values[c])) continue;
      lo = std::min(lo, b.values[c]), hi = std::max(hi, b.values[c]);
      any_hl |= !b.highlighted.empty() && b.highlighted[c];
    }
  }
  bool has_ref = std::isfinite(s.reference_y);
  if (has_ref) lo = std::min(lo, s.reference_y), hi = std::max(hi, s.reference_y);
  if (lo == hi) hi = 1;  // all zero or nothing drawn: a unit axis instead of a zero-height one
  auto ticks = nice_ticks(lo, hi, 5);
  std::vector<std::string> tick_labels;
  for (double t : ticks) tick_labels.push_back(num(t));

  // With one series, highlighted bars change color; with several they keep the series color
  // (the group position already says which series) and only get the hatch.
  auto bar_fill = [&](size_t si, bool hl) {
    return std::string(hl && ns == 1 ? kHighlight : series_color(si));
  };
  std::vector<LegendEntry> legend;
  for (size_t si = 0; si < ns && (ns > 1 || any_hl); ++si)
    legend.push_back({s.series[si].name, "fill=\"" + bar_fill(si, false) + "\""});
  if (any_hl)
    legend.push_back({s.highlight_label,
                      "fill=\"" + std::string(ns == 1 ? kHighlight : "#999999") + "\"", true});

  double top = s.title.empty() ? 16 : 44;
  double left = 14 + (s.y_label.empty() ? 0 : 22) + max_width(tick_labels, kTick) + 8;
  double plot_w = std::clamp(n * (ns * 18.0 + 10), 320.0, 960.0);
  double pitch = plot_w / std::max<size_t>(n, 1);
  double right = legend.empty() ? 20 : legend_width(legend) + 30;
  // Short labels (layer numbers) are thinned; long ones (task names) are turned 45 degrees.
  double lw = max_width(s.categories, kTick);
  bool rotated = lw + 6 > pitch && lw > 3 * kTick;
  auto shown = shown_labels(s.categories, label_step(pitch, rotated ? kTick * 1.4 : lw + 6));
  double label_h = rotated ? lw * 0.71 + kTick : kTick * 1.4;
  double bottom = 10 + label_h + (s.x_label.empty() ? 0 : 26);
  double height = std::max(double(s.height), top + bottom + 140);
  double plot_h = height - top - bottom;
  Svg svg(std::max(left + plot_w + right, text_width(s.title, kTitle) + 30), height, s.title);
  auto& os = svg.raw();
  if (any_hl)
    os << "<defs><pattern id=\"llmprune-hatch\" width=\"6\" height=\"6\" "
          "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><line x1=\"0\" "
          "y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ffffff\" stroke-width=\"2.5\"/></pattern></defs>\n";

  Scale ys{ticks.front(), ticks.back(), top + plot_h, top};
  draw_y_axis(svg, ys, ticks, left, left + plot_w, s.y_label, 14 + kLabel * 0.8);
  double bw = pitch * 0.8 / std::max<size_t>(ns, 1);
  for (size_t c = 0; c < n; ++c) {
    for (size_t si = 0; si < ns; ++si) {
      const auto& b = s.series[si];
      double v = b.values[c];
      if (!std::isfinite(v)) continue;
      bool hl = !b.highlighted.empty() && b.highlighted[c];
      double x = left + c * pitch + pitch * 0.1 + si * bw;
      double y = std::min(ys(v), ys(0)), h = std::abs(ys(v) - ys(0));
      std::string tip = s.categories[c] + (b.name.empty() ? "" : " / " + b.name) + ": " + num(v) +
                        (hl ? " (" + s.highlight_label + ")" : "");
      svg.rect(x, y, bw, h, "class=\"bar\" fill=\"" + bar_fill(si, hl) + "\"", tip);
      if (hl) svg.rect(x, y, bw, h, "class=\"bar-hatch\" fill=\"url(#llmprune-hatch)\"");
    }
  }
  svg.line(left, ys(0), left + plot_w, ys(0), "#444444");
  if (has_ref) {
    double y = ys(s.reference_y);
    svg.line(left, y, left + plot_w, y, "#222222",
             "class=\"reference\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"");
    if (!s.reference_label.empty()) {  // on a white backdrop: it may sit over a bar
      double tw = text_width(s.reference_label, kTick);
      svg.rect(left + plot_w - tw - 7, y - kTick - 5, tw + 6, kTick + 3,
               "fill=\"#ffffff\" fill-opacity=\"0.85\"");
      svg.text(left + plot_w - 4, y - 5, s.reference_label, kTick, "end", "fill=\"#222222\"");
    }
  }
  for (size_t c = 0; c < n; ++c) {
    if (!shown[c]) continue;
    double x = left + (c + 0.5) * pitch, y = top + plot_h + 6 + kTick;
    svg.line(x, top + plot_h, x, top + plot_h + 4, "#444444");
    if (rotated)
      svg.text(x, y - 3, s.categories[c], kTick, "end",
               "transform=\"rotate(-45 " + px(x) + ' ' + px(y - 3) + ")\"");
    else
      svg.text(x, y, s.categories[c], kTick, "middle");
  }
  if (!s.x_label.empty())
    svg.text(left + plot_w / 2, top + plot_h + 10 + label_h + kLabel, s.x_label, kLabel, "middle");
  draw_legend(svg, legend, left + plot_w + 18, top);
  return svg.finish();
}

std::string svg_line_chart(const LineChartSpec& s) {
  size_t nonpos = 0, nonfinite = 0;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!s.log_y || y > 0);
  };
  for (const auto& ser : s.series) {
    LLMPRUNE_CHECK(ser.x.size() == ser.y.size(), "[svg] line series '", ser.name, "' has ",
                   ser.x.size(), " x values but ", ser.y.size(), " y values");
    for (size_t i = 0; i < ser.x.size(); ++i) {
      if (!std::isfinite(ser.x[i]) || !std::isfinite(ser.y[i]))
        ++nonfinite;
      else if (s.log_y && ser.y[i] <= 0)
        ++nonpos;
      else
        x0 = std::min(x0, ser.x[i]), x1 = std::max(x1, ser.x[i]), y0 = std::min(y0, ser.y[i]),
        y1 = std::max(y1, ser.y[i]);
    }
  }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 1, y1 = 10;  // nothing to draw: still a valid empty frame
  auto xt = nice_ticks(x0, x1, 6);
  std::vector<double> yt;
  double d0, d1;
  if (!s.log_y) {
    yt = nice_ticks(y0, y1, 5);
    d0 = yt.front(), d1 = yt.back();
  } else if (std::log10(y1) - std::log10(y0) >= 1) {  // decades, plus 2x and 5x when few
    int e0 = int(std::floor(std::log10(y0))), e1 = int(std::ceil(std::log10(y1)));
    for (int e = e0; e <= e1; ++e)
      for (double m : {1.0, 2.0, 5.0})
        if ((m == 1 || e1 - e0 <= 2) && e < e1 + (m == 1))
          yt.push_back(e < 0 ? m / std::pow(10.0, -e) : m * std::pow(10.0, e));
    d0 = yt.front(), d1 = yt.back();
  } else {  // within one decade, decade ticks would leave the data one flat line: round ones
    for (double t : nice_ticks(y0, y1, 4))
      if (t > 0) yt.push_back(t);
    d0 = std::min(y0, yt.front()), d1 = yt.back();
  }
  std::vector<std::string> ylabels;
  for (double t : yt) ylabels.push_back(num(t));

  std::vector<LegendEntry> legend;
  for (size_t si = 0; si < s.series.size(); ++si)
    if (!s.series[si].name.empty() || s.series.size() > 1)
      legend.push_back({s.series[si].name, std::string("line:") + series_color(si)});
  std::string note;
  auto points = [](size_t n) { return std::to_string(n) + (n == 1 ? " point" : " points"); };
  if (nonpos) note = points(nonpos) + " with y <= 0 not shown (log scale)";
  if (nonfinite) note += (note.empty() ? "" : "; ") + points(nonfinite) + " non-finite, not shown";

  double top = s.title.empty() ? 16 : 44;
  double left = 14 + (s.y_label.empty() ? 0 : 22) + max_width(ylabels, kTick) + 8;
  double right = legend.empty() ? 24 : legend_width(legend) + 30;
  double bottom = 10 + kTick * 1.4 + (s.x_label.empty() ? 0 : 26) + (note.empty() ? 0 : 20);
  double width = std::max({double(s.width), left + 240 + right, text_width(s.title, kTitle) + 30});
  double height = std::max(double(s.height), top + bottom + 140);
  double plot_w = width - left - right, plot_h = height - top - bottom;
  Svg svg(width, height, s.title);
  Scale xs{xt.front(), xt.back(), left, left + plot_w};
  Scale ys{d0, d1, top + plot_h, top, s.log_y};

  std::vector<std::string> xlabels;
  for (double t : xt) xlabels.push_back(num(t));
  int xk = label_step(plot_w / std::max<size_t>(xt.size() - 1, 1), max_width(xlabels, kTick) + 10);
  for (size_t i = 0; i < xt.size(); ++i) {
    double x = xs(xt[i]);
    svg.line(x, top, x, top + plot_h, kGrid);
    if (i % xk == 0) svg.text(x, top + plot_h + 6 + kTick, xlabels[i], kTick, "middle");
  }
  draw_y_axis(svg, ys, yt, left, left + plot_w, s.y_label, 14 + kLabel * 0.8);
  svg.line(left, top + plot_h, left + plot_w, top + plot_h, "#444444");

  auto& os = svg.raw();
  for (size_t si = 0; si < s.series.size(); ++si) {
    const auto& ser = s.series[si];
    const char* color = series_color(si);
    os << "<g class=\"series\"><title>" << xml_escape(ser.name) << "</title>\n";
    std::vector<std::pair<double, double>> run;
    // A skipped point ends the polyline: bridging it would draw data that is not there.
    auto flush = [&] {
      if (run.empty()) return;
      os << "<polyline class=\"line\" fill=\"none\" stroke=\"" << color
         << "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"";
      for (size_t i = 0; i < run.size(); ++i)
        os << (i ? " " : "") << px(run[i].first) << ',' << px(run[i].second);
      os << "\"/>\n";
      for (const auto& p : run)  // a lone point has no line to show it
        if (s.markers || run.size() == 1)
          os << "<circle class=\"pt\" cx=\"" << px(p.first) << "\" cy=\"" << px(p.second)
             << "\" r=\"3\" fill=\"" << color << "\"/>\n";
      run.clear();
    };
    for (size_t i = 0; i < ser.x.size(); ++i) {
      if (usable(ser.x[i], ser.y[i]))
        run.emplace_back(xs(ser.x[i]), ys(ser.y[i]));
      else
        flush();
    }
    flush();
    os << "</g>\n";
  }
  if (!s.x_label.empty())
    svg.text(left + plot_w / 2, top + plot_h + 10 + kTick * 1.4 + kLabel, s.x_label, kLabel,
             "middle");
  if (!note.empty())
    svg.text(left, height - 8, note, kTick, "start", "class=\"note\" fill=\"#666666\"");
  draw_legend(svg, legend, left + plot_w + 18, top);
  return svg.finish();
}

}  // namespace llmprune
