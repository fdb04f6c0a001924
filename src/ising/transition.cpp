#include "physfit/ising/transition.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace physfit::ising {

namespace {

// Weighted least squares y = c0 + c1 x (x centred for accuracy): coefficients, covariance and
// chi^2. Hand-written: two parameters in closed form (an Eigen solve would be no clearer).
struct LineFit {
  double x0 = 0, c0 = 0, c1 = 0;     // y = c0 + c1 (x - x0)
  double v00 = 0, v11 = 0, v01 = 0;  // covariance of (c0, c1)
  double chi2 = 0;
  int n = 0;
};

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y,
                 const std::vector<double>& sigma) {
  LineFit f;
  f.n = static_cast<int>(x.size());
  double sw = 0, swx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = 1.0 / (sigma[i] * sigma[i]);
    sw += w;
    swx += w * x[i];
  }
  f.x0 = swx / sw;
  double sxx = 0, sy = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = 1.0 / (sigma[i] * sigma[i]), d = x[i] - f.x0;
    sxx += w * d * d;
    sy += w * y[i];
    sxy += w * d * y[i];
  }
  // With x centred the normal equations decouple: c0 = sy / sw, c1 = sxy / sxx.
  f.c0 = sy / sw;
  f.c1 = sxy / sxx;
  f.v00 = 1.0 / sw;
  f.v11 = 1.0 / sxx;
  f.v01 = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = (y[i] - f.c0 - f.c1 * (x[i] - f.x0)) / sigma[i];
    f.chi2 += r * r;
  }
  return f;
}

// sqrt(chi2 / dof) when above 1, else 1 (errors are not shrunk by a lucky fit).
double error_scale(const LineFit& f) {
  const int dof = f.n - 2;
  if (dof <= 0) return 1.0;
  return std::max(1.0, std::sqrt(f.chi2 / dof));
}

}  // namespace

Curve curve_of(int size, const std::vector<double>& temperature,
               const std::vector<double>& probability) {
  if (temperature.size() != probability.size()) {
    throw std::invalid_argument("curve_of: " + std::to_string(temperature.size()) +
                                " temperatures but " + std::to_string(probability.size()) +
                                " probabilities");
  }
  struct Sums {
    double sum = 0, sum2 = 0;
    std::int64_t n = 0;
  };
  std::map<double, Sums> by_t;
  for (std::size_t i = 0; i < temperature.size(); ++i) {
    if (!std::isfinite(temperature[i]) || !std::isfinite(probability[i])) {
      throw std::invalid_argument("curve_of: row " + std::to_string(i) +
                                  " has a temperature or probability that is not finite");
    }
    Sums& s = by_t[temperature[i]];
    s.sum += probability[i];
    s.sum2 += probability[i] * probability[i];
    ++s.n;
  }
  Curve c;
  c.size = size;
  for (const auto& [t, s] : by_t) {
    const double n = static_cast<double>(s.n);
    const double mean = s.sum / n;
    const double var = s.n > 1 ? std::max(0.0, (s.sum2 - n * mean * mean) / (n - 1)) : 0.0;
    c.temperature.push_back(t);
    c.probability.push_back(mean);
    c.error.push_back(std::sqrt(var / n));
    c.count.push_back(s.n);
  }
  return c;
}

Curve ensemble_of(const std::vector<Curve>& curves) {
  if (curves.empty()) throw std::invalid_argument("ensemble_of: no curves");
  if (curves.size() == 1) return curves[0];
  const Curve& first = curves[0];
  for (const auto& c : curves) {
    if (c.temperature != first.temperature) {
      throw std::invalid_argument(
          "the classifiers of one lattice size were evaluated on different temperatures");
    }
  }
  const auto k = static_cast<double>(curves.size());
  Curve out = first;
  for (std::size_t t = 0; t < first.temperature.size(); ++t) {
    double sum = 0, sum2 = 0, noise2 = 0;
    std::int64_t count = 0;
    for (const auto& c : curves) {
      sum += c.probability[t];
      sum2 += c.probability[t] * c.probability[t];
      noise2 += c.error[t] * c.error[t];
      count += c.count[t];
    }
    const double mean = sum / k;
    const double between = std::max(0.0, (sum2 - k * mean * mean) / (k - 1));
    out.probability[t] = mean;
    out.error[t] = std::sqrt(noise2 / k + between / k);
    out.count[t] = count;
  }
  return out;
}

Crossing crossing_of(const Curve& c, double window) {
  Crossing out;
  const std::size_t n = c.temperature.size();
  // The crossing: the last index k with P >= 1/2 such that every later point is below 1/2.
  std::size_t last_above = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (c.probability[i] >= 0.5) last_above = i;
  }
  if (last_above == n || last_above + 1 >= n) {
    out.note = last_above == n ? "P(ordered) is below 1/2 at every temperature"
                               : "P(ordered) is at least 1/2 up to the highest temperature";
    return out;
  }
  if (c.probability[0] < 0.5) {
    out.note = "P(ordered) is below 1/2 at the lowest temperature: the curve is not a step down";
  }
  std::vector<double> x, y, sigma;
  for (std::size_t i = 0; i < n; ++i) {
    const double p = c.probability[i];
    const bool bracket = i == last_above || i == last_above + 1;
    if (!bracket && !(p > window && p < 1 - window)) continue;
    // A point far from the crossing on the wrong side of 1/2 (noise at the plateau) stays out.
    if (!bracket && ((i < last_above && p < 0.5) || (i > last_above + 1 && p >= 0.5))) continue;
    const double floor = 0.5 / static_cast<double>(std::max<std::int64_t>(c.count[i], 1));
    const double q = std::clamp(p, floor, 1 - floor);
    const double e = std::max(c.error[i], floor);
    x.push_back(c.temperature[i]);
    y.push_back(std::log(q / (1 - q)));
    sigma.push_back(e / (q * (1 - q)));
  }
  const LineFit f = fit_line(x, y, sigma);
  if (!(f.c1 < 0)) {
    out.note = "logit P(ordered) does not decrease through the crossing";
    return out;
  }
  // logit = 0 at T = x0 - c0 / c1; its variance by the delta method (c0, c1 uncorrelated).
  const double t = f.x0 - f.c0 / f.c1;
  const double var = f.v00 / (f.c1 * f.c1) + f.c0 * f.c0 * f.v11 / std::pow(f.c1, 4);
  out.found = true;
  out.temperature = t;
  out.error = std::sqrt(var) * error_scale(f);
  out.points = f.n;
  out.chi2_per_dof = f.n > 2 ? f.chi2 / (f.n - 2) : 0.0;
  if (out.note.empty()) {
    out.note = "logit fit over " + std::to_string(f.n) + " temperatures";
  }
  return out;
}

Extrapolation extrapolate(const std::vector<int>& sizes, const std::vector<Crossing>& crossings,
                          double nu) {
  if (sizes.size() != crossings.size()) {
    throw std::invalid_argument("extrapolate: " + std::to_string(sizes.size()) + " sizes but " +
                                std::to_string(crossings.size()) + " crossings");
  }
  std::vector<double> x, y, sigma;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (!crossings[i].found) continue;
    x.push_back(std::pow(static_cast<double>(sizes[i]), -1.0 / nu));
    y.push_back(crossings[i].temperature);
    sigma.push_back(std::max(crossings[i].error, 1e-12));
  }
  Extrapolation e;
  e.sizes = static_cast<int>(x.size());
  if (x.size() < 2) return e;
  std::vector<double> distinct = x;
  std::sort(distinct.begin(), distinct.end());
  if (std::unique(distinct.begin(), distinct.end()) - distinct.begin() < 2) return e;
  const LineFit f = fit_line(x, y, sigma);
  // T_c is the line at x = 0: c0 - c1 x0.
  const double s = error_scale(f);
  e.found = true;
  e.slope = f.c1;
  e.slope_error = std::sqrt(f.v11) * s;
  e.critical_temperature = f.c0 - f.c1 * f.x0;
  e.critical_error = std::sqrt(f.v00 + f.x0 * f.x0 * f.v11) * s;
  e.chi2_per_dof = f.n > 2 ? f.chi2 / (f.n - 2) : 0.0;
  return e;
}

}  // namespace physfit::ising
