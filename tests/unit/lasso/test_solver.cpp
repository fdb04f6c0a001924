#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "physfit/error.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"
#include "reference.hpp"

using namespace physfit;
using namespace physfit::lasso;

namespace {

Problem problem_of(const SyntheticProblem& sp, bool standardize, bool intercept = false,
                   std::int64_t chunk = 64) {
  ProblemOptions o;
  o.standardize = standardize;
  o.intercept = intercept;
  o.chunk_rows = chunk;
  return Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, sp.a, sp.y)}, sp.a.cols(), o);
}

double max_rel(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), 1e-300);
}

// The objective of original-unit coefficients, from the rows in long double.
long double residual_objective(const SyntheticProblem& sp, const Problem& pr, const Fit& f) {
  long double rr = 0;
  for (Eigen::Index i = 0; i < sp.a.rows(); ++i) {
    long double r = sp.y(i) - f.intercept;
    for (Eigen::Index j = 0; j < sp.a.cols(); ++j)
      r -= static_cast<long double>(sp.a(i, j)) * f.coef(j);
    rr += r * r;
  }
  return rr / (2.0L * sp.a.rows());
}

// Compares a fit with a scikit-learn reference: objective, duality gap, coefficients, KKT.
void check_against_reference(const std::string& name) {
  SCOPED_TRACE(name);
  const test::Reference ref = test::read_reference(name);
  SyntheticProblem sp = generate(ref.spec());
  sp.y.array() += ref.scalar("y_offset");
  const auto& chk = ref.list("check");
  ASSERT_EQ(sp.a(0, 0), chk[0]);  // the generators agree to the bit
  ASSERT_EQ(sp.a(sp.a.rows() - 1, sp.a.cols() - 1), chk[1]);
  ASSERT_EQ(sp.y(0), chk[2]);
  ASSERT_EQ(sp.y(sp.y.size() - 1), chk[3]);
  const Problem pr = problem_of(sp, ref.scalar("standardize") != 0, ref.scalar("intercept") != 0);
  Penalty pen;
  pen.lambda = ref.scalar("lambda");
  pen.l1_ratio = ref.scalar("l1_ratio");
  if (ref.scalar("adaptive") != 0) {
    pen.weights = adaptive_weights(pr);
    EXPECT_LT(max_rel(pen.weights, ref.vector("weights")), 1e-9);
  }
  SolverOptions so;
  so.tol = 1e-13;
  const Fit f = solve(pr, pen, so);
  EXPECT_TRUE(f.converged);
  const double obj = ref.scalar("objective");
  if (std::getenv("PHYSFIT_TEST_VERBOSE")) {
    std::printf(
        "%-16s objective %.1e coef %.1e gap/P %.1e ref gap/P %.1e kkt/lambda %.1e epochs %lld\n",
        name.c_str(), std::fabs(f.objective - obj) / obj, max_rel(f.coef, ref.vector("coef")),
        f.relative_gap, ref.scalar("gap") / obj, f.kkt_violation / pen.lambda,
        static_cast<long long>(f.epochs));
  }
  EXPECT_LT(std::fabs(f.objective - obj) / obj, 1e-8) << f.objective << " vs " << obj;
  EXPECT_LT(max_rel(f.coef, ref.vector("coef")), 1e-8);
  EXPECT_LT(max_rel(f.coef_standardized, ref.vector("coef_standardized")), 1e-8);
  EXPECT_NEAR(f.intercept, ref.scalar("intercept_value"), 1e-8 * (1 + std::fabs(f.intercept)));
  // The certificate: a small gap, which agrees with the reference's (computed from residuals).
  EXPECT_LE(f.relative_gap, 1e-8);
  EXPECT_LE(std::fabs(f.gap - ref.scalar("gap")), 1e-8 * obj);
  EXPECT_LE(f.kkt_violation, 1e-8 * pen.lambda);
  // The Gram-based objective agrees with the residual computed from the rows (the penalty added).
  const Eigen::VectorXd w = pen.weights.size() ? pen.weights : Eigen::VectorXd::Ones(pr.cols());
  const double pen_value = pen.l1() * w.cwiseProduct(f.coef_standardized).cwiseAbs().sum() +
                           0.5 * pen.l2() * f.coef_standardized.squaredNorm();
  const long double direct = residual_objective(sp, pr, f) + pen_value;
  EXPECT_LT(std::fabs(static_cast<double>(direct) - obj) / obj, 1e-8);
}

}  // namespace

TEST(LassoReference, CorrelatedColumnsAtTenthOfLambdaMax) {
  check_against_reference("lasso_corr_a");
}
TEST(LassoReference, CorrelatedColumnsAtHundredthOfLambdaMax) {
  check_against_reference("lasso_corr_b");
}
TEST(LassoReference, StandardisedColumnsOfScalesSpanningTwoToTheEight) {
  check_against_reference("lasso_scaled_a");
}
TEST(LassoReference, StandardisedColumnsAtSmallLambda) {
  check_against_reference("lasso_scaled_b");
}
TEST(LassoReference, ElasticNetHalfL1) { check_against_reference("enet_corr"); }
TEST(LassoReference, ElasticNetStandardised) { check_against_reference("enet_scaled"); }
TEST(LassoReference, MoreColumnsThanRows) { check_against_reference("lasso_wide_a"); }
TEST(LassoReference, MoreColumnsThanRowsSmallLambda) { check_against_reference("lasso_wide_b"); }
TEST(LassoReference, InterceptWithStandardisation) { check_against_reference("lasso_intercept"); }
TEST(LassoReference, AdaptiveLassoWeightsFromLeastSquares) {
  check_against_reference("adaptive_corr");
}

TEST(LassoAnalytic, OrthogonalDesignIsSoftThresholding) {
  // Columns of a 64 x 64 Sylvester-Hadamard matrix: A^T A = n I exactly.
  const int n = 64, p = 16;
  RowMatrix a(n, p);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < p; ++j) a(i, j) = (__builtin_popcount(i & (3 * j + 1)) % 2) ? -1.0 : 1.0;
  }
  ASSERT_LT((a.transpose() * a - n * Eigen::MatrixXd::Identity(p, p)).cwiseAbs().maxCoeff(), 1e-12);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) y(i) = std::sin(0.37 * i) + 0.25 * (i % 5);
  ProblemOptions o;
  o.standardize = false;
  const Problem pr = Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, a, y)}, p, o);
  const Eigen::VectorXd c = a.transpose() * y / n;
  for (double r : {1.0, 0.6}) {
    Penalty pen{0.2, r, {}};
    const Fit f = solve(pr, pen, SolverOptions{1e-14});
    for (int j = 0; j < p; ++j) {
      const double soft = std::copysign(std::max(0.0, std::fabs(c(j)) - pen.l1()), c(j));
      EXPECT_NEAR(f.coef(j), soft / (1 + pen.l2()), 1e-14) << "j=" << j << " r=" << r;
    }
    EXPECT_LE(f.relative_gap, 1e-14);
  }
}

TEST(LassoAnalytic, RidgeMatchesTheClosedForm) {
  SyntheticSpec spec;
  spec.rows = 120;
  spec.cols = 25;
  spec.scale_range = 3;
  const SyntheticProblem sp = generate(spec);
  const Problem pr = problem_of(sp, true);
  const double lambda = 0.3;
  const Fit f = solve(pr, Penalty{lambda, 0.0, {}});
  // (Z^T Z / n + lambda I) x = Z^T y / n with Z = A D^-1, in long double.
  const Eigen::Index n = sp.a.rows(), p = sp.a.cols();
  Eigen::VectorXd s(p);
  for (Eigen::Index j = 0; j < p; ++j) s(j) = std::sqrt(sp.a.col(j).squaredNorm() / n);
  using MatL = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
  const MatL z = (sp.a * s.cwiseInverse().asDiagonal()).cast<long double>();
  MatL m = z.transpose() * z / static_cast<long double>(n);
  m.diagonal().array() += lambda;
  const Eigen::Matrix<long double, Eigen::Dynamic, 1> rhs =
      z.transpose() * sp.y.cast<long double>() / static_cast<long double>(n);
  const Eigen::VectorXd x = m.ldlt().solve(rhs).cast<double>();
  EXPECT_LT(max_rel(f.coef_standardized, x), 1e-12);
  EXPECT_LE(std::fabs(f.gap), 1e-12 * f.objective);
}

TEST(LassoAnalytic, LeastSquaresOnRankDeficientColumnsIsTheMinimumNormSolution) {
  SyntheticSpec spec;
  spec.rows = 90;
  spec.cols = 14;
  spec.duplicates = 3;  // columns 11, 12, 13 are twice columns 0, 1, 2
  spec.scale_range = 2;
  const SyntheticProblem sp = generate(spec);
  for (bool standardize : {false, true}) {
    SCOPED_TRACE(standardize);
    const Problem pr = problem_of(sp, standardize);
    const Fit f = least_squares(pr);
    EXPECT_EQ(f.rank, 11);
    // Reference: the minimum-norm least-squares solution of Z x = y by a complete orthogonal
    // decomposition of Z (not of the Gram), Z the standardised columns.
    const Eigen::MatrixXd z = sp.a * pr.scale().cwiseInverse().asDiagonal();
    const Eigen::VectorXd x = z.completeOrthogonalDecomposition().solve(sp.y);
    EXPECT_LT(max_rel(f.coef_standardized, x), 1e-9);
    // The residual is orthogonal to every column.
    const Eigen::VectorXd r = sp.y - sp.a * f.coef;
    EXPECT_LT((sp.a.transpose() * r).cwiseAbs().maxCoeff(), 1e-9 * sp.y.norm() * sp.a.norm());
    EXPECT_LE(f.kkt_violation, 1e-10);
  }
}

TEST(LassoAnalytic, DebiasingRefitsLeastSquaresOnTheSupport) {
  SyntheticSpec spec;
  spec.rows = 150;
  spec.cols = 20;
  spec.nonzeros = 4;
  spec.noise_exponent = -8;
  const SyntheticProblem sp = generate(spec);
  const Problem pr = problem_of(sp, false);
  const Fit lasso = solve(pr, Penalty{0.05 * lambda_max(pr, 1.0), 1.0, {}});
  const Fit refit = debias(pr, lasso);
  // Least squares on the support columns only, by QR of the rows.
  std::vector<int> s;
  for (int j = 0; j < pr.cols(); ++j) {
    if (lasso.coef(j) != 0) s.push_back(j);
  }
  ASSERT_GE(s.size(), 4u);
  Eigen::MatrixXd as(sp.a.rows(), static_cast<Eigen::Index>(s.size()));
  for (std::size_t k = 0; k < s.size(); ++k) as.col(static_cast<Eigen::Index>(k)) = sp.a.col(s[k]);
  const Eigen::VectorXd xs = as.colPivHouseholderQr().solve(sp.y);
  for (std::size_t k = 0; k < s.size(); ++k) {
    EXPECT_NEAR(refit.coef(s[k]), xs(static_cast<Eigen::Index>(k)),
                1e-10 * xs.cwiseAbs().maxCoeff());
  }
  EXPECT_EQ(refit.nonzeros, static_cast<std::int64_t>(s.size()));
  // The debiased coefficients are closer to the truth than the shrunk ones.
  EXPECT_LT((refit.coef - sp.x_true).norm(), (lasso.coef - sp.x_true).norm());
}
