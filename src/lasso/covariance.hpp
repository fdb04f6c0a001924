#pragma once
// The solvers' view of a standardised problem (implementation detail): c, diag(Q), yy, and
// columns of Q on demand (free in Gram mode, one pass over the rows in residual mode).

#include <Eigen/Core>
#include <vector>

namespace physfit::lasso::detail {

class Covariance {
 public:
  virtual ~Covariance() = default;
  Eigen::VectorXd c;     // standardised A^T y / n
  Eigen::VectorXd diag;  // Q_jj
  double yy = 0;         // standardised y^T y / n
  int p() const { return static_cast<int>(c.size()); }
  /// Q[:, cols[k]] into out.col(k); out is p x cols.size(). **Collective** in residual mode.
  virtual void columns(const std::vector<int>& cols, Eigen::MatrixXd& out) = 0;
  /// The dense Q (Gram mode), else null.
  virtual const Eigen::MatrixXd* dense() const { return nullptr; }
  /// Fewest coefficients added to the active set at once (measured on the gauss benchmark in
  /// residual mode: 16 beats 64, a Gram column costing about as much as 1/30 of a pass).
  virtual std::size_t batch() const { return 16; }
};

/// Gram mode: Q held densely.
class DenseCovariance : public Covariance {
 public:
  Eigen::MatrixXd q;
  void columns(const std::vector<int>& cols, Eigen::MatrixXd& out) override {
    out.resize(q.rows(), static_cast<Eigen::Index>(cols.size()));
    for (std::size_t k = 0; k < cols.size(); ++k) {
      out.col(static_cast<Eigen::Index>(k)) = q.col(cols[k]);
    }
  }
  const Eigen::MatrixXd* dense() const override { return &q; }
};

}  // namespace physfit::lasso::detail
