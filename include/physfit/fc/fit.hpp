#pragma once
/// @file
/// Fitting force constants: the regression F = A z of compressive-sensing lattice dynamics
/// (Zhou et al. 2014), solved by least squares or by LASSO / elastic net / adaptive LASSO
/// with coordinate descent (Friedman, Hastie and Tibshirani 2010) and K-fold cross-validation
/// by configuration.
///
/// The sensitivity matrix A is never whole anywhere: each rank builds the rows of its own
/// configurations a few at a time and adds them to the normal equations (A^T A, A^T y, y^T y),
/// kept whole and per cross-validation fold; one allreduce combines the ranks. Memory per rank
/// is the folds' p x p matrices plus one batch of rows, not the n x p matrix (which for 512
/// atoms, 200 configurations and 20000 parameters would be 49 GB). This is the interface the
/// LASSO engine (physfit::lasso, issue 4) consumes through its Gram mode.

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "physfit/fc/clusters.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::fc {

/// Sufficient statistics of a least-squares problem over some rows.
struct NormalEquations {
  std::int64_t rows = 0;
  Eigen::MatrixXd ata;
  Eigen::VectorXd aty;
  double yty = 0;
  void resize(int p);
  NormalEquations& operator+=(const NormalEquations& other);
  NormalEquations& operator-=(const NormalEquations& other);
  /// Mean squared residual of coefficients z on these rows: (yty - 2 z.aty + z.ata.z) / rows.
  double mean_squared_error(const Eigen::VectorXd& z) const;
};

/// Normal equations of all rows and of each fold's rows (configuration c is in fold c % K).
struct FitData {
  NormalEquations total;
  std::vector<NormalEquations> folds;
  std::int64_t configurations = 0;
  double build_seconds = 0;   ///< building sensitivity rows (slowest rank)
  double reduce_seconds = 0;  ///< products and the allreduce (slowest rank)
};

/// **Collective.** Builds the sensitivity rows of this rank's configurations (`local`, whose
/// global indices are local.first + k) `batch` configurations at a time and reduces them over
/// the ranks. `folds` = 0: no per-fold statistics. Only configurations whose global index is in
/// [begin, end) are used. `progress` (if set) is called with the number of this rank's
/// configurations done after each batch.
FitData accumulate(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                   int folds, std::int64_t begin, std::int64_t end, int batch = 4,
                   const std::function<void(std::int64_t)>& progress = {});

/// Regression methods.
enum class Method { kLeastSquares, kLasso, kElasticNet, kAdaptiveLasso };
Method parse_method(const std::string& name);
const char* method_name(Method method);

struct FitOptions {
  Method method = Method::kLeastSquares;
  double l1_ratio = 1.0;       ///< elastic net mixing (1: LASSO)
  double lambda = -1;          ///< fixed lambda (< 0: chosen by cross-validation)
  int lambdas = 50;            ///< path length
  double lambda_ratio = 1e-4;  ///< smallest / largest lambda
  double tol = 1e-8;           ///< coordinate descent: stop when the largest scaled change
                               ///< of a sweep is below tol times the largest coefficient
  std::int64_t max_epochs = 100000;
  double rcond = 1e-12;  ///< least squares: relative eigenvalue cutoff
};

/// A fit and what it measured.
struct FitResult {
  Eigen::VectorXd z;  ///< independent parameters (eV/Angstrom^n)
  double lambda = 0;
  std::vector<double> lambdas, cv_mse, cv_se;  ///< the cross-validation curve (empty if none)
  int chosen = -1;                             ///< index of lambda in `lambdas`
  double train_rmse = 0, train_relative = 0;   ///< eV/Angstrom; relative to the force RMS
  double cv_rmse = 0, cv_relative = 0;         ///< at the chosen lambda (NaN without CV)
  std::int64_t epochs = 0;
  int rank = 0;  ///< least squares: numerical rank
  double seconds = 0;
};

/// Fits the parameters from the reduced statistics (the same on every rank; no
/// communication). LASSO-type methods without a fixed lambda run K-fold cross-validation over
/// the path and take the lambda of the smallest CV error, refitted on all data in the same run.
FitResult fit(const FitData& data, const FitOptions& options);

/// Coordinate descent for min 1/2 x'Qx - c'x + lambda (r sum_j w_j |x_j| + (1-r)/2 |x|^2)
/// from `x` (warm start); returns the epochs used. Q must have a positive diagonal.
std::int64_t coordinate_descent(const Eigen::MatrixXd& q, const Eigen::VectorXd& c, double lambda,
                                double l1_ratio, const Eigen::VectorXd& weights, double tol,
                                std::int64_t max_epochs, Eigen::VectorXd& x);

/// Peak resident memory of this process so far (bytes).
std::size_t peak_memory_bytes();

}  // namespace physfit::fc
