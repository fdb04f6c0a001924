#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

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
  j.push_back(std::numeric_limits<double>::infinity());
  j.push_back(-std::numeric_limits<double>::infinity());
  j.push_back(std::string("\x01"));
  j.push_back(1e300);
  j.push_back(2.0);  // a whole double stays a double when read back
  EXPECT_EQ(j.dump(), "[null,null,null,\"\\u0001\",1e+300,2.0]");
  EXPECT_EQ(util::json_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
}

// Every double written reads back as the same bits (strtod of each number of the dump is the
// reference, independent of nlohmann-json's reader): random bit patterns over the whole range,
// subnormals, the extremes and decimal fractions that have no exact binary form.
TEST(Json, WritesDoublesThatReadBackBitForBit) {
  std::vector<double> values = {0.1,
                                1.0 / 3.0,
                                -2.5e-310,
                                std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::max(),
                                -std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::epsilon(),
                                123456789.125,
                                -0.0};
  std::mt19937_64 random(12);
  while (values.size() < 5000) {
    const std::uint64_t bits = random();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) values.push_back(v);
  }
  const std::string text = util::Json::array(values).dump();
  ASSERT_EQ(text.front(), '[');
  const char* p = text.c_str() + 1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    char* end = nullptr;
    const double back = std::strtod(p, &end);
    ASSERT_NE(end, p) << "number " << i << " of " << text.substr(0, 200);
    EXPECT_EQ(std::memcmp(&back, &values[i], sizeof back), 0)
        << "number " << i << ": " << std::string(p, static_cast<const char*>(end)) << " for "
        << values[i];
    ASSERT_EQ(*end, i + 1 < values.size() ? ',' : ']');
    p = end + 1;
  }
}

TEST(Json, WritesIntegersExactlyAndKeepsTheirType) {
  util::Json j = util::Json::object();
  j["min"] = std::numeric_limits<std::int64_t>::min();
  j["max"] = std::numeric_limits<std::int64_t>::max();
  j["umax"] = std::numeric_limits<std::uint64_t>::max();
  j["size"] = std::size_t{3};
  EXPECT_EQ(j.dump(), R"({"min":-9223372036854775808,"max":9223372036854775807,)"
                      R"("umax":18446744073709551615,"size":3})");
  EXPECT_EQ(j.find("size")->type(), util::Json::Type::kInt);
  EXPECT_EQ(util::Json(0.5).type(), util::Json::Type::kDouble);
  EXPECT_FALSE(j.find("absent").has_value());
}

// A path or attribute in Latin-1 must not make the summary invalid JSON (or lose it).
TEST(Json, ReplacesBytesThatAreNotUtf8AndStaysValidJson) {
  util::Json j = util::Json::object();
  j["file"] = std::string("caf\xe9.h5");
  j["utf8"] = std::string("\xc3\xa9");
  const std::string text = j.dump();
  ASSERT_TRUE(nlohmann::json::accept(text)) << text;
  const auto back = nlohmann::json::parse(text);
  EXPECT_EQ(back["file"].get<std::string>(), "caf\xef\xbf\xbd.h5");  // U+FFFD
  EXPECT_EQ(back["utf8"].get<std::string>(), "\xc3\xa9");
}

// A member held while others are added (the object's storage moves) still names its key.
TEST(Json, MemberStaysValidWhileTheObjectGrows) {
  util::Json j = util::Json::object();
  auto q = j["provenance"];
  for (int k = 0; k < 100; ++k) j["k" + std::to_string(k)] = k;
  q["ranks"] = 4;
  q["host"] = "n01";
  j["copy"] = j["provenance"];
  j["list"].push_back(1);
  j["list"].push_back("two");
  const auto back = nlohmann::ordered_json::parse(j.dump());
  EXPECT_EQ(back["provenance"]["ranks"], 4);
  EXPECT_EQ(back["copy"]["host"], "n01");
  EXPECT_EQ(back["list"], nlohmann::ordered_json::parse(R"([1,"two"])"));
  EXPECT_EQ(back.begin().key(), "provenance");  // insertion order
  EXPECT_EQ(j.size(), 103u);
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
