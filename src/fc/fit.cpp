#include "physfit/fc/fit.hpp"

#include <sys/resource.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>

#include "physfit/error.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::fc {

void NormalEquations::resize(int p) {
  rows = 0;
  ata.setZero(p, p);
  aty.setZero(p);
  yty = 0;
}

NormalEquations& NormalEquations::operator+=(const NormalEquations& o) {
  rows += o.rows;
  ata += o.ata;
  aty += o.aty;
  yty += o.yty;
  return *this;
}

NormalEquations& NormalEquations::operator-=(const NormalEquations& o) {
  rows -= o.rows;
  ata -= o.ata;
  aty -= o.aty;
  yty -= o.yty;
  return *this;
}

double NormalEquations::mean_squared_error(const Eigen::VectorXd& z) const {
  if (rows == 0) return std::numeric_limits<double>::quiet_NaN();
  const double sse = yty - 2 * z.dot(aty) + z.dot(ata * z);
  return std::max(sse, 0.0) / static_cast<double>(rows);
}

std::size_t peak_memory_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

FitData accumulate(const mpi::Comm& comm, const ClusterSpace& space, const Configurations& local,
                   int folds, std::int64_t begin, std::int64_t end, int batch,
                   const std::function<void(std::int64_t)>& progress) {
  const int p = space.num_parameters();
  const int n3 = 3 * space.crystal().num_atoms();
  if (local.num_atoms != space.crystal().num_atoms()) {
    throw UsageError("the configurations have " + std::to_string(local.num_atoms) +
                     " atoms, the crystal " + std::to_string(space.crystal().num_atoms()));
  }
  const int groups = std::max(folds, 1);
  std::vector<NormalEquations> acc(groups);
  for (auto& a : acc) a.resize(p);
  batch = std::max(batch, 1);
  double build = 0, reduce = 0;
  // Per fold, a batch of configurations; its rows are built together and added to that
  // fold's statistics when the batch is full.
  std::vector<std::vector<double>> batch_u(groups), batch_f(groups);
  RowMatrix rows;
  auto flush = [&](int g) {
    const int count = static_cast<int>(batch_u[g].size() / n3);
    if (count == 0) return;
    util::Stopwatch w;
    space.sensitivity(batch_u[g].data(), count, rows);
    build += w.seconds();
    w.restart();
    const Eigen::Map<const Eigen::VectorXd> y(batch_f[g].data(), rows.rows());
    acc[g].ata.selfadjointView<Eigen::Lower>().rankUpdate(rows.transpose());
    acc[g].aty.noalias() += rows.transpose() * y;
    acc[g].yty += y.squaredNorm();
    acc[g].rows += rows.rows();
    reduce += w.seconds();
    batch_u[g].clear();
    batch_f[g].clear();
  };
  std::int64_t flushed = 0;
  std::int64_t used = 0;
  for (std::int64_t k = 0; k < local.count(); ++k) {
    const std::int64_t global = local.first + k;
    if (global < begin || global >= end) continue;
    const int g = folds > 0 ? static_cast<int>(global % folds) : 0;
    batch_u[g].insert(batch_u[g].end(), local.displacements.begin() + k * n3,
                      local.displacements.begin() + (k + 1) * n3);
    batch_f[g].insert(batch_f[g].end(), local.forces.begin() + k * n3,
                      local.forces.begin() + (k + 1) * n3);
    ++used;
    if (static_cast<int>(batch_u[g].size() / n3) == batch) {
      flush(g);
      flushed += batch;
      if (progress) progress(flushed);
    }
  }
  for (int g = 0; g < groups; ++g) flush(g);
  util::Stopwatch w;
  // Reduced in place (no copy of the p x p matrices: for 20000 parameters each is 3.2 GB).
  for (auto& a : acc) {
    a.ata.triangularView<Eigen::StrictlyUpper>() = a.ata.transpose();
    comm.allreduce_in_place(a.ata.data(), static_cast<std::size_t>(a.ata.size()), mpi::Op::kSum);
    std::vector<double> small(a.aty.data(), a.aty.data() + p);
    small.push_back(static_cast<double>(a.rows));
    small.push_back(a.yty);
    comm.allreduce_in_place(small, mpi::Op::kSum);
    std::copy(small.begin(), small.begin() + p, a.aty.data());
    a.rows = static_cast<std::int64_t>(small[p]);
    a.yty = small[p + 1];
  }
  reduce += w.seconds();
  FitData data;
  data.configurations = comm.allreduce(used, mpi::Op::kSum);
  if (folds > 0) {
    data.total.resize(p);
    for (auto& a : acc) data.total += a;
    data.folds = std::move(acc);
  } else {
    data.total = std::move(acc[0]);
  }
  data.build_seconds = comm.allreduce(build, mpi::Op::kMax);
  data.reduce_seconds = comm.allreduce(reduce, mpi::Op::kMax);
  return data;
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

std::int64_t coordinate_descent(const Eigen::MatrixXd& q, const Eigen::VectorXd& c, double lambda,
                                double l1_ratio, const Eigen::VectorXd& weights, double tol,
                                std::int64_t max_epochs, Eigen::VectorXd& x) {
  const Eigen::Index p = q.rows();
  Eigen::VectorXd g = c - q * x;  // g = c - Q x
  const double l1 = lambda * l1_ratio, l2 = lambda * (1 - l1_ratio);
  std::int64_t epoch = 0;
  bool full = true;
  while (epoch < max_epochs) {
    ++epoch;
    double change = 0, size = 0;
    for (Eigen::Index j = 0; j < p; ++j) {
      if (!full && x[j] == 0.0) continue;
      const double w = weights.size() ? weights[j] : 1.0;
      if (!std::isfinite(w)) continue;
      const double old = x[j];
      const double rho = g[j] + q(j, j) * old;
      const double t = l1 * w;
      const double updated =
          rho > t ? (rho - t) / (q(j, j) + l2) : (rho < -t ? (rho + t) / (q(j, j) + l2) : 0.0);
      if (updated != old) {
        g.noalias() -= q.col(j) * (updated - old);
        x[j] = updated;
        change = std::max(change, std::abs(updated - old) * std::sqrt(q(j, j)));
      }
      size = std::max(size, std::abs(updated) * std::sqrt(q(j, j)));
    }
    if (change <= tol * std::max(size, 1e-300)) {
      if (full) break;
      full = true;  // the active set converged: check every coefficient once more
    } else {
      full = false;
    }
  }
  return epoch;
}

namespace {

// A standardised problem: Q = S^-1 (A'A/n) S^-1, c = S^-1 A'y/n, with s_j the column RMS.
struct Standardized {
  Eigen::MatrixXd q;
  Eigen::VectorXd c, s;
  explicit Standardized(const NormalEquations& e) {
    const double n = static_cast<double>(std::max<std::int64_t>(e.rows, 1));
    s = (e.ata.diagonal() / n).cwiseSqrt();
    Eigen::VectorXd inv = s;
    for (Eigen::Index j = 0; j < s.size(); ++j) inv[j] = s[j] > 0 ? 1 / s[j] : 0.0;
    q = inv.asDiagonal() * (e.ata / n) * inv.asDiagonal();
    for (Eigen::Index j = 0; j < s.size(); ++j) {
      if (s[j] == 0) q(j, j) = 1;  // a column without data: its coefficient stays 0
    }
    c = inv.asDiagonal() * (e.aty / n);
  }
  Eigen::VectorXd original(const Eigen::VectorXd& x) const {
    Eigen::VectorXd z(x.size());
    for (Eigen::Index j = 0; j < x.size(); ++j) z[j] = s[j] > 0 ? x[j] / s[j] : 0.0;
    return z;
  }
};

Eigen::VectorXd least_squares(const Standardized& st, double rcond, int* rank) {
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(st.q);
  const Eigen::VectorXd& ev = eig.eigenvalues();
  const double cut = rcond * std::max(ev.maxCoeff(), 0.0);
  Eigen::VectorXd proj = eig.eigenvectors().transpose() * st.c;
  int r = 0;
  for (Eigen::Index k = 0; k < ev.size(); ++k) {
    if (ev[k] > cut) {
      proj[k] /= ev[k];
      ++r;
    } else {
      proj[k] = 0;
    }
  }
  if (rank) *rank = r;
  return eig.eigenvectors() * proj;
}

Eigen::VectorXd weights_for(const FitOptions& o, const Standardized& st) {
  if (o.method != Method::kAdaptiveLasso) return {};
  const Eigen::VectorXd ols = least_squares(st, o.rcond, nullptr);
  Eigen::VectorXd w(ols.size());
  for (Eigen::Index j = 0; j < w.size(); ++j) {
    w[j] = ols[j] != 0 ? 1 / std::abs(ols[j]) : std::numeric_limits<double>::infinity();
  }
  return w;
}

double lambda_max_of(const Standardized& st, double l1_ratio, const Eigen::VectorXd& w) {
  double m = 0;
  for (Eigen::Index j = 0; j < st.c.size(); ++j) {
    const double wj = w.size() ? w[j] : 1.0;
    if (std::isfinite(wj) && wj > 0) m = std::max(m, std::abs(st.c[j]) / wj);
  }
  return m / std::max(l1_ratio, 1e-3);
}

// Solutions (original units) along the lambdas, warm-started.
std::vector<Eigen::VectorXd> path(const Standardized& st, const FitOptions& o,
                                  const std::vector<double>& lambdas, std::int64_t* epochs) {
  const Eigen::VectorXd w = weights_for(o, st);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(st.c.size());
  std::vector<Eigen::VectorXd> out;
  const double r = o.method == Method::kElasticNet ? o.l1_ratio : 1.0;
  for (double lambda : lambdas) {
    *epochs += coordinate_descent(st.q, st.c, lambda, r, w, o.tol, o.max_epochs, x);
    out.push_back(st.original(x));
  }
  return out;
}

}  // namespace

FitResult fit(const FitData& data, const FitOptions& o) {
  util::Stopwatch clock;
  FitResult r;
  const NormalEquations& all = data.total;
  if (all.rows == 0) throw UsageError("no configurations to fit");
  const Standardized st(all);
  const double force_ms = all.yty / static_cast<double>(all.rows);
  r.cv_rmse = r.cv_relative = std::numeric_limits<double>::quiet_NaN();
  if (o.method == Method::kLeastSquares) {
    r.z = st.original(least_squares(st, o.rcond, &r.rank));
  } else {
    const double r1 = o.method == Method::kElasticNet ? o.l1_ratio : 1.0;
    if (o.lambda >= 0) {
      r.lambdas = {o.lambda};
    } else {
      const double top = lambda_max_of(st, r1, weights_for(o, st));
      for (int k = 0; k < o.lambdas; ++k) {
        r.lambdas.push_back(top * std::pow(o.lambda_ratio, k / std::max(1.0, o.lambdas - 1.0)));
      }
    }
    const auto full = path(st, o, r.lambdas, &r.epochs);
    r.chosen = static_cast<int>(r.lambdas.size()) - 1;
    if (o.lambda < 0 && !data.folds.empty()) {
      const int k_folds = static_cast<int>(data.folds.size());
      Eigen::MatrixXd mse(k_folds, r.lambdas.size());
      for (int k = 0; k < k_folds; ++k) {
        NormalEquations train = all;
        train -= data.folds[k];
        const auto sol = path(Standardized(train), o, r.lambdas, &r.epochs);
        for (std::size_t l = 0; l < sol.size(); ++l)
          mse(k, l) = data.folds[k].mean_squared_error(sol[l]);
      }
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t l = 0; l < r.lambdas.size(); ++l) {
        double mean = 0, weight = 0;
        for (int k = 0; k < k_folds; ++k) {
          mean += mse(k, l) * data.folds[k].rows;
          weight += data.folds[k].rows;
        }
        mean /= weight;
        double var = 0;
        for (int k = 0; k < k_folds; ++k) var += data.folds[k].rows * std::pow(mse(k, l) - mean, 2);
        r.cv_mse.push_back(mean);
        r.cv_se.push_back(std::sqrt(var / weight / std::max(1, k_folds - 1)));
        if (mean < best) {
          best = mean;
          r.chosen = static_cast<int>(l);
        }
      }
      r.cv_rmse = std::sqrt(best);
      r.cv_relative = r.cv_rmse / std::sqrt(force_ms);
    }
    r.lambda = r.lambdas[r.chosen];
    r.z = full[r.chosen];
  }
  if (!r.z.allFinite()) throw NumericalError("the fit gave non-finite force constants");
  r.train_rmse = std::sqrt(all.mean_squared_error(r.z));
  r.train_relative = r.train_rmse / std::sqrt(force_ms);
  if (o.method == Method::kLeastSquares && !data.folds.empty()) {
    // Cross-validation of least squares too: refit without each fold.
    double sse = 0;
    for (const auto& f : data.folds) {
      NormalEquations train = all;
      train -= f;
      const Standardized s(train);
      sse += f.mean_squared_error(s.original(least_squares(s, o.rcond, nullptr))) * f.rows;
    }
    r.cv_rmse = std::sqrt(sse / static_cast<double>(all.rows));
    r.cv_relative = r.cv_rmse / std::sqrt(force_ms);
  }
  r.seconds = clock.seconds();
  return r;
}

}  // namespace physfit::fc
