// The distributed normal equations: every rank builds the rows of its own configurations, and
// the reduced statistics equal those of one process holding everything, at 1-4 ranks (3 ranks
// split 20 configurations 7, 7, 6).

#include <gtest/gtest.h>

#include "../../support/mpi_test.hpp"
#include "../../unit/fc/fc_test_data.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/mpi/guard.hpp"

using namespace physfit;

namespace {

struct Silicon {
  fc::IdealStructure ideal = fc::read_structure_hdf5(fc_test::si_data() + "/si64_rattle_0.03.h5");
  fc::Crystal crystal{ideal.supercell, ideal.resolve_primitive_lattice(1e-5), 1e-5};
  fc::ClusterSpace space{crystal, {{-1.0, 4.0}}};
};

}  // namespace

TEST(DistributedFit, ReducedNormalEquationsEqualThoseOfOneProcess) {
  const mpi::Comm world = test::world();
  const Silicon si;
  const std::string path = fc_test::si_data() + "/si64_rattle_0.03.h5";
  const auto local = fc::read_configurations_hdf5(world, path, 64);
  const auto all = fc::read_configurations_hdf5(mpi::Comm::self(), path, 64);
  EXPECT_LE(local.count(), (all.count() + world.size() - 1) / world.size());  // only its block
  const fc::FitData parallel = fc::accumulate(world, si.space, local, 5, 0, 20, 3);
  const fc::FitData serial = fc::accumulate(mpi::Comm::self(), si.space, all, 5, 0, 20, 2);
  EXPECT_EQ(parallel.configurations, 20);
  EXPECT_EQ(parallel.total.rows, 20 * 192);
  const double scale = serial.total.ata.cwiseAbs().maxCoeff();
  EXPECT_LT((parallel.total.ata - serial.total.ata).cwiseAbs().maxCoeff(), 1e-12 * scale);
  EXPECT_LT((parallel.total.aty - serial.total.aty).cwiseAbs().maxCoeff(),
            1e-12 * serial.total.aty.cwiseAbs().maxCoeff());
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(parallel.folds[k].rows, 4 * 192);
    EXPECT_NEAR(parallel.folds[k].yty, serial.folds[k].yty, 1e-12 * serial.folds[k].yty);
  }
  // And the fits agree.
  fc::FitOptions o;
  const auto a = fc::fit(parallel, o), b = fc::fit(serial, o);
  EXPECT_LT((a.z - b.z).cwiseAbs().maxCoeff(), 1e-8 * b.z.cwiseAbs().maxCoeff());
  EXPECT_NEAR(a.cv_rmse, b.cv_rmse, 1e-9 * b.cv_rmse);
}

TEST(DistributedFit, ABadConfigurationOnOneRankEndsEveryRankWithAUsageError) {
  const mpi::Comm world = test::world();
  auto local = fc::read_configurations_hdf5(world, fc_test::si_data() + "/si64_rattle_0.03.h5", 64);
  if (world.rank() == world.size() - 1) local.forces[7] = std::nan("");
  try {
    mpi::guarded(world, [&] { local.validate("data"); });
    ADD_FAILURE() << "no error";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_EQ(e.origin_rank(), world.size() - 1);
    EXPECT_NE(std::string(e.what()).find("atom 3"), std::string::npos) << e.what();
  }
}
