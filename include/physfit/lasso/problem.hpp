#pragma once
/// @file
/// A least-squares problem ready for the solvers: the rows reduced to standardised sufficient
/// statistics (Gram mode), or kept where they are with Gram columns computed on demand
/// (residual mode, when p x p does not fit the memory budget).
///
/// Standardisation (on by default, as glmnet): column j is divided by s_j, its root mean
/// square (its standard deviation when an intercept is fitted, after centring), so the
/// penalty treats every column alike; the solvers report coefficients in the original units
/// (x_j / s_j). Columns with s_j = 0 get coefficient 0. The intercept (off by default: forces
/// have none) is not penalised; it is recovered as mean(y) - mean(A) x.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "physfit/lasso/gram.hpp"
#include "physfit/lasso/rows.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::lasso {

namespace detail {
class Covariance;
}

/// How the solvers see the problem.
enum class Mode {
  kAuto,      ///< Gram if it fits the memory budget, else residual
  kGram,      ///< the p x p Gram on every rank (one reduction; no communication afterwards)
  kResidual,  ///< rows stay on their ranks; Gram columns computed for active coefficients
};
const char* mode_name(Mode mode);

struct ProblemOptions {
  bool standardize = true;
  bool intercept = false;
  Mode mode = Mode::kAuto;
  std::size_t memory_budget = std::size_t(4) << 30;  ///< bytes per rank for the Gram mode
  std::int64_t chunk_rows = 1024;                    ///< see GramOptions
  int folds = 0;  ///< rows carry fold ids in [0, folds) for cross-validation
};

/// The standardised quadratic the solvers minimise:
///   f(x) = 1/2 x^T Q x - c^T x + yy / 2 + penalty(x),  Q = D^-1 (A^T A / n - m m^T) D^-1,
///   c = D^-1 (A^T y / n - m ybar), yy = y^T y / n - ybar^2 (m, ybar = 0 without intercept),
/// so that f(x) = 1/(2n) ||y - ybar - (A - 1 m^T) D^-1 x||^2 + penalty(x).
class Problem {
 public:
  /// **Collective.** From the rows every rank holds (see ExactGram::reduce for the rules).
  /// The mode is chosen from `options.memory_budget` unless forced; mode_reason() says why.
  /// In residual mode the blocks' memory must outlive the Problem.
  static Problem from_rows(const mpi::Comm& comm, const std::vector<RowBlock>& blocks,
                           std::int64_t cols, const ProblemOptions& options = {});
  /// From an exact reduction (Gram mode, no communication): ExactGram::reduce or a
  /// GramStream. `options.folds` and `options.intercept` are taken from the reduction.
  static Problem from_gram(std::shared_ptr<const ExactGram> gram, ProblemOptions options = {});
  /// From reduced statistics (Gram mode, no communication).
  static Problem from_moments(const Moments& moments, const ProblemOptions& options = {});

  Problem(Problem&&) noexcept;
  Problem& operator=(Problem&&) noexcept;
  ~Problem();

  Mode mode() const { return mode_; }
  const std::string& mode_reason() const { return mode_reason_; }
  std::int64_t rows() const { return n_; }
  int cols() const { return p_; }
  const ProblemOptions& options() const { return options_; }

  /// Column scales s_j (1 when not standardising; 0 for a constant column).
  const Eigen::VectorXd& scale() const { return scale_; }
  /// Column means (zero without intercept) and mean of y.
  const Eigen::VectorXd& mean() const { return mean_; }
  double y_mean() const { return y_mean_; }

  /// Standardised statistics (see the class comment).
  const Eigen::VectorXd& c() const;
  const Eigen::VectorXd& diag() const;
  double yy() const;
  /// The dense standardised Q (Gram mode), else null.
  const Eigen::MatrixXd* q() const;

  /// The exact per-fold reduction (Gram mode with folds), else null.
  const ExactGram* gram() const { return gram_.get(); }
  /// The communicator (residual mode), for collective solver steps.
  const mpi::Comm& comm() const { return comm_; }

  /// Original-unit coefficients of standardised ones, and the intercept that goes with them.
  Eigen::VectorXd to_original(const Eigen::VectorXd& x_standardized) const;
  double intercept_of(const Eigen::VectorXd& x_original) const;
  /// Standardised coefficients of original-unit ones.
  Eigen::VectorXd to_standardized(const Eigen::VectorXd& x_original) const;

  /// The solvers' view (implementation detail).
  detail::Covariance& covariance() const { return *covariance_; }

  /// Bytes the Gram mode needs on each rank for p columns and these options.
  static std::size_t gram_bytes(std::int64_t cols, const ProblemOptions& options);

 private:
  Problem();
  void standardize_from(const Moments& m);

  mpi::Comm comm_;
  ProblemOptions options_;
  Mode mode_ = Mode::kGram;
  std::string mode_reason_;
  std::int64_t n_ = 0;
  int p_ = 0;
  Eigen::VectorXd scale_, mean_;
  double y_mean_ = 0;
  std::shared_ptr<const ExactGram> gram_;
  std::shared_ptr<detail::Covariance> covariance_;
};

}  // namespace physfit::lasso
