#include "physfit/lasso/problem.hpp"

#include <cmath>
#include <sstream>

#include "covariance.hpp"
#include "physfit/error.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::lasso {

namespace detail {
std::shared_ptr<Covariance> make_residual_covariance(const mpi::Comm& comm,
                                                     const std::vector<RowBlock>& blocks,
                                                     std::int64_t cols,
                                                     const ProblemOptions& options,
                                                     std::int64_t* rows, Eigen::VectorXd* scale,
                                                     Eigen::VectorXd* mean, double* y_mean);
}  // namespace detail

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kAuto:
      return "auto";
    case Mode::kGram:
      return "gram";
    case Mode::kResidual:
      return "residual";
  }
  return "?";
}

Problem::Problem() : comm_(mpi::Comm::self()) {}
Problem::Problem(Problem&&) noexcept = default;
Problem& Problem::operator=(Problem&&) noexcept = default;
Problem::~Problem() = default;

const Eigen::VectorXd& Problem::c() const { return covariance_->c; }
const Eigen::VectorXd& Problem::diag() const { return covariance_->diag; }
double Problem::yy() const { return covariance_->yy; }
const Eigen::MatrixXd* Problem::q() const { return covariance_->dense(); }

std::size_t Problem::gram_bytes(std::int64_t cols, const ProblemOptions& options) {
  GramOptions g;
  g.chunk_rows = options.chunk_rows;
  g.folds = options.folds;
  g.column_sums = options.intercept;
  return ExactGram::bytes_needed(cols, g) +
         static_cast<std::size_t>(2 * cols * cols) * sizeof(double);
}

void Problem::standardize_from(const Moments& m) {
  const int p = static_cast<int>(m.aty.size());
  p_ = p;
  n_ = m.n;
  if (m.n <= 0) throw UsageError("the problem has no rows");
  const double n = static_cast<double>(m.n);
  auto cov = std::make_shared<detail::DenseCovariance>();
  mean_ = Eigen::VectorXd::Zero(p);
  y_mean_ = 0;
  if (options_.intercept) {
    if (m.sum_a.size() != p) throw Error("Problem: an intercept needs the column sums");
    mean_ = m.sum_a / n;
    y_mean_ = m.sum_y / n;
  }
  // Centred (if intercept) second moments, divided by n.
  Eigen::MatrixXd& q = cov->q;
  q = m.ata / n;
  Eigen::VectorXd c = m.aty / n;
  double yy = m.yty / n;
  if (options_.intercept) {
    q.noalias() -= mean_ * mean_.transpose();
    c -= mean_ * y_mean_;
    yy -= y_mean_ * y_mean_;
  }
  scale_ = Eigen::VectorXd::Ones(p);
  for (int j = 0; j < p; ++j) {
    const double raw = m.ata(j, j) / n;
    // A column whose (centred) second moment is zero, or rounding noise of a constant column.
    const bool flat = !(q(j, j) > 1e-14 * raw) || raw == 0;
    if (flat) {
      scale_(j) = 0;
    } else if (options_.standardize) {
      scale_(j) = std::sqrt(q(j, j));
    }
  }
  for (int k = 0; k < p; ++k) {
    for (int j = 0; j < p; ++j) {
      q(j, k) = (scale_(j) == 0 || scale_(k) == 0) ? 0.0 : q(j, k) / (scale_(j) * scale_(k));
    }
    c(k) = scale_(k) == 0 ? 0.0 : c(k) / scale_(k);
  }
  cov->c = c;
  cov->diag = q.diagonal();
  cov->yy = yy;
  covariance_ = cov;
}

Problem Problem::from_moments(const Moments& moments, const ProblemOptions& options) {
  Problem pr;
  pr.options_ = options;
  pr.mode_ = Mode::kGram;
  pr.mode_reason_ = "from reduced statistics";
  pr.standardize_from(moments);
  return pr;
}

Problem Problem::from_gram(std::shared_ptr<const ExactGram> gram, ProblemOptions options) {
  if (!gram) throw Error("Problem::from_gram: no reduction");
  Problem pr;
  options.folds = gram->folds();
  options.intercept = gram->options().column_sums;
  options.mode = Mode::kGram;
  pr.options_ = options;
  pr.mode_ = Mode::kGram;
  pr.mode_reason_ = "from an exact reduction";
  pr.standardize_from(gram->total());
  pr.gram_ = std::move(gram);
  return pr;
}

Problem Problem::from_rows(const mpi::Comm& comm, const std::vector<RowBlock>& blocks,
                           std::int64_t cols, const ProblemOptions& options) {
  Problem pr;
  pr.comm_ = comm;
  pr.options_ = options;
  const std::size_t need = gram_bytes(cols, options);
  std::ostringstream why;
  Mode mode = options.mode;
  if (mode == Mode::kAuto) {
    mode = need <= options.memory_budget ? Mode::kGram : Mode::kResidual;
    why << "auto: the Gram mode needs " << util::format_bytes(static_cast<double>(need))
        << " per rank for p = " << cols << (mode == Mode::kGram ? ", within" : ", over")
        << " the memory budget of "
        << util::format_bytes(static_cast<double>(options.memory_budget));
  } else {
    why << "forced (the Gram mode would need " << util::format_bytes(static_cast<double>(need))
        << " per rank)";
  }
  pr.mode_ = mode;
  pr.mode_reason_ = why.str();
  if (mode == Mode::kGram) {
    GramOptions g;
    g.chunk_rows = options.chunk_rows;
    g.folds = options.folds;
    g.column_sums = options.intercept;
    auto gram = std::make_shared<ExactGram>(ExactGram::reduce(comm, blocks, cols, g));
    pr.standardize_from(gram->total());
    pr.gram_ = gram;
  } else {
    pr.covariance_ = detail::make_residual_covariance(comm, blocks, cols, options, &pr.n_,
                                                      &pr.scale_, &pr.mean_, &pr.y_mean_);
    pr.p_ = static_cast<int>(cols);
  }
  return pr;
}

Eigen::VectorXd Problem::to_original(const Eigen::VectorXd& x) const {
  Eigen::VectorXd o(x.size());
  for (Eigen::Index j = 0; j < x.size(); ++j) o(j) = scale_(j) == 0 ? 0.0 : x(j) / scale_(j);
  return o;
}

Eigen::VectorXd Problem::to_standardized(const Eigen::VectorXd& x) const {
  return x.cwiseProduct(scale_);
}

double Problem::intercept_of(const Eigen::VectorXd& x) const {
  return options_.intercept ? y_mean_ - mean_.dot(x) : 0.0;
}

}  // namespace physfit::lasso
