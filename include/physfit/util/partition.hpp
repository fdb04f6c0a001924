#pragma once
/// @file
/// Splitting rows over ranks.

#include <cstdint>

namespace physfit::util {

/// A contiguous range of rows [begin, begin + count).
struct Block {
  std::int64_t begin = 0;
  std::int64_t count = 0;
  std::int64_t end() const { return begin + count; }
};

/// The block of `n` rows that part `index` of `parts` owns: contiguous, in order, sizes
/// differing by at most one, the first n % parts parts one row larger (10 rows over 3 ranks:
/// 4, 3, 3). Parts beyond n get an empty block.
Block block_of(std::int64_t n, int parts, int index);

}  // namespace physfit::util
