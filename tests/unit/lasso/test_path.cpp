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

// ---- A grid that finds its minimum (issue 10, point 4) ----

namespace {

// Rows are their own groups, cut into 5 contiguous folds.
Problem cv_problem(const SyntheticProblem& sp) {
  std::vector<std::int64_t> groups;
  for (Eigen::Index i = 0; i < sp.a.rows(); ++i) groups.push_back(i);
  static std::vector<std::int32_t> folds;
  folds = assign_folds(mpi::Comm::self(), groups, 5);
  ProblemOptions o;
  o.folds = 5;
  o.chunk_rows = 40;
  return Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, sp.a, sp.y, folds.data())},
                            sp.a.cols(), o);
}

// What every cross-validation must satisfy, extended or not.
void expect_consistent(const CrossValidation& cv) {
  const auto L = cv.lambdas.size();
  EXPECT_EQ(L, static_cast<std::size_t>(cv.requested + cv.extended));
  EXPECT_EQ(cv.path.lambdas, cv.lambdas);
  EXPECT_EQ(static_cast<std::size_t>(cv.path.coef.cols()), L);
  EXPECT_EQ(static_cast<std::size_t>(cv.fold_error.cols()), L);
  EXPECT_EQ(cv.mean_error.size(), L);
  for (std::size_t l = 1; l < L; ++l) EXPECT_LT(cv.lambdas[l], cv.lambdas[l - 1]);
  // The curve is the mean of the fold errors (equal folds), lambda_min its minimum.
  for (std::size_t l = 0; l < L; ++l) {
    EXPECT_NEAR(cv.mean_error[l], cv.fold_error.col(static_cast<Eigen::Index>(l)).mean(),
                1e-12 * cv.mean_error[l]);
    EXPECT_GE(cv.mean_error[l], cv.error_min());
  }
  EXPECT_EQ(cv.lambda_min, cv.lambdas[static_cast<std::size_t>(cv.index_min)]);
  EXPECT_EQ(cv.lambda_1se, cv.lambdas[static_cast<std::size_t>(cv.index_1se)]);
  EXPECT_GE(cv.lambda_1se, cv.lambda_min);
  EXPECT_LE(cv.error_1se(),
            cv.error_min() + cv.standard_error[static_cast<std::size_t>(cv.index_min)]);
  EXPECT_TRUE(cv.path.all_converged());
}

SyntheticSpec quiet_spec(int noise_exponent) {
  SyntheticSpec spec;
  spec.rows = 400;
  spec.cols = 40;
  spec.seed = 11;
  spec.scale_range = 2;
  spec.nonzeros = 8;
  spec.noise_exponent = noise_exponent;
  return spec;
}

}  // namespace

TEST(LassoGrid, AMinimumBelowTheGridIsFoundByExtendingThePath) {
  // Noise 2^-14 of a unit signal: the best lambda is far below the default grid's 1e-4
  // lambda_max, where that grid's CV curve is still falling.
  const SyntheticProblem sp = generate(quiet_spec(-14));
  const Problem pr = cv_problem(sp);
  PathOptions po;
  po.count = 41;  // 10 lambdas per decade
  po.ratio = 1e-4;
  po.solver.tol = 1e-12;
  po.extend_decades = 0;
  const CrossValidation grid = cross_validate(pr, po);
  expect_consistent(grid);
  EXPECT_EQ(grid.index_min, 40);  // the end of the grid
  EXPECT_EQ(grid.end, GridEnd::kNotExtended);
  EXPECT_EQ(grid.extended, 0);
  const std::string advice = grid_advice(grid);
  EXPECT_NE(advice.find("the minimum of the CV curve is at the end of the grid"),
            std::string::npos);
  EXPECT_NE(advice.find("--path.ratio 1e-10 --path.count 101"), std::string::npos) << advice;
  EXPECT_NE(advice.find("--path.extend 6"), std::string::npos) << advice;

  po.extend_decades = 6;
  const CrossValidation cv = cross_validate(pr, po);
  expect_consistent(cv);
  EXPECT_EQ(cv.end, GridEnd::kInterior);
  EXPECT_EQ(cv.per_decade, 10);
  EXPECT_GT(cv.extended, 0);
  EXPECT_EQ(cv.extended % 10, 0);  // whole decades
  EXPECT_LT(cv.lambda_min, 1e-5 * cv.lambda_max);
  EXPECT_LE(cv.index_min, static_cast<int>(cv.lambdas.size()) - 1 - 10);  // a decade below it
  EXPECT_EQ(grid_advice(cv), "");
  // The first 41 lambdas are the grid's, bit for bit (the extension only appends).
  for (int l = 0; l < 41; ++l) {
    EXPECT_EQ(cv.lambdas[static_cast<std::size_t>(l)], grid.lambdas[static_cast<std::size_t>(l)]);
    EXPECT_EQ(cv.fold_error.col(l), grid.fold_error.col(l));
  }

  // Brute force: one long grid to 1e-10 lambda_max at the same spacing, solved in one go. The
  // extended run's curve is its curve (the solutions agree to the solver's tolerance) and its
  // lambda_min is the long grid's.
  po.count = 101;
  po.ratio = 1e-10;
  po.extend_decades = 0;
  const CrossValidation full = cross_validate(pr, po);
  EXPECT_EQ(full.end, GridEnd::kInterior);
  // The two runs reach each lambda from different warm starts; their solutions agree to the
  // solver's tolerance, and the held-out error (about 6e-9 here, noise 2^-14) is a difference of
  // nearly equal sums, so it agrees to about 1e-6 relative: 1.4e-6 was seen deep in the
  // extension (lambdas 65 and 70) where the compiler contracts other products into FMAs (-O1
  // with -march=native, the sanitizer build). 1e-5 keeps five digits of the curve.
  for (std::size_t l = 0; l < cv.lambdas.size(); ++l) {
    EXPECT_NEAR(cv.lambdas[l], full.lambdas[l], 1e-12 * full.lambdas[l]);
    EXPECT_NEAR(cv.mean_error[l], full.mean_error[l], 1e-5 * full.mean_error[l]) << l;
  }
  EXPECT_EQ(cv.index_min, full.index_min);
  EXPECT_EQ(cv.index_1se, full.index_1se);
  // And the true coefficients are all found at lambda_min.
  const Eigen::VectorXd x = cv.path.coef.col(cv.index_min);
  for (Eigen::Index j = 0; j < x.size(); ++j) {
    if (sp.x_true(j) != 0) {
      EXPECT_NEAR(x(j), sp.x_true(j), 1e-3 * std::fabs(sp.x_true(j)));
    }
  }
}

TEST(LassoGrid, ACurveStillFallingAtTheFloorEndsWithTheNextGrid) {
  // Noise 2^-26 (the smallest the generator makes), about 1e-8 of the signal, the CV error keeps
  // falling as lambda -> 0 (as lambda^2), and two decades of extension cannot reach a minimum.
  const Problem pr = cv_problem(generate(quiet_spec(-26)));
  PathOptions po;
  po.count = 41;
  po.ratio = 1e-4;
  po.solver.tol = 1e-12;
  po.extend_decades = 2;
  const CrossValidation cv = cross_validate(pr, po);
  expect_consistent(cv);
  EXPECT_EQ(cv.extended, 20);
  EXPECT_EQ(cv.index_min, 60);
  EXPECT_EQ(cv.end, GridEnd::kFloor);
  EXPECT_NEAR(cv.lambdas.back(), 1e-6 * cv.lambda_max, 1e-9 * cv.lambdas.back());
  // Each decade lowered the error about a hundredfold (bias proportional to lambda).
  EXPECT_LT(cv.mean_error[60], 1e-3 * cv.mean_error[40]);
  GridOptionNames names;
  names.ratio = "--path.ratio";
  names.count = "--path.count";
  names.extend = "--path.extend";
  names.select = "--cv.select";
  const std::string advice = grid_advice(cv, names);
  EXPECT_NE(advice.find("still falling"), std::string::npos) << advice;
  EXPECT_NE(advice.find("--path.ratio 1e-08 --path.count 81"), std::string::npos) << advice;
  EXPECT_NE(advice.find("--cv.select 1se"), std::string::npos) << advice;
  EXPECT_NEAR(cv.next_ratio, 1e-8, 1e-20);
  EXPECT_EQ(cv.next_count, 81);
}

TEST(LassoGrid, AFlatEndStopsTheExtension) {
  // The same quiet data, with a tolerance that calls any decade flat: no extension, and the
  // warning says the curve is flat.
  const Problem pr = cv_problem(generate(quiet_spec(-14)));
  PathOptions po;
  po.count = 41;
  po.ratio = 1e-4;
  po.flat_tolerance = 1e12;
  const CrossValidation cv = cross_validate(pr, po);
  expect_consistent(cv);
  EXPECT_EQ(cv.extended, 0);
  EXPECT_EQ(cv.end, GridEnd::kFlat);
  EXPECT_NE(grid_advice(cv).find("flat"), std::string::npos);
}

TEST(LassoGrid, TargetsNoFoldCanPredictPutTheMinimumAtLambdaMax) {
  // One column of ones and 5 folds of 2 rows whose sums of y are 1, 1, 1, 1 and -5: in every
  // fold the training rows pull the coefficient one way (-2 or +4) and the held-out rows the
  // other (+1 or -5), so any non-zero coefficient raises every fold's held-out error. The CV
  // error is smallest with every coefficient zero, which cannot be extended, and is said
  // loudly.
  SyntheticProblem sp;
  sp.a = RowMatrix::Ones(10, 1);
  sp.y.resize(10);
  sp.y << 0.25, 0.75, 0.5, 0.5, 1.0, 0.0, 0.125, 0.875, -2.0, -3.0;
  const Problem pr = cv_problem(sp);
  PathOptions po;
  po.count = 41;
  const CrossValidation cv = cross_validate(pr, po);
  expect_consistent(cv);
  for (std::size_t l = 1; l < cv.lambdas.size(); ++l) {
    EXPECT_GT(cv.mean_error[l], cv.mean_error[l - 1]);
  }
  EXPECT_EQ(cv.index_min, 0);
  EXPECT_EQ(cv.index_1se, 0);
  EXPECT_EQ(cv.end, GridEnd::kTop);
  EXPECT_EQ(cv.extended, 0);
  EXPECT_EQ(cv.path.nonzeros[0], 0);
  const std::string advice = grid_advice(cv);
  EXPECT_NE(advice.find("the data do not support this model"), std::string::npos) << advice;
  EXPECT_NE(advice.find("every coefficient is zero"), std::string::npos) << advice;
}
