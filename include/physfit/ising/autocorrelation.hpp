#pragma once
/// @file
/// Integrated autocorrelation times of Monte Carlo time series, with Sokal's automatic window
/// (A. D. Sokal, "Monte Carlo methods in statistical mechanics", Cargese lectures 1996;
/// N. Madras and A. D. Sokal, J. Stat. Phys. 50, 109 (1988)).

#include <cstdint>
#include <vector>

namespace physfit::ising {

/// tau_int = 1/2 + sum_{t=1}^{W} rho(t), with the window W the smallest t >= c tau_int(t).
struct AutocorrelationTime {
  double tau = 0.5;         ///< 1/2 for uncorrelated samples
  std::int64_t window = 0;  ///< W
  bool converged = false;   ///< a window was found before t reached n / 4
  double mean = 0;          ///< of the series
  double variance = 0;      ///< of the series (1/n)
  /// Standard error of the mean of n correlated samples: sqrt(variance * 2 tau / n).
  double standard_error() const;
  std::int64_t samples = 0;
};

/// Integrated autocorrelation time of `series` (at least 2 values), window factor `c`.
AutocorrelationTime integrated_time(const std::vector<double>& series, double c = 6.0);

}  // namespace physfit::ising
