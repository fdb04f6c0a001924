// The distributed fit: every rank builds the rows of its own configurations, and the exact
// Gram, the fits and the cross-validation are bitwise those of one process holding everything,
// at 1-4 ranks (3 ranks split 20 configurations 7, 7, 6); the residual storage (rows kept on
// their ranks) gives the Gram storage's LASSO solution.

#include <gtest/gtest.h>

#include "../../support/mpi_test.hpp"
#include "../../unit/fc/fc_test_data.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/guard.hpp"

#include <cstring>

using namespace physfit;

namespace {

struct Silicon {
  fc::IdealStructure ideal = fc::read_structure_hdf5(fc_test::si_data() + "/si64_rattle_0.03.h5");
  fc::Crystal crystal{ideal.supercell, ideal.resolve_primitive_lattice(1e-5), 1e-5};
  fc::ClusterSpace space{crystal, {{-1.0, 4.0}}};
};

}  // namespace

bool same_bits(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
}

TEST(DistributedFit, GramFitAndCrossValidationAreBitwiseThoseOfOneProcess) {
  const mpi::Comm world = test::world();
  const Silicon si;
  const std::string path = fc_test::si_data() + "/si64_rattle_0.03.h5";
  const auto local = fc::read_configurations_hdf5(world, path, 64);
  const auto all = fc::read_configurations_hdf5(mpi::Comm::self(), path, 64);
  EXPECT_LE(local.count(), (all.count() + world.size() - 1) / world.size());  // only its block
  const fc::FitData parallel = fc::accumulate(world, si.space, local, 5, 0, 20, 3);
  const fc::FitData serial = fc::accumulate(mpi::Comm::self(), si.space, all, 5, 0, 20, 2);
  EXPECT_EQ(parallel.configurations, 20);
  EXPECT_EQ(parallel.num_rows, 20 * 192);
  const lasso::Moments a = parallel.gram->total(), b = serial.gram->total();
  EXPECT_TRUE(same_bits(a.ata, b.ata));
  EXPECT_TRUE(same_bits(a.aty, b.aty));
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(parallel.gram->rows_in_fold(k), 4 * 192);
    EXPECT_TRUE(same_bits(parallel.gram->without_fold(k).ata, serial.gram->without_fold(k).ata));
  }
  // And the fits: least squares, and LASSO with cross-validation.
  for (auto method : {fc::Method::kLeastSquares, fc::Method::kLasso}) {
    fc::FitOptions o;
    o.method = method;
    o.lambdas = 10;
    const auto x = fc::fit(parallel, o), y = fc::fit(serial, o);
    EXPECT_TRUE(same_bits(x.z, y.z)) << fc::method_name(method);
    EXPECT_EQ(std::memcmp(&x.cv_rmse, &y.cv_rmse, sizeof(double)), 0);
    EXPECT_EQ(x.chosen, y.chosen);
  }
}

TEST(DistributedFit, CrossValidationOnTheDefaultGridExtendsAlikeOnEveryRankCount) {
  // The default grids (LASSO 1e-4 in 50 lambdas, adaptive LASSO 1e-8 in 99). LASSO's CV
  // minimum is at the small end on these data and the path is extended below; adaptive
  // LASSO's grid ends on a flat curve (a warning, no extension). Both are the same bits on 1-4
  // ranks as in one process.
  const mpi::Comm world = test::world();
  const Silicon si;
  const std::string path = fc_test::si_data() + "/si64_rattle_0.03.h5";
  const auto local = fc::read_configurations_hdf5(world, path, 64);
  const auto all = fc::read_configurations_hdf5(mpi::Comm::self(), path, 64);
  const fc::FitData parallel = fc::accumulate(world, si.space, local, 5, 0, 20, 3);
  const fc::FitData serial = fc::accumulate(mpi::Comm::self(), si.space, all, 5, 0, 20, 2);
  for (auto method : {fc::Method::kLasso, fc::Method::kAdaptiveLasso}) {
    SCOPED_TRACE(fc::method_name(method));
    fc::FitOptions o;
    o.method = method;
    const auto x = fc::fit(parallel, o), y = fc::fit(serial, o);
    EXPECT_EQ(x.cv.requested, method == fc::Method::kLasso ? 50 : 99);
    const bool lasso = method == fc::Method::kLasso;
    EXPECT_EQ(x.cv.extended > 0, lasso);
    EXPECT_EQ(x.cv.end, lasso ? "interior" : "flat");
    EXPECT_EQ(x.cv.advice.empty(), lasso);
    EXPECT_EQ(x.cv.extended, y.cv.extended);
    EXPECT_EQ(x.cv.advice, y.cv.advice);
    EXPECT_TRUE(same_bits(Eigen::Map<const Eigen::VectorXd>(x.lambdas.data(), x.lambdas.size()),
                          Eigen::Map<const Eigen::VectorXd>(y.lambdas.data(), y.lambdas.size())));
    EXPECT_TRUE(same_bits(Eigen::Map<const Eigen::VectorXd>(x.cv_mse.data(), x.cv_mse.size()),
                          Eigen::Map<const Eigen::VectorXd>(y.cv_mse.data(), y.cv_mse.size())));
    EXPECT_TRUE(same_bits(x.z, y.z));
    EXPECT_EQ(x.chosen, y.chosen);
    EXPECT_EQ(x.chosen, x.cv.index_min);
    if (lasso) {
      EXPECT_LT(x.chosen, static_cast<int>(x.lambdas.size()) - 1);
    }
  }
}

TEST(DistributedFit, TheResidualStorageGivesTheGramStoragesLassoSolution) {
  const mpi::Comm world = test::world();
  const Silicon si;
  const auto local =
      fc::read_configurations_hdf5(world, fc_test::si_data() + "/si64_rattle_0.03.h5", 64);
  const fc::FitData gram = fc::accumulate(world, si.space, local, 0, 0, 12, 4);
  const fc::FitData rows =
      fc::accumulate(world, si.space, local, 0, 0, 12, 4, {}, fc::Storage::kResidual);
  EXPECT_EQ(rows.num_rows, 12 * 192);
  EXPECT_EQ(rows.residual->mode(), lasso::Mode::kResidual);
  // Each rank keeps only the rows of its own configurations.
  const std::int64_t mine = static_cast<std::int64_t>(rows.rows.size());
  EXPECT_EQ(world.allreduce(mine, mpi::Op::kSum), 12);
  EXPECT_EQ(rows.bytes, static_cast<std::size_t>(mine * 192 * si.space.num_parameters()) * 8);
  fc::FitOptions o;
  o.method = fc::Method::kLasso;
  o.lambda = 1e-3 * lasso::lambda_max(lasso::Problem::from_gram(gram.gram), 1.0);
  const auto a = fc::fit(gram, o), b = fc::fit(rows, o);
  EXPECT_LT((a.z - b.z).cwiseAbs().maxCoeff(), 1e-6 * a.z.cwiseAbs().maxCoeff());
  // The residual fit too is bitwise that of one process.
  const auto all = fc::read_configurations_hdf5(mpi::Comm::self(),
                                                fc_test::si_data() + "/si64_rattle_0.03.h5", 64);
  const fc::FitData one =
      fc::accumulate(mpi::Comm::self(), si.space, all, 0, 0, 12, 4, {}, fc::Storage::kResidual);
  EXPECT_TRUE(same_bits(fc::fit(one, o).z, b.z));
  EXPECT_NEAR(a.train_rmse, b.train_rmse, 1e-6 * a.train_rmse);
  // Least squares needs the Gram: a usage error on every rank.
  o.method = fc::Method::kLeastSquares;
  EXPECT_THROW(fc::fit(rows, o), UsageError);
}

TEST(DistributedFit, EachRankReadsItsShareOfTheRangeItUses) {
  // Configurations [10, 17): 7 over the ranks in blocks differing by at most one, the values
  // those of a whole read; a range outside the file is a usage error naming it.
  const mpi::Comm world = test::world();
  const std::string path = fc_test::si_data() + "/si64_rattle_0.03.h5";
  const auto part = fc::read_configurations_hdf5(world, path, 64, 10, 17);
  const auto all = fc::read_configurations_hdf5(mpi::Comm::self(), path, 64);
  EXPECT_EQ(world.allreduce(part.count(), mpi::Op::kSum), 7);
  EXPECT_LE(
      world.allreduce(part.count(), mpi::Op::kMax) - world.allreduce(part.count(), mpi::Op::kMin),
      1);
  EXPECT_GE(part.first, 10);
  EXPECT_LE(part.first + part.count(), 17);
  for (std::size_t i = 0; i < part.forces.size(); ++i) {
    ASSERT_EQ(part.forces[i], all.forces[static_cast<std::size_t>(part.first) * 192 + i]);
  }
  EXPECT_THROW(fc::read_configurations_hdf5(world, path, 64, 150, 250), UsageError);
}

TEST(DistributedFit, ABadConfigurationOnOneRankEndsEveryRankWithAnInputDataError) {
  const mpi::Comm world = test::world();
  auto local = fc::read_configurations_hdf5(world, fc_test::si_data() + "/si64_rattle_0.03.h5", 64);
  if (world.rank() == world.size() - 1) local.forces[7] = std::nan("");
  try {
    mpi::guarded(world, [&] { local.validate("data"); });
    ADD_FAILURE() << "no error";
  } catch (const mpi::CollectiveError& e) {
    // A non-finite force read from the data is malformed input data: exit 4.
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_EQ(e.origin_rank(), world.size() - 1);
    EXPECT_NE(std::string(e.what()).find("atom 3"), std::string::npos) << e.what();
  }
}
