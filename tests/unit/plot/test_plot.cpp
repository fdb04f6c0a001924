#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/plot/figure.hpp"
#include "physfit/plot/figures.hpp"

using namespace physfit;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool close(plot::Color a, plot::Color b, int tolerance = 30) {
  return std::abs(a.r - b.r) < tolerance && std::abs(a.g - b.g) < tolerance &&
         std::abs(a.b - b.b) < tolerance;
}

// True if a pixel within one pixel of (x, y) has colour c (anti-aliasing blurs edges).
bool near_color(const plot::Image& im, double x, double y, plot::Color c) {
  for (int dy = -1; dy <= 1; ++dy) {
    for (int dx = -1; dx <= 1; ++dx) {
      if (close(im.at(static_cast<int>(x) + dx, static_cast<int>(y) + dy), c)) return true;
    }
  }
  return false;
}

// Pixels of colour c inside a box of the image.
int count_color(const plot::Image& im, const plot::Box& b, plot::Color c, int tolerance = 30) {
  int n = 0;
  for (int y = static_cast<int>(b.y0); y < static_cast<int>(b.y1); ++y)
    for (int x = static_cast<int>(b.x0); x < static_cast<int>(b.x1); ++x)
      n += close(im.at(x, y), c, tolerance);
  return n;
}

bool inside(const plot::Box& b, double x, double y, double margin = 0) {
  return x > b.x0 - margin && x < b.x1 + margin && y > b.y0 - margin && y < b.y1 + margin;
}

// PNG size from the IHDR chunk (bytes 16-23, big-endian), independent of cairo's reader.
std::pair<int, int> png_size(const std::string& bytes) {
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return static_cast<int>(v);
  };
  return {u32(16), u32(20)};
}

// Two branches of a chain along one path segment of n q-points, ω = 2|sin(q/2)| (acoustic)
// and 6 - |sin(q/2)| (optical), and a reference 0.8 lower in the optical branch only.
plot::BandPlot chain_bands(int n) {
  plot::BandPlot p;
  for (int k = 0; k < n; ++k) {
    const double q = M_PI * k / (n - 1);
    p.fit.distance.push_back(q);
    p.fit.branch.push_back(0);
    p.fit.frequencies.push_back(2 * std::sin(q / 2));
    p.fit.frequencies.push_back(6 - std::sin(q / 2));
  }
  p.fit.bands = 2;
  p.reference = p.fit;
  for (int k = 0; k < n; ++k) p.reference.frequencies[2 * k + 1] -= 0.8;
  return p;
}

}  // namespace

TEST(Figure, DrawsALineWhereTheDataAreAndNothingElsewhere) {
  plot::Figure f(400, 300);
  f.xlim(0, 1).ylim(0, 1);
  f.line({0.0, 1.0}, {0.5, 0.5});
  const plot::Image im = f.render();
  EXPECT_EQ(im.width, 400);
  EXPECT_EQ(im.height, 300);
  const plot::Color blue = plot::palette(0);
  const auto [x, y] = f.to_pixel(0.5, 0.5);
  EXPECT_TRUE(near_color(im, x, y, blue));
  const auto [x2, y2] = f.to_pixel(0.5, 0.8);
  EXPECT_FALSE(near_color(im, x2, y2, blue));
  // The data-to-pixel map is affine: equal steps in data, equal steps in pixels.
  const auto a = f.to_pixel(0.1, 0.2), b = f.to_pixel(0.3, 0.4), c = f.to_pixel(0.5, 0.6);
  EXPECT_NEAR(b.first - a.first, c.first - b.first, 1e-9);
  EXPECT_NEAR(b.second - a.second, c.second - b.second, 1e-9);
  EXPECT_LT(b.second, a.second);  // y grows upwards
}

TEST(Figure, BreaksLinesAtNaNAndPlacesLogarithmicData) {
  plot::Figure f(500, 300);
  f.log_x().ylim(0, 2);
  f.line({1e-3, 1e-2, 1e-1, 1.0}, {1.0, 1.0, std::nan(""), 1.0});
  const plot::Image im = f.render();
  const plot::Color blue = plot::palette(0);
  EXPECT_TRUE(near_color(im, f.to_pixel(std::sqrt(1e-3 * 1e-2), 1.0).first,
                         f.to_pixel(1e-3, 1.0).second, blue));
  // The segments 1e-2..1e-1 and 1e-1..1 touch the NaN point: not drawn.
  EXPECT_FALSE(near_color(im, f.to_pixel(0.3, 1.0).first, f.to_pixel(0.3, 1.0).second, blue));
  // Decades are equally spaced on a logarithmic axis.
  const double d1 = f.to_pixel(1e-2, 1).first - f.to_pixel(1e-3, 1).first;
  const double d2 = f.to_pixel(1.0, 1).first - f.to_pixel(1e-1, 1).first;
  EXPECT_NEAR(d1, d2, 1e-9);
}

TEST(Figure, DrawsErrorBarsToTheirEnds) {
  plot::Figure f(400, 300);
  f.ylim(0, 10).xlim(0, 2);
  f.error_bars({1.0}, {5.0}, {3.0});
  const plot::Image im = f.render();
  const plot::Color blue = plot::palette(0);
  const auto top = f.to_pixel(1.0, 7.9), end = f.to_pixel(1.0, 8.6);
  EXPECT_TRUE(near_color(im, top.first, top.second, blue));
  EXPECT_FALSE(near_color(im, end.first, end.second - 3, blue));
}

TEST(Figure, PutsTheLegendInAnEmptyCornerOrOutsideThePlot) {
  const plot::Color blue = plot::palette(0);
  // Every point of the line, sampled finely in data space, lands outside the legend box.
  auto legend_covers_line = [](const plot::Figure& f, const plot::Box& legend, double slope) {
    for (int k = 0; k <= 2000; ++k) {
      const double x = k / 2000.0;
      const auto [px, py] = f.to_pixel(x, slope * x);
      if (inside(legend, px, py, 2)) return true;
    }
    return false;
  };
  // Free top right: the legend goes there.
  plot::Figure a(500, 300);
  a.xlim(0, 1).ylim(0, 1);
  a.line({0.0, 1.0}, {0.0, 0.2}, "low line");
  const auto ga = a.geometry();
  ASSERT_FALSE(ga.legend.empty());
  EXPECT_FALSE(ga.legend_outside);
  EXPECT_GT(ga.legend.x0, (ga.plot.x0 + ga.plot.x1) / 2);
  EXPECT_LT(ga.legend.y1, (ga.plot.y0 + ga.plot.y1) / 2);
  EXPECT_FALSE(legend_covers_line(a, ga.legend, 0.2));
  // A line through the top right (as the optical bands of a band structure): another corner.
  plot::Figure b(500, 300);
  b.xlim(0, 1).ylim(0, 1);
  b.line({0.0, 1.0}, {0.0, 0.97}, "rising line");
  const auto gb = b.geometry();
  EXPECT_FALSE(gb.legend_outside);
  EXPECT_FALSE(legend_covers_line(b, gb.legend, 0.97));
  const plot::Image ib = b.render();
  const auto br = b.to_pixel(0.95, 0.97 * 0.95);
  EXPECT_TRUE(near_color(ib, br.first, br.second, blue));  // the line is visible there
  // Data in every corner (a zigzag over the whole plot): the legend goes outside the plot.
  plot::Figure c(600, 400);
  c.xlim(0, 1).ylim(0, 1);
  c.line({0.0, 0.25, 0.5, 0.75, 1.0}, {0.0, 1.0, 0.0, 1.0, 0.0}, "zigzag");
  c.line({0.0, 1.0}, {1.0, 1.0}, "top");
  c.line({0.0, 1.0}, {0.02, 0.02}, "bottom");
  const auto gc = c.geometry();
  EXPECT_TRUE(gc.legend_outside);
  EXPECT_FALSE(gc.legend.intersects(gc.plot));
  // The rendered legend holds its entries: the blue sample line of the first entry.
  const plot::Image ic = c.render();
  EXPECT_GT(count_color(ic, gc.legend, blue), 20);
  // And the data pixels avoid every inside legend.
  for (const auto& [x, y] : a.data_pixels()) ASSERT_FALSE(inside(ga.legend, x, y));
  for (const auto& [x, y] : b.data_pixels()) ASSERT_FALSE(inside(gb.legend, x, y));
}

TEST(Figure, RejectsInconsistentDataAndUnknownFormats) {
  plot::Figure f;
  f.line({1, 2, 3}, {1, 2});
  EXPECT_THROW(f.render(), UsageError);
  plot::Figure g;
  g.log_y().line({1, 2}, {-1, 0});
  EXPECT_THROW(g.render(), UsageError);
  EXPECT_THROW(plot::Figure(10, 10), UsageError);
  EXPECT_EQ(plot::format_of("a/b.PNG"), plot::Format::kPng);
  EXPECT_EQ(plot::format_of("b.svg"), plot::Format::kSvg);
  EXPECT_EQ(plot::format_of("b.pdf"), plot::Format::kPdf);
  try {
    plot::format_of("dir.v2/figure", "--output.file");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--output.file 'dir.v2/figure'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(".png, .svg or .pdf"), std::string::npos);
  }
}

TEST(Figure, WritesPngSvgAndPdfFromOneDrawing) {
  const std::string dir = test::scratch_dir();
  plot::Figure f(600, 400);
  f.title("Γ–X–L, ω (THz)").xlabel("λ").ylabel("error").log_x();
  f.error_bars({1e-3, 1e-2, 1e-1}, {0.3, 0.2, 0.5}, {0.01, 0.02, 0.05}, "CV error");
  f.line({1e-3, 1e-1}, {0.25, 0.45}, "trend").color = plot::palette(2);
  f.vline(1e-2, "λ_{min}");
  f.save(dir + "/cv.png");
  f.save(dir + "/cv.svg");
  f.save(dir + "/cv.pdf");
  // PNG: signature, the size asked for, the pixels render() gives.
  const std::string png = read_file(dir + "/cv.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png_size(png), std::make_pair(600, 400));
  const plot::Image back = plot::read_png(dir + "/cv.png");
  EXPECT_EQ(back.rgb, f.render().rgb);
  int dark = 0;  // the title's glyphs, in the top band of the image
  for (int y = 0; y < 35; ++y)
    for (int x = 0; x < back.width; ++x) dark += back.at(x, y).r < 100;
  EXPECT_GT(dark, 40);
  // SVG: the size, and the green line as one stroked path of its colour (0, 158, 115).
  const std::string svg = read_file(dir + "/cv.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("width=\"600pt\""), std::string::npos);
  const std::regex green("stroke:rgb\\(0%,61\\.96\\d*%,45\\.09\\d*%\\)");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(svg.begin(), svg.end(), green), std::sregex_iterator()),
      2);  // the line and its legend sample
  // PDF: header and trailer.
  const std::string pdf = read_file(dir + "/cv.pdf");
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
  EXPECT_THROW(f.save(dir + "/no/dir/x.png"), IoError);
  EXPECT_THROW(f.save(dir + "/x.gif"), UsageError);
}

TEST(Figures, BandsShowTheReferenceAboveTheFitAndTheDosBeside) {
  // Two branches of a chain, ω = 2|sin(q/2)| (acoustic) and 6 - |sin(q/2)| (optical), along
  // one path segment; the reference differs from the fit in the optical branch only.
  const int n = 101;
  plot::BandPlot p = chain_bands(n);
  p.label_distance = {0, M_PI / 2, M_PI};
  p.labels = {"Γ", "K", "X"};
  for (int k = 0; k <= 60; ++k) {
    p.dos_frequency.push_back(0.1 * k);
    p.dos_density.push_back(std::exp(-std::pow(0.1 * k - 5.5, 2)));
  }
  p.title = "chain";
  const plot::Page page = plot::band_page(p, 1000, 600);
  const plot::Image im = page.render();
  const plot::Color blue = plot::palette(0), vermillion = plot::palette(1);
  // Where fit and reference agree (acoustic branch), the reference dashes are drawn on top:
  // along the branch, some samples show vermillion (dashes) and some blue (gaps).
  int on_top = 0, gaps = 0;
  for (int k = 5; k < n - 5; ++k) {
    const double q = p.fit.distance[k];
    const auto [x, y] = page.to_pixel(0, q, 2 * std::sin(q / 2));
    on_top += close(im.at(static_cast<int>(x), static_cast<int>(y)), vermillion, 40);
    gaps += close(im.at(static_cast<int>(x), static_cast<int>(y)), blue, 40);
  }
  EXPECT_GT(on_top, 15);
  EXPECT_GT(gaps, 10);
  // Where they differ (optical), both curves show.
  const auto fit_opt = page.to_pixel(0, M_PI / 2, 6 - std::sin(M_PI / 4));
  EXPECT_TRUE(near_color(im, fit_opt.first, fit_opt.second, blue));
  // The DOS panel: its peak at 5.5 is drawn at the right of the bands, on the same y scale.
  const auto peak = page.to_pixel(1, 1.0, 5.5);
  EXPECT_TRUE(near_color(im, peak.first, peak.second, blue));
  EXPECT_NEAR(peak.second, page.to_pixel(0, 0.0, 5.5).second, 1e-9);
  EXPECT_GT(peak.first, page.geometry(0).plot.x1);
  // The legend covers no band: every sampled point of both branches lies outside its box.
  const auto g = page.geometry(0);
  ASSERT_FALSE(g.legend.empty());
  for (int k = 0; k < 2 * n; ++k) {
    for (const auto* b : {&p.fit, &p.reference}) {
      const int i = k / 2, band = k % 2;
      const auto [x, y] = page.to_pixel(0, b->distance[i], b->frequencies[2 * i + band]);
      ASSERT_FALSE(inside(g.legend, x, y, 2)) << "point " << i << " of band " << band;
    }
  }
  // High-symmetry lines are thin and light: the K line between the branches is light grey.
  const auto kline = page.to_pixel(0, M_PI / 2, 3.5);
  EXPECT_TRUE(close(im.at(static_cast<int>(kline.first), static_cast<int>(kline.second)),
                    plot::kGuideGrey, 12));
  EXPECT_TRUE(close(im.at(static_cast<int>(kline.first) + 2, static_cast<int>(kline.second)),
                    plot::Color{255, 255, 255}, 12));
}

TEST(Figures, TheDifferencePanelLiesUnderTheBandsOnTheirAxis) {
  // The optical branch of the reference is 0.8 lower: fit - reference is 0 then 0.8.
  const int n = 81;
  plot::BandPlot p = chain_bands(n);
  p.label_distance = {0, M_PI};
  p.labels = {"Γ", "X"};
  for (int k = 0; k <= 60; ++k) {
    p.dos_frequency.push_back(0.1 * k);
    p.dos_density.push_back(std::exp(-std::pow(0.1 * k - 5.5, 2)));
  }
  p.difference = true;
  const plot::Page page = plot::band_page(p, 1000, 800);
  const plot::Image im = page.render();
  // Panels: bands (0), DOS (1), difference (2); the difference under the bands, the same
  // plot-area left and right (one wave-vector axis), and under the DOS nothing.
  const auto bands = page.geometry(0).plot, dos = page.geometry(1).plot,
             diff = page.geometry(2).plot;
  EXPECT_GT(diff.y0, bands.y1);
  EXPECT_NEAR(diff.x0, bands.x0, 1e-9);
  EXPECT_NEAR(diff.x1, bands.x1, 1e-9);
  EXPECT_NEAR(dos.y0, bands.y0, 1e-9);
  EXPECT_LT(diff.y1 - diff.y0, bands.y1 - bands.y0);
  EXPECT_EQ(count_color(im, {dos.x0, diff.y0, dos.x1, diff.y1}, plot::palette(2)), 0);
  // The differences are drawn where they are: 0 (acoustic) and 0.8 (optical), in the
  // difference panel's colour, at the x of the bands above.
  const plot::Color green = plot::palette(2);
  for (double q : {0.6, 1.5, 2.4}) {
    const auto at0 = page.to_pixel(2, q, 0.0), at8 = page.to_pixel(2, q, 0.8);
    EXPECT_TRUE(near_color(im, at0.first, at0.second, green)) << q;
    EXPECT_TRUE(near_color(im, at8.first, at8.second, green)) << q;
    EXPECT_NEAR(at8.first, page.to_pixel(0, q, 1.0).first, 1e-9);
  }
  // Mid-way between 0 and 0.8 there is no line.
  const auto mid = page.to_pixel(2, 1.5, 0.4);
  EXPECT_FALSE(near_color(im, mid.first, mid.second, green));
  // Without a reference, or on other q-points, the panel is an error.
  plot::BandPlot q = p;
  q.reference = {};
  EXPECT_THROW(plot::band_page(q), UsageError);
  q = p;
  q.reference.distance.pop_back();
  q.reference.branch.pop_back();
  q.reference.frequencies.resize(q.reference.frequencies.size() - 2);
  EXPECT_THROW(plot::band_page(q), UsageError);
}

TEST(Figures, CvCurveMarksLambdaMinAndLambda1seInDistinctColours) {
  plot::CvPlot cv;
  for (int k = 0; k < 30; ++k) {
    const double lambda = std::pow(10.0, -4 + 0.15 * k);
    cv.lambdas.push_back(lambda);
    cv.mean.push_back(1 + std::pow(std::log10(lambda) + 2, 2));  // minimum at 1e-2
    cv.standard_error.push_back(0.1);
  }
  cv.lambda_min = 1e-2;
  cv.lambda_1se = 10.0 * std::pow(10.0, std::sqrt(0.1));
  const plot::Figure f = plot::cv_figure(cv, 900, 560);
  const plot::Image im = f.render();
  const auto g = f.geometry();
  // A column through each guide, away from the curve: the guide's colour, and not the other's.
  auto column = [&](double lambda, plot::Color c) {
    int n = 0;
    const double x = f.to_pixel(lambda, 1).first;
    for (int y = static_cast<int>(g.plot.y0) + 2; y < static_cast<int>(g.plot.y1) - 2; ++y) {
      if (inside(g.legend, x, y, 2)) continue;
      n += near_color(im, x, y, c);
    }
    return n;
  };
  const double height = g.plot.y1 - g.plot.y0;
  EXPECT_GT(column(cv.lambda_min, plot::palette(1)), 0.3 * height);
  EXPECT_GT(column(cv.lambda_1se, plot::palette(7)), 0.3 * height);
  EXPECT_LT(column(cv.lambda_min, plot::palette(7)), 0.05 * height);
  EXPECT_FALSE(plot::palette(1) == plot::palette(7));
  // Both are in the legend, labelled with their values.
  EXPECT_GT(count_color(im, g.legend, plot::palette(1)), 10);
  for (const auto& [x, y] : f.data_pixels()) ASSERT_FALSE(inside(g.legend, x, y));
}

TEST(Figures, NumbersInLabelsUseTimesTenToThePower) {
  EXPECT_EQ(plot::short_number(0.0189), "0.0189");
  EXPECT_EQ(plot::short_number(8.1e-7), "8.1×10^{−7}");
  EXPECT_EQ(plot::short_number(2.5e6), "2.5×10^{6}");
}
