#include "physfit/plot/figure.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"

namespace physfit::plot {
namespace detail {
struct Glyph {
  int code, advance, left, top, width, height, offset;
};
#include "font_data.inc"
}  // namespace detail

namespace {

using detail::Glyph;

constexpr Color kBlack{0, 0, 0};
constexpr Color kWhite{255, 255, 255};
constexpr Color kGrid{225, 225, 225};
constexpr Color kFrame{60, 60, 60};
constexpr Color kRefLine{110, 110, 110};

// ------------------------------------------------------------------------------ text

std::vector<int> decode_utf8(const std::string& text) {
  std::vector<int> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    int code = '?', length = 1;
    if (c < 0x80) {
      code = c;
    } else if ((c >> 5) == 0x6 && i + 1 < text.size()) {
      code = ((c & 0x1f) << 6) | (text[i + 1] & 0x3f);
      length = 2;
    } else if ((c >> 4) == 0xe && i + 2 < text.size()) {
      code = ((c & 0x0f) << 12) | ((text[i + 1] & 0x3f) << 6) | (text[i + 2] & 0x3f);
      length = 3;
    } else if ((c >> 3) == 0x1e && i + 3 < text.size()) {
      length = 4;  // outside the font
    }
    out.push_back(code);
    i += length;
  }
  return out;
}

const Glyph& glyph(int code) {
  static const std::unordered_map<int, const Glyph*> table = [] {
    std::unordered_map<int, const Glyph*> t;
    for (const auto& g : detail::kGlyphs) t[g.code] = &g;
    return t;
  }();
  const auto it = table.find(code);
  return it != table.end() ? *it->second : *table.at('?');
}

int text_width(const std::string& text) {
  int w = 0;
  for (int code : decode_utf8(text)) w += glyph(code).advance;
  return w;
}

constexpr int kTextHeight = detail::kFontAscent + detail::kFontDescent;

// -------------------------------------------------------------------------- canvas

struct Rect {
  int x0, y0, x1, y1;  // inclusive-exclusive
};

class Canvas {
 public:
  Canvas(int w, int h) : image_{w, h, std::vector<std::uint8_t>(3 * w * h, 255)} {}
  Image take() { return std::move(image_); }
  int width() const { return image_.width; }
  int height() const { return image_.height; }

  void blend(int x, int y, Color c, double alpha) {
    if (x < 0 || y < 0 || x >= image_.width || y >= image_.height || alpha <= 0) return;
    alpha = std::min(alpha, 1.0);
    std::uint8_t* p = &image_.rgb[3 * (static_cast<std::size_t>(y) * image_.width + x)];
    p[0] = static_cast<std::uint8_t>(std::lround(p[0] + alpha * (c.r - p[0])));
    p[1] = static_cast<std::uint8_t>(std::lround(p[1] + alpha * (c.g - p[1])));
    p[2] = static_cast<std::uint8_t>(std::lround(p[2] + alpha * (c.b - p[2])));
  }
  void fill(const Rect& r, Color c) {
    for (int y = std::max(0, r.y0); y < std::min(height(), r.y1); ++y)
      for (int x = std::max(0, r.x0); x < std::min(width(), r.x1); ++x) blend(x, y, c, 1.0);
  }
  void hline(int x0, int x1, int y, Color c) { fill({x0, y, x1 + 1, y + 1}, c); }
  void vline(int x, int y0, int y1, Color c) { fill({x, y0, x + 1, y1 + 1}, c); }
  void frame(const Rect& r, Color c) {
    hline(r.x0, r.x1 - 1, r.y0, c);
    hline(r.x0, r.x1 - 1, r.y1 - 1, c);
    vline(r.x0, r.y0, r.y1 - 1, c);
    vline(r.x1 - 1, r.y0, r.y1 - 1, c);
  }

  // Text with its baseline at y; x is the left end, or the centre or right end by `align`
  // (0 left, 1 centre, 2 right). Rotated texts run upwards with their baseline at x.
  void text(const std::string& s, int x, int y, Color c, int align = 0, bool rotated = false) {
    const int w = text_width(s);
    int pen = align == 0 ? 0 : (align == 1 ? -w / 2 : -w);
    for (int code : decode_utf8(s)) {
      const Glyph& g = glyph(code);
      for (int row = 0; row < g.height; ++row) {
        for (int col = 0; col < g.width; ++col) {
          const double a = detail::kGlyphPixels[g.offset + row * g.width + col] / 255.0;
          const int gx = pen + g.left + col, gy = row - g.top;  // relative to the pen
          if (rotated) {
            blend(x + gy, y - gx, c, a);
          } else {
            blend(x + gx, y + gy, c, a);
          }
        }
      }
      pen += g.advance;
    }
  }

 private:
  Image image_;
};

// Coverage mask of one series: the maximum coverage of every primitive, blended once, so
// that joints and overlapping markers do not darken.
class Mask {
 public:
  Mask(int w, int h, Rect clip) : w_(w), h_(h), clip_(clip), a_(w * h, 0.0f) {}
  void put(int x, int y, double a) {
    if (x < clip_.x0 || y < clip_.y0 || x >= clip_.x1 || y >= clip_.y1) return;
    float& v = a_[static_cast<std::size_t>(y) * w_ + x];
    v = std::max(v, static_cast<float>(std::min(a, 1.0)));
  }
  // Anti-aliased segment of the given width; `dash` > 0 draws dashes of that period,
  // starting at arc length `s0`.
  void segment(double x0, double y0, double x1, double y1, double width, double dash = 0,
               double s0 = 0) {
    const double r = width / 2;
    const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, len = std::sqrt(len2);
    const int xa = static_cast<int>(std::floor(std::min(x0, x1) - r - 1));
    const int xb = static_cast<int>(std::ceil(std::max(x0, x1) + r + 1));
    const int ya = static_cast<int>(std::floor(std::min(y0, y1) - r - 1));
    const int yb = static_cast<int>(std::ceil(std::max(y0, y1) + r + 1));
    for (int y = std::max(ya, clip_.y0); y < std::min(yb, clip_.y1); ++y) {
      for (int x = std::max(xa, clip_.x0); x < std::min(xb, clip_.x1); ++x) {
        const double px = x + 0.5 - x0, py = y + 0.5 - y0;
        const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
        if (dash > 0 && std::fmod(s0 + t * len, dash) > 0.6 * dash) continue;
        const double d = std::hypot(px - t * dx, py - t * dy);
        put(x, y, r + 0.5 - d);
      }
    }
  }
  void disc(double cx, double cy, double radius) {
    for (int y = static_cast<int>(cy - radius - 1); y <= static_cast<int>(cy + radius + 1); ++y)
      for (int x = static_cast<int>(cx - radius - 1); x <= static_cast<int>(cx + radius + 1); ++x)
        put(x, y, radius + 0.5 - std::hypot(x + 0.5 - cx, y + 0.5 - cy));
  }
  void paint(Canvas& canvas, Color c) const {
    for (int y = clip_.y0; y < clip_.y1; ++y)
      for (int x = clip_.x0; x < clip_.x1; ++x)
        canvas.blend(x, y, c, a_[static_cast<std::size_t>(y) * w_ + x]);
  }

 private:
  int w_, h_;
  Rect clip_;
  std::vector<float> a_;
};

// ---------------------------------------------------------------------------- ticks

std::string number_label(double v, double step) {
  char buffer[32];
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e-3 && a < 1e5) {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
  }
  return buffer;
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

struct Layout {
  Rect plot;
  std::vector<double> xticks, yticks;
  std::vector<std::string> xlabels, ylabels;
};

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
      if (k >= -3 && k <= 4) {
        std::snprintf(buffer, sizeof buffer, "%.*f", std::max(0, -k), std::pow(10.0, k));
      } else {
        std::snprintf(buffer, sizeof buffer, "1e%d", k);
      }
      labels.push_back(buffer);
    }
    if (!at.empty()) return;  // less than a decade: fall through to linear ticks
  }
  double step = 1;
  for (double t : linear_ticks(lo, hi, target, step)) {
    at.push_back(t);
    labels.push_back(number_label(t, step));
  }
}

}  // namespace

// ------------------------------------------------------------------------------ public

Color palette(int index) {
  static const Color colors[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                 {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                 {188, 189, 34},  {23, 190, 207}};
  return colors[((index % 10) + 10) % 10];
}

Color Image::at(int x, int y) const {
  const std::uint8_t* p = &rgb[3 * (static_cast<std::size_t>(y) * width + x)];
  return {p[0], p[1], p[2]};
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

Figure& Figure::vline(double x, std::string label) {
  refs_.push_back({true, x, std::move(label), kRefLine});
  return *this;
}
Figure& Figure::hline(double y, std::string label) {
  refs_.push_back({false, y, std::move(label), kRefLine});
  return *this;
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
  for (const auto& r : refs_)
    take(r.value, r.vertical ? x.log : y.log, r.vertical ? xlo : ylo, r.vertical ? xhi : yhi);
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

namespace {

Layout make_layout(int width, int height, bool has_title, bool has_xlabel, bool has_ylabel,
                   double xlo, double xhi, bool xlog, double ylo, double yhi, bool ylog,
                   const std::vector<double>& xtick_at,
                   const std::vector<std::string>& xtick_labels) {
  Layout l;
  axis_ticks(ylo, yhi, ylog, std::max(3, height / 70), l.yticks, l.ylabels);
  if (!xtick_at.empty()) {
    l.xticks = xtick_at;
    l.xlabels = xtick_labels;
  } else {
    axis_ticks(xlo, xhi, xlog, std::max(3, width / 110), l.xticks, l.xlabels);
  }
  int label_width = 0;
  for (const auto& s : l.ylabels) label_width = std::max(label_width, text_width(s));
  const int left = 12 + (has_ylabel ? kTextHeight + 6 : 0) + label_width + 8;
  const int bottom = 8 + kTextHeight + 6 + (has_xlabel ? kTextHeight + 6 : 0);
  const int top = has_title ? kTextHeight + 18 : 14;
  l.plot = {left, top, width - 22, height - bottom};
  return l;
}

}  // namespace

std::pair<double, double> Figure::to_pixel(double x, double y) const {
  Axis ax = x_, ay = y_;
  resolve_ranges(ax, ay);
  const Layout l =
      make_layout(width_, height_, !title_.empty(), !xlabel_.empty(), !ylabel_.empty(), ax.lo,
                  ax.hi, ax.log, ay.lo, ay.hi, ay.log, xtick_at_, xtick_labels_);
  const double fx = (transform(x, ax.log) - transform(ax.lo, ax.log)) /
                    (transform(ax.hi, ax.log) - transform(ax.lo, ax.log));
  const double fy = (transform(y, ay.log) - transform(ay.lo, ay.log)) /
                    (transform(ay.hi, ay.log) - transform(ay.lo, ay.log));
  return {l.plot.x0 + fx * (l.plot.x1 - l.plot.x0), l.plot.y1 - fy * (l.plot.y1 - l.plot.y0)};
}

Image Figure::render() const {
  Axis ax = x_, ay = y_;
  resolve_ranges(ax, ay);
  const Layout l =
      make_layout(width_, height_, !title_.empty(), !xlabel_.empty(), !ylabel_.empty(), ax.lo,
                  ax.hi, ax.log, ay.lo, ay.hi, ay.log, xtick_at_, xtick_labels_);
  const Rect& p = l.plot;
  const double tx0 = transform(ax.lo, ax.log), tx1 = transform(ax.hi, ax.log);
  const double ty0 = transform(ay.lo, ay.log), ty1 = transform(ay.hi, ay.log);
  auto px = [&](double x) {
    return p.x0 + (transform(x, ax.log) - tx0) / (tx1 - tx0) * (p.x1 - p.x0);
  };
  auto py = [&](double y) {
    return p.y1 - (transform(y, ay.log) - ty0) / (ty1 - ty0) * (p.y1 - p.y0);
  };
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!ax.log || x > 0) && (!ay.log || y > 0);
  };

  Canvas canvas(width_, height_);
  // Grid and tick labels.
  for (std::size_t i = 0; i < l.yticks.size(); ++i) {
    const int y = static_cast<int>(std::lround(py(l.yticks[i])));
    if (y < p.y0 || y > p.y1) continue;  // ticks on the frame (the range's ends) included
    canvas.hline(p.x0, p.x1 - 1, y, kGrid);
    canvas.hline(p.x0 - 4, p.x0 - 1, y, kFrame);
    canvas.text(l.ylabels[i], p.x0 - 7, y + detail::kFontAscent / 2 - 1, kBlack, 2);
  }
  for (std::size_t i = 0; i < l.xticks.size(); ++i) {
    const int x = static_cast<int>(std::lround(px(l.xticks[i])));
    if (x < p.x0 || x > p.x1) continue;
    canvas.vline(x, p.y0, p.y1 - 1, kGrid);
    canvas.vline(x, p.y1, p.y1 + 3, kFrame);
    canvas.text(l.xlabels[i], x, p.y1 + 6 + detail::kFontAscent, kBlack, 1);
  }
  // Reference lines.
  for (const auto& r : refs_) {
    Mask m(width_, height_, p);
    if (r.vertical) {
      const double x = std::floor(px(r.value)) + 0.5;
      m.segment(x, p.y0, x, p.y1, 1.4, 8);
    } else {
      const double y = std::floor(py(r.value)) + 0.5;
      m.segment(p.x0, y, p.x1, y, 1.4, 8);
    }
    m.paint(canvas, r.color);
  }
  // Series.
  for (const auto& s : series_) {
    Mask m(width_, height_, p);
    const bool draw_markers = s.style != Series::Style::kLine || s.markers;
    if (s.style == Series::Style::kLine) {
      double arc = 0;
      for (std::size_t i = 1; i < s.x.size(); ++i) {
        if (!usable(s.x[i - 1], s.y[i - 1]) || !usable(s.x[i], s.y[i])) continue;
        const double x0 = px(s.x[i - 1]), y0 = py(s.y[i - 1]), x1 = px(s.x[i]), y1 = py(s.y[i]);
        m.segment(x0, y0, x1, y1, s.width, s.dashed ? 10 : 0, arc);
        arc += std::hypot(x1 - x0, y1 - y0);
      }
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      const double x = px(s.x[i]), y = py(s.y[i]);
      if (s.style == Series::Style::kErrorBars) {
        const double bx = std::floor(x) + 0.5;  // on a pixel centre: crisp, not two faint columns
        const double e = std::abs(s.err[i]);
        const double lo = ay.log && s.y[i] - e <= 0 ? p.y1 : py(s.y[i] - e);
        const double hi = py(s.y[i] + e);
        m.segment(bx, lo, bx, hi, 1.2);
        m.segment(bx - 3.5, lo, bx + 3.5, lo, 1.2);
        m.segment(bx - 3.5, hi, bx + 3.5, hi, 1.2);
      }
      if (draw_markers) m.disc(x, y, 3.0);
    }
    m.paint(canvas, s.color);
  }
  canvas.frame({p.x0 - 1, p.y0 - 1, p.x1 + 1, p.y1 + 1}, kFrame);

  // Legend, inside the plot where it covers the fewest data: the first of the places below
  // (top right first, as matplotlib's loc="best") whose box holds the fewest points sampled
  // every pixel along the lines, markers and error bars.
  struct Entry {
    std::string label;
    Color color;
    bool line, marker, dashed;
  };
  std::vector<Entry> entries;
  for (const auto& s : series_) {
    if (s.label.empty()) continue;
    entries.push_back({s.label, s.color, s.style == Series::Style::kLine,
                       s.style != Series::Style::kLine || s.markers, s.dashed});
  }
  for (const auto& r : refs_) {
    if (!r.label.empty()) entries.push_back({r.label, r.color, true, false, true});
  }
  if (!entries.empty()) {
    int w = 0;
    for (const auto& e : entries) w = std::max(w, text_width(e.label));
    const int row = kTextHeight + 3;
    const int bw = w + 42, bh = static_cast<int>(entries.size()) * row + 8;
    std::vector<std::pair<double, double>> points;  // pixel positions of the data
    for (const auto& s : series_) {
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!usable(s.x[i], s.y[i])) continue;
        const double x = px(s.x[i]), y = py(s.y[i]);
        points.emplace_back(x, y);
        if (s.style == Series::Style::kErrorBars) {
          const double e = std::abs(s.err[i]);
          const double lo = ay.log && s.y[i] - e <= 0 ? p.y1 : py(s.y[i] - e);
          for (double t = std::min(lo, py(s.y[i] + e)); t <= std::max(lo, py(s.y[i] + e)); ++t)
            points.emplace_back(x, t);
        }
        if (s.style == Series::Style::kLine && i > 0 && usable(s.x[i - 1], s.y[i - 1])) {
          const double x0 = px(s.x[i - 1]), y0 = py(s.y[i - 1]);
          const int n = static_cast<int>(std::ceil(std::hypot(x - x0, y - y0)));
          for (int k = 1; k < n; ++k)
            points.emplace_back(x0 + (x - x0) * k / n, y0 + (y - y0) * k / n);
        }
      }
    }
    const int left = p.x0 + 8, right = p.x1 - 8 - bw, centre = (p.x0 + p.x1 - bw) / 2;
    const int top = p.y0 + 8, bottom = p.y1 - 8 - bh, middle = (p.y0 + p.y1 - bh) / 2;
    const std::pair<int, int> places[] = {{right, top},   {left, top},      {right, bottom},
                                          {left, bottom}, {right, middle},  {left, middle},
                                          {centre, top},  {centre, bottom}, {centre, middle}};
    Rect box{right, top, right + bw, top + bh};
    std::size_t fewest = std::numeric_limits<std::size_t>::max();
    for (const auto& [x0, y0] : places) {
      const Rect r{x0, y0, x0 + bw, y0 + bh};
      std::size_t covered = 0;
      for (const auto& [x, y] : points)
        covered += x > r.x0 - 3 && x < r.x1 + 3 && y > r.y0 - 3 && y < r.y1 + 3;
      if (covered < fewest) {
        fewest = covered;
        box = r;
      }
    }
    canvas.fill(box, kWhite);
    canvas.frame(box, kGrid);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      const int y = box.y0 + 6 + static_cast<int>(i) * row + kTextHeight / 2;
      Mask m(width_, height_, box);
      if (e.line) m.segment(box.x0 + 8, y, box.x0 + 30, y, 1.8, e.dashed ? 8 : 0);
      if (e.marker) m.disc(box.x0 + 19, y, 3.0);
      m.paint(canvas, e.color);
      canvas.text(e.label, box.x0 + 36, y + detail::kFontAscent / 2 - 1, kBlack);
    }
  }
  // Titles.
  if (!title_.empty()) canvas.text(title_, (p.x0 + p.x1) / 2, 8 + detail::kFontAscent, kBlack, 1);
  if (!xlabel_.empty()) {
    canvas.text(xlabel_, (p.x0 + p.x1) / 2, height_ - 8 - detail::kFontDescent, kBlack, 1);
  }
  if (!ylabel_.empty()) {
    canvas.text(ylabel_, 10 + detail::kFontAscent, (p.y0 + p.y1) / 2, kBlack, 1, true);
  }
  return canvas.take();
}

void Figure::save_png(const std::string& path) const {
  io::write_file_atomic(path, encode_png(render()));
}

// --------------------------------------------------------------------------------- PNG

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::uint32_t get_u32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

void chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<std::uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

const char kSignature[] = "\x89PNG\r\n\x1a\n";

}  // namespace

std::string encode_png(const Image& image) {
  std::string raw;
  const std::size_t stride = 3 * static_cast<std::size_t>(image.width);
  raw.reserve((stride + 1) * image.height);
  for (int y = 0; y < image.height; ++y) {
    raw += '\0';  // filter: none
    raw.append(reinterpret_cast<const char*>(&image.rgb[y * stride]), stride);
  }
  uLongf size = compressBound(raw.size());
  std::string compressed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), 6) != Z_OK) {
    throw Error("PNG encoding failed (zlib)");
  }
  compressed.resize(size);
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(image.width));
  put_u32(header, static_cast<std::uint32_t>(image.height));
  header +=
      std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, no filter, no interlace
  std::string out(kSignature, 8);
  chunk(out, "IHDR", header);
  chunk(out, "IDAT", compressed);
  chunk(out, "IEND", "");
  return out;
}

Image decode_png(const std::string& bytes, const std::string& source) {
  auto fail = [&](const std::string& why) -> Image { throw IoError(source + ": " + why); };
  if (bytes.size() < 8 || bytes.compare(0, 8, std::string(kSignature, 8)) != 0) {
    return fail("not a PNG file");
  }
  Image image;
  int channels = 0;
  std::string idat;
  for (std::size_t at = 8; at + 12 <= bytes.size();) {
    const std::uint32_t length = get_u32(bytes, at);
    if (at + 12 + length > bytes.size()) return fail("truncated chunk");
    const std::string type = bytes.substr(at + 4, 4);
    const std::string data = bytes.substr(at + 8, length);
    if (type == "IHDR") {
      image.width = static_cast<int>(get_u32(data, 0));
      image.height = static_cast<int>(get_u32(data, 4));
      const int depth = data[8], color = data[9], interlace = data[12];
      if (depth != 8 || (color != 2 && color != 6) || interlace != 0) {
        return fail("only 8-bit RGB or RGBA non-interlaced PNG is supported");
      }
      channels = color == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat += data;
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (channels == 0 || image.width <= 0 || image.height <= 0) return fail("no image header");
  const std::size_t stride = static_cast<std::size_t>(image.width) * channels;
  std::string raw((stride + 1) * image.height, '\0');
  uLongf size = raw.size();
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &size,
                 reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      size != raw.size()) {
    return fail("corrupt image data");
  }
  std::vector<std::uint8_t> previous(stride, 0), current(stride);
  image.rgb.resize(3 * static_cast<std::size_t>(image.width) * image.height);
  for (int y = 0; y < image.height; ++y) {
    const auto* line = reinterpret_cast<const std::uint8_t*>(&raw[y * (stride + 1)]);
    const int filter = line[0];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= static_cast<std::size_t>(channels) ? current[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= static_cast<std::size_t>(channels) ? previous[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default:
          return fail("bad row filter");
      }
      current[i] = static_cast<std::uint8_t>(line[1 + i] + predictor);
    }
    for (int x = 0; x < image.width; ++x) {
      for (int k = 0; k < 3; ++k) {
        image.rgb[3 * (static_cast<std::size_t>(y) * image.width + x) + k] =
            current[x * channels + k];
      }
    }
    std::swap(previous, current);
  }
  return image;
}

}  // namespace physfit::plot
