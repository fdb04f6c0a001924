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
  stack_.reserve(static_cast<std::size_t>(size) * size);
}

std::int64_t Wolff::step(Lattice& lattice, Stream& stream) {
  const int n = lattice.size();
  auto& s = lattice.spins();
  const auto sites = static_cast<std::uint32_t>(lattice.sites());
  const auto seed = static_cast<std::int32_t>(stream.below(sites));
  const std::int8_t s0 = s[static_cast<std::size_t>(seed)];
  const auto flipped = static_cast<std::int8_t>(-s0);
  s[static_cast<std::size_t>(seed)] = flipped;
  stack_.clear();
  stack_.push_back(seed);
  std::int64_t size = 1;
  while (!stack_.empty()) {
    const std::int32_t k = stack_.back();
    stack_.pop_back();
    const int i = k / n, j = k % n;
    const std::int32_t neighbours[4] = {
        i * n + (j + 1 == n ? 0 : j + 1), i * n + (j == 0 ? n - 1 : j - 1),
        (i + 1 == n ? 0 : i + 1) * n + j, (i == 0 ? n - 1 : i - 1) * n + j};
    for (const std::int32_t nb : neighbours) {
      auto& sn = s[static_cast<std::size_t>(nb)];
      if (sn == s0 && stream.next_u32() < threshold_) {
        sn = flipped;
        stack_.push_back(nb);
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
  random_.resize(static_cast<std::size_t>(size / 2));
}

std::int64_t Metropolis::sweep(Lattice& lattice, Stream& stream) {
  const int n = lattice.size(), half = n / 2;
  std::int8_t* s = lattice.spins().data();
  std::int64_t accepted = 0;
  const std::uint32_t t2 = threshold2_, t4 = threshold4_;
  std::uint32_t* r = random_.data();
  for (int colour = 0; colour < 2; ++colour) {
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < half; ++k) r[k] = stream.next_u32();
      std::int8_t* row = s + static_cast<std::ptrdiff_t>(i) * n;
      const std::int8_t* up = s + static_cast<std::ptrdiff_t>(i == 0 ? n - 1 : i - 1) * n;
      const std::int8_t* down = s + static_cast<std::ptrdiff_t>(i + 1 == n ? 0 : i + 1) * n;
      const int first = (i + colour) & 1;
      int count = 0;
      for (int k = 0; k < half; ++k) {
        const int j = first + 2 * k;
        const int left = j == 0 ? n - 1 : j - 1, right = j + 1 == n ? 0 : j + 1;
        const int h = row[j] * (row[left] + row[right] + up[j] + down[j]);  // -4 .. 4
        // Branch-free: h <= 0 always flips; h = 2 and 4 flip with exp(-2h/T).
        const std::uint32_t t = h <= 0 ? 0xFFFFFFFFu : (h == 2 ? t2 : t4);
        const int flip = (h <= 0) | (r[k] < t);
        row[j] = static_cast<std::int8_t>(row[j] * (1 - 2 * flip));
        count += flip;
      }
      accepted += count;
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
