#include "physfit/plot/figure.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"

namespace physfit::plot {

namespace {

// Font sizes (pixels, or points in vector output) chosen to read at slide size: a 900-pixel
// wide figure shown across a projector keeps tick labels as tall as body text.
constexpr double kTickSize = 17;
constexpr double kLabelSize = 19;
constexpr double kTitleSize = 21;
constexpr double kLegendSize = 16;
constexpr const char* kFontFamily = "DejaVu Sans";  // fontconfig falls back to a sans font

constexpr Color kBlack{0, 0, 0};
constexpr Color kFrame{60, 60, 60};
constexpr Color kGrid{232, 232, 232};
constexpr Color kLegendFrame{200, 200, 200};

void set_color(cairo_t* cr, Color c) {
  cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

// ------------------------------------------------------------------------------ text

// A label cut into runs of plain text, subscript (level -1) and superscript (+1): `_{...}` and
// `^{...}`.
struct Run {
  std::string text;
  int level = 0;
};

std::vector<Run> parse_markup(const std::string& text) {
  std::vector<Run> runs(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((text[i] == '_' || text[i] == '^') && i + 1 < text.size() && text[i + 1] == '{') {
      const std::size_t end = text.find('}', i + 2);
      if (end != std::string::npos) {
        runs.push_back({text.substr(i + 2, end - i - 2), text[i] == '_' ? -1 : 1});
        runs.emplace_back();
        i = end;
        continue;
      }
    }
    runs.back().text += text[i];
  }
  return runs;
}

void use_font(cairo_t* cr, double size) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& text, double size) {
  double w = 0;
  for (const auto& r : parse_markup(text)) {
    if (r.text.empty()) continue;
    use_font(cr, r.level == 0 ? size : 0.7 * size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, r.text.c_str(), &e);
    w += e.x_advance;
  }
  return w;
}

// Draws `text` with its baseline at y; align 0 left, 1 centred, 2 right of x. Vertical text
// reads upwards, centred on (x, y) along its length.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, double size, int align,
               Color color = kBlack, bool vertical = false) {
  const double w = text_width(cr, text, size);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  if (vertical) cairo_rotate(cr, -M_PI / 2);
  double at = align == 0 ? 0 : align == 1 ? -w / 2 : -w;
  set_color(cr, color);
  for (const auto& r : parse_markup(text)) {
    if (r.text.empty()) continue;
    const double s = r.level == 0 ? size : 0.7 * size;
    use_font(cr, s);
    cairo_move_to(cr, at, r.level < 0 ? 0.25 * size : r.level > 0 ? -0.4 * size : 0);
    cairo_show_text(cr, r.text.c_str());
    cairo_text_extents_t e;
    cairo_text_extents(cr, r.text.c_str(), &e);
    at += e.x_advance;
  }
  cairo_restore(cr);
}

// ---------------------------------------------------------------------------- ticks

std::string number_label(double v, double step) {
  char buffer[32];
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e-3 && a < 1e5) {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  } else {  // m×10^e, the exponent drawn as a superscript
    const int e = static_cast<int>(std::floor(std::log10(a) + 1e-9));
    std::snprintf(buffer, sizeof buffer, "%.3g×10^{%s%d}", v / std::pow(10.0, e), e < 0 ? "−" : "",
                  std::abs(e));
  }
  std::string s = buffer;
  if (s[0] == '-') s = "−" + s.substr(1);  // a real minus sign
  return s;
}

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them in [lo, hi].
std::vector<double> linear_ticks(double lo, double hi, int target, double& step) {
  const double raw = (hi - lo) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  step = (fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10) * magnitude;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

double transform(double v, bool log) { return log ? std::log10(v) : v; }

void axis_ticks(double lo, double hi, bool log, int target, std::vector<double>& at,
                std::vector<std::string>& labels) {
  if (log) {
    const int a = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
    const int b = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    const int every = std::max(1, (b - a + 1 + target - 1) / target);
    for (int k = a; k <= b; k += every) {
      at.push_back(std::pow(10.0, k));
      char buffer[32];
      if (k >= -2 && k <= 3) {
        std::snprintf(buffer, sizeof buffer, "%.*f", std::max(0, -k), std::pow(10.0, k));
        labels.push_back(buffer);
      } else {
        std::snprintf(buffer, sizeof buffer, "10^{%s%d}", k < 0 ? "−" : "", std::abs(k));
        labels.push_back(buffer);
      }
    }
    if (at.size() >= 2) return;  // less than two decades: linear ticks read better
    at.clear();
    labels.clear();
  }
  double step = 1;
  for (double t : linear_ticks(lo, hi, target, step)) {
    at.push_back(t);
    labels.push_back(number_label(t, step));
  }
}

// A measuring context: text extents without a page (hinting off, so that PNG, SVG and PDF lay
// out identically).
struct Measure {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t* cr = cairo_create(surface);
  Measure() { configure(cr); }
  ~Measure() {
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
  }
  Measure(const Measure&) = delete;
  Measure& operator=(const Measure&) = delete;
  static void configure(cairo_t* c) {
    cairo_font_options_t* o = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(o, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(o, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(c, o);
    cairo_font_options_destroy(o);
  }
};

struct Entry {
  std::string label;
  Color color;
  bool line, marker, dashed;
  double width;
};

}  // namespace

// ------------------------------------------------------------------------------ layout

/// The drawing code: lays a figure out in a box of the page and draws it.
struct Painter {
  struct Layout {
    Box panel, plot, legend;
    bool outside = false;
    bool legend_row = false;  // outside: one row above the plot (else the entries stacked)
    Figure::Axis ax, ay;
    std::vector<double> xt, yt;
    std::vector<std::string> xl, yl;
    std::vector<Entry> entries;
    double top = 0, bottom = 0;  // margins above and below the plot area
    double left = 0, right = 0;  // and beside it

    double px(double x) const {
      const double t0 = transform(ax.lo, ax.log), t1 = transform(ax.hi, ax.log);
      return plot.x0 + (transform(x, ax.log) - t0) / (t1 - t0) * (plot.x1 - plot.x0);
    }
    double py(double y) const {
      const double t0 = transform(ay.lo, ay.log), t1 = transform(ay.hi, ay.log);
      return plot.y1 - (transform(y, ay.log) - t0) / (t1 - t0) * (plot.y1 - plot.y0);
    }
    bool usable(double x, double y) const {
      return std::isfinite(x) && std::isfinite(y) && (!ax.log || x > 0) && (!ay.log || y > 0);
    }
  };

  static double legend_row_height() { return kLegendSize * 1.5; }
  static double entry_width(cairo_t* cr, const Entry& e) {
    return 56 + text_width(cr, e.label, kLegendSize);  // sample, gaps, text, right margin
  }

  // Pixels along every line, error bar and marker of the figure (what the legend must avoid).
  static std::vector<std::pair<double, double>> data_points(const Figure& f, const Layout& l) {
    std::vector<std::pair<double, double>> points;
    for (const auto& s : f.series_) {
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!l.usable(s.x[i], s.y[i])) continue;
        const double x = l.px(s.x[i]), y = l.py(s.y[i]);
        points.emplace_back(x, y);
        if (s.style == Series::Style::kErrorBars) {
          const double e = std::abs(s.err[i]);
          const double lo = l.ay.log && s.y[i] - e <= 0 ? l.plot.y1 : l.py(s.y[i] - e);
          const double hi = l.py(s.y[i] + e);
          for (double t = std::min(lo, hi); t <= std::max(lo, hi); t += 2)
            points.emplace_back(x, t);
        }
        if (s.style == Series::Style::kLine && i > 0 && l.usable(s.x[i - 1], s.y[i - 1])) {
          const double x0 = l.px(s.x[i - 1]), y0 = l.py(s.y[i - 1]);
          const int n = static_cast<int>(std::ceil(std::hypot(x - x0, y - y0) / 2));
          for (int k = 1; k < n; ++k)
            points.emplace_back(x0 + (x - x0) * k / n, y0 + (y - y0) * k / n);
        }
      }
    }
    // Only what lies inside the plot area is drawn.
    points.erase(std::remove_if(points.begin(), points.end(),
                                [&](const auto& p) {
                                  return p.first < l.plot.x0 - 1 || p.first > l.plot.x1 + 1 ||
                                         p.second < l.plot.y0 - 1 || p.second > l.plot.y1 + 1;
                                }),
                 points.end());
    return points;
  }

  // Lays `f` out in `panel`; `top`/`bottom` (>= 0) force the margins above and below the plot
  // area (panels of one page share them).
  // `min_left`/`min_right` (>= 0) widen the margins beside it (panels of a column share them).
  static Layout layout(cairo_t* cr, const Figure& f, Box panel, double top = -1, double bottom = -1,
                       double min_left = -1, double min_right = -1) {
    Layout l;
    l.panel = panel;
    l.ax = f.x_;
    l.ay = f.y_;
    f.resolve_ranges(l.ax, l.ay);
    const double pw = panel.x1 - panel.x0, ph = panel.y1 - panel.y0;
    axis_ticks(l.ay.lo, l.ay.hi, l.ay.log, std::max(3, static_cast<int>(ph / 80)), l.yt, l.yl);
    if (!f.xtick_at_.empty()) {
      l.xt = f.xtick_at_;
      l.xl = f.xtick_labels_;
    } else {
      axis_ticks(l.ax.lo, l.ax.hi, l.ax.log, std::max(2, static_cast<int>(pw / 130)), l.xt, l.xl);
    }
    double numbers = 0;
    if (!f.hide_y_numbers_) {
      for (std::size_t i = 0; i < l.yt.size(); ++i) {
        if (l.yt[i] >= l.ay.lo && l.yt[i] <= l.ay.hi)
          numbers = std::max(numbers, text_width(cr, l.yl[i], kTickSize));
      }
    }
    const double left =
        std::max(min_left, 12 + (f.ylabel_.empty() ? 0 : kLabelSize * 1.4) + numbers + 12);
    const double right = std::max(min_right, 20.0);
    l.left = left;
    l.right = right;
    double natural_top = 14 + (f.title_.empty() ? 0 : kTitleSize * 1.6);
    const double natural_bottom = 12 + kTickSize * 1.5 + (f.xlabel_.empty() ? 0 : kLabelSize * 1.6);

    for (const auto& s : f.series_) {
      if (s.label.empty()) continue;
      l.entries.push_back({s.label, s.color, s.style == Series::Style::kLine,
                           s.style != Series::Style::kLine || s.markers, s.dashed, s.width});
    }
    for (const auto& g : f.guides_) {
      if (!g.label.empty()) l.entries.push_back({g.label, g.color, true, false, g.dashed, g.width});
    }
    double lw = 0, row_w = 0;
    for (const auto& e : l.entries) {
      lw = std::max(lw, entry_width(cr, e));
      row_w += entry_width(cr, e) + 12;
    }
    const double lh = static_cast<double>(l.entries.size()) * legend_row_height() + 10;

    auto place_plot = [&](double t) {
      l.top = top >= 0 ? std::max(top, t) : t;
      l.bottom = bottom >= 0 ? std::max(bottom, natural_bottom) : natural_bottom;
      l.plot = {panel.x0 + left, panel.y0 + l.top, panel.x1 - right, panel.y1 - l.bottom};
      if (l.plot.x1 - l.plot.x0 < 40 || l.plot.y1 - l.plot.y0 < 40) {
        throw UsageError("figure of " + std::to_string(static_cast<int>(pw)) + " x " +
                         std::to_string(static_cast<int>(ph)) +
                         " pixels is too small for its labels and legend");
      }
    };
    place_plot(natural_top);
    if (l.entries.empty()) return l;

    // Inside: the first corner (top right, top left, bottom right, bottom left) whose box is
    // free of data with a margin of 4 pixels.
    const auto points = data_points(f, l);
    const double pad = 10;
    const Box corners[] = {
        {l.plot.x1 - pad - lw, l.plot.y0 + pad, l.plot.x1 - pad, l.plot.y0 + pad + lh},
        {l.plot.x0 + pad, l.plot.y0 + pad, l.plot.x0 + pad + lw, l.plot.y0 + pad + lh},
        {l.plot.x1 - pad - lw, l.plot.y1 - pad - lh, l.plot.x1 - pad, l.plot.y1 - pad},
        {l.plot.x0 + pad, l.plot.y1 - pad - lh, l.plot.x0 + pad + lw, l.plot.y1 - pad}};
    for (const Box& b : corners) {
      if (b.x0 < l.plot.x0 || b.y1 > l.plot.y1) continue;  // does not fit
      bool free = true;
      for (const auto& [x, y] : points) {
        if (x > b.x0 - 4 && x < b.x1 + 4 && y > b.y0 - 4 && y < b.y1 + 4) {
          free = false;
          break;
        }
      }
      if (free) {
        l.legend = b;
        return l;
      }
    }
    // Outside, above the plot area (the plot keeps its width): one row when it fits, else the
    // entries stacked.
    l.outside = true;
    l.legend_row = row_w <= l.plot.x1 - l.plot.x0;
    const double h = l.legend_row ? legend_row_height() : lh - 10;
    place_plot(natural_top + h + 12);
    l.legend = {l.plot.x0, l.plot.y0 - h - 10, l.plot.x0 + (l.legend_row ? row_w - 12 : lw),
                l.plot.y0 - 6};
    return l;
  }

  static void dash(cairo_t* cr, bool on, double width) {
    if (on) {
      const double d[] = {std::max(6.0, 3.5 * width), std::max(4.0, 2.2 * width)};
      cairo_set_dash(cr, d, 2, 0);
    } else {
      cairo_set_dash(cr, nullptr, 0, 0);
    }
  }

  static void marker(cairo_t* cr, double x, double y) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, 3.6, 0, 2 * M_PI);
  }

  static void draw(cairo_t* cr, const Figure& f, const Layout& l) {
    const Box& p = l.plot;
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    // Grid, ticks and their labels.
    cairo_set_line_width(cr, 1);
    for (std::size_t i = 0; i < l.yt.size(); ++i) {
      const double y = std::round(l.py(l.yt[i])) + 0.5;
      if (y < p.y0 - 0.6 || y > p.y1 + 1) continue;
      set_color(cr, kGrid);
      cairo_move_to(cr, p.x0, y);
      cairo_line_to(cr, p.x1, y);
      cairo_stroke(cr);
      set_color(cr, kFrame);
      cairo_move_to(cr, p.x0 - 5, y);
      cairo_line_to(cr, p.x0, y);
      cairo_stroke(cr);
      if (!f.hide_y_numbers_) draw_text(cr, l.yl[i], p.x0 - 9, y + 0.36 * kTickSize, kTickSize, 2);
    }
    const bool custom_x = !f.xtick_at_.empty();
    for (std::size_t i = 0; i < l.xt.size(); ++i) {
      const double x = std::round(l.px(l.xt[i])) + 0.5;
      if (x < p.x0 - 1 || x > p.x1 + 1) continue;
      if (!custom_x) {
        set_color(cr, kGrid);
        cairo_move_to(cr, x, p.y0);
        cairo_line_to(cr, x, p.y1);
        cairo_stroke(cr);
      }
      set_color(cr, kFrame);
      cairo_move_to(cr, x, p.y1);
      cairo_line_to(cr, x, p.y1 + 5);
      cairo_stroke(cr);
      draw_text(cr, l.xl[i], x, p.y1 + 9 + 0.93 * kTickSize, kTickSize, 1);
    }

    // Data, clipped to the plot area: guide lines under the series, series in order.
    cairo_save(cr);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr);
    for (const auto& g : f.guides_) {
      set_color(cr, g.color);
      cairo_set_line_width(cr, g.width);
      dash(cr, g.dashed, g.width);
      // Thin guides on pixel centres (crisp light lines in PNG).
      auto snap = [&](double v) { return g.width <= 1.5 ? std::floor(v) + 0.5 : v; };
      if (g.vertical) {
        const double x = snap(l.px(g.value));
        cairo_move_to(cr, x, p.y0);
        cairo_line_to(cr, x, p.y1);
      } else {
        const double y = snap(l.py(g.value));
        cairo_move_to(cr, p.x0, y);
        cairo_line_to(cr, p.x1, y);
      }
      cairo_stroke(cr);
    }
    for (const auto& s : f.series_) {
      set_color(cr, s.color);
      cairo_set_line_width(cr, s.width);
      dash(cr, s.dashed, s.width);
      if (s.style == Series::Style::kLine) {
        bool open = false;
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          if (!l.usable(s.x[i], s.y[i])) {
            open = false;
            continue;
          }
          if (open) {
            cairo_line_to(cr, l.px(s.x[i]), l.py(s.y[i]));
          } else {
            cairo_move_to(cr, l.px(s.x[i]), l.py(s.y[i]));
            open = true;
          }
        }
        cairo_stroke(cr);
      }
      dash(cr, false, 0);
      if (s.style == Series::Style::kErrorBars) {
        cairo_set_line_width(cr, 1.4);
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          if (!l.usable(s.x[i], s.y[i])) continue;
          // On a pixel centre: crisp in PNG, not two faint columns.
          const double x = std::floor(l.px(s.x[i])) + 0.5, e = std::abs(s.err[i]);
          const double lo = l.ay.log && s.y[i] - e <= 0 ? p.y1 : l.py(s.y[i] - e);
          const double hi = l.py(s.y[i] + e);
          cairo_move_to(cr, x, lo);
          cairo_line_to(cr, x, hi);
          cairo_move_to(cr, x - 3.5, lo);
          cairo_line_to(cr, x + 3.5, lo);
          cairo_move_to(cr, x - 3.5, hi);
          cairo_line_to(cr, x + 3.5, hi);
        }
        cairo_stroke(cr);
      }
      if (s.style != Series::Style::kLine || s.markers) {
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          if (l.usable(s.x[i], s.y[i])) marker(cr, l.px(s.x[i]), l.py(s.y[i]));
        }
        cairo_fill(cr);
      }
    }
    cairo_restore(cr);
    dash(cr, false, 0);

    // Frame.
    set_color(cr, kFrame);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_stroke(cr);

    // Legend.
    if (!l.entries.empty()) {
      const Box& b = l.legend;
      if (!l.outside) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_rectangle(cr, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
        cairo_fill_preserve(cr);
        set_color(cr, kLegendFrame);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
      }
      double x = b.x0 + 8, y = b.y0 + 5 + legend_row_height() / 2;
      for (const auto& e : l.entries) {
        set_color(cr, e.color);
        if (e.line) {
          cairo_set_line_width(cr, std::max(e.width, 1.6));
          dash(cr, e.dashed, e.width);
          cairo_move_to(cr, x, y);
          cairo_line_to(cr, x + 30, y);
          cairo_stroke(cr);
          dash(cr, false, 0);
        }
        if (e.marker) {
          marker(cr, x + 15, y);
          cairo_fill(cr);
        }
        draw_text(cr, e.label, x + 38, y + 0.36 * kLegendSize, kLegendSize, 0);
        if (l.legend_row) {
          x += entry_width(cr, e) + 12;
        } else {
          y += legend_row_height();
        }
      }
    }

    // Title and axis labels.
    const Box& q = l.panel;
    if (!f.title_.empty()) {
      draw_text(cr, f.title_, (p.x0 + p.x1) / 2, q.y0 + 10 + 0.93 * kTitleSize, kTitleSize, 1);
    }
    if (!f.xlabel_.empty()) {
      draw_text(cr, f.xlabel_, (p.x0 + p.x1) / 2, q.y1 - 10 - 0.24 * kLabelSize, kLabelSize, 1);
    }
    if (!f.ylabel_.empty()) {
      draw_text(cr, f.ylabel_, q.x0 + 10 + 0.93 * kLabelSize, (p.y0 + p.y1) / 2, kLabelSize, 1,
                kBlack, true);
    }
  }

  // Panels of a page in rows, plot areas aligned: first the natural margins of each, then the
  // largest top and bottom margins of each row and left and right margins of each column.
  // One layout per panel (empty slots have none), in the order they were added.
  static std::vector<Layout> page_layout(cairo_t* cr, const Page& page) {
    bool any = false;
    for (const auto& s : page.slots_) any = any || s.figure.has_value();
    if (!any) throw UsageError("a figure page needs at least one panel");
    const std::size_t rows = page.rows_.size();
    double height_total = 0;
    for (double h : page.rows_) height_total += h;
    std::vector<double> width_total(rows, 0.0);
    for (const auto& s : page.slots_) width_total[static_cast<std::size_t>(s.row)] += s.weight;
    const double title = page.title_.empty() ? 0 : kTitleSize * 1.8;
    const double usable = page.height_ - title;
    std::vector<double> row_top(rows + 1, title);
    for (std::size_t r = 0; r < rows; ++r) {
      row_top[r + 1] = row_top[r] + usable * page.rows_[r] / height_total;
    }
    std::vector<Box> boxes;
    std::vector<std::size_t> column;
    std::vector<double> x(rows, 0.0);
    std::vector<std::size_t> next_column(rows, 0);
    for (const auto& s : page.slots_) {
      const auto r = static_cast<std::size_t>(s.row);
      const double w = page.width_ * s.weight / width_total[r];
      boxes.push_back({x[r], row_top[r], x[r] + w, row_top[r + 1]});
      column.push_back(next_column[r]++);
      x[r] += w;
    }
    std::vector<double> top(rows, 0), bottom(rows, 0);
    std::vector<double> left(page.slots_.size(), 0), right(page.slots_.size(), 0);
    for (std::size_t i = 0; i < boxes.size(); ++i) {
      const auto& s = page.slots_[i];
      if (!s.figure) continue;
      const Layout l = layout(cr, *s.figure, boxes[i]);
      const auto r = static_cast<std::size_t>(s.row);
      top[r] = std::max(top[r], l.top);
      bottom[r] = std::max(bottom[r], l.bottom);
      left[column[i]] = std::max(left[column[i]], l.left);
      right[column[i]] = std::max(right[column[i]], l.right);
    }
    std::vector<Layout> out;
    for (std::size_t i = 0; i < boxes.size(); ++i) {
      const auto& s = page.slots_[i];
      if (!s.figure) continue;
      const auto r = static_cast<std::size_t>(s.row);
      out.push_back(
          layout(cr, *s.figure, boxes[i], top[r], bottom[r], left[column[i]], right[column[i]]));
    }
    return out;
  }

  static void draw_page(cairo_t* cr, const Page& page) {
    Measure::configure(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    const auto layouts = page_layout(cr, page);
    std::size_t k = 0;
    for (const auto& s : page.slots_) {
      if (s.figure) draw(cr, *s.figure, layouts[k++]);
    }
    if (!page.title_.empty()) {
      draw_text(cr, page.title_, page.width_ / 2.0, 8 + 0.93 * kTitleSize, kTitleSize, 1);
    }
  }
};

// ------------------------------------------------------------------------------ output

namespace {

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& what) {
  if (status != CAIRO_STATUS_SUCCESS) {
    throw IoError(what + ": cairo failed: " + cairo_status_to_string(status));
  }
}

Image to_image(cairo_surface_t* s) {
  cairo_surface_flush(s);
  Image im;
  im.width = cairo_image_surface_get_width(s);
  im.height = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  const unsigned char* data = cairo_image_surface_get_data(s);
  const cairo_format_t format = cairo_image_surface_get_format(s);
  im.rgb.resize(static_cast<std::size_t>(im.width) * im.height * 3);
  for (int y = 0; y < im.height; ++y) {
    const auto* row =
        reinterpret_cast<const std::uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    for (int x = 0; x < im.width; ++x) {
      std::uint32_t v = row[x];
      std::uint32_t a = format == CAIRO_FORMAT_ARGB32 ? v >> 24 : 255;
      auto channel = [&](int shift) {
        const std::uint32_t c = (v >> shift) & 0xff;  // premultiplied: over white
        return static_cast<std::uint8_t>(std::min<std::uint32_t>(255, c + (255 - a)));
      };
      std::uint8_t* p = &im.rgb[3 * (static_cast<std::size_t>(y) * im.width + x)];
      p[0] = channel(16);
      p[1] = channel(8);
      p[2] = channel(0);
    }
  }
  return im;
}

// Draws a page into bytes of the given format.
std::string encode(const Page& page, int width, int height, Format format,
                   const std::string& path) {
  std::string bytes;
  cairo_surface_t* s = nullptr;
  switch (format) {
    case Format::kPng:
      s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
      break;
    case Format::kSvg:
      s = cairo_svg_surface_create_for_stream(append, &bytes, width, height);
      break;
    case Format::kPdf:
      s = cairo_pdf_surface_create_for_stream(append, &bytes, width, height);
      break;
  }
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> surface(s, cairo_surface_destroy);
  check(cairo_surface_status(s), path);
  {
    std::unique_ptr<cairo_t, void (*)(cairo_t*)> cr(cairo_create(s), cairo_destroy);
    Painter::draw_page(cr.get(), page);
    check(cairo_status(cr.get()), path);
  }
  if (format == Format::kPng) {
    check(cairo_surface_write_to_png_stream(s, append, &bytes), path);
  } else {
    cairo_surface_finish(s);
    check(cairo_surface_status(s), path);
  }
  return bytes;
}

}  // namespace

// ------------------------------------------------------------------------------ public

Color palette(int index) {
  static const Color colors[] = {{0, 114, 178}, {213, 94, 0},   {0, 158, 115},  {204, 121, 167},
                                 {230, 159, 0}, {86, 180, 233}, {240, 228, 66}, {0, 0, 0}};
  return colors[((index % 8) + 8) % 8];
}

Color Image::at(int x, int y) const {
  x = std::clamp(x, 0, width - 1);
  y = std::clamp(y, 0, height - 1);
  const std::uint8_t* p = &rgb[3 * (static_cast<std::size_t>(y) * width + x)];
  return {p[0], p[1], p[2]};
}

Image read_png(const std::string& path) {
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> s(
      cairo_image_surface_create_from_png(path.c_str()), cairo_surface_destroy);
  if (cairo_surface_status(s.get()) != CAIRO_STATUS_SUCCESS) {
    throw IoError(path + ": cannot read as PNG (" +
                  cairo_status_to_string(cairo_surface_status(s.get())) + ")");
  }
  return to_image(s.get());
}

Format format_of(const std::string& path, const std::string& what) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = path.substr(dot + 1);
  }
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png") return Format::kPng;
  if (ext == "svg") return Format::kSvg;
  if (ext == "pdf") return Format::kPdf;
  throw UsageError(what + " '" + path +
                   "': unknown figure format; end the name with .png, .svg or .pdf");
}

Figure::Figure(int width, int height) : width_(width), height_(height) {
  if (width < 200 || height < 150 || width > 20000 || height > 20000) {
    throw UsageError("figure size " + std::to_string(width) + " x " + std::to_string(height) +
                     " is out of range (200 x 150 to 20000 x 20000 pixels)");
  }
}

Figure& Figure::title(std::string text) {
  title_ = std::move(text);
  return *this;
}
Figure& Figure::xlabel(std::string text) {
  xlabel_ = std::move(text);
  return *this;
}
Figure& Figure::ylabel(std::string text) {
  ylabel_ = std::move(text);
  return *this;
}
Figure& Figure::log_x(bool on) {
  x_.log = on;
  return *this;
}
Figure& Figure::log_y(bool on) {
  y_.log = on;
  return *this;
}
Figure& Figure::xlim(double lo, double hi) {
  x_.fixed = true;
  x_.lo = lo;
  x_.hi = hi;
  return *this;
}
Figure& Figure::ylim(double lo, double hi) {
  y_.fixed = true;
  y_.lo = lo;
  y_.hi = hi;
  return *this;
}
Figure& Figure::xticks(std::vector<double> at, std::vector<std::string> labels) {
  if (at.size() != labels.size()) throw UsageError("xticks: as many labels as positions needed");
  xtick_at_ = std::move(at);
  xtick_labels_ = std::move(labels);
  return *this;
}
Figure& Figure::hide_y_numbers(bool on) {
  hide_y_numbers_ = on;
  return *this;
}

Series& Figure::line(std::vector<double> x, std::vector<double> y, std::string label) {
  Series s;
  s.x = std::move(x);
  s.y = std::move(y);
  s.label = std::move(label);
  s.color = palette(static_cast<int>(series_.size()));
  series_.push_back(std::move(s));
  return series_.back();
}

Series& Figure::markers(std::vector<double> x, std::vector<double> y, std::string label) {
  Series& s = line(std::move(x), std::move(y), std::move(label));
  s.style = Series::Style::kMarkers;
  return s;
}

Series& Figure::error_bars(std::vector<double> x, std::vector<double> y, std::vector<double> err,
                           std::string label) {
  Series& s = line(std::move(x), std::move(y), std::move(label));
  s.err = std::move(err);
  s.style = Series::Style::kErrorBars;
  return s;
}

namespace {
Guide make_guide(bool vertical, double value, std::string label, int labelled_before) {
  Guide g;
  g.vertical = vertical;
  g.value = value;
  if (!label.empty()) {
    // Labelled guides take the palette from its end (black, yellow is too light: skipped),
    // away from the first series' colours.
    static const int order[] = {7, 3, 4, 2};
    g.color = palette(order[labelled_before % 4]);
    g.width = 2.0;
    g.dashed = true;
  }
  g.label = std::move(label);
  return g;
}
}  // namespace

Guide& Figure::vline(double x, std::string label) {
  const auto n = std::count_if(guides_.begin(), guides_.end(),
                               [](const Guide& g) { return !g.label.empty(); });
  guides_.push_back(make_guide(true, x, std::move(label), static_cast<int>(n)));
  return guides_.back();
}
Guide& Figure::hline(double y, std::string label) {
  const auto n = std::count_if(guides_.begin(), guides_.end(),
                               [](const Guide& g) { return !g.label.empty(); });
  guides_.push_back(make_guide(false, y, std::move(label), static_cast<int>(n)));
  return guides_.back();
}

void Figure::resolve_ranges(Axis& x, Axis& y) const {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  auto take = [](double v, bool log, double& lo, double& hi) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (const auto& s : series_) {
    if (s.x.size() != s.y.size() || (!s.err.empty() && s.err.size() != s.y.size())) {
      throw UsageError("plot series '" + s.label + "': x, y (and err) must have the same length");
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      take(s.x[i], x.log, xlo, xhi);
      const double e = s.err.empty() ? 0 : std::abs(s.err[i]);
      take(s.y[i] - e, y.log, ylo, yhi);
      take(s.y[i] + e, y.log, ylo, yhi);
      take(s.y[i], y.log, ylo, yhi);
    }
  }
  for (const auto& g : guides_)
    take(g.value, g.vertical ? x.log : y.log, g.vertical ? xlo : ylo, g.vertical ? xhi : yhi);
  for (double t : xtick_at_) take(t, x.log, xlo, xhi);
  auto finish = [](Axis& a, double lo, double hi, const char* name) {
    if (a.fixed) {
      if (!(a.lo < a.hi) || (a.log && a.lo <= 0)) {
        throw UsageError(std::string("bad ") + name + " range for the plot");
      }
      return;
    }
    if (!std::isfinite(lo)) throw UsageError(std::string("nothing finite to plot on the ") + name);
    if (a.log) {
      double l = std::log10(lo), h = std::log10(hi);
      if (h - l < 1e-12) {
        l -= 0.5;
        h += 0.5;
      }
      const double pad = 0.04 * (h - l);
      a.lo = std::pow(10.0, l - pad);
      a.hi = std::pow(10.0, h + pad);
    } else {
      if (hi - lo < 1e-300 + 1e-12 * std::abs(hi)) {
        const double d = lo == 0 ? 1 : 0.1 * std::abs(lo);
        lo -= d;
        hi += d;
      }
      const double pad = 0.04 * (hi - lo);
      a.lo = lo - pad;
      a.hi = hi + pad;
    }
  };
  finish(x, xlo, xhi, "x axis");
  finish(y, ylo, yhi, "y axis");
}

Figure::Geometry Figure::geometry() const { return Page(width_, height_).add(*this).geometry(0); }

std::pair<double, double> Figure::to_pixel(double x, double y) const {
  return Page(width_, height_).add(*this).to_pixel(0, x, y);
}

std::vector<std::pair<double, double>> Figure::data_pixels() const {
  Measure m;
  const Page page = Page(width_, height_).add(*this);
  return Painter::data_points(*this, Painter::page_layout(m.cr, page)[0]);
}

Image Figure::render() const { return Page(width_, height_).add(*this).render(); }

void Figure::save(const std::string& path) const { Page(width_, height_).add(*this).save(path); }

Page::Page(int width, int height) : width_(width), height_(height) {
  if (width < 200 || height < 150 || width > 20000 || height > 20000) {
    throw UsageError("figure size " + std::to_string(width) + " x " + std::to_string(height) +
                     " is out of range (200 x 150 to 20000 x 20000 pixels)");
  }
}

Page& Page::title(std::string text) {
  title_ = std::move(text);
  return *this;
}

Page& Page::add(const Figure& figure, double weight) {
  if (!(weight > 0)) throw UsageError("a figure panel needs a positive width weight");
  slots_.push_back({figure, weight, static_cast<int>(rows_.size()) - 1});
  return *this;
}

Page& Page::skip(double weight) {
  if (!(weight > 0)) throw UsageError("a figure slot needs a positive width weight");
  slots_.push_back({std::nullopt, weight, static_cast<int>(rows_.size()) - 1});
  return *this;
}

Page& Page::next_row(double height) {
  if (!(height > 0)) throw UsageError("a figure row needs a positive height weight");
  rows_.push_back(height);
  return *this;
}

Figure::Geometry Page::geometry(int index) const {
  Measure m;
  const auto layouts = Painter::page_layout(m.cr, *this);
  const auto& l = layouts.at(static_cast<std::size_t>(index));
  Figure::Geometry g;
  g.plot = l.plot;
  if (!l.entries.empty()) g.legend = l.legend;
  g.legend_outside = l.outside;
  return g;
}

std::pair<double, double> Page::to_pixel(int index, double x, double y) const {
  Measure m;
  const auto l = Painter::page_layout(m.cr, *this).at(static_cast<std::size_t>(index));
  return {l.px(x), l.py(y)};
}

Image Page::render() const {
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> s(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width_, height_), cairo_surface_destroy);
  {
    std::unique_ptr<cairo_t, void (*)(cairo_t*)> cr(cairo_create(s.get()), cairo_destroy);
    Painter::draw_page(cr.get(), *this);
    check(cairo_status(cr.get()), "figure");
  }
  return to_image(s.get());
}

void Page::save(const std::string& path) const {
  const Format format = format_of(path);
  io::write_file_atomic(path, encode(*this, width_, height_, format, path));
}

}  // namespace physfit::plot
