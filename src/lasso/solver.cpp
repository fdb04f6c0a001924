#include "physfit/lasso/solver.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <cmath>
#include <limits>
#include <string>

#include "cd.hpp"
#include "covariance.hpp"
#include "physfit/error.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::lasso {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_penalty(const Problem& pr, const Penalty& pen) {
  if (!std::isfinite(pen.lambda) || pen.lambda < 0) {
    throw UsageError("lambda must be finite and non-negative, got " + std::to_string(pen.lambda));
  }
  if (!(pen.l1_ratio >= 0 && pen.l1_ratio <= 1)) {
    throw UsageError("l1_ratio must be in [0, 1], got " + std::to_string(pen.l1_ratio));
  }
  if (pen.weights.size() != 0) {
    if (pen.weights.size() != pr.cols()) {
      throw UsageError(std::to_string(pen.weights.size()) + " penalty weights for " +
                       std::to_string(pr.cols()) + " coefficients");
    }
    for (Eigen::Index j = 0; j < pen.weights.size(); ++j) {
      if (!(pen.weights(j) > 0)) {
        throw UsageError("penalty weight " + std::to_string(j) + " is " +
                         std::to_string(pen.weights(j)) + "; weights must be positive (or inf)");
      }
    }
  }
}

Eigen::VectorXd weights_or_ones(const Problem& pr, const Eigen::VectorXd& w) {
  return w.size() ? w : Eigen::VectorXd::Ones(pr.cols());
}

std::vector<char> excluded_of(const Problem& pr, const Eigen::VectorXd& w) {
  std::vector<char> ex(static_cast<std::size_t>(pr.cols()));
  for (int j = 0; j < pr.cols(); ++j) {
    ex[static_cast<std::size_t>(j)] = !(pr.diag()(j) > 0) || !std::isfinite(w(j));
  }
  return ex;
}

const Eigen::MatrixXd& dense_q(const Problem& pr, const char* what) {
  const Eigen::MatrixXd* q = pr.q();
  if (!q) {
    throw UsageError(std::string(what) + " needs the Gram mode (p x p in memory); this problem " +
                     "is in residual mode (" + pr.mode_reason() +
                     "): raise the memory budget or use a penalty");
  }
  return *q;
}

// Q x over all coefficients from the columns of the support of x.
Eigen::VectorXd product(const Problem& pr, const Eigen::VectorXd& x) {
  if (const Eigen::MatrixXd* q = pr.q()) return *q * x;
  std::vector<int> support;
  for (int j = 0; j < pr.cols(); ++j) {
    if (x(j) != 0) support.push_back(j);
  }
  Eigen::MatrixXd cols;
  pr.covariance().columns(support, cols);
  Eigen::VectorXd out = Eigen::VectorXd::Zero(pr.cols());
  for (std::size_t a = 0; a < support.size(); ++a) {
    out += x(support[a]) * cols.col(static_cast<Eigen::Index>(a));
  }
  return out;
}

// Minimum-norm solution of Q_SS x = c_S by eigendecomposition with a relative cutoff.
Eigen::VectorXd min_norm(const Eigen::MatrixXd& qss, const Eigen::VectorXd& cs, double rcond,
                         int* rank) {
  const Eigen::Index k = qss.rows();
  if (k == 0) {
    *rank = 0;
    return Eigen::VectorXd();
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(qss);
  if (eig.info() != Eigen::Success) {
    throw NumericalError("the eigendecomposition of the Gram matrix did not converge");
  }
  const Eigen::VectorXd& ev = eig.eigenvalues();
  const double top = ev.cwiseAbs().maxCoeff();
  const double cut =
      (rcond >= 0 ? rcond : static_cast<double>(k) * std::numeric_limits<double>::epsilon()) * top;
  const Eigen::VectorXd proj = eig.eigenvectors().transpose() * cs;
  Eigen::VectorXd scaled = Eigen::VectorXd::Zero(k);
  int r = 0;
  for (Eigen::Index i = 0; i < k; ++i) {
    if (ev(i) > cut && top > 0) {
      scaled(i) = proj(i) / ev(i);
      ++r;
    }
  }
  *rank = r;
  return eig.eigenvectors() * scaled;
}

void finish(const Problem& pr, const Eigen::VectorXd& x, Fit& f) {
  f.coef_standardized = x;
  f.coef = pr.to_original(x);
  f.intercept = pr.intercept_of(f.coef);
  f.nonzeros = 0;
  for (Eigen::Index j = 0; j < x.size(); ++j) f.nonzeros += x(j) != 0;
  f.relative_gap = f.objective > 0 ? f.gap / f.objective : (f.gap == 0 ? 0.0 : kNaN);
}

Fit ridge(const Problem& pr, const Penalty& pen) {
  const Eigen::MatrixXd& q = dense_q(pr, "ridge");
  Fit f;
  f.method = "cholesky";
  Eigen::MatrixXd m = q;
  m.diagonal().array() += pen.l2();
  Eigen::LLT<Eigen::MatrixXd> llt(m);
  if (llt.info() != Eigen::Success) throw NumericalError("ridge: Q + lambda I is not positive");
  Eigen::VectorXd x = llt.solve(pr.c());
  for (int j = 0; j < pr.cols(); ++j) {
    if (!(pr.diag()(j) > 0)) x(j) = 0;
  }
  const Certificate c = certify(pr, pen, x);
  f.objective = c.objective;
  f.gap = c.gap;
  f.gap_floor = c.floor;
  f.kkt_violation = c.kkt_violation;
  f.converged = true;
  finish(pr, x, f);
  return f;
}

}  // namespace

double lambda_max(const Problem& pr, double l1_ratio, const Eigen::VectorXd& weights) {
  const Eigen::VectorXd w = weights_or_ones(pr, weights);
  const double r = std::max(l1_ratio, 1e-3);
  double top = 0;
  for (int j = 0; j < pr.cols(); ++j) {
    if (!(pr.diag()(j) > 0) || !std::isfinite(w(j))) continue;
    top = std::max(top, std::fabs(pr.c()(j)) / (r * w(j)));
  }
  return top;
}

Certificate certify(const Problem& pr, const Penalty& pen, const Eigen::VectorXd& x) {
  const Eigen::VectorXd w = weights_or_ones(pr, pen.weights);
  const std::vector<char> ex = excluded_of(pr, w);
  const Eigen::VectorXd q = product(pr, x);
  const Eigen::VectorXd& c = pr.c();
  const double l1 = pen.l1(), l2 = pen.l2();
  double cx = 0, xq = 0, l1n = 0, x2 = 0, mag = 0, dual = 0, g2 = 0, kkt = 0;
  for (int j = 0; j < pr.cols(); ++j) {
    if (ex[static_cast<std::size_t>(j)]) continue;
    const double xj = x(j);
    cx += c(j) * xj;
    xq += xj * q(j);
    l1n += w(j) * std::fabs(xj);
    x2 += xj * xj;
    mag += 2 * std::fabs(c(j) * xj) + std::fabs(xj * q(j));
    const double g = c(j) - q(j) - l2 * xj;
    dual = std::max(dual, std::fabs(g) / w(j));
    g2 += (c(j) - q(j)) * (c(j) - q(j));
    const double v = xj != 0 ? std::fabs(g - l1 * w(j) * (xj > 0 ? 1.0 : -1.0))
                             : std::max(0.0, std::fabs(g) - l1 * w(j));
    kkt = std::max(kkt, v);
  }
  const double yy = pr.yy();
  const double rr = std::max(0.0, yy - 2 * cx + xq), ry = yy - cx;
  Certificate out;
  out.objective = 0.5 * rr + l1 * l1n + 0.5 * l2 * x2;
  if (l1 > 0) {
    const double s = dual > l1 ? l1 / dual : 1.0;
    out.gap = 0.5 * (1 + s * s) * rr + l1 * l1n - s * ry + 0.5 * l2 * (1 + s * s) * x2;
  } else if (l2 > 0) {
    out.gap = out.objective - (ry - 0.5 * rr - g2 / (2 * l2));
  } else {
    out.gap = kNaN;
  }
  out.floor = 16 * std::numeric_limits<double>::epsilon() * (yy + mag);
  out.kkt_violation = kkt;
  return out;
}

Fit least_squares(const Problem& pr, const SolverOptions& options) {
  util::Stopwatch watch;
  const Eigen::MatrixXd& q = dense_q(pr, "ordinary least squares");
  Fit f;
  f.method = "eigendecomposition";
  f.lambda = 0;
  Eigen::VectorXd x = min_norm(q, pr.c(), options.rcond, &f.rank);
  const Certificate c = certify(pr, Penalty{}, x);
  f.objective = c.objective;
  f.gap = kNaN;
  f.gap_floor = c.floor;
  f.kkt_violation = c.kkt_violation;
  f.converged = true;
  finish(pr, x, f);
  f.relative_gap = kNaN;
  f.seconds = watch.seconds();
  return f;
}

Fit debias(const Problem& pr, const Fit& fit, const SolverOptions& options) {
  util::Stopwatch watch;
  std::vector<int> support;
  for (int j = 0; j < pr.cols(); ++j) {
    if (fit.coef_standardized.size() == pr.cols() && fit.coef_standardized(j) != 0) {
      support.push_back(j);
    }
  }
  Eigen::MatrixXd cols;
  pr.covariance().columns(support, cols);  // collective in residual mode
  const auto k = static_cast<Eigen::Index>(support.size());
  Eigen::MatrixXd qss(k, k);
  Eigen::VectorXd cs(k);
  for (Eigen::Index b = 0; b < k; ++b) {
    cs(b) = pr.c()(support[static_cast<std::size_t>(b)]);
    for (Eigen::Index a = 0; a < k; ++a) qss(a, b) = cols(support[static_cast<std::size_t>(a)], b);
  }
  Fit f;
  f.method = "least squares on the support (debiased)";
  f.lambda = fit.lambda;
  f.l1_ratio = fit.l1_ratio;
  const Eigen::VectorXd xs = min_norm(qss, cs, options.rcond, &f.rank);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(pr.cols());
  for (Eigen::Index a = 0; a < k; ++a) x(support[static_cast<std::size_t>(a)]) = xs(a);
  // Objective of the refit: the residual term alone; optimality on the support.
  Eigen::VectorXd q = Eigen::VectorXd::Zero(pr.cols());
  for (Eigen::Index a = 0; a < k; ++a) q += xs(a) * cols.col(a);
  double worst = 0;
  for (int j : support) worst = std::max(worst, std::fabs(pr.c()(j) - q(j)));
  const double rr = std::max(0.0, pr.yy() - 2 * pr.c().dot(x) + x.dot(q));
  f.objective = 0.5 * rr;
  f.gap = kNaN;
  f.kkt_violation = worst;
  f.converged = true;
  finish(pr, x, f);
  f.relative_gap = kNaN;
  f.seconds = watch.seconds();
  return f;
}

Eigen::VectorXd adaptive_weights(const Problem& pr, double gamma, const SolverOptions& options) {
  if (!(gamma > 0) || !std::isfinite(gamma)) {
    throw UsageError("adaptive gamma must be positive, got " + std::to_string(gamma));
  }
  const Fit ols = least_squares(pr, options);
  Eigen::VectorXd w(pr.cols());
  for (int j = 0; j < pr.cols(); ++j) {
    const double a = std::fabs(ols.coef_standardized(j));
    w(j) = a > 0 ? std::pow(a, -gamma) : std::numeric_limits<double>::infinity();
  }
  return w;
}

Fit solve(const Problem& pr, const Penalty& pen, const SolverOptions& options, const Fit* warm) {
  util::Stopwatch watch;
  check_penalty(pr, pen);
  if (pen.lambda == 0) {
    Fit f = least_squares(pr, options);
    f.seconds = watch.seconds();
    return f;
  }
  if (pen.l1_ratio == 0) {
    Fit f = ridge(pr, pen);
    f.lambda = pen.lambda;
    f.l1_ratio = 0;
    f.seconds = watch.seconds();
    return f;
  }
  const Eigen::VectorXd w = weights_or_ones(pr, pen.weights);
  detail::CoordinateDescent cd(pr.covariance(), w, options);
  if (warm && warm->coef_standardized.size() == pr.cols()) cd.set_start(warm->coef_standardized);
  const detail::CdResult r = cd.run(pen.l1(), pen.l2());
  Fit f;
  f.method = "coordinate descent";
  f.lambda = pen.lambda;
  f.l1_ratio = pen.l1_ratio;
  f.objective = r.objective;
  f.gap = r.gap;
  f.gap_floor = r.floor;
  f.kkt_violation = r.kkt;
  f.epochs = r.epochs;
  f.updates = r.updates;
  f.converged = r.converged;
  finish(pr, cd.x(), f);
  f.seconds = watch.seconds();
  return f;
}

}  // namespace physfit::lasso
