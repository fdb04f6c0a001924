#pragma once
/// @file
/// Solvers of min_x 1/(2n) ||y - A x||^2 + lambda (r ||w o x||_1 + (1 - r)/2 ||x||^2), the
/// objective of scikit-learn (alpha = lambda, l1_ratio = r) and glmnet (alpha = r), in the
/// standardised coordinates of a Problem:
///  - r = 1 LASSO, 0 < r < 1 elastic net: cyclic coordinate descent with covariance updates
///    (Friedman, Hastie and Tibshirani 2010), on an active set whose Gram columns are cached
///    (glmnet's covariance mode), with KKT checks of the other coefficients (the worst
///    violators enter first), stopped by the duality gap; once the signs of the active
///    coefficients settle, a Newton step on their support as far as the signs allow
///    (feature-sign search, Lee, Battle, Raina and Ng 2007), kept only if the objective falls;
///  - r = 0 ridge: Cholesky factorisation of Q + lambda I (Gram mode only);
///  - lambda = 0 ordinary least squares: eigendecomposition of Q with a relative cutoff, the
///    minimum-norm solution when A is rank-deficient (Gram mode);
///  - adaptive LASSO: weights w_j = 1/|x_OLS,j|^gamma (Zou 2006), as ALAMODE;
///  - debiasing: least-squares refit on the support of a solution, as ALAMODE.
///
/// Duality gap (reported with every fit), for the n-scaled objective divided by n, with
/// R = y - A x, l1 = lambda r, l2 = lambda (1 - r), as scikit-learn's enet_coordinate_descent:
///   g = A^T R / n - l2 x,  d = max_j |g_j| / w_j,  s = min(1, l1 / d),
///   gap = (1 + s^2)/2 ||R||^2/n + l1 ||w o x||_1 - s R.y/n + l2 (1 + s^2)/2 ||x||^2,
/// which for r = 1 is the LASSO gap [1/2||R||^2 + n l1 ||x||_1 - (s R.y - s^2/2 ||R||^2)]/n.
/// For ridge (r = 0) the unconstrained dual at R is used:
///   gap = P(x) - (R.y/n - ||R||^2/(2n) - ||A^T R/n||^2/(2 l2)).
/// Every solver is **Collective** in residual mode (ranks compute Gram columns together) and
/// runs the same arithmetic on every rank, so every rank returns the same bits.

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "physfit/lasso/problem.hpp"

namespace physfit::lasso {

/// The penalty lambda (r ||w o x||_1 + (1 - r)/2 ||x||^2) on standardised coefficients.
struct Penalty {
  double lambda = 0;
  double l1_ratio = 1;      ///< r
  Eigen::VectorXd weights;  ///< L1 weights w_j > 0 (empty: all 1; +inf: x_j fixed at 0)
  double l1() const { return lambda * l1_ratio; }
  double l2() const { return lambda * (1 - l1_ratio); }
};

/// Order in which coordinate descent visits the active coefficients in each sweep.
enum class Order { kCyclic, kRandom };

struct SolverOptions {
  double tol = 1e-10;                 ///< stop when gap <= tol * objective (or the rounding floor)
  std::int64_t max_epochs = 1000000;  ///< sweeps over the active set, in total
  Order order = Order::kCyclic;
  std::uint64_t seed = 1;  ///< for Order::kRandom
  double rcond = -1;       ///< least squares: eigenvalues below rcond * max are zero (< 0: p eps)
  /// Once the signs of the active coefficients stop changing, try the exact minimiser on their
  /// support (a Cholesky solve); kept only if no sign changes, so it can only help.
  bool newton = true;
};

/// A solution and its certificate.
struct Fit {
  Eigen::VectorXd coef;               ///< original units
  Eigen::VectorXd coef_standardized;  ///< the coordinates solved for
  double intercept = 0;
  double lambda = 0;
  double l1_ratio = 1;
  double objective = 0;      ///< of the standardised problem (the one solved)
  double gap = 0;            ///< duality gap (NaN for least squares)
  double relative_gap = 0;   ///< gap / objective
  double gap_floor = 0;      ///< rounding floor of the gap computed from the Gram
  double kkt_violation = 0;  ///< max_j violation of the optimality conditions (standardised)
  std::int64_t epochs = 0;   ///< coordinate-descent sweeps over the active set
  std::int64_t updates = 0;  ///< coordinate updates
  std::int64_t nonzeros = 0;
  int rank = -1;  ///< numerical rank (least squares and debiasing)
  bool converged = false;
  std::string method;
  double seconds = 0;
};

/// **Collective** in residual mode. One penalty; starts from `warm` if given.
Fit solve(const Problem& problem, const Penalty& penalty, const SolverOptions& options = {},
          const Fit* warm = nullptr);
/// Ordinary least squares, minimum norm in standardised coordinates (Gram mode).
Fit least_squares(const Problem& problem, const SolverOptions& options = {});
/// Least-squares refit on the support of `fit` (its nonzero coefficients), minimum norm.
Fit debias(const Problem& problem, const Fit& fit, const SolverOptions& options = {});
/// Adaptive-LASSO weights 1/|x_OLS,j|^gamma (+inf where x_OLS,j = 0) in standardised units.
Eigen::VectorXd adaptive_weights(const Problem& problem, double gamma = 1.0,
                                 const SolverOptions& options = {});
/// The smallest lambda with x = 0: max_j |c_j| / (r w_j) (r = 0 is taken as 1e-3, as glmnet).
double lambda_max(const Problem& problem, double l1_ratio, const Eigen::VectorXd& weights = {});

/// Objective and duality gap of standardised coefficients x (computed from Q, c, yy).
struct Certificate {
  double objective = 0;
  double gap = 0;
  double floor = 0;
  double kkt_violation = 0;
};
Certificate certify(const Problem& problem, const Penalty& penalty,
                    const Eigen::VectorXd& x_standardized);

}  // namespace physfit::lasso
