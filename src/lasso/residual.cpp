// The residual mode: rows stay on their ranks; the solvers get c, diag(Q) and yy from one
// pass, and columns of Q for the coefficients that enter the active set from one pass each
// (glmnet's covariance updates computed on demand, Friedman et al. 2010 section 2.2), so
// memory is p x (active coefficients) instead of p x p. Sums run in the fixed chunks of the
// Gram reduction, in row order, and are added exactly over chunks and ranks: every rank gets
// the same bits whatever the number of ranks.

#include <algorithm>
#include <cmath>
#include <memory>

#include "chunks.hpp"
#include "covariance.hpp"
#include "gram_kernel.hpp"
#include "physfit/error.hpp"
#include "physfit/lasso/problem.hpp"

namespace physfit::lasso::detail {
namespace {

constexpr int kHalf = kFixedBits / 2;
constexpr std::int64_t kColumnBatch = 64;  // columns of Q per pass

class ResidualCovariance : public Covariance {
 public:
  ResidualCovariance(const mpi::Comm& comm, ChunkedRows rows, const ProblemOptions& options)
      : comm_(comm), rows_(std::move(rows)), intercept_(options.intercept) {
    const int p = rows_.p;
    factor_.resize(static_cast<std::size_t>(rows_.m));
    for (int j = 0; j < rows_.m; ++j) {
      factor_[static_cast<std::size_t>(j)] =
          std::ldexp(1.0, kHalf - rows_.exponents[static_cast<std::size_t>(j)]);
    }
    // One pass: sum a_j^2, a_j y, a_j (per column), y^2, y; exact over chunks and ranks.
    const int ey = p, e1 = p + 1;
    const std::size_t entries = static_cast<std::size_t>(3 * p + 2);
    std::vector<std::int64_t> limbs(3 * entries, 0);
    std::vector<double> d(static_cast<std::size_t>(p)), cy(d), s(d);
    for (const auto& chunk : rows_.chunks) {
      std::fill(d.begin(), d.end(), 0.0);
      std::fill(cy.begin(), cy.end(), 0.0);
      std::fill(s.begin(), s.end(), 0.0);
      double yy = 0, sy = 0;
      for (const RowRef& r : chunk) {
        for (int j = 0; j < p; ++j) {
          const double v = r.a[j * r.col_stride];
          d[static_cast<std::size_t>(j)] += v * v;
          cy[static_cast<std::size_t>(j)] += v * r.y;
          s[static_cast<std::size_t>(j)] += v;
        }
        yy += r.y * r.y;
        sy += r.y;
      }
      for (int j = 0; j < p; ++j) {
        add(d[static_cast<std::size_t>(j)], j, j, &limbs[3 * static_cast<std::size_t>(j)]);
        add(cy[static_cast<std::size_t>(j)], j, ey, &limbs[3 * static_cast<std::size_t>(p + j)]);
        add(s[static_cast<std::size_t>(j)], j, e1 < rows_.m ? e1 : j,
            &limbs[3 * static_cast<std::size_t>(2 * p + j)]);
      }
      add(yy, ey, ey, &limbs[3 * static_cast<std::size_t>(3 * p)]);
      add(sy, ey, e1 < rows_.m ? e1 : ey, &limbs[3 * static_cast<std::size_t>(3 * p + 1)]);
    }
    comm_.allreduce_in_place(limbs.data(), limbs.size(), mpi::Op::kSum);
    const double n = static_cast<double>(rows_.n);
    Eigen::VectorXd raw_d(p), raw_c(p), sums(p);
    for (int j = 0; j < p; ++j) {
      raw_d(j) = value(&limbs[3 * static_cast<std::size_t>(j)], j, j);
      raw_c(j) = value(&limbs[3 * static_cast<std::size_t>(p + j)], j, ey);
      sums(j) = intercept_ ? value(&limbs[3 * static_cast<std::size_t>(2 * p + j)], j, e1) : 0.0;
    }
    const double yty = value(&limbs[3 * static_cast<std::size_t>(3 * p)], ey, ey);
    const double sum_y =
        intercept_ ? value(&limbs[3 * static_cast<std::size_t>(3 * p + 1)], ey, e1) : 0.0;
    mean = sums / n;
    y_mean = sum_y / n;
    scale = Eigen::VectorXd::Ones(p);
    diag.resize(p);
    c.resize(p);
    yy = yty / n - y_mean * y_mean;
    for (int j = 0; j < p; ++j) {
      const double raw = raw_d(j) / n;
      const double centred = raw - mean(j) * mean(j);
      if (!(centred > 1e-14 * raw) || raw == 0) {
        scale(j) = 0;
      } else if (options.standardize) {
        scale(j) = std::sqrt(centred);
      }
      diag(j) = scale(j) == 0 ? 0.0 : centred / (scale(j) * scale(j));
      c(j) = scale(j) == 0 ? 0.0 : (raw_c(j) / n - mean(j) * y_mean) / scale(j);
    }
  }

  // Q[:, cols] = D^-1 (A^T A[:, cols] / n - m m_cols^T) D_cols^-1: one pass over the rows,
  // each chunk packed once and multiplied by batches of at most 64 columns.
  void columns(const std::vector<int>& cols, Eigen::MatrixXd& out) override {
    const int p = rows_.p;
    const double n = static_cast<double>(rows_.n);
    out.resize(p, static_cast<Eigen::Index>(cols.size()));
    if (cols.empty()) return;
    struct Batch {
      std::vector<int> cols;
      std::vector<double> scale;
      CrossKernel kernel;
      std::vector<std::int64_t> limbs;
    };
    std::vector<std::unique_ptr<Batch>> batches;
    const std::int64_t chunk = std::max<std::int64_t>(1, std::min(rows_.chunk_rows, rows_.n));
    for (std::size_t b0 = 0; b0 < cols.size(); b0 += kColumnBatch) {
      const std::size_t b1 = std::min(cols.size(), b0 + static_cast<std::size_t>(kColumnBatch));
      std::vector<int> c(cols.begin() + static_cast<std::ptrdiff_t>(b0),
                         cols.begin() + static_cast<std::ptrdiff_t>(b1));
      auto batch = std::make_unique<Batch>(
          Batch{c, {}, CrossKernel(p, static_cast<int>(c.size()), chunk), {}});
      for (int j : c) batch->scale.push_back(factor_[static_cast<std::size_t>(j)]);
      batch->limbs.assign(static_cast<std::size_t>(3 * batch->kernel.padded_rows()) * c.size(), 0);
      batches.push_back(std::move(batch));
    }
    CrossKernel& rows_kernel = batches.front()->kernel;
    const std::int64_t padded = rows_kernel.padded_rows();
    std::vector<double> row_scale(static_cast<std::size_t>(padded), 1.0);
    std::copy(factor_.begin(), factor_.begin() + p, row_scale.begin());
    std::vector<PackRow> pack;
    for (const auto& rows : rows_.chunks) {
      pack.clear();
      for (const RowRef& r : rows) pack.push_back({r.a, r.col_stride, {r.y, 1.0}});
      const auto count = static_cast<std::int64_t>(pack.size());
      rows_kernel.pack_rows(pack.data(), count);  // once per chunk, for every batch
      for (auto& b : batches) {
        b->kernel.pack_columns(pack.data(), count, b->cols.data());
        b->kernel.compute(count, rows_kernel);
        b->kernel.accumulate(row_scale.data(), b->scale.data(), b->limbs.data());
      }
    }
    std::vector<std::int64_t> all;
    for (const auto& b : batches) all.insert(all.end(), b->limbs.begin(), b->limbs.end());
    comm_.allreduce_in_place(all.data(), all.size(), mpi::Op::kSum);  // collective
    std::size_t offset = 0;
    Eigen::Index column = 0;
    for (const auto& b : batches) {
      const auto nb = static_cast<std::int64_t>(b->cols.size());
      const std::int64_t plane = nb * padded;
      const std::int64_t* l0 = all.data() + offset;
      for (std::int64_t q = 0; q < nb; ++q, ++column) {
        const int j = b->cols[static_cast<std::size_t>(q)];
        for (int k = 0; k < p; ++k) {
          const std::int64_t* l = l0 + q * padded + k;
          const double g =
              limbs_to_double(l[0], l[plane], l[2 * plane],
                              rows_.exponents[static_cast<std::size_t>(k)] +
                                  rows_.exponents[static_cast<std::size_t>(j)] - kFixedBits);
          out(k, column) = (scale(k) == 0 || scale(j) == 0)
                               ? 0.0
                               : (g / n - mean(k) * mean(j)) / (scale(k) * scale(j));
        }
      }
      offset += static_cast<std::size_t>(3 * plane);
    }
  }

  Eigen::VectorXd scale, mean;
  double y_mean = 0;
  std::int64_t rows() const { return rows_.n; }

 private:
  void add(double v, int a, int b, std::int64_t* limbs) const {
    std::int64_t h0, h1, h2;
    split_limbs(v * factor_[static_cast<std::size_t>(a)] * factor_[static_cast<std::size_t>(b)],
                &h0, &h1, &h2);
    limbs[0] += h0;
    limbs[1] += h1;
    limbs[2] += h2;
  }
  double value(const std::int64_t* limbs, int a, int b) const {
    return limbs_to_double(limbs[0], limbs[1], limbs[2],
                           rows_.exponents[static_cast<std::size_t>(a)] +
                               rows_.exponents[static_cast<std::size_t>(b)] - kFixedBits);
  }

  mpi::Comm comm_;
  ChunkedRows rows_;
  bool intercept_;
  std::vector<double> factor_;  // 2^(40 - e_j)
};

}  // namespace

std::shared_ptr<Covariance> make_residual_covariance(const mpi::Comm& comm,
                                                     const std::vector<RowBlock>& blocks,
                                                     std::int64_t cols,
                                                     const ProblemOptions& options,
                                                     std::int64_t* rows, Eigen::VectorXd* scale,
                                                     Eigen::VectorXd* mean, double* y_mean) {
  if (options.folds > 0) {
    throw UsageError(
        "cross-validation needs the Gram mode; this problem would be in residual "
        "mode (raise the memory budget, or fit a path without folds)");
  }
  ChunkedRows chunked = distribute(comm, blocks, cols, options.chunk_rows, 0, options.intercept);
  auto cov = std::make_shared<ResidualCovariance>(comm, std::move(chunked), options);
  *rows = cov->rows();
  *scale = cov->scale;
  *mean = cov->mean;
  *y_mean = cov->y_mean;
  return cov;
}

}  // namespace physfit::lasso::detail
