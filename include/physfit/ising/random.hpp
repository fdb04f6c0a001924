#pragma once
/// @file
/// Counter-based random streams for the Ising generator: Philox4x32-10 (Salmon, Moraes, Dror
/// and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the generator of
/// Random123, cuRAND and JAX). Hand-written (30 lines) rather than taken from a library:
/// Debian ships no Random123 headers, the C++ standard library has no counter-based engine
/// until C++26's std::philox_engine, and the algorithm is small enough to check against the
/// Random123 known-answer vectors (tests/unit/ising/test_random.cpp).
///
/// Why counter-based: a stream is a pure function of (seed, chain, role) and a draw counter,
/// so chain 17 draws the same numbers whether it runs on rank 0 of 1 or rank 3 of 4, and no
/// two chains can overlap (their counters differ in the chain word, not by a hoped-for
/// distance along one sequence, as with jumping a Mersenne twister).

#include <cstdint>

namespace physfit::ising {

/// One Philox4x32-10 block: 4 x 32 random bits from a 128-bit counter and a 64-bit key.
struct Philox4x32 {
  static void block(const std::uint32_t counter[4], const std::uint32_t key[2],
                    std::uint32_t out[4]) noexcept {
    constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
    constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
      const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
      const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
      const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
      c0 = hi1 ^ c1 ^ k0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ k1;
      c3 = lo0;
      k0 += kW0;
      k1 += kW1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }
};

/// What a stream is for; part of its counter, so the streams of different roles never meet.
enum class StreamRole : std::uint32_t {
  kChain = 0,  ///< a production chain (index: temperature * chains per temperature + chain)
  kPilot = 1,  ///< the pilot run that measures a temperature's autocorrelation times (index: t)
  kTest = 2,   ///< tests and benchmarks
};

/// A random stream keyed by (seed, index, role): counter words 0-1 count 128-bit blocks, word 2
/// is the index, word 3 the role; the key is the seed. 2^64 blocks per stream.
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint32_t index, StreamRole role) noexcept
      : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
        index_(index),
        role_(static_cast<std::uint32_t>(role)) {}

  /// 32 random bits.
  std::uint32_t next_u32() noexcept {
    if (used_ == 4 * kBatch) refill();
    return buffer_[used_++];
  }
  /// Uniform in [0, 1) with 53 random bits.
  double next_double() noexcept {
    const std::uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;  // 27 + 26 bits
    return static_cast<double>((hi << 26) | lo) * 0x1.0p-53;
  }
  /// Uniform integer in [0, n) (Lemire's multiply-shift; bias below n / 2^32).
  std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(next_u32()) * n) >> 32);
  }
  /// Blocks of 128 bits generated so far (in batches of kBatch).
  std::uint64_t blocks() const noexcept { return block_; }

  /// Blocks generated at once: a loop over independent counters that the compiler vectorises
  /// (16 blocks = 16 lanes of 32 bits in AVX-512). The numbers come out in counter order, the
  /// same sequence as one block at a time.
  static constexpr int kBatch = 16;

 private:
  void refill() noexcept {
    constexpr std::uint64_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
    constexpr std::uint64_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    // 32-bit words held in 64-bit lanes: the products are then 64-bit lane multiplies of
    // 32-bit values (vpmuludq), which GCC vectorises; with 32-bit lanes it does not.
    constexpr std::uint64_t kLow = 0xFFFFFFFFu;
    std::uint64_t c0[kBatch], c1[kBatch], c2[kBatch], c3[kBatch];
    for (int b = 0; b < kBatch; ++b) {
      const std::uint64_t block = block_ + static_cast<std::uint64_t>(b);
      c0[b] = block & kLow;
      c1[b] = block >> 32;
      c2[b] = index_;
      c3[b] = role_;
    }
    std::uint64_t k0 = key_[0], k1 = key_[1];
    for (int round = 0; round < 10; ++round) {
      for (int b = 0; b < kBatch; ++b) {
        const std::uint64_t p0 = kM0 * c0[b];
        const std::uint64_t p1 = kM1 * c2[b];
        const std::uint64_t n0 = (p1 >> 32) ^ c1[b] ^ k0;
        const std::uint64_t n2 = (p0 >> 32) ^ c3[b] ^ k1;
        c0[b] = n0;
        c1[b] = p1 & kLow;
        c2[b] = n2;
        c3[b] = p0 & kLow;
      }
      k0 = (k0 + kW0) & kLow;
      k1 = (k1 + kW1) & kLow;
    }
    for (int b = 0; b < kBatch; ++b) {
      buffer_[4 * b] = static_cast<std::uint32_t>(c0[b]);
      buffer_[4 * b + 1] = static_cast<std::uint32_t>(c1[b]);
      buffer_[4 * b + 2] = static_cast<std::uint32_t>(c2[b]);
      buffer_[4 * b + 3] = static_cast<std::uint32_t>(c3[b]);
    }
    block_ += kBatch;
    used_ = 0;
  }
  std::uint32_t key_[2];
  std::uint32_t index_;
  std::uint32_t role_;
  std::uint64_t block_ = 0;
  std::uint32_t buffer_[4 * kBatch] = {};
  int used_ = 4 * kBatch;
};

}  // namespace physfit::ising
