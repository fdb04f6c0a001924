#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "physfit/ising/generate.hpp"
#include "physfit/ising/random.hpp"

using namespace physfit::ising;

// Random123's known-answer vectors (kat_vectors, Philox4x32-10): counter, key, output.
TEST(IsingRandom, PhiloxMatchesRandom123KnownAnswers) {
  struct Case {
    std::uint32_t ctr[4], key[2], out[4];
  };
  const Case cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const auto& c : cases) {
    std::uint32_t out[4];
    Philox4x32::block(c.ctr, c.key, out);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], c.out[i]) << "word " << i;
  }
}

TEST(IsingRandom, StreamsDependOnSeedIndexAndRoleOnly) {
  // The same (seed, index, role) gives the same numbers wherever and whenever it is created,
  // however many other streams were used before; any other triple gives other numbers.
  std::vector<std::uint32_t> first;
  Stream a(42, 7, StreamRole::kChain);
  for (int i = 0; i < 100; ++i) first.push_back(a.next_u32());
  Stream other(42, 6, StreamRole::kChain);
  for (int i = 0; i < 1000; ++i) other.next_u32();
  Stream b(42, 7, StreamRole::kChain);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.next_u32(), first[static_cast<std::size_t>(i)]);
  std::set<std::uint32_t> heads;
  for (std::uint64_t seed : {42ull, 43ull, (42ull << 32)}) {
    for (std::uint32_t index : {0u, 7u, 8u}) {
      for (auto role : {StreamRole::kChain, StreamRole::kPilot}) {
        Stream s(seed, index, role);
        heads.insert(s.next_u32());
      }
    }
  }
  EXPECT_EQ(heads.size(), 18u);
}

TEST(IsingRandom, UniformDoublesHaveTheRightMoments) {
  Stream s(1, 0, StreamRole::kTest);
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = s.next_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
  }
  // Mean 1/2 (sd 1/sqrt(12 n)), second moment 1/3.
  EXPECT_NEAR(sum / n, 0.5, 5 / std::sqrt(12.0 * n));
  EXPECT_NEAR(sum2 / n, 1.0 / 3, 5 * 0.3 / std::sqrt(1.0 * n));
}

TEST(IsingRandom, AChainIsTheSameBitsWhateverRunsBeforeIt) {
  // Chain 5 alone, and chain 5 after chains 3 and 4 in the same buffer (as a rank that owns
  // chains 3-5 runs them): the same bytes.
  Settings s;
  s.size = 16;
  s.seed = 9;
  TemperaturePlan p;
  p.temperature = 2.0;
  p.algorithm = Algorithm::kMetropolis;
  p.equilibration = 50;
  p.spacing = 3;
  Samples alone, after;
  run_chain(s, p, 5, 20, alone);
  run_chain(s, p, 3, 20, after);
  TemperaturePlan wolff = p;
  wolff.algorithm = Algorithm::kWolff;
  run_chain(s, wolff, 4, 20, after);
  const std::size_t offset = after.spins.size();
  run_chain(s, p, 5, 20, after);
  ASSERT_EQ(after.spins.size() - offset, alone.spins.size());
  EXPECT_TRUE(std::equal(alone.spins.begin(), alone.spins.end(), after.spins.begin() + offset));
  EXPECT_TRUE(std::equal(alone.energy.begin(), alone.energy.end(), after.energy.begin() + 40));
  // Another chain of the same temperature is another sequence.
  EXPECT_FALSE(std::equal(alone.spins.begin(), alone.spins.end(), after.spins.begin()));
}

TEST(IsingRandom, StreamIsThePhiloxBlocksInCounterOrder) {
  // The stream generates blocks in vectorised batches; its numbers must be block 0's four
  // words, then block 1's, ... of counter (block, index, role) and key (seed).
  const std::uint64_t seed = 0x123456789abcdefull;
  Stream s(seed, 17, StreamRole::kPilot);
  const std::uint32_t key[2] = {static_cast<std::uint32_t>(seed),
                                static_cast<std::uint32_t>(seed >> 32)};
  for (std::uint32_t block = 0; block < 100; ++block) {
    const std::uint32_t counter[4] = {block, 0, 17, 1};
    std::uint32_t out[4];
    Philox4x32::block(counter, key, out);
    for (int w = 0; w < 4; ++w) ASSERT_EQ(s.next_u32(), out[w]) << "block " << block;
  }
}
