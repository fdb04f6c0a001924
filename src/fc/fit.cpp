#include "physfit/fc/fit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "physfit/error.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::fc {

std::size_t peak_memory_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

double mean_squared_error(const lasso::Moments& m, const Eigen::VectorXd& z) {
  if (m.n == 0) return std::numeric_limits<double>::quiet_NaN();
  const double sse = m.yty - 2 * z.dot(m.aty) + z.dot(m.ata * z);
  return std::max(sse, 0.0) / static_cast<double>(m.n);
}

namespace {

constexpr int kSample = 8;        // at most this many configurations sampled for the scales,
constexpr int kSampleEvery = 16;  // and one per 16 training configurations
constexpr double kMargin = 16;    // 4 bits above the sample's maxima
// Residual storage: rows per chunk of the exact column sums at most this (a divisor of the
// configuration's rows): the solver packs one chunk (chunk x p doubles) to compute Gram columns.
constexpr std::int64_t kResidualChunk = 512;

// This rank's configurations in [begin, end), as local indices.
std::vector<std::int64_t> mine_in(const Configurations& local, std::int64_t begin,
                                  std::int64_t end) {
  std::vector<std::int64_t> k;
  for (std::int64_t i = 0; i < local.count(); ++i) {
    const std::int64_t g = local.first + i;
    if (g >= begin && g < end) k.push_back(i);
  }
  return k;
}

// Builds the rows of the configurations `which` (local indices) `batch` at a time and hands
// each configuration's rows to `use(local index, rows, first row)`.
template <class Use>
void for_each_configuration(const ClusterSpace& space, const Configurations& local,
                            const std::vector<std::int64_t>& which, int batch, double* build,
                            const std::function<void(std::int64_t)>& progress, Use&& use) {
  const std::int64_t n3 = 3 * std::int64_t(local.num_atoms);
  std::vector<double> u;
  RowMatrix rows;
  for (std::size_t s = 0; s < which.size(); s += static_cast<std::size_t>(batch)) {
    const std::size_t count = std::min(which.size() - s, static_cast<std::size_t>(batch));
    u.clear();
    for (std::size_t c = 0; c < count; ++c) {
      const auto* p = local.displacements.data() + which[s + c] * n3;
      u.insert(u.end(), p, p + n3);
    }
    util::Stopwatch w;
    space.sensitivity(u.data(), static_cast<int>(count), rows);
    *build += w.seconds();
    for (std::size_t c = 0; c < count; ++c)
      use(which[s + c], rows, static_cast<std::int64_t>(c) * n3);
    if (progress) progress(static_cast<std::int64_t>(s + count));
  }
}

}  // namespace

std::int64_t residual_chunk_rows(std::int64_t n3) {
  std::int64_t k = (n3 + kResidualChunk - 1) / kResidualChunk;
  while (n3 % k != 0) ++k;
  return n3 / k;
}

FitData accumulate(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                   int folds, std::int64_t begin, std::int64_t end, int batch,
                   const std::function<void(std::int64_t)>& progress, Storage storage) {
  const int p = space.num_parameters();
  const std::int64_t n3 = 3 * std::int64_t(space.crystal().num_atoms());
  if (local.num_atoms != space.crystal().num_atoms()) {
    throw UsageError("the configurations have " + std::to_string(local.num_atoms) +
                     " atoms, the crystal " + std::to_string(space.crystal().num_atoms()));
  }
  if (n3 > 65536) {
    throw UsageError("a configuration of " + std::to_string(n3 / 3) +
                     " atoms has more than 65536 force components (the largest chunk)");
  }
  batch = std::max(batch, 1);
  const auto which = mine_in(local, begin, end);
  FitData data;
  data.configurations = comm.allreduce(static_cast<std::int64_t>(which.size()), mpi::Op::kSum);
  data.num_rows = data.configurations * n3;
  if (data.configurations == 0) throw UsageError("no configurations to fit");
  double build = 0, reduce = 0;

  if (storage == Storage::kResidual) {
    std::vector<lasso::RowBlock> blocks;
    // Local work only inside the guarded phases: a rank that fails must not skip a collective.
    // Each configuration's rows are built where they are kept: no batch buffer.
    mpi::guarded(comm, [&] {
      data.rows.reserve(which.size());
      for (std::size_t i = 0; i < which.size(); ++i) {
        const std::int64_t k = which[i];
        data.rows.emplace_back(n3, p);
        prefer_huge_pages(data.rows.back());
        util::Stopwatch w;
        space.sensitivity_into(local.displacements.data() + k * n3, data.rows.back().data(), p);
        build += w.seconds();
        data.forces.push_back(Eigen::Map<const Eigen::VectorXd>(local.forces.data() + k * n3, n3));
        if (progress) progress(static_cast<std::int64_t>(i + 1));
      }
    });
    for (std::size_t i = 0; i < which.size(); ++i) {
      const std::int64_t g = local.first + which[i] - begin;
      blocks.push_back(lasso::RowBlock::view(g * n3, data.rows[i], data.forces[i]));
      data.bytes += static_cast<std::size_t>(data.rows[i].size()) * sizeof(double);
    }
    util::Stopwatch w;
    lasso::ProblemOptions po;
    po.mode = lasso::Mode::kResidual;
    po.chunk_rows = residual_chunk_rows(n3);
    data.residual =
        std::make_shared<lasso::Problem>(lasso::Problem::from_rows(comm, blocks, p, po));
    reduce = w.seconds();
    data.passes = 1;
  } else {
    // Column scales: the sample's maxima with a margin; the forces' exact maxima.
    const int sample = static_cast<int>(
        std::clamp<std::int64_t>((end - begin + kSampleEvery - 1) / kSampleEvery, 1, kSample));
    std::vector<double> bounds(static_cast<std::size_t>(p) + 1, 0.0);
    std::vector<std::int64_t> sampled;
    for (int s = 0; s < sample; ++s) {
      const std::int64_t g = begin + (end - begin) * s / sample;
      if (g >= local.first && g < local.first + local.count()) sampled.push_back(g - local.first);
    }
    mpi::guarded(comm, [&] {
      for_each_configuration(space, local, sampled, batch, &build, {},
                             [&](std::int64_t, const RowMatrix& rows, std::int64_t row0) {
                               const auto block = rows.middleRows(row0, n3);
                               for (int j = 0; j < p; ++j)
                                 bounds[j] =
                                     std::max(bounds[j], block.col(j).cwiseAbs().maxCoeff());
                             });
    });
    for (std::int64_t k : which) {
      for (std::int64_t i = 0; i < n3; ++i)
        bounds[p] = std::max(bounds[p], std::abs(local.forces[k * n3 + i]));
    }
    comm.allreduce_in_place(bounds, mpi::Op::kMax);
    for (int j = 0; j < p; ++j) bounds[j] *= kMargin;
    data.sampled = sample;
    lasso::GramOptions go;
    go.chunk_rows = n3;
    go.folds = folds;
    for (int pass = 1;; ++pass) {
      lasso::GramStream stream(p, bounds, go);
      mpi::guarded(comm, [&] {
        for_each_configuration(
            space, local, which, batch, &build, progress,
            [&](std::int64_t k, const RowMatrix& rows, std::int64_t row0) {
              util::Stopwatch w;
              const std::int64_t g = local.first + k - begin;
              const Eigen::Map<const Eigen::VectorXd> f(local.forces.data() + k * n3, n3);
              stream.add(lasso::RowBlock::view(g * n3, rows.middleRows(row0, n3), f),
                         folds > 0 ? static_cast<int>(g % folds) : 0);
              reduce += w.seconds();
            });
      });
      util::Stopwatch w;
      auto gram = std::make_shared<lasso::ExactGram>();
      const bool ok = stream.finish(comm, gram.get());
      reduce += w.seconds();
      data.passes = pass;
      if (ok) {
        data.bytes = gram->bytes();
        data.gram = std::move(gram);
        break;
      }
      if (pass == 2) throw Error("the exact Gram missed the exact column scales");
      bounds = stream.maxima();
    }
  }
  data.build_seconds = comm.allreduce(build, mpi::Op::kMax);
  data.reduce_seconds = comm.allreduce(reduce, mpi::Op::kMax);
  return data;
}

MemoryPlan plan_memory(const ClusterSpace& space, const MemoryPlanOptions& o) {
  MemoryPlan m;
  m.ranks = std::max(1, o.ranks);
  m.storage = o.storage;
  const double n = space.crystal().num_atoms(), n3 = 3 * n;
  const double p = space.num_parameters();
  const auto share = [&](std::int64_t count) {
    return std::ceil(static_cast<double>(count) / static_cast<double>(m.ranks));
  };
  m.base = o.base_bytes;
  m.cluster_space = static_cast<double>(space.memory_bytes());
  m.construction = o.construction_bytes;
  m.configurations = 2 * 8.0 * n3 * (share(o.train) + share(o.test));
  m.row_scratch = static_cast<double>(space.row_scratch_bytes());
  m.dense_matrix = 8.0 * n3 * static_cast<double>(o.train) * p;
  // The largest of the phases after the cluster space: building rows, the fit, the output (on
  // rank 0, once the solver's working memory is freed; the rows or the Gram are still held).
  double phase = 0, with_output = 0;
  if (o.model || o.exports) {
    const double np = space.crystal().num_primitive();
    const double fc2 = 72.0 * n * n, fc3 = space.max_order() >= 3 ? 216.0 * np * n * n : 0.0;
    // The model: the 3n x 3n matrix and its copy, fc3, and a block of the cluster list; the
    // exports: the matrix, the text of FORCE_CONSTANTS (about 300 bytes per block), fc3.
    const double model = o.model ? 2 * fc2 + fc3 + 40.0 * (1 << 20) : 0.0;
    const double exports = o.exports ? fc2 + 300.0 * n * n + fc3 : 0.0;
    m.output = std::max(model, exports);
  }
  if (o.storage == Storage::kGram) {
    lasso::GramOptions go;
    go.chunk_rows = static_cast<std::int64_t>(n3);
    go.folds = o.folds;
    m.gram_build =
        static_cast<double>(lasso::ExactGram::bytes_needed(static_cast<std::int64_t>(p), go));
    // bytes_needed counts the accumulators with a sum of them, the chunk kernel and one dense
    // p x p; cross-validation adds a fold's problem and the solver's copy.
    m.gram_fit = m.gram_build + (o.folds > 0 ? 2.0 : 0.0) * 8.0 * p * p;
    m.batch = 8.0 * std::max(1, o.batch) * n3 * p;
    phase = std::max(m.gram_build + m.batch + m.row_scratch, m.gram_fit);
    with_output = std::max(phase, m.gram_build + m.output);
  } else {
    m.rows = 8.0 * n3 * p * share(o.train);
    m.active = o.active > 0 ? o.active : std::min<std::int64_t>(static_cast<std::int64_t>(p), 512);
    const double chunk = static_cast<double>(residual_chunk_rows(static_cast<std::int64_t>(n3)));
    // The packed chunk, a request's column batches (packed columns, products, exact sums and
    // their gathered copy: about 8 p doubles per column, 64 columns) and the cached columns.
    m.solver = 8.0 * p * (chunk + 8.0 * 64 + 2.0 * static_cast<double>(m.active));
    phase = m.rows + std::max(m.row_scratch, m.solver);
    with_output = m.rows + std::max({m.row_scratch, m.solver, m.output});
  }
  const double common = m.base + m.cluster_space + m.configurations;
  m.per_rank = common + std::max(with_output, m.construction);
  // Summed over the ranks: configurations and rows as they are dealt (some ranks hold one
  // fewer), the rest on every rank, the output on rank 0.
  const double all_configs = 2 * 8.0 * n3 * static_cast<double>(o.train + o.test);
  const double all_rows = m.storage == Storage::kResidual ? 8.0 * n3 * p * o.train : 0.0;
  m.total = m.ranks * (m.base + m.cluster_space + std::max(phase - m.rows, m.construction)) +
            all_configs + all_rows + (with_output - phase);
  return m;
}

Method parse_method(const std::string& name) {
  if (name == "ols" || name == "least-squares") return Method::kLeastSquares;
  if (name == "lasso") return Method::kLasso;
  if (name == "elastic-net" || name == "enet") return Method::kElasticNet;
  if (name == "adaptive-lasso") return Method::kAdaptiveLasso;
  throw UsageError("unknown fit method '" + name +
                   "': use ols, lasso, elastic-net or adaptive-lasso");
}

const char* method_name(Method method) {
  switch (method) {
    case Method::kLeastSquares:
      return "ols";
    case Method::kLasso:
      return "lasso";
    case Method::kElasticNet:
      return "elastic-net";
    case Method::kAdaptiveLasso:
      return "adaptive-lasso";
  }
  return "?";
}

FitResult fit(const FitData& data, const FitOptions& o) {
  util::Stopwatch clock;
  FitResult r;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.cv_rmse = r.cv_relative = r.relative_gap = nan;
  lasso::SolverOptions so;
  so.tol = o.tol;
  so.rcond = o.rcond;
  const bool residual = data.residual != nullptr;
  if (!residual && !data.gram) throw Error("fc::fit: no data");
  std::unique_ptr<lasso::Problem> own;
  if (!residual) own = std::make_unique<lasso::Problem>(lasso::Problem::from_gram(data.gram));
  const lasso::Problem& pr = residual ? *data.residual : *own;
  const int folds = residual ? 0 : data.gram->folds();
  if (o.method == Method::kLeastSquares) {
    if (residual) {
      throw UsageError(
          "least squares needs the Gram of the parameters (storage = gram); the "
          "residual storage fits LASSO-type methods");
    }
    const lasso::Fit f = lasso::least_squares(pr, so);
    r.z = f.coef;
    r.rank = f.rank;
    if (folds >= 2) {
      // Cross-validation of least squares too: refit without each fold.
      double sse = 0;
      for (int k = 0; k < folds; ++k) {
        const auto train = lasso::Problem::from_moments(data.gram->without_fold(k));
        const lasso::Moments held = data.gram->fold(k);
        sse += mean_squared_error(held, lasso::least_squares(train, so).coef) *
               static_cast<double>(held.n);
      }
      r.cv_rmse = std::sqrt(sse / static_cast<double>(pr.rows()));
    }
  } else {
    const double l1_ratio = o.method == Method::kElasticNet ? o.l1_ratio : 1.0;
    const bool adaptive = o.method == Method::kAdaptiveLasso;
    Eigen::VectorXd weights;
    if (adaptive) {
      if (residual) throw UsageError("adaptive LASSO needs least squares: use storage = gram");
      weights = lasso::adaptive_weights(pr, o.adaptive_gamma, so);
    }
    if (o.lambda >= 0) {
      lasso::Penalty pen;
      pen.lambda = o.lambda;
      pen.l1_ratio = l1_ratio;
      pen.weights = weights;
      const lasso::Fit f = lasso::solve(pr, pen, so);
      r.z = f.coef;
      r.lambdas = {o.lambda};
      r.nonzeros = {f.nonzeros};
      r.chosen = 0;
      r.epochs = f.epochs;
      r.relative_gap = f.relative_gap;
    } else {
      // The default grid: 1e-4 lambda_max in 50 lambdas; adaptive LASSO (1 + gamma) times the
      // decades at the same spacing (see fit.hpp).
      const double span = adaptive ? 1 + o.adaptive_gamma : 1.0;
      lasso::PathOptions po;
      po.count = o.lambdas > 0 ? o.lambdas : 1 + static_cast<int>(std::lround(49 * span));
      po.ratio = o.lambda_ratio > 0 ? o.lambda_ratio : std::pow(1e-4, span);
      po.l1_ratio = l1_ratio;
      po.weights = weights;
      po.solver = so;
      po.extend_decades = o.extend_decades;
      po.progress = o.progress;
      lasso::Path path;
      if (folds >= 2) {
        lasso::CrossValidation cv = lasso::cross_validate(pr, po);
        r.cv_mse = cv.mean_error;
        r.cv_se = cv.standard_error;
        r.chosen = o.select_1se ? cv.index_1se : cv.index_min;
        r.cv_rmse = std::sqrt(cv.mean_error[static_cast<std::size_t>(r.chosen)]);
        const double rms = std::sqrt(pr.yy());
        CvReport& c = r.cv;
        c.done = true;
        c.lambda_max = cv.lambda_max;
        c.lambda_min = cv.lambda_min;
        c.lambda_1se = cv.lambda_1se;
        c.index_min = cv.index_min;
        c.index_1se = cv.index_1se;
        c.rmse_min = std::sqrt(cv.error_min());
        c.rmse_1se = std::sqrt(cv.error_1se());
        c.relative_min = c.rmse_min / rms;
        c.relative_1se = c.rmse_1se / rms;
        c.nonzero_min = cv.path.nonzeros[static_cast<std::size_t>(cv.index_min)];
        c.nonzero_1se = cv.path.nonzeros[static_cast<std::size_t>(cv.index_1se)];
        c.requested = cv.requested;
        c.extended = cv.extended;
        c.end = lasso::grid_end_name(cv.end);
        c.select = o.select_1se ? "1se" : "min";
        c.advice = lasso::grid_advice(cv);
        path = std::move(cv.path);
      } else {
        path = lasso::solve_path(pr, po);
        r.chosen = static_cast<int>(path.lambdas.size()) - 1;  // the smallest lambda
      }
      r.lambdas = path.lambdas;
      r.nonzeros = path.nonzeros;
      r.z = path.coef.col(r.chosen);
      for (auto e : path.epochs) r.epochs += e;
      r.relative_gap = path.relative_gaps[static_cast<std::size_t>(r.chosen)];
    }
    r.lambda = r.lambdas[static_cast<std::size_t>(r.chosen)];
  }
  if (!r.z.allFinite()) throw NumericalError("the fit gave non-finite force constants");
  // Training error from the problem's standardised statistics, in either storage: the
  // unpenalised objective is 1/(2n) |F - A z|^2 and yy = F'F / n (no second conversion of the
  // exact Gram, which for 23113 parameters is 4 GB).
  const double mse = 2 * lasso::certify(pr, {}, pr.to_standardized(r.z)).objective;
  const double force_ms = pr.yy();
  r.train_rmse = std::sqrt(mse);
  r.train_relative = r.train_rmse / std::sqrt(force_ms);
  r.cv_relative = r.cv_rmse / std::sqrt(force_ms);
  r.seconds = clock.seconds();
  return r;
}

std::pair<double, double> force_error(const mpi::Comm& comm, const ClusterSpace& space,
                                      const Configurations& local, std::int64_t begin,
                                      std::int64_t end, const Eigen::VectorXd& z,
                                      const Eigen::MatrixXd* phi) {
  const std::int64_t n3 = 3 * std::int64_t(local.num_atoms);
  // Per configuration: squared error and squared force, in global order.
  std::vector<double> mine;
  mpi::guarded(comm, [&] {
    for (std::int64_t k = 0; k < local.count(); ++k) {
      const std::int64_t g = local.first + k;
      if (g < begin || g >= end) continue;
      const Eigen::Map<const Eigen::VectorXd> u(local.displacements.data() + k * n3, n3);
      const Eigen::Map<const Eigen::VectorXd> f(local.forces.data() + k * n3, n3);
      const Eigen::VectorXd model = phi ? Eigen::VectorXd(-*phi * u) : space.forces(u.data(), z);
      mine.push_back((f - model).squaredNorm());
      mine.push_back(f.squaredNorm());
    }
  });
  std::vector<double> all = comm.gatherv(mine, 0);
  comm.broadcast(all, 0);
  double sse = 0, sff = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) {
    sse += all[i];
    sff += all[i + 1];
  }
  const double rows = static_cast<double>(all.size() / 2) * static_cast<double>(n3);
  if (rows == 0) {
    mpi::throw_on_all_ranks(comm, UsageError("no configurations in [" + std::to_string(begin) +
                                             ", " + std::to_string(end) + ")"));
  }
  return {std::sqrt(sse / rows), std::sqrt(sff / rows)};
}

void force_parity(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                  std::int64_t begin, std::int64_t end, const Eigen::VectorXd& z,
                  std::vector<double>& truth, std::vector<double>& predicted) {
  const std::int64_t n3 = 3 * std::int64_t(local.num_atoms);
  std::vector<double> mine_true, mine_model;
  mpi::guarded(comm, [&] {
    for (std::int64_t k = 0; k < local.count(); ++k) {
      const std::int64_t g = local.first + k;
      if (g < begin || g >= end) continue;
      const Eigen::Map<const Eigen::VectorXd> u(local.displacements.data() + k * n3, n3);
      const double* f = local.forces.data() + k * n3;
      const Eigen::VectorXd model = space.forces(u.data(), z);
      mine_true.insert(mine_true.end(), f, f + n3);
      mine_model.insert(mine_model.end(), model.data(), model.data() + n3);
    }
  });
  // Blocks of configurations by rank: rank order is global order.
  truth = comm.gatherv(mine_true, 0);
  predicted = comm.gatherv(mine_model, 0);
}

}  // namespace physfit::fc
