#include <gtest/gtest.h>

#include <cmath>

#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/gram.hpp"

using namespace physfit;
using namespace physfit::lasso;

TEST(ExactGram, MatchesLongDoubleProductsOfEveryEntry) {
  SyntheticSpec spec;
  spec.rows = 300;
  spec.cols = 37;
  spec.scale_range = 5;
  const SyntheticProblem pr = generate(spec);
  GramOptions o;
  o.chunk_rows = 64;
  const ExactGram g =
      ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, pr.a, pr.y)}, spec.cols, o);
  const Moments m = g.total();
  for (int j = 0; j < spec.cols; ++j) {
    for (int k = 0; k < spec.cols; ++k) {
      long double s = 0, mag = 0;
      for (int i = 0; i < spec.rows; ++i) {
        s += static_cast<long double>(pr.a(i, j)) * pr.a(i, k);
        mag += std::fabs(static_cast<long double>(pr.a(i, j)) * pr.a(i, k));
      }
      EXPECT_LE(std::fabs(m.ata(j, k) - static_cast<double>(s)), 1e-14 * static_cast<double>(mag))
          << j << "," << k;
    }
  }
}
