#include "physfit/lasso/path.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

namespace {

// The solutions at `lambdas` (decreasing), warm-started from standardised coefficients `start`
// (null: zero) solved at `previous` (the strong rule's previous lambda; lambda_max for a
// fresh path). `tick` after each lambda.
Path run_path(const Problem& pr, const PathOptions& o, const std::vector<double>& lambdas,
              const Eigen::VectorXd* start, double previous, const std::function<void()>& tick) {
  util::Stopwatch watch;
  Path path;
  path.lambdas = lambdas;
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
      if (tick) tick();
    }
    path.seconds = watch.seconds();
    return path;
  }
  detail::CoordinateDescent cd(pr.covariance(), w, o.solver);
  if (start) cd.set_start(*start);
  const double r = o.l1_ratio;
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
    if (tick) tick();
  }
  path.seconds = watch.seconds();
  return path;
}

template <class T>
void append(std::vector<T>& a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
}

// Appends the lambdas of `more` to `path`.
void append(Path& path, const Path& more) {
  const Eigen::Index old = path.coef.cols(), add = more.coef.cols();
  path.coef.conservativeResize(more.coef.rows(), old + add);
  path.coef.rightCols(add) = more.coef;
  path.coef_standardized.conservativeResize(more.coef.rows(), old + add);
  path.coef_standardized.rightCols(add) = more.coef_standardized;
  append(path.lambdas, more.lambdas);
  append(path.intercepts, more.intercepts);
  append(path.objectives, more.objectives);
  append(path.gaps, more.gaps);
  append(path.relative_gaps, more.relative_gaps);
  append(path.gap_floors, more.gap_floors);
  append(path.kkt_violations, more.kkt_violations);
  append(path.nonzeros, more.nonzeros);
  append(path.epochs, more.epochs);
  append(path.converged, more.converged);
  path.seconds += more.seconds;
}

// Mean squared error on the held-out rows `held` of each solution of `fp`, into columns
// [first, first + fp.lambdas.size()) of row k of `out`.
void fold_errors(const Moments& held, const Path& fp, bool intercept, int k, Eigen::Index first,
                 Eigen::MatrixXd& out) {
  const double nk = static_cast<double>(held.n);
  for (Eigen::Index l = 0; l < fp.coef.cols(); ++l) {
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
    if (intercept) {
      sse += -2 * b0 * held.sum_y + 2 * b0 * x.dot(held.sum_a) + nk * b0 * b0;
    }
    out(k, first + l) = std::max(0.0, sse) / nk;
  }
}

// The curve (weighted mean and standard error of the fold errors), lambda_min and lambda_1se.
void summarise(CrossValidation& cv) {
  const int folds = static_cast<int>(cv.fold_error.rows());
  const auto L = cv.fold_error.cols();
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
}

// Has the CV error fallen by less than `tolerance` standard errors over the last decade?
bool flat_end(const CrossValidation& cv, double tolerance) {
  const auto L = static_cast<int>(cv.mean_error.size());
  if (cv.per_decade < 1 || L <= cv.per_decade) return false;
  const auto last = static_cast<std::size_t>(L - 1);
  const double fall =
      cv.mean_error[last - static_cast<std::size_t>(cv.per_decade)] - cv.mean_error[last];
  return fall <= tolerance * cv.standard_error[last];
}

constexpr std::int64_t kExtensionEpochs = 10000;
// No grid reaching below this fraction of lambda_max is advised: the penalty would be at the
// rounding of the objective.
constexpr double kSmallestRatio = 1e-16;

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

}  // namespace

const char* grid_end_name(GridEnd end) {
  switch (end) {
    case GridEnd::kInterior:
      return "interior";
    case GridEnd::kTop:
      return "top";
    case GridEnd::kFlat:
      return "flat";
    case GridEnd::kFloor:
      return "floor";
    case GridEnd::kNotExtended:
      return "not-extended";
  }
  return "?";
}

Path solve_path(const Problem& pr, const PathOptions& o) {
  if (!(o.l1_ratio >= 0 && o.l1_ratio <= 1)) {
    throw UsageError("l1_ratio must be in [0, 1], got " + std::to_string(o.l1_ratio));
  }
  const std::vector<double> lambdas = lambdas_of(pr, o);
  std::int64_t done = 0;
  const auto count = static_cast<std::int64_t>(lambdas.size());
  return run_path(pr, o, lambdas, nullptr, lambda_max(pr, o.l1_ratio, o.weights), [&] {
    if (o.progress) o.progress(++done, count);
  });
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
  if (!(o.l1_ratio >= 0 && o.l1_ratio <= 1)) {
    throw UsageError("l1_ratio must be in [0, 1], got " + std::to_string(o.l1_ratio));
  }
  if (!(o.extend_decades >= 0) || !std::isfinite(o.extend_decades)) {
    throw UsageError("the path's extension must be a finite number of decades >= 0, got " +
                     std::to_string(o.extend_decades));
  }
  for (int k = 0; k < folds; ++k) {
    if (gram->rows_in_fold(k) == 0 || gram->rows_in_fold(k) == gram->rows()) {
      throw UsageError("fold " + std::to_string(k) + " has " +
                       std::to_string(gram->rows_in_fold(k)) + " of " +
                       std::to_string(gram->rows()) +
                       " rows: every fold needs held-out and "
                       "training rows");
    }
  }
  CrossValidation cv;
  cv.lambdas = lambdas_of(pr, o);
  cv.lambda_max = lambda_max(pr, o.l1_ratio, o.weights);
  cv.requested = static_cast<int>(cv.lambdas.size());
  for (int k = 0; k < folds; ++k) cv.fold_rows.push_back(gram->rows_in_fold(k));
  std::int64_t done = 0, planned = (folds + 1) * static_cast<std::int64_t>(cv.lambdas.size());
  const std::function<void()> tick = [&] {
    if (o.progress) o.progress(++done, planned);
  };
  // The last standardised solution of every path (all data, then each fold), for warm starts.
  std::vector<Eigen::VectorXd> last(static_cast<std::size_t>(folds) + 1);
  // Solves `lambdas` on every path, continuing from `last`, and appends their CV errors.
  // Returns whether every solve converged.
  auto solve_block = [&](const PathOptions& po, const std::vector<double>& lambdas) {
    const bool fresh = cv.path.lambdas.empty();
    const double previous = fresh ? cv.lambda_max : cv.path.lambdas.back();
    const auto first = static_cast<Eigen::Index>(cv.path.lambdas.size());
    Path whole = run_path(pr, po, lambdas, fresh ? nullptr : &last[0], previous, tick);
    bool all = whole.all_converged();
    last[0] = whole.coef_standardized.rightCols(1);
    append(cv.path, whole);
    cv.fold_error.conservativeResize(folds, first + static_cast<Eigen::Index>(lambdas.size()));
    for (int k = 0; k < folds; ++k) {
      const auto slot = static_cast<std::size_t>(k) + 1;
      const Problem train = Problem::from_moments(gram->without_fold(k), pr.options());
      const Path fp = run_path(train, po, lambdas, fresh ? nullptr : &last[slot],
                               fresh ? lambda_max(train, o.l1_ratio, o.weights) : previous, tick);
      all = all && fp.all_converged();
      last[slot] = fp.coef_standardized.rightCols(1);
      fold_errors(gram->fold(k), fp, pr.options().intercept, k, first, cv.fold_error);
    }
    return all;
  };
  solve_block(o, cv.lambdas);
  summarise(cv);

  // Extension below the grid while lambda_min is within its last decade.
  const auto n = cv.lambdas.size();
  const double step = n >= 2 ? cv.lambdas[n - 1] / cv.lambdas[n - 2] : 0.0;
  if (step > 0 && step < 1) {
    cv.per_decade = static_cast<int>(std::ceil(std::log(0.1) / std::log(step) - 1e-9));
  }
  const double floor = cv.lambdas.back() * std::pow(10.0, -o.extend_decades);
  const bool can_extend = cv.per_decade > 0 && o.extend_decades > 0;
  // Below the grid each solution gets at most kExtensionEpochs sweeps (those of the grids
  // tried converged within a few hundred): a solve that does not converge there means the
  // penalty has reached the rounding of the objective, and the extension stops.
  PathOptions eo = o;
  eo.solver.max_epochs = std::min(o.solver.max_epochs, kExtensionEpochs);
  bool converged = true;
  while (can_extend && converged && cv.index_min > 0) {
    const auto L = static_cast<int>(cv.lambdas.size());
    if (cv.index_min < L - cv.per_decade) break;  // a decade of the path below lambda_min
    if (flat_end(cv, o.flat_tolerance)) break;    // nothing left to learn below
    std::vector<double> more;
    double lambda = cv.lambdas.back();
    for (int i = 0; i < cv.per_decade; ++i) {
      lambda *= step;
      if (lambda < floor * (1 - 1e-9)) break;
      more.push_back(lambda);
    }
    if (more.empty()) break;
    planned += (folds + 1) * static_cast<std::int64_t>(more.size());
    append(cv.lambdas, more);
    converged = solve_block(eo, more);
    summarise(cv);
  }
  cv.extended = static_cast<int>(cv.lambdas.size()) - cv.requested;
  cv.extension_converged = converged;

  // Where lambda_min is, and the next grid when it is at the small end.
  const auto L = static_cast<int>(cv.lambdas.size());
  const bool zero_top = cv.path.nonzeros.front() == 0;  // a generated grid starts at lambda_max
  if (L > 1 && (cv.index_min == 0 || (cv.index_1se == 0 && zero_top))) {
    cv.end = GridEnd::kTop;
  } else if (cv.index_min == L - 1) {
    cv.end = flat_end(cv, o.flat_tolerance) ? GridEnd::kFlat
             : can_extend                   ? GridEnd::kFloor
                                            : GridEnd::kNotExtended;
    const double decades = o.extend_decades > 0 ? o.extend_decades : 6.0;
    cv.next_ratio = cv.lambdas.back() / cv.lambda_max * std::pow(10.0, -decades);
    const double per = step > 0 && step < 1 ? std::log(0.1) / std::log(step) : 0.0;
    cv.next_count = per > 0 ? L + static_cast<int>(std::lround(decades * per)) : 0;
    if (cv.next_ratio < kSmallestRatio) {  // below that, only least squares is left to try
      cv.next_ratio = 0;
      cv.next_count = 0;
    }
  } else {
    cv.end = GridEnd::kInterior;
  }
  cv.seconds = watch.seconds();
  return cv;
}

std::string grid_advice(const CrossValidation& cv, const GridOptionNames& names) {
  if (cv.end == GridEnd::kInterior || cv.lambdas.empty()) return "";
  const auto nz = [&](int i) { return cv.path.nonzeros[static_cast<std::size_t>(i)]; };
  std::string s = "cross-validation: ";
  if (cv.end == GridEnd::kTop) {
    if (cv.index_min == 0) {
      s += "the CV error is smallest at the largest lambda of the path (" +
           number(cv.lambdas.front()) +
           (nz(0) == 0 ? ", where every coefficient is zero" : std::string()) + ")";
    } else {
      s += "the CV error at lambda_min (" + number(cv.lambda_min) + ", " +
           std::to_string(nz(cv.index_min)) + " non-zero, " +
           number(100 * std::sqrt(cv.error_min() / cv.mean_error.front())) +
           " % of the all-zero model's root-mean-square error) is within one standard "
           "error of that at the largest lambda (" +
           number(cv.lambdas.front()) + ", where every coefficient is zero)";
    }
    s += ": the data do not support this model. Too few rows (configurations) for its " +
         std::to_string(cv.path.coef.rows()) +
         " coefficients, targets dominated by noise, or data in the wrong units (force "
         "constants: displacements in Angstrom, forces in eV/Angstrom) do this. Check the data "
         "and their units, then add rows or shrink the model (fewer coefficients); a path "
         "cannot be extended above lambda_max.";
    return s;
  }
  const double ratio = cv.lambdas.back() / cv.lambda_max;
  s += "lambda_min is the smallest lambda of the path (" + number(cv.lambdas.back()) + " = " +
       number(ratio) + " lambda_max, " +
       (cv.extended > 0
            ? std::to_string(cv.extended) + " lambdas added below the grid of " +
                  std::to_string(cv.requested)
            : std::string("the grid of ") + std::to_string(cv.requested) + " not extended") +
       "): the minimum of the CV curve is at the end of the grid";
  const auto L = cv.mean_error.size();
  if (cv.end == GridEnd::kFlat) {
    const std::size_t back = L - 1 - static_cast<std::size_t>(cv.per_decade);
    const double fall = cv.mean_error[back] - cv.mean_error[L - 1];
    s += ", where the curve is flat (over the last decade it fell by " +
         number(fall / cv.standard_error[L - 1]) +
         " of its standard error): a smaller lambda cannot lower the CV error measurably, the "
         "data support (nearly) every coefficient.";
  } else if (cv.end == GridEnd::kFloor) {
    s += cv.extension_converged
             ? ", still falling when the extension stopped (" + std::to_string(cv.extended) +
                   " lambdas, its limit): the best lambda is below the grid."
             : ", still falling when the extension stopped: coordinate descent did not converge "
               "on its last lambdas (the penalty is near the rounding of the objective).";
  } else {
    s += (cv.per_decade > 0 ? ", and the extension of the path is off (" + names.extend + " 0)."
                            : std::string(", and a path of one lambda cannot be extended."));
  }
  if (cv.next_count > 0) {
    s += " Next grid to try: " + names.ratio + " " + number(cv.next_ratio) + " " + names.count +
         " " + std::to_string(cv.next_count) + " (about the same spacing";
    s += cv.end == GridEnd::kNotExtended ? "; or " + names.extend + " 6)." : ").";
  }
  s += " Least squares is the lambda -> 0 limit; lambda_1se (" + number(cv.lambda_1se) + ", " +
       std::to_string(nz(cv.index_1se)) + " non-zero against " + std::to_string(nz(cv.index_min)) +
       ") is the sparsest fit within one standard error (" + names.select + " 1se).";
  return s;
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
