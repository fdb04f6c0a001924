#include "physfit/util/partition.hpp"

#include <stdexcept>
#include <string>

namespace physfit::util {

Block block_of(std::int64_t n, int parts, int index) {
  if (n < 0 || parts <= 0 || index < 0 || index >= parts) {
    throw std::invalid_argument("block_of: bad arguments n=" + std::to_string(n) + " parts=" +
                                std::to_string(parts) + " index=" + std::to_string(index));
  }
  const std::int64_t base = n / parts, extra = n % parts;
  Block b;
  b.count = base + (index < extra ? 1 : 0);
  b.begin = index * base + (index < extra ? index : extra);
  return b;
}

}  // namespace physfit::util
