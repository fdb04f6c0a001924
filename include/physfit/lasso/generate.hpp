#pragma once
/// @file
/// Seeded synthetic least-squares problems whose every value is a dyadic rational, so that
/// y = A x_true + noise is exact in double precision whatever the order of the sums. The same
/// generator written with numpy (scripts/lasso/problems.py) gives the same bits, which is how
/// the scikit-learn reference solutions are made for the very problems the tests generate.
///
/// Row i, column j (counter-based: any block of rows can be generated alone):
///   h(stream, k) = splitmix64(splitmix64(seed ^ (stream << 32)) + k)        (uint64 wrap)
///   n4(h) = sum over the four 16-bit fields f of h of ((f >> 6) - 512) / 512  (in [-4, 4))
///   s_j   = (h(4, j) >> 40) % (2 scale_range + 1) - scale_range             (column scale)
///   A(i,j) = (n4(h(1, i p + j)) + correlation * n4(h(2, i))) * 2^s_j
///   x_j   = ((h(5, j) >> 50) % 16 - 8 or 8 if 0) / 4 * 2^-s_j for j % stride == 0, else 0,
///           stride = max(1, p / nonzeros)
///   y_i   = sum_j A(i,j) x_j + 2^noise_exponent * n4(h(3, i))
/// The last `duplicates` columns are twice columns 0, 1, ...: A is then rank-deficient.

#include <Eigen/Core>
#include <cstdint>

#include "physfit/lasso/rows.hpp"

namespace physfit::lasso {

struct SyntheticSpec {
  std::int64_t rows = 100;
  std::int64_t cols = 10;
  std::uint64_t seed = 1;
  double correlation = 1.0;  ///< weight of the shared row factor (1: correlation 0.5); dyadic
  int scale_range = 0;       ///< column scales 2^s, s in [-scale_range, scale_range]
  std::int64_t nonzeros = 3;
  int noise_exponent = -6;  ///< noise = 2^noise_exponent times a unit-ish variable
  std::int64_t duplicates = 0;
};

/// splitmix64 (Steele, Lea and Flood 2014).
std::uint64_t splitmix64(std::uint64_t x);

/// Fills rows [begin, begin + count) of A (row-major, `cols` per row) and y.
void generate_rows(const SyntheticSpec& spec, std::int64_t begin, std::int64_t count, double* a,
                   double* y);
/// The true coefficients.
Eigen::VectorXd generate_truth(const SyntheticSpec& spec);

/// A whole synthetic problem.
struct SyntheticProblem {
  RowMatrix a;
  Eigen::VectorXd y;
  Eigen::VectorXd x_true;
};
SyntheticProblem generate(const SyntheticSpec& spec);

}  // namespace physfit::lasso
