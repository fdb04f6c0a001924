#pragma once
// Cyclic coordinate descent with covariance updates on an active set (implementation detail).
//
// Friedman, Hastie and Tibshirani (2010), "Regularization paths for generalized linear models
// via coordinate descent", J. Stat. Softw. 33(1): naive updates replaced by covariance
// updates, the Gram columns of a coefficient computed (or, here, copied from the Gram) when it
// first enters the model, sweeps over the active set until convergence, then a check of the
// optimality conditions of every other coefficient, which enter if they violate them.

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "covariance.hpp"
#include "physfit/lasso/solver.hpp"

namespace physfit::lasso::detail {

struct CdResult {
  double objective = 0;
  double gap = 0;
  double floor = 0;
  double kkt = 0;
  std::int64_t epochs = 0;
  std::int64_t updates = 0;
  bool converged = false;
};

/// Objective, gap and rounding floor at x (nonzero only on `set`), with q = Q x on `set`
/// (and on every coordinate of `dual_set` for the dual norm), as documented in solver.hpp.
struct GapTerms {
  double objective = 0, gap = 0, floor = 0;
};

class CoordinateDescent {
 public:
  /// weights: L1 weights (p; +inf or a zero diagonal: the coefficient stays 0).
  CoordinateDescent(Covariance& cov, const Eigen::VectorXd& weights, const SolverOptions& options);

  /// Warm start (standardised coefficients).
  void set_start(const Eigen::VectorXd& x);
  /// Minimises for (l1, l2) from the current state. `strong`: coefficients checked first
  /// (the sequential strong rule of Tibshirani et al. 2012); the others are checked after.
  CdResult run(double l1, double l2, const std::vector<char>* strong = nullptr);

  const Eigen::VectorXd& x() const { return x_; }
  /// Q x over all coefficients, as of the end of the last run().
  const Eigen::VectorXd& gradient() const { return q_; }
  std::int64_t active_size() const { return static_cast<std::int64_t>(active_.size()); }
  /// Newton steps on the support accepted so far.
  std::int64_t newton_steps() const { return newton_steps_; }

 private:
  void add(const std::vector<int>& indices);
  void full_gradient();
  GapTerms terms(double l1, double l2, bool full) const;
  bool newton(double l1, double l2);
  bool newton_once(double l1, double l2, bool* moved);
  double kkt(double l1, double l2) const;

  Covariance& cov_;
  Eigen::VectorXd w_;
  std::vector<char> excluded_;
  SolverOptions options_;
  int p_;
  Eigen::VectorXd x_, q_;
  std::vector<int> active_;
  std::vector<int> slot_;    // position in active_, or -1
  Eigen::MatrixXd columns_;  // p x capacity: Q[:, active_[a]] in column a
  Eigen::MatrixXd qaa_;      // Q[active, active]
  Eigen::VectorXd qa_;       // (Q x)[active], updated incrementally
  std::vector<int> order_;
  std::uint64_t shuffles_ = 0;
  std::int64_t newton_steps_ = 0;
};

}  // namespace physfit::lasso::detail
