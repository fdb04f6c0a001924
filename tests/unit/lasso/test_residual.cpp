#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "physfit/error.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"

using namespace physfit;
using namespace physfit::lasso;

namespace {

Problem make(const SyntheticProblem& sp, Mode mode, bool standardize, bool intercept) {
  ProblemOptions o;
  o.mode = mode;
  o.standardize = standardize;
  o.intercept = intercept;
  o.chunk_rows = 40;
  return Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, sp.a, sp.y)}, sp.a.cols(), o);
}

}  // namespace

TEST(LassoResidualMode, GivesTheGramModeSolutions) {
  SyntheticSpec spec;
  spec.rows = 260;
  spec.cols = 45;
  spec.scale_range = 4;
  spec.nonzeros = 6;
  spec.noise_exponent = -3;
  SyntheticProblem sp = generate(spec);
  sp.y.array() += 1.5;
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    const bool standardize = variant != 1, intercept = variant == 2;
    const Problem gram = make(sp, Mode::kGram, standardize, intercept);
    const Problem resid = make(sp, Mode::kResidual, standardize, intercept);
    ASSERT_EQ(resid.mode(), Mode::kResidual);
    EXPECT_LT((gram.scale() - resid.scale()).cwiseAbs().maxCoeff(),
              1e-14 * gram.scale().maxCoeff());
    EXPECT_NEAR(gram.y_mean(), resid.y_mean(), 1e-14);
    EXPECT_LT((gram.c() - resid.c()).cwiseAbs().maxCoeff(), 1e-13 * gram.c().cwiseAbs().maxCoeff());
    for (double r : {1.0, 0.5}) {
      const Penalty pen{0.02 * lambda_max(gram, r), r, {}};
      SolverOptions so;
      so.tol = 1e-13;
      const Fit a = solve(gram, pen, so), b = solve(resid, pen, so);
      EXPECT_TRUE(b.converged);
      EXPECT_LT((a.coef - b.coef).cwiseAbs().maxCoeff(), 1e-9 * a.coef.cwiseAbs().maxCoeff());
      EXPECT_NEAR(a.objective, b.objective, 1e-12 * a.objective);
      EXPECT_NEAR(a.intercept, b.intercept, 1e-9 * (1 + std::fabs(a.intercept)));
      EXPECT_LE(b.relative_gap, 1e-10);
    }
    PathOptions po;
    po.count = 25;
    po.ratio = 1e-3;
    const Path pa = solve_path(gram, po), pb = solve_path(resid, po);
    EXPECT_LT((pa.coef - pb.coef).cwiseAbs().maxCoeff(), 1e-8 * pa.coef.cwiseAbs().maxCoeff());
    EXPECT_TRUE(pb.all_converged());
    // Debiasing works from Gram columns too.
    const Fit fa = solve(gram, Penalty{0.05 * lambda_max(gram, 1.0), 1.0, {}});
    const Fit fb = solve(resid, Penalty{0.05 * lambda_max(resid, 1.0), 1.0, {}});
    EXPECT_LT((debias(gram, fa).coef - debias(resid, fb).coef).cwiseAbs().maxCoeff(),
              1e-8 * fa.coef.cwiseAbs().maxCoeff());
  }
}

TEST(LassoResidualMode, IsChosenWhenTheGramExceedsTheMemoryBudget) {
  SyntheticSpec spec;
  spec.rows = 50;
  spec.cols = 300;
  const SyntheticProblem sp = generate(spec);
  ProblemOptions o;
  o.memory_budget = Problem::gram_bytes(300, o) - 1;
  const Problem pr = Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, sp.a, sp.y)}, 300, o);
  EXPECT_EQ(pr.mode(), Mode::kResidual);
  EXPECT_NE(pr.mode_reason().find("over the memory budget"), std::string::npos) << pr.mode_reason();
  EXPECT_EQ(pr.q(), nullptr);
  o.memory_budget += 1;
  EXPECT_EQ(Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, sp.a, sp.y)}, 300, o).mode(),
            Mode::kGram);
  // What needs p x p says so.
  try {
    least_squares(pr);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("needs the Gram mode"), std::string::npos) << e.what();
  }
  EXPECT_THROW(solve(pr, Penalty{0.1, 0.0, {}}), UsageError);  // ridge
}
