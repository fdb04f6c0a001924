#include "physfit/lasso/generate.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace physfit::lasso {
namespace {

std::uint64_t key(std::uint64_t seed, std::uint64_t stream) {
  return splitmix64(seed ^ (stream << 32));
}
std::uint64_t hash(std::uint64_t k, std::uint64_t index) { return splitmix64(k + index); }

double n4(std::uint64_t h) {
  double s = 0;
  for (int f = 0; f < 4; ++f) {
    const auto field = static_cast<std::int64_t>((h >> (16 * f)) & 0xffff);
    s += static_cast<double>((field >> 6) - 512);
  }
  return s / 512.0;
}

void check(const SyntheticSpec& s) {
  if (s.rows < 0 || s.cols < 1 || s.nonzeros < 0 || s.duplicates < 0 || s.duplicates * 2 > s.cols ||
      s.scale_range < 0 || s.scale_range > 20 || s.noise_exponent < -26 || s.noise_exponent > 10) {
    throw std::invalid_argument("generate: bad synthetic problem specification");
  }
}

std::vector<int> scales(const SyntheticSpec& s) {
  std::vector<int> e(static_cast<std::size_t>(s.cols), 0);
  const std::uint64_t k = key(s.seed, 4);
  for (std::int64_t j = 0; j < s.cols; ++j) {
    const std::uint64_t h = hash(k, static_cast<std::uint64_t>(j));
    e[static_cast<std::size_t>(j)] =
        static_cast<int>((h >> 40) % static_cast<std::uint64_t>(2 * s.scale_range + 1)) -
        s.scale_range;
  }
  // Duplicated columns: twice columns 0, 1, ...
  for (std::int64_t t = 0; t < s.duplicates; ++t) {
    e[static_cast<std::size_t>(s.cols - s.duplicates + t)] = e[static_cast<std::size_t>(t)] + 1;
  }
  return e;
}

}  // namespace

std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

Eigen::VectorXd generate_truth(const SyntheticSpec& s) {
  check(s);
  const std::vector<int> e = scales(s);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(s.cols);
  if (s.nonzeros == 0) return x;
  const std::int64_t free_cols = s.cols - s.duplicates;
  const std::int64_t stride = std::max<std::int64_t>(1, free_cols / s.nonzeros);
  const std::uint64_t k = key(s.seed, 5);
  std::int64_t placed = 0;
  for (std::int64_t j = 0; j < free_cols && placed < s.nonzeros; j += stride, ++placed) {
    const std::uint64_t h = hash(k, static_cast<std::uint64_t>(j));
    std::int64_t m = static_cast<std::int64_t>((h >> 50) % 16) - 8;
    if (m == 0) m = 8;
    x(j) = std::ldexp(static_cast<double>(m) / 4.0, -e[static_cast<std::size_t>(j)]);
  }
  return x;
}

void generate_rows(const SyntheticSpec& s, std::int64_t begin, std::int64_t count, double* a,
                   double* y) {
  check(s);
  const std::vector<int> e = scales(s);
  const Eigen::VectorXd x = generate_truth(s);
  const std::uint64_t k1 = key(s.seed, 1), k2 = key(s.seed, 2), k3 = key(s.seed, 3);
  const double noise = std::ldexp(1.0, s.noise_exponent);
  const std::int64_t p = s.cols, free_cols = p - s.duplicates;
  for (std::int64_t r = 0; r < count; ++r) {
    const std::int64_t i = begin + r;
    double* row = a + r * p;
    const double z = s.correlation * n4(hash(k2, static_cast<std::uint64_t>(i)));
    for (std::int64_t j = 0; j < free_cols; ++j) {
      const double g = n4(hash(k1, static_cast<std::uint64_t>(i * p + j)));
      row[j] = std::ldexp(g + z, e[static_cast<std::size_t>(j)]);
    }
    for (std::int64_t t = 0; t < s.duplicates; ++t) row[free_cols + t] = 2.0 * row[t];
    double f = 0;
    for (std::int64_t j = 0; j < p; ++j) f += row[j] * x(j);
    y[r] = f + noise * n4(hash(k3, static_cast<std::uint64_t>(i)));
  }
}

SyntheticProblem generate(const SyntheticSpec& s) {
  SyntheticProblem pr;
  pr.a.resize(s.rows, s.cols);
  pr.y.resize(s.rows);
  generate_rows(s, 0, s.rows, pr.a.data(), pr.y.data());
  pr.x_true = generate_truth(s);
  return pr;
}

}  // namespace physfit::lasso
