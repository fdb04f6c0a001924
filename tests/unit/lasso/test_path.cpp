#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "physfit/error.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/mpi/guard.hpp"
#include "reference.hpp"

using namespace physfit;
using namespace physfit::lasso;

namespace {

struct Data {
  SyntheticProblem sp;
  std::vector<std::int32_t> folds;
};

Data reference_data(const test::Reference& ref) {
  Data d{generate(ref.spec()), {}};
  std::vector<std::int64_t> groups;
  for (Eigen::Index i = 0; i < d.sp.a.rows(); ++i) groups.push_back(i);
  d.folds = assign_folds(mpi::Comm::self(), groups, 5);  // contiguous, as KFold(5)
  return d;
}

Problem problem_of(const Data& d, bool standardize, int folds) {
  ProblemOptions o;
  o.standardize = standardize;
  o.folds = folds;
  o.chunk_rows = 48;
  return Problem::from_rows(mpi::Comm::self(),
                            {RowBlock::view(0, d.sp.a, d.sp.y, folds ? d.folds.data() : nullptr)},
                            d.sp.a.cols(), o);
}

}  // namespace

TEST(LassoPath, MatchesScikitLearnLassoPathAtEveryLambda) {
  const test::Reference ref = test::read_reference("path_cv_corr");
  const Data d = reference_data(ref);
  const Problem pr = problem_of(d, false, 0);
  PathOptions po;
  po.lambdas = ref.list("lambdas");
  po.solver.tol = 1e-13;
  const Path path = solve_path(pr, po);
  ASSERT_EQ(path.coef.cols(), 20);
  EXPECT_TRUE(path.all_converged());
  for (int k = 0; k < 20; ++k) {
    SCOPED_TRACE(k);
    const Eigen::VectorXd expected = ref.vector("coef_" + std::to_string(k));
    const double scale = std::max(expected.cwiseAbs().maxCoeff(), 1e-300);
    EXPECT_LT((path.coef.col(k) - expected).cwiseAbs().maxCoeff() / scale, 1e-8);
    EXPECT_LE(path.relative_gaps[static_cast<std::size_t>(k)], 1e-8);
    EXPECT_LE(path.kkt_violations[static_cast<std::size_t>(k)], 1e-8 * po.lambdas[k]);
  }
  EXPECT_EQ(path.nonzeros.front(), 0);  // the first lambda is lambda_max
}

TEST(LassoPath, CrossValidationMatchesLassoCvFoldErrors) {
  const test::Reference ref = test::read_reference("path_cv_corr");
  const Data d = reference_data(ref);
  const Problem pr = problem_of(d, false, 5);
  PathOptions po;
  po.lambdas = ref.list("lambdas");
  po.solver.tol = 1e-13;
  const CrossValidation cv = cross_validate(pr, po);
  for (int f = 0; f < 5; ++f) {
    EXPECT_EQ(cv.fold_rows[static_cast<std::size_t>(f)], 40);
    const Eigen::VectorXd expected = ref.vector("mse_" + std::to_string(f));
    for (int k = 0; k < 20; ++k) {
      EXPECT_NEAR(cv.fold_error(f, k), expected(k), 1e-8 * expected(k))
          << "fold " << f << " k " << k;
    }
  }
  EXPECT_EQ(cv.lambda_min, ref.scalar("lambda_min"));
  EXPECT_GE(cv.lambda_1se, cv.lambda_min);
  EXPECT_LE(cv.mean_error[static_cast<std::size_t>(cv.index_1se)],
            cv.mean_error[static_cast<std::size_t>(cv.index_min)] +
                cv.standard_error[static_cast<std::size_t>(cv.index_min)]);
  // The standard error is that of the fold errors (equal folds: plain mean and variance).
  const int m = cv.index_min;
  const double mean = cv.fold_error.col(m).mean();
  const double var = (cv.fold_error.col(m).array() - mean).square().sum() / 5.0;
  EXPECT_NEAR(cv.standard_error[static_cast<std::size_t>(m)], std::sqrt(var / 4.0), 1e-12 * mean);
}

TEST(LassoPath, DefaultGridAndScreeningLeaveTheSolutionsUnchanged) {
  SyntheticSpec spec;
  spec.rows = 300;
  spec.cols = 60;
  spec.scale_range = 3;
  spec.nonzeros = 10;
  spec.noise_exponent = -2;
  const Data d{generate(spec), {}};
  const Problem pr = problem_of(d, true, 0);
  PathOptions po;
  po.solver.tol = 1e-12;
  const Path with = solve_path(pr, po);
  po.screening = false;
  const Path without = solve_path(pr, po);
  ASSERT_EQ(with.lambdas.size(), 100u);
  EXPECT_NEAR(with.lambdas.back() / with.lambdas.front(), 1e-4, 1e-16);
  for (std::size_t k = 1; k < 100; ++k) {
    EXPECT_NEAR(with.lambdas[k] / with.lambdas[k - 1], std::pow(1e-4, 1.0 / 99), 1e-14);
  }
  EXPECT_TRUE(with.all_converged());
  for (std::size_t k = 0; k < 100; ++k) {  // converged to tol, or to the rounding floor
    EXPECT_LE(with.gaps[k], std::max(1e-12 * with.objectives[k], with.gap_floors[k]));
    EXPECT_LE(with.gap_floors[k], 1e-10 * with.objectives[k]);
  }
  const double scale = with.coef.cwiseAbs().maxCoeff();
  EXPECT_LT((with.coef - without.coef).cwiseAbs().maxCoeff(), 1e-9 * scale);
  // At lambda_max every coefficient is zero; just below, one enters.
  EXPECT_EQ(with.nonzeros[0], 0);
  EXPECT_GE(with.nonzeros[1], 1);
}

TEST(LassoFolds, GroupsAreNeverSplitAndFoldsAreBalanced) {
  std::vector<std::int64_t> groups;
  for (int i = 0; i < 230; ++i) groups.push_back(1000 + 3 * (i / 7));  // 33 groups of 7 rows
  for (std::uint64_t seed : {0ULL, 5ULL}) {
    const auto folds = assign_folds(mpi::Comm::self(), groups, 4, seed);
    std::vector<std::set<std::int64_t>> members(4);
    for (std::size_t i = 0; i < groups.size(); ++i) {
      ASSERT_GE(folds[i], 0);
      ASSERT_LT(folds[i], 4);
      members[static_cast<std::size_t>(folds[i])].insert(groups[i]);
      if (i > 0 && groups[i] == groups[i - 1]) {
        EXPECT_EQ(folds[i], folds[i - 1]);
      }
    }
    // 33 groups in 4 folds: 9, 8, 8, 8.
    EXPECT_EQ(members[0].size(), 9u);
    for (int f = 1; f < 4; ++f) EXPECT_EQ(members[static_cast<std::size_t>(f)].size(), 8u);
    if (seed == 0) {
      EXPECT_EQ(*members[0].begin(), 1000);  // unshuffled: contiguous
    }
  }
  EXPECT_THROW(assign_folds(mpi::Comm::self(), {1, 1, 2}, 3), mpi::CollectiveError);
}
