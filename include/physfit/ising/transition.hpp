#pragma once
/// @file
/// A phase transition read off a classifier (Carrasquilla and Melko, Nature Physics 13, 431
/// (2017)): the probability of the ordered phase against temperature for each lattice size,
/// where it crosses 1/2, and the finite-size extrapolation T(L) = T_c + a L^(-1/nu).

#include <cstdint>
#include <string>
#include <vector>

namespace physfit::ising {

/// P(ordered | T) of one lattice size: per temperature (increasing), the mean of the
/// classifier's per-sample probability and its standard error.
struct Curve {
  int size = 0;  ///< L
  std::vector<double> temperature;
  std::vector<double> probability;
  std::vector<double> error;  ///< standard error of the mean: sample std / sqrt(n)
  std::vector<std::int64_t> count;
};

/// Groups `probability` (one value in [0, 1] per sample) by exactly equal `temperature` (the
/// generator writes each temperature as one double) and returns the curve, temperatures in
/// increasing order. Sums run in row order, so the result does not depend on how rows were
/// computed. std::invalid_argument if the lengths differ or a value is not finite.
Curve curve_of(int size, const std::vector<double>& temperature,
               const std::vector<double>& probability);

/// The curve of an ensemble: K classifiers of one lattice size (trained from other seeds or
/// data), each with its curve on the same temperatures. P is the mean of theirs; its error^2 is
/// the mean of their error^2 (the held-out set's noise, shared when they read the same set) plus
/// the variance between them / K (the training's spread, which one network's error bars do not
/// contain). std::invalid_argument if the curves are not on the same temperatures.
Curve ensemble_of(const std::vector<Curve>& curves);

/// Where a curve crosses 1/2.
struct Crossing {
  bool found = false;
  double temperature = 0;   ///< T(L)
  double error = 0;         ///< its standard error
  int points = 0;           ///< temperatures in the fit
  double chi2_per_dof = 0;  ///< of the fit (0 with 2 points)
  std::string note;         ///< why it was not found, or how it was estimated
};

/// The crossing: a weighted straight-line fit of logit P against T over the temperatures with
/// `window` < P < 1 - `window`, always including the last point with P >= 1/2 and the first with
/// P < 1/2 around the crossing (the first, in increasing T, where P drops below 1/2 and stays
/// below from there). The weight of a point is 1 / sigma^2 with sigma the error of logit P,
/// error(P) / (P (1 - P)), error(P) at least 1 / (2n) (a mean of n samples that is exactly 0
/// or 1 still has an uncertainty). The error of the crossing follows from the fit's covariance,
/// scaled by sqrt(chi2 / dof) when that exceeds 1.
Crossing crossing_of(const Curve& curve, double window = 0.05);

/// T(L) = T_c + a L^(-1/nu) fitted to the crossings by weighted least squares.
struct Extrapolation {
  bool found = false;
  double critical_temperature = 0, critical_error = 0;
  double slope = 0, slope_error = 0;  ///< a
  double chi2_per_dof = 0;            ///< 0 with two sizes
  int sizes = 0;
};

/// Needs at least two sizes with a crossing; std::invalid_argument if the lengths differ.
Extrapolation extrapolate(const std::vector<int>& sizes, const std::vector<Crossing>& crossings,
                          double nu = 1.0);

}  // namespace physfit::ising
