#pragma once
/// @file
/// Fitting force constants: the regression F = A z of compressive-sensing lattice dynamics
/// (Zhou et al. 2014), solved by physfit::lasso (least squares, LASSO, elastic net, adaptive
/// LASSO; K-fold cross-validation by configuration and a refit at the chosen lambda).
///
/// What each rank holds: the cluster space, whole and the same on every rank (small: orbits,
/// bases, members and T; see clusters.hpp), the displacements and forces of its own
/// configurations, and by storage the rows below. A configuration's rows are built straight
/// into z columns (ClusterSpace::sensitivity_into) with a scratch of the eliminated x columns
/// (3n x eliminated parameters), never a 3n x num_symmetry_parameters() buffer. plan_memory()
/// estimates all of it per rank and in all before any row is built; `physfit fc` prints it
/// and refuses a plan over --solver.memory-budget-gb.
///
/// The sensitivity matrix A is never whole anywhere. Two ways to hold the problem:
///  - **Gram** (the default): each rank builds the rows of its own configurations a batch at a
///    time and adds them, one configuration per chunk, to a lasso::GramStream, which keeps the
///    exact fixed-point Gram of [A F] (whole and per fold) and reduces it over the ranks with
///    one integer allreduce. Memory per rank: the Gram (24 bytes per entry of the lower
///    triangle, per fold) and one batch of rows, independent of the number of configurations,
///    and the same bits on any number of ranks. The fixed point needs the columns' scales
///    first: they come from a sample of configurations (one per 16, at most 8, spread over the
///    training set) with 4 bits of margin, and if a column of the full data falls outside the
///    window the stream accepts, the rows are built once more with the exact scales (a second
///    pass).
///  - **Residual**: each rank keeps the rows of its configurations (n_local x p, falling as
///    ranks are added), each built where it is kept (no batch buffer), and the solver computes
///    the Gram columns of the active parameters from them (lasso's residual mode, chunks of
///    residual_chunk_rows()). For models whose p x p Gram does not fit a rank (the 512-atom,
///    21154-parameter case); LASSO-type methods with a fixed lambda or a path, no
///    cross-validation and no least squares.

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "physfit/fc/clusters.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/lasso/gram.hpp"
#include "physfit/lasso/problem.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::fc {

/// The training rows, reduced (Gram) or held (residual), ready for the solvers.
struct FitData {
  FitData() = default;
  FitData(FitData&&) = default;
  FitData& operator=(FitData&&) = default;
  FitData(const FitData&) = delete;  // the residual problem points into `rows` and `forces`
  FitData& operator=(const FitData&) = delete;

  std::shared_ptr<const lasso::ExactGram> gram;  ///< Gram mode
  std::vector<RowMatrix> rows;                   ///< residual mode: this rank's rows
  std::vector<Eigen::VectorXd> forces;           ///< residual mode: their forces
  std::shared_ptr<lasso::Problem> residual;      ///< residual mode: the problem
  std::int64_t configurations = 0;
  std::int64_t num_rows = 0;  ///< force components
  int passes = 0;             ///< times the rows were built (Gram mode: 1, or 2 if the
                              ///< sampled scales missed)
  int sampled = 0;            ///< configurations sampled for the scales (Gram mode)
  double build_seconds = 0;   ///< building sensitivity rows (slowest rank)
  double reduce_seconds = 0;  ///< Gram products and the allreduce (slowest rank)
  std::size_t bytes = 0;      ///< bytes held per rank (Gram accumulators or rows)
};

enum class Storage { kGram, kResidual };

/// **Collective.** Builds the sensitivity rows of this rank's configurations (`local`, whose
/// global indices are local.first + k) in [begin, end), `batch` configurations at a time.
/// Gram: configuration c (global) is in fold (c - begin) % folds (`folds` = 0: none).
/// `progress` (if set) is called with the number of this rank's configurations done.
FitData accumulate(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                   int folds, std::int64_t begin, std::int64_t end, int batch = 4,
                   const std::function<void(std::int64_t)>& progress = {},
                   Storage storage = Storage::kGram);

/// Regression methods.
enum class Method { kLeastSquares, kLasso, kElasticNet, kAdaptiveLasso };
Method parse_method(const std::string& name);
const char* method_name(Method method);

struct FitOptions {
  Method method = Method::kLeastSquares;
  double l1_ratio = 1.0;  ///< elastic net mixing (1: LASSO)
  double lambda = -1;     ///< fixed lambda (< 0: chosen by cross-validation)
  /// Path length (0: 50 lambdas; adaptive LASSO 1 + 49 (1 + gamma), the same spacing).
  int lambdas = 0;
  /// Smallest / largest lambda (<= 0: 1e-4; adaptive LASSO 1e-4^(1 + gamma), see fit()).
  double lambda_ratio = -1;
  double extend_decades = 6;  ///< CV: decades the path may grow below the grid (0: never)
  bool select_1se = false;    ///< CV: the fit at lambda_1se instead of lambda_min
  double adaptive_gamma = 1;  ///< adaptive LASSO weights 1/|z_OLS|^gamma (Zou 2006)
  double tol = 1e-10;         ///< relative duality gap at which coordinate descent stops
  double rcond = -1;  ///< least squares: relative eigenvalue cutoff (< 0: p x machine epsilon)
  /// Called after each lambda of the path or of a CV fold (lambdas done, planned), at the
  /// same points on every rank: a safe point to stop (it may throw).
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// What cross-validation found (FitResult::cv; empty without CV).
struct CvReport {
  bool done = false;
  double lambda_max = 0;
  double lambda_min = 0, lambda_1se = 0;
  int index_min = -1, index_1se = -1;
  double rmse_min = 0, relative_min = 0;  ///< CV force RMSE at lambda_min (eV/A; / force RMS)
  double rmse_1se = 0, relative_1se = 0;  ///< the same at lambda_1se
  std::int64_t nonzero_min = 0, nonzero_1se = 0;  ///< non-zero parameters at each
  int requested = 0;                              ///< lambdas of the grid asked for
  int extended = 0;                               ///< lambdas added below it
  std::string end;     ///< lasso::grid_end_name: interior, top, flat, floor, not-extended
  std::string select;  ///< "min" or "1se": the lambda of the fit
  std::string advice;  ///< the warning when lambda_min is at an end of the grid ("" if not)
};

/// A fit and what it measured.
struct FitResult {
  Eigen::VectorXd z;  ///< independent parameters (eV/Angstrom^n)
  double lambda = 0;
  std::vector<double> lambdas, cv_mse, cv_se;  ///< the cross-validation curve (empty if none)
  std::vector<std::int64_t> nonzeros;          ///< non-zero parameters along the path
  int chosen = -1;                             ///< index of lambda in `lambdas`
  double train_rmse = 0, train_relative = 0;   ///< eV/Angstrom; relative to the force RMS
  double cv_rmse = 0, cv_relative = 0;         ///< at the chosen lambda (NaN without CV)
  double relative_gap = 0;                     ///< duality gap / objective (NaN for OLS)
  std::int64_t epochs = 0;
  int rank = 0;  ///< least squares: numerical rank
  CvReport cv;   ///< LASSO-type methods with cross-validation
  double seconds = 0;
};

/// **Collective** in residual mode; in Gram mode every rank computes the same bits without
/// communication. LASSO-type methods without a fixed lambda run K-fold cross-validation over
/// the path (lasso::cross_validate, which extends the path below the grid while the CV minimum
/// is at its small end) and take lambda_min (or lambda_1se), whose solution on all data comes
/// from the same run. Adaptive LASSO: weights 1/|z_OLS,j|^gamma on the standardised
/// least-squares solution (Zou 2006); a parameter enters its path at about |z_OLS,j|^gamma
/// times the lambda at which it enters LASSO's, so its path spans (1 + gamma) times the decades
/// of LASSO's to reach the same parameters: the default grid is 1e-4^(1 + gamma) with the same
/// spacing (1e-8, 99 lambdas at gamma = 1).
FitResult fit(const FitData& data, const FitOptions& options);

/// Mean squared residual of z on the rows of `m`: (F'F - 2 z'A'F + z'A'A z) / n.
double mean_squared_error(const lasso::Moments& m, const Eigen::VectorXd& z);

/// **Collective.** Force RMSE of z on the configurations in [begin, end) (and the force RMS),
/// each configuration's squared error summed in global order: the same bits on any number of
/// ranks. With `phi` (a 3n x 3n harmonic model) its error instead of the fit's.
std::pair<double, double> force_error(const mpi::Comm& comm, const ClusterSpace& space,
                                      const Configurations& local, std::int64_t begin,
                                      std::int64_t end, const Eigen::VectorXd& z,
                                      const Eigen::MatrixXd* phi = nullptr);

/// **Collective.** The force components of the configurations in [begin, end), as the data
/// give them (`truth`) and as z predicts them (`predicted`), gathered on rank 0 in global order
/// ([configurations, atoms, 3], eV/Angstrom; empty on the other ranks): a parity plot's points.
void force_parity(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                  std::int64_t begin, std::int64_t end, const Eigen::VectorXd& z,
                  std::vector<double>& truth, std::vector<double>& predicted);

/// Peak resident memory of this process so far (bytes).
std::size_t peak_memory_bytes();

/// Rows per chunk of the residual storage's exact sums (lasso::ProblemOptions::chunk_rows):
/// the largest divisor of a configuration's `n3` force components not above 512, so chunks
/// never straddle configurations and the solver's packed copy of a chunk (chunk x p doubles)
/// stays small (512-atom silicon: 87 MB instead of 260 MB for a whole configuration).
std::int64_t residual_chunk_rows(std::int64_t n3);

/// What `physfit fc` plans to hold, from the cluster space and the run's sizes, before any
/// row is built.
struct MemoryPlanOptions {
  int ranks = 1;
  std::int64_t train = 0, test = 0;  ///< configurations (dealt evenly to the ranks)
  int batch = 4;                     ///< Gram storage: configurations per block of rows
  int folds = 0;                     ///< Gram storage: cross-validation folds
  Storage storage = Storage::kGram;
  /// Residual storage: parameters whose Gram columns the solver keeps (the path's support;
  /// unknown beforehand: 0 takes min(p, 512)).
  std::int64_t active = 0;
  double base_bytes = 0;          ///< the process before the fit (libraries, MPI, HDF5, crystal)
  double construction_bytes = 0;  ///< building the cluster space, beyond what it keeps
  bool model = false;             ///< rank 0 writes the model file
  bool exports = false;           ///< rank 0 writes phonopy / phono3py / ShengBTE files
};

/// Bytes per rank by part, the largest rank's peak and the sum over ranks. Every rank holds
/// the cluster space (ClusterSpace::memory_bytes()), its configurations and, by storage:
///  - Gram: while building rows, the exact accumulators (lasso::ExactGram::bytes_needed: per
///    fold, 24 bytes per entry of the lower triangle) plus one batch of rows and the rows'
///    scratch; then for the fit the dense standardised Gram and the solver's copy (and a
///    fold's): the same on any number of ranks;
///  - residual: its rows (ceil(train / ranks) configurations x 3n x p doubles, falling as
///    ranks are added), plus the rows' scratch while building them or the solver's working
///    set (its packed chunk, the Gram columns of the active parameters, twice for growth).
/// Rank 0 writes the output (force-constant arrays) at the end, when the solver's working set
/// is freed but the rows or the Gram are still held. The peak is the base, the cluster space,
/// the configurations and the largest of the phases (building the cluster space, the rows,
/// the fit, the output).
struct MemoryPlan {
  int ranks = 1;
  Storage storage = Storage::kGram;
  double base = 0, cluster_space = 0, construction = 0, configurations = 0;
  double gram_build = 0;  ///< Gram: accumulators while rows are added
  double gram_fit = 0;    ///< Gram: accumulators, dense Q and solver copy during the fit
  double batch = 0;       ///< Gram: one batch of rows
  double rows = 0;        ///< residual: this rank's rows
  double row_scratch = 0;
  double solver = 0;  ///< residual: packed chunk and Gram columns
  std::int64_t active = 0;
  double output = 0;        ///< rank 0 only
  double per_rank = 0;      ///< the largest rank's peak (rank 0)
  double total = 0;         ///< summed over the ranks
  double dense_matrix = 0;  ///< the whole sensitivity matrix, for comparison
};

/// The plan of a run (see MemoryPlan). Pure arithmetic: the same on every rank.
MemoryPlan plan_memory(const ClusterSpace& space, const MemoryPlanOptions& options);

}  // namespace physfit::fc
