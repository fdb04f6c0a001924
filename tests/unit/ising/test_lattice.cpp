#include <gtest/gtest.h>

#include <vector>

#include "physfit/ising/lattice.hpp"
#include "physfit/ising/random.hpp"

using namespace physfit::ising;

TEST(IsingLattice, PackingRoundTripsAndHasTheDocumentedBitOrder) {
  Lattice a(16), b(16);
  Stream s(3, 0, StreamRole::kTest);
  a.randomize(s);
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(packed_bytes(16)));
  ASSERT_EQ(packed.size(), 32u);
  pack(a, packed.data());
  unpack(packed.data(), b);
  EXPECT_EQ(a.spins(), b.spins());
  // Site k = i * L + j is bit k % 8 of byte k / 8, bit 1 = +1.
  Lattice c(16);
  c.order();
  c.flip_all();                 // all -1: all bits 0
  c.spins()[1 * 16 + 3] = 1;    // k = 19: byte 2, bit 3
  c.spins()[15 * 16 + 15] = 1;  // k = 255: byte 31, bit 7
  pack(c, packed.data());
  for (std::size_t i = 0; i < packed.size(); ++i) {
    const std::uint8_t expected = i == 2 ? 0x08 : (i == 31 ? 0x80 : 0x00);
    EXPECT_EQ(packed[i], expected) << "byte " << i;
  }
}

TEST(IsingLattice, EnergyAndMagnetizationOfKnownStates) {
  Lattice l(8);
  EXPECT_EQ(l.energy_sum(), -2 * 64);  // 2 bonds per site
  EXPECT_EQ(l.magnetization_sum(), 64);
  // Checkerboard (antiferromagnetic) state: every bond broken.
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) l.spins()[i * 8 + j] = ((i + j) % 2) ? 1 : -1;
  EXPECT_EQ(l.energy_sum(), 2 * 64);
  EXPECT_EQ(l.magnetization_sum(), 0);
  // One flipped spin in the ordered state: 4 bonds broken, dE = 8.
  l.order();
  l.spins()[0] = -1;
  EXPECT_EQ(l.energy_sum(), -128 + 8);
}

TEST(IsingLattice, MetropolisAtZeroTemperatureNeverRaisesTheEnergy) {
  Lattice l(16);
  Stream s(5, 0, StreamRole::kTest);
  l.randomize(s);
  Metropolis m(16, 1e-3);
  std::int64_t e = l.energy_sum();
  for (int k = 0; k < 50; ++k) {
    m.sweep(l, s);
    const std::int64_t next = l.energy_sum();
    EXPECT_LE(next, e);
    e = next;
  }
}

TEST(IsingLattice, WolffFlipsTheWholeOrderedLatticeWhenBondsAlwaysHold) {
  Lattice l(16);
  Stream s(5, 0, StreamRole::kTest);
  Wolff w(16, 1e-3);  // p = 1 - exp(-2000) = 1
  EXPECT_EQ(w.step(l, s), 256);
  EXPECT_EQ(l.magnetization_sum(), -256);
  Wolff hot(16, 1e6);  // p ~ 2e-6: single spins
  l.order();
  EXPECT_EQ(hot.step(l, s), 1);
  EXPECT_EQ(l.magnetization_sum(), 256 - 2);
}
