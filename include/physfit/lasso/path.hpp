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
///
/// A grid that finds its minimum (issue 10): a CV minimum at the small end of the grid says
/// only that the best lambda is there or below. cross_validate then extends the path downwards,
/// one decade at a time at the grid's own geometric spacing, every path (all the data and each
/// fold) warm-started from its last solution, and cross-validates the new lambdas, until
/// lambda_min has at least one decade of the path below it (an interior minimum, confirmed),
/// or the last decade lowered the CV error by less than `flat_tolerance` of its standard error
/// (the curve is on its unpenalised plateau: a smaller lambda cannot change the error
/// measurably), or `extend_decades` decades have been added (the floor; each solve below the
/// grid gets at most 10^4 coordinate-descent sweeps, and one that does not converge there also
/// ends the extension). CrossValidation::end says what happened; grid_advice() says it in
/// words, with the next grid to try. A minimum at lambda_max (every coefficient zero), or one
/// whose error is within a standard error of that all-zero model's, cannot be extended: it
/// means the data do not support the model.

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <string>
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
  /// cross_validate: decades the path may be extended below its smallest lambda while the CV
  /// minimum is within the last decade of the path (0: never). The default (6) takes the
  /// default grid (1e-4 lambda_max) down to 1e-10 lambda_max at most.
  double extend_decades = 6;
  /// cross_validate: the extension stops when a decade of the path lowered the CV error by
  /// less than this fraction of its standard error (the curve is flat: 0.1 SE per decade,
  /// with the fall shrinking decade after decade, cannot move lambda_min's error measurably).
  double flat_tolerance = 0.1;
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

/// Where lambda_min lies on the (possibly extended) grid, and why the extension stopped.
enum class GridEnd {
  kInterior,     ///< lambda_min has smaller lambdas after it on the path
  kTop,          ///< at the largest lambda, or within one standard error of its all-zero model
  kFlat,         ///< at the smallest lambda; the curve flat there (within flat_tolerance SE)
  kFloor,        ///< at the smallest lambda; still falling at the floor (or unconverged there)
  kNotExtended,  ///< at the smallest lambda; extension disabled or impossible (one lambda)
};
const char* grid_end_name(GridEnd end);  ///< "interior", "top", "flat", "floor", "not-extended"

struct CrossValidation {
  std::vector<double> lambdas;
  Eigen::MatrixXd fold_error;  ///< folds x lambdas: mean squared error on held-out rows
  std::vector<std::int64_t> fold_rows;
  std::vector<double> mean_error, standard_error;
  int index_min = 0, index_1se = 0;
  double lambda_min = 0, lambda_1se = 0;
  Path path;  ///< on all the data
  double seconds = 0;
  double lambda_max = 0;  ///< of the problem and penalty (the top of a generated grid)
  int requested = 0;      ///< lambdas of the grid asked for
  int extended = 0;       ///< lambdas added below it (lambdas.size() - requested)
  int per_decade = 0;     ///< lambdas per decade of the grid's spacing (0: one lambda)
  GridEnd end = GridEnd::kInterior;
  /// False when the extension stopped because a solve below the grid did not converge within
  /// its sweeps (10^4 per lambda there).
  bool extension_converged = true;
  /// The next grid to try when lambda_min is at the small end: its smallest lambda / lambda_max
  /// and its length at the same spacing (0 when there is no advice).
  double next_ratio = 0;
  int next_count = 0;
  double error_min() const { return mean_error[static_cast<std::size_t>(index_min)]; }
  double error_1se() const { return mean_error[static_cast<std::size_t>(index_1se)]; }
};

/// **Collective** in residual mode. Needs a problem built with folds (ProblemOptions::folds).
/// Extends the path below the grid while the minimum is at its small end (see the file
/// comment and PathOptions::extend_decades).
CrossValidation cross_validate(const Problem& problem, const PathOptions& options);

/// Names of a command's options, for the words of grid_advice().
struct GridOptionNames {
  std::string ratio = "--path.ratio";
  std::string count = "--path.count";
  std::string extend = "--path.extend";
  std::string select = "--cv.select";
};

/// What the user should know about where lambda_min lies: empty when the minimum is interior,
/// otherwise a warning that says which end, why the extension stopped, and the next grid to
/// try as option values (`names`).
std::string grid_advice(const CrossValidation& cv, const GridOptionNames& names = {});

/// **Collective.** Fold ids for this rank's rows from their group ids (any integers; rows of
/// one group share a fold). The distinct groups of all ranks are sorted, shuffled if `seed` is
/// not 0, and cut into `folds` contiguous runs whose sizes differ by at most one, the first ones
/// larger (scikit-learn's KFold on groups). Every rank gets the same assignment whatever the
/// number of ranks.
std::vector<std::int32_t> assign_folds(const mpi::Comm& comm,
                                       const std::vector<std::int64_t>& groups, int folds,
                                       std::uint64_t seed = 0);

}  // namespace physfit::lasso
