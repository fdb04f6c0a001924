#include "physfit/plot/figures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "physfit/error.hpp"

namespace physfit::plot {

namespace {

// One band as a line, NaN between path segments (a jump of the path breaks the line there).
void band_curve(const BandLines& b, int band, std::vector<double>& x, std::vector<double>& y) {
  x.clear();
  y.clear();
  for (std::size_t k = 0; k < b.distance.size(); ++k) {
    if (k > 0 && b.branch[k] != b.branch[k - 1]) {
      x.push_back(b.distance[k]);
      y.push_back(std::numeric_limits<double>::quiet_NaN());
    }
    x.push_back(b.distance[k]);
    y.push_back(b.frequencies[k * static_cast<std::size_t>(b.bands) + band]);
  }
}

void check_bands(const BandLines& b, const char* what) {
  if (b.bands <= 0 || b.distance.size() != b.branch.size() ||
      b.frequencies.size() != b.distance.size() * static_cast<std::size_t>(b.bands)) {
    throw UsageError(std::string("band figure: the ") + what +
                     " bands are inconsistent (distance, branch and frequencies sizes differ)");
  }
}

}  // namespace

std::string short_number(double v) {
  char buffer[48];
  const double a = std::abs(v);
  if (v == 0 || (a >= 1e-3 && a < 1e4)) {
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
    return buffer;
  }
  // m × 10^e with a real minus sign, drawn as a superscript by the figure's text.
  const int e = static_cast<int>(std::floor(std::log10(a)));
  std::snprintf(buffer, sizeof buffer, "%.3g×10^{%s%d}", v / std::pow(10.0, e), e < 0 ? "−" : "",
                std::abs(e));
  return buffer;
}

Page band_page(const BandPlot& p, int width, int height) {
  check_bands(p.fit, "fitted");
  const bool has_ref = !p.reference.distance.empty();
  if (has_ref) check_bands(p.reference, "reference");
  double lo = 0, hi = 0;
  for (double f : p.fit.frequencies) lo = std::min(lo, f), hi = std::max(hi, f);
  for (double f : p.reference.frequencies) lo = std::min(lo, f), hi = std::max(hi, f);
  const double span = hi - lo > 0 ? hi - lo : 1;
  const double ylo = lo < -1e-3 * span ? lo - 0.04 * span : 0.0;
  const double yhi = hi + 0.04 * span;
  const std::string ylabel = "frequency (" + p.unit + ")";

  Figure bands(width, height);
  bands.ylabel(ylabel).ylim(ylo, yhi);
  if (!p.labels.empty()) bands.xticks(p.label_distance, p.labels);
  bands.xlim(p.fit.distance.front(), p.fit.distance.back());
  bands.xlabel("wave vector along the path");
  for (double x : p.label_distance) bands.vline(x);  // thin light grey
  if (lo < 0) bands.hline(0);
  std::vector<double> x, y;
  for (int b = 0; b < p.fit.bands; ++b) {
    band_curve(p.fit, b, x, y);
    auto& s = bands.line(x, y, b == 0 ? p.fit_label : "");
    s.color = palette(0);
    s.width = 2.2;
  }
  // The reference above the fit, dashed in a contrasting colour: where the two agree the
  // dashes sit on the solid line, where they differ both show.
  for (int b = 0; has_ref && b < p.reference.bands; ++b) {
    band_curve(p.reference, b, x, y);
    auto& s = bands.line(x, y, b == 0 ? p.reference_label : "");
    s.color = palette(1);
    s.width = 1.8;
    s.dashed = true;
  }
  Page page(width, height);
  if (!p.title.empty()) page.title(p.title);
  const bool difference = p.difference && has_ref;
  if (p.difference && !has_ref) {
    throw UsageError("band figure: the difference panel needs a reference");
  }
  Figure diff(width, height);
  if (difference) {
    if (p.reference.distance.size() != p.fit.distance.size() || p.reference.bands != p.fit.bands) {
      throw UsageError("band figure: the difference panel needs the reference on the fit's " +
                       std::to_string(p.fit.distance.size()) + " q-points and " +
                       std::to_string(p.fit.bands) + " bands (it has " +
                       std::to_string(p.reference.distance.size()) + " and " +
                       std::to_string(p.reference.bands) + ")");
    }
    BandLines d = p.fit;
    double dmax = 0;
    for (std::size_t k = 0; k < d.frequencies.size(); ++k) {
      d.frequencies[k] -= p.reference.frequencies[k];
      dmax = std::max(dmax, std::abs(d.frequencies[k]));
    }
    const double half = dmax > 0 ? 1.15 * dmax : 0.01 * span;
    diff.ylabel("fit − ref. (" + p.unit + ")").ylim(-half, half);
    if (!p.labels.empty()) diff.xticks(p.label_distance, p.labels);
    diff.xlim(p.fit.distance.front(), p.fit.distance.back());
    for (double x0 : p.label_distance) diff.vline(x0);
    diff.hline(0);
    for (int b = 0; b < d.bands; ++b) {
      band_curve(d, b, x, y);
      auto& s = diff.line(x, y);
      s.color = palette(2);
      s.width = 1.6;
    }
    // The wave-vector label goes under the lowest panel.
    diff.xlabel("wave vector along the path");
    bands.xlabel("");
  }
  if (p.dos_frequency.empty()) {
    page.add(bands);
    if (difference) page.next_row(0.38).add(diff);
    return page;
  }
  page.add(bands, 3.2);

  Figure dos(width, height);
  dos.ylim(ylo, yhi).hide_y_numbers().xlabel("DOS (states/" + p.unit + ")");
  double dmax = 0;
  for (double d : p.dos_density) dmax = std::max(dmax, d);
  dos.xlim(0, dmax > 0 ? dmax * 1.08 : 1);
  if (lo < 0) dos.hline(0);
  auto& s = dos.line(p.dos_density, p.dos_frequency);
  s.color = palette(0);
  s.width = 2.0;
  page.add(dos, 1);
  if (difference) page.next_row(0.38).add(diff, 3.2).skip(1);
  return page;
}

Figure cv_figure(const CvPlot& p, int width, int height) {
  Figure f(width, height);
  f.title(p.title).xlabel("penalty λ").ylabel(p.ylabel).log_x().log_y();
  f.error_bars(p.lambdas, p.mean, p.standard_error, "CV error ± 1 standard error");
  auto& min = f.vline(p.lambda_min, "λ_{min} = " + short_number(p.lambda_min));
  min.color = palette(1);
  min.width = 2.2;
  auto& se = f.vline(p.lambda_1se, "λ_{1se} = " + short_number(p.lambda_1se));
  se.color = palette(7);
  se.width = 1.6;
  return f;
}

}  // namespace physfit::plot

namespace physfit::plot {

namespace {
std::string digits(double v, int precision) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
  return buffer;
}
}  // namespace

Page transition_page(const TransitionPlot& p, int width, int height) {
  Figure curves;
  curves
      .title(p.members > 1
                 ? "P(ordered | T): mean of " + std::to_string(p.members) + " networks per L"
                 : std::string("P(ordered | T) from the classifier"))
      .xlabel("temperature T (J/k_B)")
      .ylabel("P(ordered)")
      .ylim(-0.05, 1.05);
  for (const auto& c : p.curves) {
    // The markers with their error bars in the legend, the line through them in their colour.
    const Color color =
        curves.error_bars(c.temperature, c.probability, c.error, "L = " + std::to_string(c.size))
            .color;
    curves.line(c.temperature, c.probability).color = color;
  }
  curves.hline(0.5);
  if (p.exact > 0) curves.vline(p.exact, "T_c exact (Onsager)");

  Figure fss;
  const std::string power = p.nu == 1.0 ? "1/L" : "L^{-1/" + digits(p.nu, 3) + "}";
  fss.title(p.nu == 1.0 ? "crossings T(L) = T_c + a / L"
                        : "crossings T(L) = T_c + a L^{-1/" + digits(p.nu, 3) + "}")
      .xlabel(power)
      .ylabel("T(L) (J/k_B)");
  std::vector<double> x;
  for (const int size : p.crossing_sizes) x.push_back(std::pow(size, -1.0 / p.nu));
  fss.error_bars(x, p.crossing, p.crossing_error, "crossing of P = 1/2");
  if (p.extrapolated && !x.empty()) {
    const double xmax = *std::max_element(x.begin(), x.end()) * 1.1;
    fss.line({0.0, xmax}, {p.critical_temperature, p.critical_temperature + p.slope * xmax}, "fit");
    fss.error_bars({0.0}, {p.critical_temperature}, {p.critical_error},
                   "extrapolated T_c = " + digits(p.critical_temperature, 5) + " +- " +
                       digits(p.critical_error, 2));
  }
  if (p.exact > 0) fss.hline(p.exact, "T_c exact = " + digits(p.exact, 7));
  Page page(width, height);
  page.title(p.title).add(curves, 1.3).add(fss, 1);
  return page;
}

}  // namespace physfit::plot
