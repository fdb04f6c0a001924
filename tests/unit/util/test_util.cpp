#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "physfit/error.hpp"
#include "physfit/util/json.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

using namespace physfit;

TEST(Json, WritesNestedObjectsInInsertionOrder) {
  util::Json j = util::Json::object();
  j["name"] = "si \"diamond\"\n";
  j["atoms"] = 64;
  j["ok"] = true;
  j["ratio"] = 0.25;
  j["list"] = util::Json::array(std::vector<int>{1, 2, 3});
  j["nested"]["x"] = nullptr;
  j["atoms"] = 8;  // replaces, keeps position
  EXPECT_EQ(j.dump(),
            R"({"name":"si \"diamond\"\n","atoms":8,"ok":true,"ratio":0.25,"list":[1,2,3],)"
            R"("nested":{"x":null}})");
}

TEST(Json, WritesNonFiniteNumbersAsNullAndEscapesControlCharacters) {
  util::Json j = util::Json::array();
  j.push_back(std::numeric_limits<double>::quiet_NaN());
  j.push_back(std::string("\x01"));
  j.push_back(1e300);
  EXPECT_EQ(j.dump(), "[null,\"\\u0001\",1.0000000000000001e+300]");
}

TEST(Partition, GivesTenRowsOverThreeRanksAsFourThreeThree) {
  EXPECT_EQ(util::block_of(10, 3, 0).begin, 0);
  EXPECT_EQ(util::block_of(10, 3, 0).count, 4);
  EXPECT_EQ(util::block_of(10, 3, 1).begin, 4);
  EXPECT_EQ(util::block_of(10, 3, 1).count, 3);
  EXPECT_EQ(util::block_of(10, 3, 2).begin, 7);
  EXPECT_EQ(util::block_of(10, 3, 2).count, 3);
}

TEST(Partition, CoversEveryRowExactlyOnceForManyShapes) {
  for (std::int64_t n : {0, 1, 2, 7, 10, 97, 1000}) {
    for (int parts = 1; parts <= 9; ++parts) {
      std::int64_t next = 0;
      for (int p = 0; p < parts; ++p) {
        const auto b = util::block_of(n, parts, p);
        EXPECT_EQ(b.begin, next) << n << " rows, part " << p << " of " << parts;
        EXPECT_GE(b.count, n / parts);
        EXPECT_LE(b.count, n / parts + 1);
        next = b.end();
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_THROW(util::block_of(10, 0, 0), std::invalid_argument);
  EXPECT_THROW(util::block_of(10, 3, 3), std::invalid_argument);
}

TEST(Strings, PrintableEscapesBytesAFileMayHoldAndCuts) {
  using physfit::util::printable;
  EXPECT_EQ(printable(std::string("a\0b\n\xff", 5)), "a\\x00b\\x0a\\xff");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
  EXPECT_EQ(printable("1.5e-3 x"), "1.5e-3 x");
}

TEST(Strings, SuggestsTheClosestKeyForATypo) {
  const std::vector<std::string> keys{"rows", "cols", "iterations", "output"};
  EXPECT_EQ(util::closest_match("iteration", keys), "iterations");
  EXPECT_EQ(util::closest_match("row", keys), "rows");
  EXPECT_EQ(util::closest_match("temperature", keys), "");
  EXPECT_EQ(util::edit_distance("kitten", "sitting"), 3u);
}

TEST(Strings, SplitsTrimsAndFormats) {
  EXPECT_EQ(util::split(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(util::trim("\t x y \n"), "x y");
  EXPECT_EQ(util::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(util::format_duration(75), "1 min 15 s");
}

TEST(StopHandlers, TurnSignalsIntoAStopRequestOnlyWhileInstalled) {
  util::clear_stop_request();
  {
    util::StopHandlers handlers;
    EXPECT_EQ(util::stop_signal(), 0);
    std::raise(SIGUSR1);
    EXPECT_EQ(util::stop_signal(), SIGUSR1);
    util::clear_stop_request();
    std::raise(SIGTERM);
    EXPECT_EQ(util::stop_signal(), SIGTERM);
    util::clear_stop_request();
  }
  // Outside the scope the previous disposition is back: ignore USR2 to prove it is restored.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction before {};
  sigaction(SIGUSR2, &ignore, &before);
  { util::StopHandlers handlers; }
  std::raise(SIGUSR2);
  EXPECT_EQ(util::stop_signal(), 0);
  sigaction(SIGUSR2, &before, nullptr);
}

TEST(ExitCodes, FollowTheDocumentedTable) {
  EXPECT_EQ(exit_code_of(UsageError("x")), ExitCode::kUsage);
  EXPECT_EQ(exit_code_of(IoError("x")), ExitCode::kIo);
  EXPECT_EQ(exit_code_of(NumericalError("x")), ExitCode::kNumerical);
  EXPECT_EQ(exit_code_of(ParallelError("x")), ExitCode::kParallel);
  EXPECT_EQ(exit_code_of(StoppedError("x")), ExitCode::kStopped);
  EXPECT_EQ(exit_code_of(std::runtime_error("x")), ExitCode::kInternal);
  EXPECT_EQ(static_cast<int>(ExitCode::kStopped), 3);
  EXPECT_EQ(static_cast<int>(ExitCode::kParallel), 6);
  EXPECT_EQ(message_of(std::make_exception_ptr(IoError("disk full"))), "disk full");
}

TEST(Memory, AvailableMemoryIsAtMostTheKernelsMemAvailable) {
  // An independent reading of /proc/meminfo: the cgroup limit can only lower it.
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") break;
  }
  ASSERT_EQ(key, "MemAvailable:");
  const util::AvailableMemory m = util::available_memory();
  EXPECT_GT(m.bytes, 0);
  // MemAvailable moves between the two readings: allow 1 GB of drift.
  EXPECT_LE(m.bytes, kib * 1024 + 1e9);
  EXPECT_FALSE(m.source.empty());
}

TEST(Memory, ASizeNoMachineHoldsIsAUsageErrorNamingTheOptionAndBothAmounts) {
  EXPECT_NO_THROW(util::require_memory(1000, "train.batch 4", "lower it"));
  try {
    util::require_memory(2e20, "train.batch 5", "lower it");
    FAIL() << "200 EB were accepted";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find("train.batch 5 needs 181898940.4 TiB of memory per rank, but "), 0u) << m;
    EXPECT_NE(m.find(" is available (" + util::available_memory().source + "); lower it"),
              std::string::npos)
        << m;
  }
}
