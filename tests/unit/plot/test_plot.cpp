#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/plot/figure.hpp"

using namespace physfit;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// True if a pixel within one pixel of (x, y) has colour c (anti-aliasing blurs edges).
bool near_color(const plot::Image& im, double x, double y, plot::Color c) {
  for (int dy = -1; dy <= 1; ++dy) {
    for (int dx = -1; dx <= 1; ++dx) {
      const plot::Color got = im.at(static_cast<int>(x) + dx, static_cast<int>(y) + dy);
      if (std::abs(got.r - c.r) < 30 && std::abs(got.g - c.g) < 30 && std::abs(got.b - c.b) < 30)
        return true;
    }
  }
  return false;
}

}  // namespace

TEST(Png, EncodesAndDecodesEveryPixelExactly) {
  plot::Image im{37, 23, {}};
  for (int i = 0; i < 37 * 23 * 3; ++i) im.rgb.push_back(static_cast<std::uint8_t>(i * 7919 % 251));
  const std::string png = plot::encode_png(im);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const plot::Image back = plot::decode_png(png);
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 23);
  EXPECT_EQ(back.rgb, im.rgb);
}

TEST(Png, RejectsDataThatIsNotPng) {
  try {
    plot::decode_png("GIF89a....", "band.png");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "band.png: not a PNG file");
  }
  std::string truncated = plot::encode_png(plot::Image{4, 4, std::vector<std::uint8_t>(48, 9)});
  truncated.resize(truncated.size() - 20);
  EXPECT_THROW(plot::decode_png(truncated, "x.png"), IoError);
}

TEST(Figure, DrawsALineWhereTheDataAreAndNothingElsewhere) {
  plot::Figure f(400, 300);
  f.xlim(0, 1).ylim(0, 1);
  f.line({0.0, 1.0}, {0.5, 0.5});
  const plot::Image im = f.render();
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

TEST(Figure, PutsTheLegendWhereItCoversNoData) {
  // Dark pixels (the legend's text) in a rectangle of the image.
  auto dark = [](const plot::Image& im, double x0, double y0, double x1, double y1) {
    int n = 0;
    for (int y = static_cast<int>(std::min(y0, y1)); y < static_cast<int>(std::max(y0, y1)); ++y)
      for (int x = static_cast<int>(std::min(x0, x1)); x < static_cast<int>(std::max(x0, x1)); ++x)
        n += im.at(x, y).r < 80 && im.at(x, y).g < 80 && im.at(x, y).b < 80;
    return n;
  };
  const plot::Color blue = plot::palette(0);
  // Free top right: the legend goes there (the default place).
  plot::Figure a(500, 300);
  a.xlim(0, 1).ylim(0, 1);
  a.line({0.0, 1.0}, {0.0, 0.2}, "low line");
  const plot::Image ia = a.render();
  const auto ar = a.to_pixel(0.6, 1.0), ar1 = a.to_pixel(1.0, 0.75);
  EXPECT_GT(dark(ia, ar.first, ar.second, ar1.first, ar1.second), 20);
  // A line through the top right (as the optical bands of a band structure): the legend moves
  // to the top left, and the line stays visible under where the legend used to be.
  plot::Figure b(500, 300);
  b.xlim(0, 1).ylim(0, 1);
  b.line({0.0, 1.0}, {0.0, 0.97}, "rising line");
  const plot::Image ib = b.render();
  const auto br = b.to_pixel(0.95, 0.97 * 0.95);
  EXPECT_TRUE(near_color(ib, br.first, br.second, blue));
  const auto bl = b.to_pixel(0.0, 1.0), bl1 = b.to_pixel(0.4, 0.75);
  EXPECT_GT(dark(ib, bl.first, bl.second, bl1.first, bl1.second), 20);
  const auto tr = b.to_pixel(0.6, 1.0), tr1 = b.to_pixel(1.0, 0.75);
  EXPECT_EQ(dark(ib, tr.first, tr.second, tr1.first, tr1.second), 0);
}

TEST(Figure, RejectsInconsistentData) {
  plot::Figure f;
  f.line({1, 2, 3}, {1, 2});
  EXPECT_THROW(f.render(), UsageError);
  plot::Figure g;
  g.log_y().line({1, 2}, {-1, 0});
  EXPECT_THROW(g.render(), UsageError);
  EXPECT_THROW(plot::Figure(10, 10), UsageError);
}

TEST(Figure, SavesThePngItRendersWithTextAndLegend) {
  const std::string path = test::scratch_dir() + "/cv.png";
  plot::Figure f(600, 400);
  f.title("Γ–X–L, ω (THz)").xlabel("λ").ylabel("error").log_x();
  f.error_bars({1e-3, 1e-2, 1e-1}, {0.3, 0.2, 0.5}, {0.01, 0.02, 0.05}, "CV error");
  f.vline(1e-2, "λ_min");
  f.save_png(path);
  const plot::Image back = plot::decode_png(read_file(path), path);
  const plot::Image im = f.render();
  EXPECT_EQ(back.rgb, im.rgb);
  int dark = 0;  // the title's glyphs, in the top band of the image
  for (int y = 0; y < 25; ++y)
    for (int x = 0; x < im.width; ++x) dark += im.at(x, y).r < 100;
  EXPECT_GT(dark, 40);
  EXPECT_THROW(f.save_png(test::scratch_dir() + "/no/dir/x.png"), IoError);
}
