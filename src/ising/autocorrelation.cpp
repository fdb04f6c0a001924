#include "physfit/ising/autocorrelation.hpp"

#include <algorithm>
#include <cmath>

#include "physfit/error.hpp"

namespace physfit::ising {

double AutocorrelationTime::standard_error() const {
  return samples > 0 ? std::sqrt(variance * 2.0 * tau / static_cast<double>(samples)) : 0.0;
}

AutocorrelationTime integrated_time(const std::vector<double>& series, double c) {
  const auto n = static_cast<std::int64_t>(series.size());
  if (n < 2) throw Error("integrated_time: a series of " + std::to_string(n) + " values");
  AutocorrelationTime r;
  r.samples = n;
  double mean = 0;
  for (const double x : series) mean += x;
  mean /= static_cast<double>(n);
  std::vector<double> d(series.size());
  double var = 0;
  for (std::size_t i = 0; i < series.size(); ++i) {
    d[i] = series[i] - mean;
    var += d[i] * d[i];
  }
  var /= static_cast<double>(n);
  r.mean = mean;
  r.variance = var;
  if (!(var > 0)) {  // a constant series (a frozen lattice): no correlation measurable
    r.converged = true;
    return r;
  }
  double tau = 0.5;
  const std::int64_t max_lag = n / 4;
  for (std::int64_t t = 1; t <= max_lag; ++t) {
    double s = 0;
    for (std::int64_t i = 0; i + t < n; ++i) {
      s += d[static_cast<std::size_t>(i)] * d[static_cast<std::size_t>(i + t)];
    }
    tau += s / (static_cast<double>(n - t) * var);
    r.window = t;
    if (static_cast<double>(t) >= c * tau) {
      r.converged = true;
      break;
    }
  }
  r.tau = std::max(tau, 0.5);
  return r;
}

}  // namespace physfit::ising
