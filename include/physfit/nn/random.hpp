#pragma once
/// @file
/// Counter-based randomness: every random number is a pure function of (seed, purpose,
/// indices), so results never depend on how many ranks or threads drew numbers before, or on
/// which rank draws them. There is no global generator and no std::random_device.
///
/// The mixing function is the SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014), applied to a combination of the key words.

#include <cstdint>
#include <vector>

namespace physfit::nn {

/// Purposes of random numbers: distinct streams from one seed.
enum class Stream : std::uint64_t {
  kInit = 1,     ///< initial weights: (layer, element)
  kShuffle = 2,  ///< per-epoch sample order: (epoch, position)
  kDropout = 3,  ///< dropout masks: (epoch, layer, sample, feature)
  kSplit = 4,    ///< anything else a caller needs
};

/// The SplitMix64 finaliser: a bijective mix of 64 bits.
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// A hash of (seed, stream, a, b): the key of a family of random numbers.
inline std::uint64_t hash_key(std::uint64_t seed, Stream stream, std::uint64_t a,
                              std::uint64_t b = 0) {
  std::uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(stream) + 1));
  h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
  h = mix64(h ^ (b + 0x8cb92ba72f3d8dd7ULL));
  return h;
}

/// Element `i` of the family `key`: 64 random bits.
inline std::uint64_t hash_at(std::uint64_t key, std::uint64_t i) {
  return mix64(key + 0x9e3779b97f4a7c15ULL * (i + 1));
}

/// A float uniform in [0, 1) from the top 24 bits of `bits` (exact in float).
inline float uniform01(std::uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

/// A uniform integer in [0, n) from 64 random bits (Lemire's multiply-shift).
inline std::uint64_t bounded(std::uint64_t bits, std::uint64_t n) {
  __extension__ using Wide = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<Wide>(bits) * n) >> 64);
}

/// The order of `n` samples in `epoch`: a permutation of 0..n-1 drawn (Fisher-Yates) from
/// (seed, epoch) alone, the same on every rank whatever the number of ranks.
std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed,
                                            std::uint64_t epoch);

}  // namespace physfit::nn
