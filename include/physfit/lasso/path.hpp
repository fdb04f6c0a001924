#pragma once
/// @file
/// The regularisation path and K-fold cross-validation over groups of rows.
///
/// Path (Friedman, Hastie and Tibshirani 2010, section 2.5): lambda from lambda_max (all
/// coefficients zero) down to ratio * lambda_max, geometric, each solved from the previous
/// solution (warm start) with the sequential strong rule (Tibshirani et al. 2012, "Strong
/// rules for discarding predictors in lasso-type problems", JRSS B 74) deciding which inactive
/// coefficients are checked first.
///
/// Cross-validation: the folds are groups of rows chosen by the user (whole configurations
/// for force constants). In Gram mode every fold's Gram comes from the single reduction: the
/// training Gram of fold k is the total minus fold k's rows, subtracted exactly (gram.hpp).
/// Each fold is standardised on its own training rows and solved along the lambdas of the
/// whole data; its error is measured on its held-out rows. As glmnet: the curve is the mean of
/// the fold errors weighted by fold size, its standard error sqrt(weighted variance / (K-1)),
/// lambda_min the largest lambda at the minimum and lambda_1se the largest lambda whose error
/// is within one standard error of the minimum.

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <vector>

#include "physfit/lasso/problem.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::lasso {

struct PathOptions {
  int count = 100;              ///< number of lambdas
  double ratio = 1e-4;          ///< smallest lambda / lambda_max
  std::vector<double> lambdas;  ///< explicit decreasing lambdas (override count and ratio)
  double l1_ratio = 1;
  Eigen::VectorXd weights;  ///< adaptive-LASSO weights (empty: all 1)
  SolverOptions solver;
  bool screening = true;  ///< the sequential strong rule
  /// Called after each lambda with (lambdas done, lambdas in all): by solve_path for its path,
  /// by cross_validate over its K + 1 paths.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

struct Path {
  std::vector<double> lambdas;
  Eigen::MatrixXd coef;               ///< p x count, original units
  Eigen::MatrixXd coef_standardized;  ///< p x count
  std::vector<double> intercepts, objectives, gaps, relative_gaps, gap_floors, kkt_violations;
  std::vector<std::int64_t> nonzeros, epochs;
  std::vector<char> converged;
  double seconds = 0;
  bool all_converged() const;
  double max_relative_gap() const;
};

/// **Collective** in residual mode.
Path solve_path(const Problem& problem, const PathOptions& options);

struct CrossValidation {
  std::vector<double> lambdas;
  Eigen::MatrixXd fold_error;  ///< folds x lambdas: mean squared error on held-out rows
  std::vector<std::int64_t> fold_rows;
  std::vector<double> mean_error, standard_error;
  int index_min = 0, index_1se = 0;
  double lambda_min = 0, lambda_1se = 0;
  Path path;  ///< on all the data
  double seconds = 0;
};

/// **Collective** in residual mode. Needs a problem built with folds (ProblemOptions::folds).
CrossValidation cross_validate(const Problem& problem, const PathOptions& options);

/// **Collective.** Fold ids for this rank's rows from their group ids (any integers; rows of
/// one group share a fold). The distinct groups of all ranks are sorted, shuffled if `seed` is
/// not 0, and cut into `folds` contiguous runs whose sizes differ by at most one, the first ones
/// larger (scikit-learn's KFold on groups). Every rank gets the same assignment whatever the
/// number of ranks.
std::vector<std::int32_t> assign_folds(const mpi::Comm& comm,
                                       const std::vector<std::int64_t>& groups, int folds,
                                       std::uint64_t seed = 0);

}  // namespace physfit::lasso
