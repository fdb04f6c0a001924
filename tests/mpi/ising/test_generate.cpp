#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../../support/mpi_test.hpp"
#include "physfit/cli/main.hpp"
#include "physfit/io/hdf5.hpp"

using namespace physfit;

namespace {

std::vector<std::string> args_for(const std::string& output) {
  // 3 temperatures x 3 chains = 9 chains: uneven over 2 and 4 ranks; one temperature per
  // algorithm region (Metropolis, Wolff, Metropolis).
  return {"generate",
          "ising",
          "--lattice.size",
          "16",
          "--temperatures.min",
          "1.5",
          "--temperatures.max",
          "3.1",
          "--temperatures.count",
          "3",
          "--samples.per-temperature",
          "10",
          "--samples.chains-per-temperature",
          "3",
          "--sampling.pilot-steps",
          "400",
          "--run.seed",
          "77",
          "--quiet",
          "--output.file",
          output};
}

template <class T>
std::vector<T> read(const std::string& path, const std::string& name) {
  return io::File::open(path).dataset(name).read_all<T>();
}

}  // namespace

TEST(IsingGenerate, TheFileIsTheSameBitsOnAnyNumberOfRanks) {
  const mpi::Comm world = test::world();
  const std::string dir = test::scratch_dir();
  const std::string parallel = dir + "/parallel.h5", serial = dir + "/serial.h5";
  ASSERT_EQ(cli::run_command(world, args_for(parallel)), 0);
  int code = 0;
  if (world.is_root()) code = cli::run_command(mpi::Comm::self(), args_for(serial));
  world.broadcast(code, 0);
  ASSERT_EQ(code, 0);
  if (world.is_root()) {
    const auto spins = read<std::uint8_t>(parallel, "/features");
    EXPECT_EQ(spins.size(), 30u * 32u);
    EXPECT_EQ(spins, read<std::uint8_t>(serial, "/features"));
    for (const char* name : {"/temperature", "/energy", "/magnetization", "/ising/tau_abs_m",
                             "/ising/tau_energy", "/ising/temperatures"}) {
      EXPECT_EQ(read<double>(parallel, name), read<double>(serial, name)) << name;
    }
    for (const char* name : {"/ising/equilibration", "/ising/spacing"}) {
      EXPECT_EQ(read<std::int64_t>(parallel, name), read<std::int64_t>(serial, name)) << name;
    }
    const auto labels = read<std::int32_t>(parallel, "/labels");
    EXPECT_EQ(labels, read<std::int32_t>(serial, "/labels"));
    // T = 1.5 < T_c: 1; 2.3 and 3.1 > T_c = 2.269: 0.
    ASSERT_EQ(labels.size(), 30u);
    EXPECT_EQ(labels[0], 1);
    EXPECT_EQ(labels[10], 0);
    EXPECT_EQ(labels[29], 0);
    const auto algorithms = io::File::open(parallel).dataset("/ising/algorithm").read_strings();
    EXPECT_EQ(algorithms, (std::vector<std::string>{"metropolis", "wolff", "metropolis"}));
  }
  world.barrier();
}
