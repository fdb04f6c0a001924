// GoogleTest main for physfit, MPI-aware:
// - every rank runs every test; only rank 0 prints the report;
// - a failure on any rank fails the test: after each test the ranks combine their outcomes on
//   the harness's own duplicated communicator (never the one the code under test uses), and
//   rank 0 adds the remote failure to the test's result;
// - failures on other ranks are printed by those ranks, tagged [rank R];
// - exceptions are not caught by GoogleTest: under MPI a caught exception on one rank lets
//   the other ranks' collectives match the wrong partner; an uncaught one ends the job.
// The exit code is non-zero if any test failed on any rank.

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/environment.hpp"

namespace {

class MpiListener : public ::testing::EmptyTestEventListener {
 public:
  MpiListener(physfit::mpi::Comm harness, ::testing::TestEventListener* printer)
      : harness_(harness), printer_(printer) {}

  void OnTestProgramStart(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnTestProgramStart(u);
  }
  void OnTestIterationStart(const ::testing::UnitTest& u, int i) override {
    if (root()) printer_->OnTestIterationStart(u, i);
  }
  void OnEnvironmentsSetUpStart(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnEnvironmentsSetUpStart(u);
  }
  void OnEnvironmentsSetUpEnd(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnEnvironmentsSetUpEnd(u);
  }
  void OnTestSuiteStart(const ::testing::TestSuite& s) override {
    if (root()) printer_->OnTestSuiteStart(s);
  }
  void OnTestStart(const ::testing::TestInfo& t) override {
    if (root()) printer_->OnTestStart(t);
  }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (root()) {
      printer_->OnTestPartResult(r);
    } else if (r.failed()) {
      std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", harness_.rank(),
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
      std::fflush(stderr);
    }
  }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    const int failed = t.result()->Failed() ? 1 : 0;
    const std::vector<int> all = harness_.gather(failed, 0);
    if (root()) {
      std::string ranks;
      for (std::size_t r = 1; r < all.size(); ++r) {
        if (all[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
      }
      if (!ranks.empty()) {
        // Attributed to the test that is ending: its result is still the current one.
        ADD_FAILURE() << t.test_suite_name() << "." << t.name() << " failed on rank(s) " << ranks;
      }
      printer_->OnTestEnd(t);
    }
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& s) override {
    if (root()) printer_->OnTestSuiteEnd(s);
  }
  void OnEnvironmentsTearDownStart(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnEnvironmentsTearDownStart(u);
  }
  void OnEnvironmentsTearDownEnd(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnEnvironmentsTearDownEnd(u);
  }
  void OnTestIterationEnd(const ::testing::UnitTest& u, int i) override {
    if (root()) printer_->OnTestIterationEnd(u, i);
  }
  void OnTestProgramEnd(const ::testing::UnitTest& u) override {
    if (root()) printer_->OnTestProgramEnd(u);
  }

 private:
  bool root() const { return harness_.rank() == 0; }
  physfit::mpi::Comm harness_;
  std::unique_ptr<::testing::TestEventListener> printer_;
};

}  // namespace

int main(int argc, char** argv) {
  physfit::mpi::Environment environment(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::GTEST_FLAG(catch_exceptions) = false;
  physfit::io::hdf5_initialize();
  const physfit::mpi::Comm world = environment.world();
  physfit::log::configure(
      {world.rank(), world.size(), physfit::log::Level::kWarning, nullptr, nullptr, 30.0});

  int result = 0;
  {
    physfit::mpi::OwnedComm harness(world);
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    ::testing::TestEventListener* printer = listeners.Release(listeners.default_result_printer());
    listeners.Append(new MpiListener(harness.view(), printer));
    const int local = RUN_ALL_TESTS();
    result = harness.view().allreduce(local, physfit::mpi::Op::kMax);
  }
  return result;
}
