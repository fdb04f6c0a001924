#pragma once
/// @file
/// Figures for papers and talks, drawn with cairo (https://www.cairographics.org) and written as
/// PNG, SVG or PDF, chosen by the file's extension, from one drawing code: line plots, markers,
/// error bars, labelled guide lines, linear or logarithmic axes with automatic ticks, axis
/// labels and a legend that is placed where it covers no data (an empty corner of the plot, or
/// above it when every corner holds data). Several figures can share one page side by
/// side (a band structure with its density of states).
///
///     plot::Figure f(900, 560);
///     f.title("5-fold cross-validation").xlabel("λ").ylabel("CV error").log_x();
///     f.error_bars(lambdas, mean, standard_error, "CV error");
///     f.vline(lambda_min, "λ_{min}");
///     f.save("cv.svg");
///
/// Text is UTF-8 in a real font found by fontconfig (DejaVu Sans when installed, which covers
/// Γ, λ, σ, ω, Å, ±, ⁻¹...); `_{...}` and `^{...}` in a label set a subscript or superscript.
/// A NaN in a line's data breaks the line there (for band structures with discontinuities).
/// Colours come from the palette of Okabe and Ito (2008, "Color Universal Design"), which stays
/// distinct for the common forms of colour blindness. Sizes are in pixels for PNG and in points
/// (1/72 inch) for SVG and PDF.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace physfit::plot {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color& o) const { return r == o.r && g == o.g && b == o.b; }
};

/// Eight colours of the Okabe-Ito palette, cycled by series index: blue, vermillion, bluish
/// green, reddish purple, orange, sky blue, yellow, black.
Color palette(int index);
/// Light grey of the unlabelled guide lines (high-symmetry points of a band structure).
inline constexpr Color kGuideGrey{190, 190, 190};

/// An RGB image, row-major from the top-left corner, 3 bytes per pixel (what a figure looks like
/// as PNG, for tests and checks).
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
  Color at(int x, int y) const;
};

/// Reads a PNG file (through cairo). Throws IoError naming the file if it cannot be read.
Image read_png(const std::string& path);

/// The output formats, chosen by a file's extension (case-insensitive).
enum class Format { kPng, kSvg, kPdf };
/// The format of `path` from its extension; throws UsageError naming `what` (an option) and the
/// path when the extension is not .png, .svg or .pdf.
Format format_of(const std::string& path, const std::string& what = "figure");

/// One data series of a figure.
struct Series {
  enum class Style { kLine, kMarkers, kErrorBars };
  std::vector<double> x, y, err;
  std::string label;  ///< shown in the legend when not empty
  Style style = Style::kLine;
  Color color;
  double width = 2.2;  ///< line width in pixels
  bool dashed = false;
  bool markers = false;  ///< draw markers on a line too
};

/// A vertical or horizontal line across the plot (a special point, a chosen lambda).
struct Guide {
  bool vertical = true;
  double value = 0;
  std::string label;  ///< shown in the legend when not empty
  Color color = kGuideGrey;
  double width = 1.0;
  bool dashed = false;
};

/// A rectangle in page coordinates (pixels from the top-left corner).
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool empty() const { return !(x1 > x0 && y1 > y0); }
  bool intersects(const Box& o) const {
    return !empty() && !o.empty() && x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1;
  }
};

class Page;
struct Painter;  // the drawing code (figure.cpp)

class Figure {
 public:
  explicit Figure(int width = 900, int height = 560);

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
  /// Hides the numbers on the y axis (a panel that shares the y axis of its left neighbour).
  Figure& hide_y_numbers(bool on = true);

  /// Adds a line through the points (x[i], y[i]); returns the series to adjust its style.
  /// Series are drawn in the order they were added (the last on top).
  Series& line(std::vector<double> x, std::vector<double> y, std::string label = "");
  /// Adds markers at the points.
  Series& markers(std::vector<double> x, std::vector<double> y, std::string label = "");
  /// Adds markers with vertical error bars y[i] +- err[i].
  Series& error_bars(std::vector<double> x, std::vector<double> y, std::vector<double> err,
                     std::string label = "");
  /// A vertical (horizontal) guide line across the plot: thin light grey when unlabelled, a
  /// dashed palette colour of its own when labelled (the label goes to the legend).
  Guide& vline(double x, std::string label = "");
  Guide& hline(double y, std::string label = "");

  /// Where things land when the figure is drawn alone on its page.
  struct Geometry {
    Box plot;                     ///< the plot area (data are clipped to it)
    Box legend;                   ///< the legend's box (empty without a legend)
    bool legend_outside = false;  ///< true if no corner of the plot was free of data
  };
  Geometry geometry() const;
  /// Where a data point lands in the drawn figure (pixel coordinates).
  std::pair<double, double> to_pixel(double x, double y) const;
  /// The pixel positions of every drawn data point and of points along every line, error bar
  /// and marker (what the legend must not cover), for the figure drawn alone.
  std::vector<std::pair<double, double>> data_pixels() const;

  /// Renders the figure as an image. Throws UsageError for inconsistent data (sizes differ,
  /// non-positive values on a logarithmic axis, nothing finite to plot).
  Image render() const;
  /// Draws and writes the figure as PNG, SVG or PDF by the extension of `path`, atomically
  /// (temporary name, then rename, through io::publish_file). Throws UsageError for an unknown
  /// extension, IoError if the file cannot be written.
  void save(const std::string& path) const;
  /// The same as save() (kept for the callers that wrote PNG only).
  void save_png(const std::string& path) const { save(path); }

  int width() const { return width_; }
  int height() const { return height_; }

 private:
  friend class Page;
  friend struct Painter;
  struct Axis {
    bool log = false;
    bool fixed = false;
    double lo = 0, hi = 1;
  };
  void resolve_ranges(Axis& x, Axis& y) const;

  int width_, height_;
  std::string title_, xlabel_, ylabel_;
  Axis x_, y_;
  bool hide_y_numbers_ = false;
  std::vector<double> xtick_at_;
  std::vector<std::string> xtick_labels_;
  std::deque<Series> series_;  // deques: references returned by line() and vline() stay valid
  std::deque<Guide> guides_;
};

/// Figures on one page in rows, with their plot areas aligned (the same top and bottom in a
/// row, the same left and right in a column), and an optional title over the page: a band
/// structure (weight 3) with its density of states (weight 1), and under the bands the
/// difference from a reference (a second row, its second slot left empty).
class Page {
 public:
  Page(int width, int height);
  Page& title(std::string text);
  /// Adds a panel (a copy of `figure`; its own width and height are ignored) to the current
  /// row, taking `weight` parts of the row's width.
  Page& add(const Figure& figure, double weight = 1);
  /// An empty slot of `weight` parts of the row's width (keeps the columns of rows aligned).
  Page& skip(double weight = 1);
  /// Starts a new row below, taking `height` parts of the page's height (the first row has 1).
  Page& next_row(double height = 1);

  /// The geometry of panel `index` on this page (panels counted in the order they were added).
  Figure::Geometry geometry(int index) const;
  /// Where the data point (x, y) of panel `index` lands on the page (pixel coordinates).
  std::pair<double, double> to_pixel(int index, double x, double y) const;
  Image render() const;
  /// Writes the page as PNG, SVG or PDF by the extension of `path` (see Figure::save).
  void save(const std::string& path) const;

 private:
  friend struct Painter;
  int width_, height_;
  std::string title_;
  struct Slot {
    std::optional<Figure> figure;  // none: an empty slot
    double weight;
    int row;
  };
  std::vector<Slot> slots_;
  std::vector<double> rows_{1.0};  // height weights
};

}  // namespace physfit::plot
