#include <gtest/gtest.h>

#include <sstream>

#include "physfit/error.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"

using namespace physfit;

namespace {

// Restores the harness's log settings after a test changes them.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = log::settings(); }
  void TearDown() override { log::configure(saved_); }
  void use(int rank, int size, log::Level level) {
    log::configure({rank, size, level, &out_, &err_, 30.0});
  }
  log::Settings saved_;
  std::ostringstream out_, err_;
};

}  // namespace

TEST_F(LogTest, InfoComesFromRankZeroOnly) {
  use(0, 4, log::Level::kInfo);
  log::info("fitted ", 3, " orders");
  use(2, 4, log::Level::kInfo);
  log::info("not shown");
  EXPECT_EQ(out_.str(), "fitted 3 orders\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(LogTest, WarningsAndErrorsComeFromAnyRankTagged) {
  use(3, 4, log::Level::kInfo);
  log::warning("slow filesystem");
  log::error("cannot read x.h5");
  log::debug("hidden at info level");
  EXPECT_EQ(err_.str(), "[rank 3] warning: slow filesystem\n[rank 3] error: cannot read x.h5\n");
  err_.str("");
  use(0, 1, log::Level::kDebug);
  log::debug("details");
  EXPECT_EQ(err_.str(), "debug: details\n");  // no tag on a single-rank job
}

TEST_F(LogTest, QuietLevelsHideInformation) {
  use(0, 1, log::Level::kWarning);
  log::info("hidden");
  log::warning("shown");
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(), "warning: shown\n");
  EXPECT_EQ(log::parse_level("error"), log::Level::kError);
  EXPECT_THROW(log::parse_level("verbose"), UsageError);
}

TEST(Progress, PrintsPlainLinesForFilesAndTheFinalStateOnce) {
  std::ostringstream s;
  {
    log::Progress p("epoch 1", 4, log::ProgressStyle::kLines, s, 0.0);
    p.update(1, "loss 0.9");
    p.update(2);
    p.update(4, "loss 0.3");
  }  // finish() on destruction: the last line already shows the final state
  const std::string text = s.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("epoch 1:  25% 1/4"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 0.9"), std::string::npos);
  EXPECT_NE(text.rfind("100% 4/4"), std::string::npos);
}

TEST(Progress, RedrawsOneLineOnATerminal) {
  std::ostringstream s;
  log::Progress p("fit", 10, log::ProgressStyle::kBar, s, 0.0);
  p.update(10);  // within 0.1 s of the start: not drawn yet
  p.finish("done");
  const std::string text = s.str();
  EXPECT_EQ(text.front(), '\r');
  EXPECT_NE(text.find("[########################] fit: 100% 10/10"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(Progress, PrintsNothingWhenOff) {
  std::ostringstream s;
  log::Progress p("x", 10, log::ProgressStyle::kOff, s, 0.0);
  p.update(5);
  p.finish();
  EXPECT_EQ(s.str(), "");
}
