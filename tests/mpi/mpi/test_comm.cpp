#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/util/signal.hpp"

using namespace physfit;

TEST(Comm, ReducesScalarsAndVectors) {
  const mpi::Comm c = test::world();
  const int n = c.size(), r = c.rank();
  EXPECT_EQ(c.allreduce(r + 1, mpi::Op::kSum), n * (n + 1) / 2);
  EXPECT_EQ(c.allreduce(static_cast<double>(r), mpi::Op::kMax), n - 1.0);
  EXPECT_EQ(c.allreduce(static_cast<long long>(r) - 5, mpi::Op::kMin), -5);
  EXPECT_EQ(c.allreduce(r == 0, mpi::Op::kLogicalOr), true);
  EXPECT_EQ(c.allreduce(r == 0, mpi::Op::kLogicalAnd), n == 1);
  std::vector<double> v{1.0 * r, 2.0, -1.0 * r};
  c.allreduce_in_place(v, mpi::Op::kSum);
  EXPECT_EQ(v, (std::vector<double>{n * (n - 1) / 2.0, 2.0 * n, -n * (n - 1) / 2.0}));
  std::vector<float> empty;
  c.allreduce_in_place(empty, mpi::Op::kSum);  // zero elements: a no-op everywhere
}

TEST(Comm, BroadcastsStringsAndBuffersOfAnyLength) {
  const mpi::Comm c = test::world();
  for (int root = 0; root < c.size(); ++root) {
    std::string text = c.rank() == root ? std::string(1000 + root, 'a' + root) : "stale";
    c.broadcast(text, root);
    EXPECT_EQ(text, std::string(1000 + root, 'a' + root));
    std::string empty = c.rank() == root ? "" : "stale";
    c.broadcast(empty, root);
    EXPECT_EQ(empty, "");
    std::vector<long long> values;
    if (c.rank() == root) values = {1, 2, 3, root};
    c.broadcast(values, root);
    EXPECT_EQ(values, (std::vector<long long>{1, 2, 3, root}));
    double x = c.rank() == root ? 2.5 * root : -1;
    c.broadcast(x, root);
    EXPECT_EQ(x, 2.5 * root);
  }
}

TEST(Comm, GathersValuesStringsAndVariableLengthVectors) {
  const mpi::Comm c = test::world();
  const auto squares = c.gather(c.rank() * c.rank(), 0);
  const auto all = c.allgather(c.rank() * 10);
  const auto names = c.gather(std::string(c.rank(), 'x') + "|" + std::to_string(c.rank()), 0);
  std::vector<int> mine(c.rank() + 1, c.rank());
  const auto concatenated = c.gatherv(mine, 0);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(c.size()));
  for (int r = 0; r < c.size(); ++r) EXPECT_EQ(all[r], 10 * r);
  if (c.rank() != 0) {
    EXPECT_TRUE(squares.empty());
    EXPECT_TRUE(names.empty());
    EXPECT_TRUE(concatenated.empty());
    return;
  }
  ASSERT_EQ(names.size(), static_cast<std::size_t>(c.size()));
  std::vector<int> expected;
  for (int r = 0; r < c.size(); ++r) {
    EXPECT_EQ(squares[r], r * r);
    EXPECT_EQ(names[r], std::string(r, 'x') + "|" + std::to_string(r));
    expected.insert(expected.end(), r + 1, r);
  }
  EXPECT_EQ(concatenated, expected);
}

TEST(Comm, DuplicateIsIndependentOfItsParent) {
  const mpi::Comm c = test::world();
  mpi::OwnedComm dup(c);
  EXPECT_EQ(dup.view().size(), c.size());
  EXPECT_EQ(dup.view().rank(), c.rank());
  EXPECT_NE(dup.view().raw(), c.raw());
  EXPECT_EQ(dup.view().allreduce(1, mpi::Op::kSum), c.size());
}

TEST(CollectiveError, EveryRankLearnsOfAThrowOnTheLastRank) {
  const mpi::Comm c = test::world();
  const int culprit = c.size() - 1;
  try {
    mpi::guarded(c, [&] {
      if (c.rank() == culprit) throw IoError("cannot read block " + std::to_string(culprit));
    });
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_EQ(e.origin_rank(), culprit);
    EXPECT_EQ(e.failed_ranks(), 1);
    EXPECT_EQ(e.local(), c.rank() == culprit);
    EXPECT_EQ(std::string(e.what()), "cannot read block " + std::to_string(culprit));
  }
  // The communicator is still in step: a plain collective afterwards works.
  EXPECT_EQ(c.allreduce(1, mpi::Op::kSum), c.size());
}

TEST(CollectiveError, ReportsTheLowestFailingRankAndTheCount) {
  const mpi::Comm c = test::world();
  try {
    mpi::guarded(c, [&] {
      if (c.rank() % 2 == 1 || c.size() == 1)
        throw NumericalError("NaN on " + std::to_string(c.rank()));
    });
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    const int origin = c.size() == 1 ? 0 : 1;
    EXPECT_EQ(e.origin_rank(), origin);
    EXPECT_EQ(e.failed_ranks(), c.size() == 1 ? 1 : c.size() / 2);
    EXPECT_EQ(e.code(), ExitCode::kNumerical);
    EXPECT_EQ(std::string(e.what()), "NaN on " + std::to_string(origin));
  }
}

TEST(CollectiveError, ReturnsTheResultWhenNothingFailsAndKeepsTheOriginWhenNested) {
  const mpi::Comm c = test::world();
  EXPECT_EQ(mpi::guarded(c, [&] { return c.rank() * 2; }), c.rank() * 2);
  try {
    mpi::guarded(c, [&] {
      mpi::guarded(c, [&] {
        if (c.rank() == c.size() - 1) throw std::runtime_error("inner");
      });
    });
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.origin_rank(), c.size() - 1);
    EXPECT_EQ(e.code(), ExitCode::kInternal);
    EXPECT_STREQ(e.what(), "inner");
  }
}

TEST(CollectiveError, RequireSameFailsOnEveryRankWhenValuesDiffer) {
  const mpi::Comm c = test::world();
  EXPECT_NO_THROW(mpi::require_same(c, 42, "row count"));
  if (c.size() == 1) return;
  try {
    mpi::require_same(c, c.rank() == 0 ? 10 : 11, "number of rows of /x");
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kParallel);
    EXPECT_EQ(e.failed_ranks(), 1);  // one disagreement, found by every rank together
    EXPECT_EQ(std::string(e.what()),
              "ranks disagree on the number of rows of /x: values range from 10 to 11 over " +
                  std::to_string(c.size()) + " ranks");
  }
}

TEST(StopAgreement, EveryRankStopsWhenOneRankIsSignalled) {
  const mpi::Comm c = test::world();
  util::clear_stop_request();
  util::StopHandlers handlers;
  EXPECT_EQ(mpi::stop_agreed(c), 0);
  if (c.rank() == c.size() - 1) std::raise(SIGUSR1);
  EXPECT_EQ(mpi::stop_agreed(c), SIGUSR1);
  util::clear_stop_request();
  EXPECT_EQ(mpi::stop_agreed(c), 0);
}
