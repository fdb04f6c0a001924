// Tests of the MPI-aware GoogleTest main itself. The disabled test is run on purpose by its own
// CTest entry (harness_remote_failure), which passes only if rank 0 reports the failure that
// happened on rank 1 alone.
#include <gtest/gtest.h>

#include "../../support/mpi_test.hpp"

TEST(Harness, DISABLED_FailsOnRankOneOnly) {
  EXPECT_NE(physfit::test::world().rank(), 1) << "deliberate failure on rank 1";
}

TEST(Harness, RunsEveryTestOnEveryRank) {
  const auto c = physfit::test::world();
  EXPECT_EQ(c.allreduce(1, physfit::mpi::Op::kSum), c.size());
}
