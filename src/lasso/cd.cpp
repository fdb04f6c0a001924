#include "cd.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>

#include "physfit/lasso/generate.hpp"

namespace physfit::lasso::detail {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

inline double soft(double z, double t) {
  if (z > t) return z - t;
  if (z < -t) return z + t;
  return 0.0;
}

}  // namespace

CoordinateDescent::CoordinateDescent(Covariance& cov, const Eigen::VectorXd& weights,
                                     const SolverOptions& options)
    : cov_(cov), w_(weights), options_(options), p_(cov.p()) {
  if (w_.size() == 0) w_ = Eigen::VectorXd::Ones(p_);
  excluded_.assign(static_cast<std::size_t>(p_), 0);
  for (int j = 0; j < p_; ++j) {
    excluded_[static_cast<std::size_t>(j)] = !(cov_.diag(j) > 0) || !std::isfinite(w_(j));
  }
  x_ = Eigen::VectorXd::Zero(p_);
  q_ = Eigen::VectorXd::Zero(p_);
  columns_.resize(p_, 0);
  slot_.assign(static_cast<std::size_t>(p_), -1);
}

void CoordinateDescent::set_start(const Eigen::VectorXd& x) {
  std::vector<int> enter;
  for (int j = 0; j < p_; ++j) {
    const bool nonzero = x(j) != 0 && !excluded_[static_cast<std::size_t>(j)];
    x_(j) = nonzero ? x(j) : 0.0;
    if (nonzero && slot_[static_cast<std::size_t>(j)] < 0) enter.push_back(j);
  }
  if (!enter.empty()) add(enter);
  full_gradient();
}

void CoordinateDescent::add(const std::vector<int>& indices) {
  if (indices.empty()) return;
  Eigen::MatrixXd fresh;
  cov_.columns(indices, fresh);  // collective in residual mode
  const auto k0 = static_cast<Eigen::Index>(active_.size());
  const auto k1 = k0 + static_cast<Eigen::Index>(indices.size());
  if (columns_.cols() < k1) {
    Eigen::MatrixXd grown(p_, std::max<Eigen::Index>(k1, 2 * columns_.cols()));
    grown.leftCols(k0) = columns_.leftCols(k0);
    columns_.swap(grown);
  }
  columns_.middleCols(k0, k1 - k0) = fresh;
  for (int j : indices) {
    slot_[static_cast<std::size_t>(j)] = static_cast<int>(active_.size());
    active_.push_back(j);
  }
  // Q[active, active] and (Q x)[active].
  qaa_.resize(k1, k1);
  for (Eigen::Index b = 0; b < k1; ++b) {
    for (Eigen::Index a = 0; a < k1; ++a) {
      qaa_(a, b) = columns_(active_[static_cast<std::size_t>(a)], b);
    }
  }
}

void CoordinateDescent::full_gradient() {
  q_.setZero();
  const auto k = static_cast<Eigen::Index>(active_.size());
  for (Eigen::Index a = 0; a < k; ++a) {
    const double xa = x_(active_[static_cast<std::size_t>(a)]);
    if (xa != 0) q_.noalias() += xa * columns_.col(a);
  }
  qa_.resize(k);
  for (Eigen::Index a = 0; a < k; ++a) qa_(a) = q_(active_[static_cast<std::size_t>(a)]);
}

GapTerms CoordinateDescent::terms(double l1, double l2, bool full) const {
  const Eigen::VectorXd& c = cov_.c;
  double cx = 0, xq = 0, l1n = 0, x2 = 0, mag = 0, dual = 0, g2 = 0;
  for (std::size_t a = 0; a < active_.size(); ++a) {
    const int j = active_[a];
    const double xj = x_(j), qj = qa_(static_cast<Eigen::Index>(a));
    cx += c(j) * xj;
    xq += xj * qj;
    l1n += w_(j) * std::fabs(xj);
    x2 += xj * xj;
    mag += 2 * std::fabs(c(j) * xj) + std::fabs(xj * qj);
    const double g = c(j) - qj - l2 * xj;
    if (!full) {
      dual = std::max(dual, std::fabs(g) / w_(j));
      g2 += (c(j) - qj) * (c(j) - qj);
    }
  }
  if (full) {
    for (int j = 0; j < p_; ++j) {
      if (excluded_[static_cast<std::size_t>(j)]) continue;
      const double g = c(j) - q_(j) - l2 * x_(j);
      dual = std::max(dual, std::fabs(g) / w_(j));
      g2 += (c(j) - q_(j)) * (c(j) - q_(j));
    }
  }
  const double yy = cov_.yy;
  const double rr = std::max(0.0, yy - 2 * cx + xq);
  const double ry = yy - cx;
  GapTerms t;
  t.objective = 0.5 * rr + l1 * l1n + 0.5 * l2 * x2;
  if (l1 > 0) {
    const double s = dual > l1 ? l1 / dual : 1.0;
    t.gap = 0.5 * (1 + s * s) * rr + l1 * l1n - s * ry + 0.5 * l2 * (1 + s * s) * x2;
  } else if (l2 > 0) {
    t.gap = t.objective - (ry - 0.5 * rr - g2 / (2 * l2));
  } else {
    t.gap = std::numeric_limits<double>::quiet_NaN();
  }
  t.floor = 16 * kEps * (yy + mag);
  return t;
}

double CoordinateDescent::kkt(double l1, double l2) const {
  double worst = 0;
  for (int j = 0; j < p_; ++j) {
    if (excluded_[static_cast<std::size_t>(j)]) continue;
    const double g = cov_.c(j) - q_(j) - l2 * x_(j);
    const double v = x_(j) != 0 ? std::fabs(g - l1 * w_(j) * (x_(j) > 0 ? 1.0 : -1.0))
                                : std::max(0.0, std::fabs(g) - l1 * w_(j));
    worst = std::max(worst, v);
  }
  return worst;
}

// A Newton step on the current support and signs: the exact minimiser of the smooth quadratic
// on that face, (Q_SS + l2 I) x_S = c_S - l1 w_S s_S, approached along the segment from x as
// far as the signs allow (the coefficient that would change sign first stops at 0 and leaves
// the support), as in feature-sign search (Lee, Battle, Raina and Ng 2007). Each step lowers the
// objective; the sweeps and the duality gap still decide convergence.
bool CoordinateDescent::newton_once(double l1, double l2, bool* moved) {
  *moved = false;
  std::vector<Eigen::Index> s;
  for (std::size_t a = 0; a < active_.size(); ++a) {
    if (x_(active_[a]) != 0) s.push_back(static_cast<Eigen::Index>(a));
  }
  const auto k = static_cast<Eigen::Index>(s.size());
  if (k == 0) return false;
  auto coef = [&](Eigen::Index v) -> double& {
    return x_(active_[static_cast<std::size_t>(s[static_cast<std::size_t>(v)])]);
  };
  Eigen::MatrixXd m(k, k);
  Eigen::VectorXd b(k);
  for (Eigen::Index v = 0; v < k; ++v) {
    const int j = active_[static_cast<std::size_t>(s[static_cast<std::size_t>(v)])];
    for (Eigen::Index u = 0; u < k; ++u) {
      m(u, v) = qaa_(s[static_cast<std::size_t>(u)], s[static_cast<std::size_t>(v)]);
    }
    m(v, v) += l2;
    b(v) = cov_.c(j) - l1 * w_(j) * (x_(j) > 0 ? 1.0 : -1.0);
  }
  Eigen::LLT<Eigen::MatrixXd> llt(m);
  if (llt.info() != Eigen::Success) return false;
  const Eigen::VectorXd xs = llt.solve(b);
  if (!xs.allFinite()) return false;
  // The longest step along x -> xs that keeps every sign.
  double t = 1;
  Eigen::Index first_zero = -1;
  for (Eigen::Index v = 0; v < k; ++v) {
    const double old = coef(v);
    if ((xs(v) > 0) != (old > 0) || xs(v) == 0) {
      const double tv = old / (old - xs(v));
      if (tv < t) {
        t = tv;
        first_zero = v;
      }
    }
  }
  if (!(t > 0)) return false;
  const double before = terms(l1, l2, false).objective;
  const Eigen::VectorXd old_x = x_, old_qa = qa_;
  for (Eigen::Index v = 0; v < k; ++v) {
    double& x = coef(v);
    x = v == first_zero ? 0.0 : (t == 1 ? xs(v) : x + t * (xs(v) - x));
    if (t < 1 && ((x > 0) !=
                  (old_x(active_[static_cast<std::size_t>(s[static_cast<std::size_t>(v)])]) > 0))) {
      x = 0.0;  // rounding at the boundary: stop at 0 rather than cross
    }
  }
  Eigen::VectorXd xa(static_cast<Eigen::Index>(active_.size()));
  for (std::size_t a = 0; a < active_.size(); ++a)
    xa(static_cast<Eigen::Index>(a)) = x_(active_[a]);
  qa_.noalias() = qaa_ * xa;
  // Keep the step only if the objective did not increase (on an ill-conditioned support the
  // rounding of the solve can cost more than it gains).
  if (!(terms(l1, l2, false).objective <= before)) {
    x_ = old_x;
    qa_ = old_qa;
    return false;
  }
  ++newton_steps_;
  *moved = true;
  return t == 1;
}

// Newton steps until one reaches the minimiser of its face (each partial step removes a
// coefficient from the support), at most 8.
bool CoordinateDescent::newton(double l1, double l2) {
  for (int i = 0; i < 8; ++i) {
    bool moved = false;
    if (newton_once(l1, l2, &moved)) return true;
    if (!moved) return false;
  }
  return false;
}

CdResult CoordinateDescent::run(double l1, double l2, const std::vector<char>* strong) {
  CdResult r;
  const Eigen::VectorXd& c = cov_.c;
  const Eigen::VectorXd& d = cov_.diag;
  const double tol = options_.tol;
  auto done = [&](const GapTerms& t) { return t.gap <= std::max(tol * t.objective, t.floor); };
  full_gradient();
  bool stalled = false;
  std::int64_t newton_wait = 2;  // sweeps between attempts; doubled after a failed one
  for (;;) {
    // Sweeps over the active set.
    std::int64_t inner = 0, since_newton = 0;
    for (;;) {
      if (r.epochs >= options_.max_epochs || active_.empty()) break;
      const auto k = static_cast<Eigen::Index>(active_.size());
      order_.resize(static_cast<std::size_t>(k));
      for (Eigen::Index a = 0; a < k; ++a)
        order_[static_cast<std::size_t>(a)] = static_cast<int>(a);
      if (options_.order == Order::kRandom) {
        std::uint64_t h = splitmix64(options_.seed ^ splitmix64(++shuffles_));
        for (Eigen::Index a = k - 1; a > 0; --a) {
          h = splitmix64(h);
          std::swap(order_[static_cast<std::size_t>(a)],
                    order_[static_cast<std::size_t>(h % static_cast<std::uint64_t>(a + 1))]);
        }
      }
      double change = 0;
      bool pattern_changed = false;
      for (int a : order_) {
        const int j = active_[static_cast<std::size_t>(a)];
        const double old = x_(j);
        const double z = c(j) - qa_(a) + d(j) * old;
        const double updated = soft(z, l1 * w_(j)) / (d(j) + l2);
        if (updated != old) {
          pattern_changed |= (updated > 0) != (old > 0) || (updated < 0) != (old < 0);
          const double delta = updated - old;
          qa_.noalias() += delta * qaa_.col(a);
          x_(j) = updated;
          change = std::max(change, d(j) * delta * delta);
          ++r.updates;
        }
      }
      ++r.epochs;
      ++inner;
      ++since_newton;
      if (change == 0) {
        stalled = true;
        break;
      }
      if (done(terms(l1, l2, false))) break;
      // Once the signs have settled, jump to the exact minimiser on the support (cost k^3/3,
      // attempted at most every k/16 sweeps of cost k^2 each).
      // Newton when the signs held for a sweep, or anyway every `newton_wait` sweeps (a
      // coefficient that keeps changing sign must not keep the sweeps alone for ever).
      if (options_.newton &&
          since_newton >= std::max<std::int64_t>(pattern_changed ? 4 * newton_wait : newton_wait,
                                                 static_cast<std::int64_t>(k) / 16)) {
        since_newton = 0;
        const bool full = newton(l1, l2);
        if (full && done(terms(l1, l2, false))) break;
        newton_wait = full ? 2 : std::min<std::int64_t>(2 * newton_wait, 64);
      }
    }
    // Every coefficient: fresh gradient, then the optimality conditions of the inactive ones.
    full_gradient();
    std::vector<int> violators;
    auto collect = [&](bool strong_only) {
      for (int j = 0; j < p_; ++j) {
        if (excluded_[static_cast<std::size_t>(j)] || slot_[static_cast<std::size_t>(j)] >= 0) {
          continue;
        }
        if (strong_only && !(*strong)[static_cast<std::size_t>(j)]) continue;
        if (std::fabs(c(j) - q_(j)) > l1 * w_(j)) violators.push_back(j);
      }
    };
    if (strong) collect(true);
    if (violators.empty()) collect(false);
    // The worst violators first, at most max(batch, |active|) per round: the active set grows
    // geometrically instead of taking every coefficient that violates at a far-off start
    // (each entering coefficient costs a Gram column, a pass over the rows in residual mode).
    const std::size_t limit = std::max<std::size_t>(cov_.batch(), active_.size());
    if (violators.size() > limit) {
      auto excess = [&](int j) { return std::fabs(c(j) - q_(j)) / w_(j); };
      std::nth_element(violators.begin(), violators.begin() + static_cast<std::ptrdiff_t>(limit),
                       violators.end(), [&](int a, int b) {
                         return excess(a) > excess(b) || (excess(a) == excess(b) && a < b);
                       });
      violators.resize(limit);
      std::sort(violators.begin(), violators.end());
    }
    if (!violators.empty()) {
      add(violators);
      full_gradient();
      stalled = false;
      continue;
    }
    const GapTerms t = terms(l1, l2, true);
    r.objective = t.objective;
    r.gap = t.gap;
    r.floor = t.floor;
    r.converged = done(t) || (active_.empty() && l1 > 0);
    if (r.converged || stalled || r.epochs >= options_.max_epochs || inner == 0) break;
  }
  r.kkt = kkt(l1, l2);
  return r;
}

}  // namespace physfit::lasso::detail
