#pragma once
/// @file
/// Figures as PNG files, with no run-time dependency beyond zlib: line plots, markers, error
/// bars, reference lines, linear or logarithmic axes with automatic ticks, labels and a
/// legend. Used for cross-validation curves (`physfit lasso`), band structures
/// (`physfit phonons`) and training histories.
///
///     plot::Figure f(800, 500);
///     f.title("5-fold cross-validation").xlabel("lambda").ylabel("CV error").log_x();
///     f.error_bars(lambdas, mean, standard_error, "CV error");
///     f.vline(lambda_min, "lambda_min");
///     f.save_png("cv.png");
///
/// Text is UTF-8; the embedded font (DejaVu Sans, 14 px) covers ASCII and the Greek letters and
/// symbols physics labels need (Γ, λ, σ, ω, Å, °, ±, ², ⁻¹...). A NaN in a line's data breaks
/// the line there (for band structures with discontinuities).

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace physfit::plot {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color& o) const { return r == o.r && g == o.g && b == o.b; }
};

/// Ten distinguishable colours, cycled by series index.
Color palette(int index);

/// An RGB image, row-major from the top-left corner, 3 bytes per pixel.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
  Color at(int x, int y) const;
};

/// Encodes an image as PNG (8-bit RGB).
std::string encode_png(const Image& image);
/// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what encode_png and most tools write);
/// throws IoError otherwise.
Image decode_png(const std::string& bytes, const std::string& source = "PNG data");

/// One data series of a figure.
struct Series {
  enum class Style { kLine, kMarkers, kErrorBars };
  std::vector<double> x, y, err;
  std::string label;  ///< shown in the legend when not empty
  Style style = Style::kLine;
  Color color;
  double width = 1.8;  ///< line width in pixels
  bool dashed = false;
  bool markers = false;  ///< draw markers on a line too
};

class Figure {
 public:
  explicit Figure(int width = 800, int height = 500);

  Figure& title(std::string text);
  Figure& xlabel(std::string text);
  Figure& ylabel(std::string text);
  Figure& log_x(bool on = true);
  Figure& log_y(bool on = true);
  /// Fixes an axis range (otherwise it covers the data with a small margin).
  Figure& xlim(double lo, double hi);
  Figure& ylim(double lo, double hi);
  /// Replaces the automatic x ticks (band structures: special points with their labels).
  Figure& xticks(std::vector<double> at, std::vector<std::string> labels);

  /// Adds a line through the points (x[i], y[i]); returns the series to adjust its style.
  Series& line(std::vector<double> x, std::vector<double> y, std::string label = "");
  /// Adds markers at the points.
  Series& markers(std::vector<double> x, std::vector<double> y, std::string label = "");
  /// Adds markers with vertical error bars y[i] +- err[i].
  Series& error_bars(std::vector<double> x, std::vector<double> y, std::vector<double> err,
                     std::string label = "");
  /// A dashed vertical (horizontal) reference line across the plot.
  Figure& vline(double x, std::string label = "");
  Figure& hline(double y, std::string label = "");

  /// Renders the figure. Throws UsageError for inconsistent data (sizes differ, non-positive
  /// values on a logarithmic axis, nothing finite to plot).
  Image render() const;
  /// Renders and writes a PNG file atomically (temporary name, then rename).
  void save_png(const std::string& path) const;

  /// Where a data point lands in the rendered image (pixel coordinates), for tests and
  /// annotations. Valid for the figure as it is when called.
  std::pair<double, double> to_pixel(double x, double y) const;

 private:
  struct Axis {
    bool log = false;
    bool fixed = false;
    double lo = 0, hi = 1;
  };
  struct RefLine {
    bool vertical;
    double value;
    std::string label;
    Color color;
  };
  void resolve_ranges(Axis& x, Axis& y) const;

  int width_, height_;
  std::string title_, xlabel_, ylabel_;
  Axis x_, y_;
  std::vector<double> xtick_at_;
  std::vector<std::string> xtick_labels_;
  std::deque<Series> series_;  // a deque: references returned by line() stay valid
  std::vector<RefLine> refs_;
};

}  // namespace physfit::plot
