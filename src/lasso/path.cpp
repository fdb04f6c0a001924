#include "physfit/lasso/path.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cd.hpp"
#include "covariance.hpp"
#include "physfit/error.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::lasso {
namespace {

std::vector<double> lambdas_of(const Problem& pr, const PathOptions& o) {
  if (!o.lambdas.empty()) {
    for (std::size_t i = 0; i < o.lambdas.size(); ++i) {
      if (!(o.lambdas[i] > 0) || !std::isfinite(o.lambdas[i]) ||
          (i > 0 && o.lambdas[i] > o.lambdas[i - 1])) {
        throw UsageError("path lambdas must be positive, finite and decreasing (value " +
                         std::to_string(i) + " is " + std::to_string(o.lambdas[i]) + ")");
      }
    }
    return o.lambdas;
  }
  if (o.count < 1) throw UsageError("the path needs at least one lambda");
  if (!(o.ratio > 0 && o.ratio < 1)) {
    throw UsageError("the path's lambda ratio must be in (0, 1), got " + std::to_string(o.ratio));
  }
  const double top = lambda_max(pr, o.l1_ratio, o.weights);
  if (!(top > 0)) {
    throw NumericalError(
        "lambda_max is 0: A^T y is zero (or every column is constant), "
        "there is no path");
  }
  std::vector<double> l(static_cast<std::size_t>(o.count));
  for (int i = 0; i < o.count; ++i) {
    l[static_cast<std::size_t>(i)] =
        o.count == 1 ? top : top * std::pow(o.ratio, static_cast<double>(i) / (o.count - 1));
  }
  return l;
}

}  // namespace

bool Path::all_converged() const {
  return std::all_of(converged.begin(), converged.end(), [](char c) { return c != 0; });
}

double Path::max_relative_gap() const {
  double m = 0;
  for (double g : relative_gaps) m = std::max(m, g);
  return m;
}

Path solve_path(const Problem& pr, const PathOptions& o) {
  util::Stopwatch watch;
  if (!(o.l1_ratio >= 0 && o.l1_ratio <= 1)) {
    throw UsageError("l1_ratio must be in [0, 1], got " + std::to_string(o.l1_ratio));
  }
  Path path;
  path.lambdas = lambdas_of(pr, o);
  const int p = pr.cols();
  const auto count = static_cast<Eigen::Index>(path.lambdas.size());
  path.coef.resize(p, count);
  path.coef_standardized.resize(p, count);
  const Eigen::VectorXd w = o.weights.size() ? o.weights : Eigen::VectorXd::Ones(p);
  auto record = [&](Eigen::Index i, const Fit& f) {
    path.coef.col(i) = f.coef;
    path.coef_standardized.col(i) = f.coef_standardized;
    path.intercepts.push_back(f.intercept);
    path.objectives.push_back(f.objective);
    path.gaps.push_back(f.gap);
    path.relative_gaps.push_back(f.relative_gap);
    path.gap_floors.push_back(f.gap_floor);
    path.kkt_violations.push_back(f.kkt_violation);
    path.nonzeros.push_back(f.nonzeros);
    path.epochs.push_back(f.epochs);
    path.converged.push_back(f.converged);
  };
  if (o.l1_ratio == 0) {  // ridge: direct solves (Gram mode)
    for (Eigen::Index i = 0; i < count; ++i) {
      Penalty pen{path.lambdas[static_cast<std::size_t>(i)], 0.0, o.weights};
      record(i, solve(pr, pen, o.solver));
      if (o.progress) o.progress(i + 1, count);
    }
    path.seconds = watch.seconds();
    return path;
  }
  detail::CoordinateDescent cd(pr.covariance(), w, o.solver);
  const double r = o.l1_ratio;
  double previous = lambda_max(pr, r, o.weights);
  std::vector<char> strong(static_cast<std::size_t>(p), 0);
  const Eigen::VectorXd& c = pr.c();
  for (Eigen::Index i = 0; i < count; ++i) {
    const double lambda = path.lambdas[static_cast<std::size_t>(i)];
    const Eigen::VectorXd& q = cd.gradient();
    for (int j = 0; j < p; ++j) {
      strong[static_cast<std::size_t>(j)] =
          std::fabs(c(j) - q(j)) >= r * w(j) * (2 * lambda - previous);
    }
    const detail::CdResult res =
        cd.run(lambda * r, lambda * (1 - r), o.screening ? &strong : nullptr);
    Fit f;
    f.lambda = lambda;
    f.l1_ratio = r;
    f.objective = res.objective;
    f.gap = res.gap;
    f.relative_gap = res.objective > 0 ? res.gap / res.objective : 0.0;
    f.gap_floor = res.floor;
    f.kkt_violation = res.kkt;
    f.epochs = res.epochs;
    f.converged = res.converged;
    f.coef_standardized = cd.x();
    f.coef = pr.to_original(cd.x());
    f.intercept = pr.intercept_of(f.coef);
    f.nonzeros = 0;
    for (int j = 0; j < p; ++j) f.nonzeros += cd.x()(j) != 0;
    record(i, f);
    previous = lambda;
    if (o.progress) o.progress(i + 1, count);
  }
  path.seconds = watch.seconds();
  return path;
}

CrossValidation cross_validate(const Problem& pr, const PathOptions& o) {
  util::Stopwatch watch;
  const ExactGram* gram = pr.gram();
  const int folds = pr.options().folds;
  if (folds < 2) {
    throw UsageError("cross-validation needs at least 2 folds (the problem has " +
                     std::to_string(folds) + ")");
  }
  if (!gram) {
    throw UsageError("cross-validation needs the Gram mode (" + pr.mode_reason() +
                     "); raise the memory budget");
  }
  CrossValidation cv;
  PathOptions po = o;
  po.lambdas = lambdas_of(pr, o);
  cv.lambdas = po.lambdas;
  const auto per_path = static_cast<std::int64_t>(po.lambdas.size());
  int stage = 0;
  if (o.progress) {
    po.progress = [&](std::int64_t done, std::int64_t) {
      o.progress(stage * per_path + done, (folds + 1) * per_path);
    };
  }
  cv.path = solve_path(pr, po);
  const auto L = static_cast<Eigen::Index>(cv.lambdas.size());
  cv.fold_error.resize(folds, L);
  for (int k = 0; k < folds; ++k) {
    cv.fold_rows.push_back(gram->rows_in_fold(k));
    if (gram->rows_in_fold(k) == 0 || gram->rows_in_fold(k) == gram->rows()) {
      throw UsageError("fold " + std::to_string(k) + " has " +
                       std::to_string(gram->rows_in_fold(k)) + " of " +
                       std::to_string(gram->rows()) +
                       " rows: every fold needs held-out and "
                       "training rows");
    }
    stage = k + 1;
    const Problem train = Problem::from_moments(gram->without_fold(k), pr.options());
    const Path fp = solve_path(train, po);
    const Moments held = gram->fold(k);
    const double nk = static_cast<double>(held.n);
    for (Eigen::Index l = 0; l < L; ++l) {
      const Eigen::VectorXd x = fp.coef.col(l);
      const double b0 = fp.intercepts[static_cast<std::size_t>(l)];
      std::vector<int> s;
      for (Eigen::Index j = 0; j < x.size(); ++j) {
        if (x(j) != 0) s.push_back(static_cast<int>(j));
      }
      double xgx = 0;
      for (int a : s) {
        double row = 0;
        for (int b : s) row += held.ata(a, b) * x(b);
        xgx += x(a) * row;
      }
      double sse = held.yty - 2 * x.dot(held.aty) + xgx;
      if (pr.options().intercept) {
        sse += -2 * b0 * held.sum_y + 2 * b0 * x.dot(held.sum_a) + nk * b0 * b0;
      }
      cv.fold_error(k, l) = std::max(0.0, sse) / nk;
    }
  }
  double total = 0;
  for (auto n : cv.fold_rows) total += static_cast<double>(n);
  cv.mean_error.resize(static_cast<std::size_t>(L));
  cv.standard_error.resize(static_cast<std::size_t>(L));
  for (Eigen::Index l = 0; l < L; ++l) {
    double m = 0;
    for (int k = 0; k < folds; ++k) {
      m += static_cast<double>(cv.fold_rows[static_cast<std::size_t>(k)]) * cv.fold_error(k, l);
    }
    m /= total;
    double v = 0;
    for (int k = 0; k < folds; ++k) {
      const double d = cv.fold_error(k, l) - m;
      v += static_cast<double>(cv.fold_rows[static_cast<std::size_t>(k)]) * d * d;
    }
    v /= total;
    cv.mean_error[static_cast<std::size_t>(l)] = m;
    cv.standard_error[static_cast<std::size_t>(l)] = std::sqrt(v / (folds - 1));
  }
  int best = 0;
  for (int l = 1; l < static_cast<int>(L); ++l) {
    if (cv.mean_error[static_cast<std::size_t>(l)] <
        cv.mean_error[static_cast<std::size_t>(best)]) {
      best = l;
    }
  }
  const double threshold = cv.mean_error[static_cast<std::size_t>(best)] +
                           cv.standard_error[static_cast<std::size_t>(best)];
  int one_se = best;
  for (int l = 0; l <= best; ++l) {
    if (cv.mean_error[static_cast<std::size_t>(l)] <= threshold) {
      one_se = l;
      break;
    }
  }
  cv.index_min = best;
  cv.index_1se = one_se;
  cv.lambda_min = cv.lambdas[static_cast<std::size_t>(best)];
  cv.lambda_1se = cv.lambdas[static_cast<std::size_t>(one_se)];
  cv.seconds = watch.seconds();
  return cv;
}

std::vector<std::int32_t> assign_folds(const mpi::Comm& comm,
                                       const std::vector<std::int64_t>& groups, int folds,
                                       std::uint64_t seed) {
  std::vector<long long> mine(groups.begin(), groups.end());
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  std::vector<long long> all = comm.gatherv(mine, 0);
  if (comm.is_root()) {
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
  }
  comm.broadcast(all, 0);
  const auto g = static_cast<std::int64_t>(all.size());
  if (folds < 2 || folds > g) {
    mpi::throw_on_all_ranks(
        comm, UsageError("cannot cut " + std::to_string(g) + " groups of rows into " +
                         std::to_string(folds) + " folds (need 2 <= folds <= groups)"));
  }
  // Position of each group after an optional seeded shuffle.
  std::vector<std::int64_t> position(static_cast<std::size_t>(g));
  for (std::int64_t i = 0; i < g; ++i) position[static_cast<std::size_t>(i)] = i;
  if (seed != 0) {
    std::uint64_t h = splitmix64(seed);
    for (std::int64_t i = g - 1; i > 0; --i) {
      h = splitmix64(h);
      std::swap(position[static_cast<std::size_t>(i)],
                position[static_cast<std::size_t>(h % static_cast<std::uint64_t>(i + 1))]);
    }
  }
  // Fold of a position: KFold sizes, the first g % folds folds one larger.
  const std::int64_t base = g / folds, extra = g % folds;
  auto fold_of = [&](std::int64_t pos) {
    const std::int64_t big = extra * (base + 1);
    return static_cast<std::int32_t>(pos < big ? pos / (base + 1) : extra + (pos - big) / base);
  };
  std::vector<std::int32_t> out(groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto it = std::lower_bound(all.begin(), all.end(), static_cast<long long>(groups[i]));
    out[i] = fold_of(position[static_cast<std::size_t>(it - all.begin())]);
  }
  return out;
}

}  // namespace physfit::lasso
