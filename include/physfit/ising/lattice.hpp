#pragma once
/// @file
/// The square-lattice Ising model (L x L, periodic boundaries, H = -J sum_<ij> s_i s_j with
/// J = k_B = 1) and its two Monte Carlo updates: Wolff's single-cluster algorithm (U. Wolff,
/// Phys. Rev. Lett. 62, 361 (1989)) and checkerboard Metropolis (N. Metropolis et al.,
/// J. Chem. Phys. 21, 1087 (1953)), plus one-bit-per-spin packing.

#include <cstdint>
#include <vector>

#include "physfit/ising/random.hpp"

namespace physfit::ising {

/// L x L spins of +1 or -1, row-major: site (i, j) is spins()[i * L + j].
class Lattice {
 public:
  /// All spins +1. L must be even and at least 4 (checkerboard), a multiple of 8 to pack.
  explicit Lattice(int size);

  int size() const { return size_; }
  std::int64_t sites() const { return static_cast<std::int64_t>(size_) * size_; }
  std::vector<std::int8_t>& spins() { return spins_; }
  const std::vector<std::int8_t>& spins() const { return spins_; }

  /// Every spin +1 (ordered start).
  void order();
  /// Every spin +1 or -1 with probability 1/2 (disordered start).
  void randomize(Stream& stream);
  /// Flips every spin (the model's exact Z2 symmetry: the energy is unchanged).
  void flip_all();

  /// Sum of s_i over the sites (N m).
  std::int64_t magnetization_sum() const;
  /// H with J = 1: -sum over bonds of s_i s_j (N u), each bond once.
  std::int64_t energy_sum() const;

 private:
  int size_;
  std::vector<std::int8_t> spins_;
};

/// Wolff's single-cluster update at temperature T: grows a cluster from a random site, adding
/// aligned neighbours with probability p = 1 - exp(-2/T), and flips it (flip-on-add, iterative).
class Wolff {
 public:
  Wolff(int size, double temperature);
  /// Grows and flips one cluster; returns its size.
  std::int64_t step(Lattice& lattice, Stream& stream);

 private:
  std::uint64_t threshold_;  // add a bond when a 32-bit random number is below it
  std::vector<std::int32_t> stack_;
  std::vector<std::int32_t> neighbours_;  // 4 per site
};

/// Checkerboard Metropolis: a sweep updates the sites with i + j even, then those with i + j
/// odd (the sites of one colour have neighbours of the other colour only, so each half-sweep
/// is a data-parallel, branch-free loop over independent sites, vectorised over whole rows). A flip
/// that raises the energy by dE is accepted with probability exp(-dE / T), tested as an integer
/// comparison of a 32-bit random number with a precomputed threshold.
class Metropolis {
 public:
  Metropolis(int size, double temperature);
  /// One sweep (each site offered one flip); returns the number of flips accepted.
  std::int64_t sweep(Lattice& lattice, Stream& stream);

 private:
  std::uint32_t threshold2_, threshold4_;  // s_i * (neighbour sum) = 2 and 4: dE = 4 and 8
  std::vector<std::uint32_t> random_;      // one row: the colour's sites hold its numbers
  std::vector<std::int8_t> padded_;        // one row with its periodic neighbours at both ends
  std::vector<std::int8_t> mask_[2];       // 1 at the sites j with j % 2 = index
};

/// Bytes per packed configuration: L*L / 8.
std::int64_t packed_bytes(int size);
/// Packs spins one bit each: site k = i * L + j goes to byte k / 8, bit k % 8 (least
/// significant first, numpy.unpackbits(..., bitorder='little')); bit 1 is spin +1, 0 is -1.
void pack(const Lattice& lattice, std::uint8_t* out);
/// The inverse of pack().
void unpack(const std::uint8_t* in, Lattice& lattice);

}  // namespace physfit::ising
