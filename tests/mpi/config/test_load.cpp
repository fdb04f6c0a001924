#include <gtest/gtest.h>

#include <fstream>

#include "../../support/mpi_test.hpp"
#include "physfit/config/load.hpp"
#include "physfit/config/options.hpp"
#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"

using namespace physfit;

TEST(ConfigLoad, RankZeroReadsAndEveryRankGetsTheSameEntries) {
  const mpi::Comm c = test::world();
  const std::string path = test::scratch_dir() + "/run.ini";
  if (c.is_root()) std::ofstream(path) << "rows = 12\n[train]\nepochs = 3\n";
  c.barrier();
  const config::IniText ini = config::load_ini(c, path);
  ASSERT_EQ(ini.entries.size(), 2u);
  EXPECT_EQ(ini.entries[1].key, "train.epochs");
  EXPECT_EQ(ini.entries[1].line, 3);
  config::Options opts("physfit t");
  opts.add<int>("rows", "r").default_value(1);
  opts.add<int>("train.epochs", "e").default_value(1);
  const auto v = opts.parse({"--rows", "5"}, &ini);
  EXPECT_EQ(v.get<int>("rows"), 5);
  EXPECT_EQ(v.get<int>("train.epochs"), 3);
}

TEST(ConfigLoad, AMissingOrMalformedFileFailsOnEveryRankWithExitCodeTwo) {
  const mpi::Comm c = test::world();
  const std::string dir = test::scratch_dir();
  try {
    config::load_ini(c, dir + "/absent.ini");
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_EQ(e.origin_rank(), 0);
    EXPECT_EQ(std::string(e.what()),
              "cannot read configuration file '" + dir + "/absent.ini': No such file or directory");
  }
  if (c.is_root()) std::ofstream(dir + "/bad.ini") << "[x]\nnot a pair\n";
  c.barrier();
  try {
    config::load_ini(c, dir + "/bad.ini");
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_EQ(std::string(e.what()), dir +
                                         "/bad.ini:2: malformed line 'not a pair': expected "
                                         "'key = value' or '[section]'");
  }
}
