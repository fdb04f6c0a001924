#pragma once
/// @file
/// The steps of `physfit lasso` after the data are read, shared by the command (which reads
/// A and y from HDF5) and the Python module (which gets them as numpy arrays): the same
/// options (config::Values parsed from lasso_command()'s declarations, hence the same names,
/// checks and defaults), the same calls of the engine, hence the same bits.

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "physfit/config/options.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/problem.hpp"
#include "physfit/lasso/rows.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::cli {

/// What `physfit lasso` computes from its options and the reduced problem.
struct LassoSolution {
  std::string task;    ///< fit.task
  std::string method;  ///< fit.method
  int folds = 0;       ///< cv.folds for task cv, else 0
  double lambda_max = 0;
  Eigen::VectorXd weights;  ///< adaptive-LASSO weights (empty for other methods)
  lasso::Fit fit;           ///< the final fit
  bool have_debiased = false;
  lasso::Fit debiased;
  bool have_path = false;  ///< task path or cv
  lasso::Path path;
  bool have_cv = false;  ///< task cv
  lasso::CrossValidation cv;
  std::string advice;  ///< task cv: grid_advice() ("" when lambda_min is interior)
};

/// **Collective** (replicated: every rank checks the same options). The usage errors known from
/// the options alone, before any data are read (method ols with a path, cross-validation in
/// residual mode, task fit without a lambda).
void check_lasso_options(const mpi::Comm& comm, const config::Values& options);

/// lasso::ProblemOptions from the options (fit.standardize, fit.intercept, solver.mode,
/// solver.memory-mib, solver.chunk-rows, and cv.folds for task cv).
lasso::ProblemOptions lasso_problem_options(const config::Values& options);

/// **Collective.** The reduced problem of this rank's rows `rows` (its `fold` is ignored):
/// with task cv, folds from `groups` (this rank's group ids, one per row; when no rank has any,
/// `groups_given` false, every row is its own group) by lasso::assign_folds.
lasso::Problem lasso_problem(const mpi::Comm& comm, const config::Values& options,
                             lasso::RowBlock rows, std::vector<std::int64_t> groups,
                             bool groups_given);

/// **Collective.** Solves the task of the options on `problem`: fit, path, or cross-validation
/// then the fit at lambda_min or lambda_1se, and the debiased refit if asked. `on_lambda`
/// (if set) is called after each lambda of a path or fold, at the same point on every rank;
/// `names` are the option names the advice of a CV minimum at an end of the grid uses.
LassoSolution solve_lasso(const mpi::Comm& comm, const config::Values& options,
                          const lasso::Problem& problem,
                          const std::function<void(std::int64_t, std::int64_t)>& on_lambda = {},
                          const lasso::GridOptionNames& names = {});

}  // namespace physfit::cli
