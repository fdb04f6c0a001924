#include "physfit/ising/lattice.hpp"

#include <algorithm>
#include <cmath>

#include "physfit/error.hpp"

namespace physfit::ising {
namespace {

// A probability as a threshold t on 32-bit random numbers r: P(r < t) = t / 2^32.
std::uint64_t threshold_of(double p) {
  if (p <= 0) return 0;
  if (p >= 1) return std::uint64_t{1} << 32;
  return static_cast<std::uint64_t>(std::ldexp(p, 32));
}

}  // namespace

Lattice::Lattice(int size) : size_(size) {
  if (size < 4 || size % 2 != 0) {
    throw UsageError("Ising lattice size " + std::to_string(size) +
                     ": L must be even and at least 4");
  }
  spins_.assign(static_cast<std::size_t>(sites()), 1);
}

void Lattice::order() { std::fill(spins_.begin(), spins_.end(), std::int8_t{1}); }

void Lattice::randomize(Stream& stream) {
  for (std::size_t k = 0; k < spins_.size(); k += 32) {
    const std::uint32_t bits = stream.next_u32();
    for (std::size_t b = 0; b < 32 && k + b < spins_.size(); ++b) {
      spins_[k + b] = static_cast<std::int8_t>(((bits >> b) & 1u) ? 1 : -1);
    }
  }
}

void Lattice::flip_all() {
  for (auto& s : spins_) s = static_cast<std::int8_t>(-s);
}

std::int64_t Lattice::magnetization_sum() const {
  std::int64_t m = 0;
  for (const auto s : spins_) m += s;
  return m;
}

std::int64_t Lattice::energy_sum() const {
  const int n = size_;
  std::int64_t e = 0;
  for (int i = 0; i < n; ++i) {
    const std::int8_t* row = spins_.data() + static_cast<std::size_t>(i) * n;
    const std::int8_t* down = spins_.data() + static_cast<std::size_t>((i + 1) % n) * n;
    for (int j = 0; j < n; ++j) e -= row[j] * (row[(j + 1) % n] + down[j]);
  }
  return e;
}

Wolff::Wolff(int size, double temperature)
    : threshold_(threshold_of(1.0 - std::exp(-2.0 / temperature))) {
  const std::size_t n = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  stack_.reserve(n);
  // Right, left, down, up of every site: no division or wrap test in the cluster loop.
  neighbours_.resize(4 * n);
  for (int i = 0; i < size; ++i) {
    for (int j = 0; j < size; ++j) {
      std::int32_t* nb = neighbours_.data() + 4 * (static_cast<std::size_t>(i) * size + j);
      nb[0] = i * size + (j + 1 == size ? 0 : j + 1);
      nb[1] = i * size + (j == 0 ? size - 1 : j - 1);
      nb[2] = (i + 1 == size ? 0 : i + 1) * size + j;
      nb[3] = (i == 0 ? size - 1 : i - 1) * size + j;
    }
  }
}

std::int64_t Wolff::step(Lattice& lattice, Stream& stream) {
  std::int8_t* s = lattice.spins().data();
  const auto sites = static_cast<std::uint32_t>(lattice.sites());
  if (neighbours_.size() != 4 * static_cast<std::size_t>(sites)) {
    throw Error("Wolff::step: a lattice of another size than the update's");
  }
  const auto seed = static_cast<std::int32_t>(stream.below(sites));
  const std::int8_t s0 = s[seed];
  const auto flipped = static_cast<std::int8_t>(-s0);
  s[seed] = flipped;
  stack_.clear();
  stack_.push_back(seed);
  std::int64_t size = 1;
  const std::int32_t* table = neighbours_.data();
  while (!stack_.empty()) {
    const std::int32_t k = stack_.back();
    stack_.pop_back();
    const std::int32_t* nb = table + 4 * static_cast<std::size_t>(k);
    for (int d = 0; d < 4; ++d) {
      const std::int32_t j = nb[d];
      if (s[j] == s0 && stream.next_u32() < threshold_) {
        s[j] = flipped;
        stack_.push_back(j);
        ++size;
      }
    }
  }
  return size;
}

Metropolis::Metropolis(int size, double temperature) {
  if (size < 4 || size % 2 != 0) {
    throw UsageError("Ising lattice size " + std::to_string(size) +
                     ": checkerboard Metropolis needs an even L >= 4");
  }
  // Thresholds below 2^32 (exp(-4/T) < 1 for T > 0).
  threshold2_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(threshold_of(std::exp(-4.0 / temperature)), 0xFFFFFFFFu));
  threshold4_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(threshold_of(std::exp(-8.0 / temperature)), 0xFFFFFFFFu));
  random_.assign(static_cast<std::size_t>(size), 0);
  padded_.assign(static_cast<std::size_t>(size) + 2, 0);
  for (int parity = 0; parity < 2; ++parity) {
    mask_[parity].resize(static_cast<std::size_t>(size));
    for (int j = 0; j < size; ++j) mask_[parity][static_cast<std::size_t>(j)] = (j & 1) == parity;
  }
}

namespace {

// One row of one colour, over every site of the row so that the loop is contiguous and
// vectorises (AVX-512: 64 sites of int8 at a time); `mask` keeps the sites of the colour.
// `padded` is the row with its periodic neighbours at both ends (n + 2 values), read only, so
// the row can be written in place. Returns the flips.
int update_row(int n, const std::int8_t* __restrict padded, const std::int8_t* __restrict up,
               const std::int8_t* __restrict down, const std::uint32_t* __restrict random,
               const std::int8_t* __restrict mask, std::uint32_t t2, std::uint32_t t4,
               std::int8_t* __restrict row) {
  int count = 0;
  for (int j = 0; j < n; ++j) {
    const int s = padded[j + 1];
    const int h = s * (padded[j] + padded[j + 2] + up[j] + down[j]);  // -4 .. 4
    // Branch-free: h <= 0 always flips; h = 2 and 4 flip with exp(-2h/T).
    const std::uint32_t t = h <= 0 ? 0xFFFFFFFFu : (h == 2 ? t2 : t4);
    const int flip = mask[j] & ((h <= 0) | (random[j] < t));
    row[j] = static_cast<std::int8_t>(s * (1 - 2 * flip));
    count += flip;
  }
  return count;
}

}  // namespace

std::int64_t Metropolis::sweep(Lattice& lattice, Stream& stream) {
  const int n = lattice.size(), half = n / 2;
  if (random_.size() != static_cast<std::size_t>(n)) {
    throw Error("Metropolis::sweep: a lattice of another size than the update's");
  }
  std::int8_t* s = lattice.spins().data();
  std::int64_t accepted = 0;
  std::uint32_t* r = random_.data();
  std::int8_t* padded = padded_.data();
  for (int colour = 0; colour < 2; ++colour) {
    for (int i = 0; i < n; ++i) {
      const int first = (i + colour) & 1;
      // The colour's sites j = first + 2k draw the k-th number of the row, in order.
      for (int k = 0; k < half; ++k) r[first + 2 * k] = stream.next_u32();
      std::int8_t* row = s + static_cast<std::ptrdiff_t>(i) * n;
      const std::int8_t* up = s + static_cast<std::ptrdiff_t>(i == 0 ? n - 1 : i - 1) * n;
      const std::int8_t* down = s + static_cast<std::ptrdiff_t>(i + 1 == n ? 0 : i + 1) * n;
      padded[0] = row[n - 1];
      std::copy(row, row + n, padded + 1);
      padded[n + 1] = row[0];
      accepted +=
          update_row(n, padded, up, down, r, mask_[first].data(), threshold2_, threshold4_, row);
    }
  }
  return accepted;
}

std::int64_t packed_bytes(int size) { return static_cast<std::int64_t>(size) * size / 8; }

void pack(const Lattice& lattice, std::uint8_t* out) {
  const auto& s = lattice.spins();
  const std::size_t bytes = s.size() / 8;
  for (std::size_t b = 0; b < bytes; ++b) {
    std::uint8_t v = 0;
    for (int bit = 0; bit < 8; ++bit) {
      v = static_cast<std::uint8_t>(v | ((s[8 * b + static_cast<std::size_t>(bit)] > 0) << bit));
    }
    out[b] = v;
  }
}

void unpack(const std::uint8_t* in, Lattice& lattice) {
  auto& s = lattice.spins();
  for (std::size_t k = 0; k < s.size(); ++k) {
    s[k] = static_cast<std::int8_t>(((in[k / 8] >> (k % 8)) & 1) ? 1 : -1);
  }
}

}  // namespace physfit::ising
