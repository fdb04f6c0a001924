#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "physfit/error.hpp"

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

namespace {

bool same(const Moments& a, const Moments& b) {
  auto eq = [](const auto& x, const auto& y) {
    return x.size() == y.size() &&
           std::memcmp(x.data(), y.data(), sizeof(double) * static_cast<std::size_t>(x.size())) ==
               0;
  };
  return a.n == b.n && eq(a.ata, b.ata) && eq(a.aty, b.aty) &&
         std::memcmp(&a.yty, &b.yty, sizeof(double)) == 0;
}

}  // namespace

TEST(ExactGram, DoesNotDependOnHowTheRowsAreSplitIntoBlocks) {
  SyntheticSpec spec;
  spec.rows = 211;
  spec.cols = 19;
  spec.scale_range = 6;
  const SyntheticProblem pr = generate(spec);
  GramOptions o;
  o.chunk_rows = 32;
  const Moments whole =
      ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, pr.a, pr.y)}, spec.cols, o).total();
  // Uneven blocks in reverse order, and a column-major copy.
  std::vector<RowBlock> parts;
  for (std::int64_t b : {150, 77, 33, 0}) {
    const std::int64_t e = b == 150 ? 211 : (b == 77 ? 150 : (b == 33 ? 77 : 33));
    parts.push_back(RowBlock::view(b, pr.a.middleRows(b, e - b), pr.y.segment(b, e - b)));
  }
  EXPECT_TRUE(same(ExactGram::reduce(mpi::Comm::self(), parts, spec.cols, o).total(), whole));
  const Eigen::MatrixXd col_major = pr.a;
  EXPECT_TRUE(
      same(ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, col_major, pr.y)}, spec.cols, o)
               .total(),
           whole));
}

TEST(ExactGram, FoldsSumExactlyToTheTotal) {
  SyntheticSpec spec;
  spec.rows = 120;
  spec.cols = 9;
  const SyntheticProblem pr = generate(spec);
  std::vector<std::int32_t> fold(120);
  for (int i = 0; i < 120; ++i) fold[static_cast<std::size_t>(i)] = (i * 7) % 4;
  GramOptions o;
  o.chunk_rows = 16;
  o.folds = 4;
  o.column_sums = true;
  const ExactGram g =
      ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, pr.a, pr.y, fold.data())}, 9, o);
  for (int k = 0; k < 4; ++k) {
    // The training part equals a reduction of exactly the other rows.
    std::vector<std::int64_t> keep;
    for (int i = 0; i < 120; ++i) {
      if (fold[static_cast<std::size_t>(i)] != k) keep.push_back(i);
    }
    RowMatrix a(static_cast<Eigen::Index>(keep.size()), 9);
    Eigen::VectorXd y(static_cast<Eigen::Index>(keep.size()));
    for (std::size_t r = 0; r < keep.size(); ++r) {
      a.row(static_cast<Eigen::Index>(r)) = pr.a.row(keep[r]);
      y(static_cast<Eigen::Index>(r)) = pr.y(keep[r]);
    }
    GramOptions plain = o;
    plain.folds = 0;
    const Moments direct =
        ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, a, y)}, 9, plain).total();
    const Moments train = g.without_fold(k);
    EXPECT_EQ(train.n, direct.n);
    EXPECT_LT((train.ata - direct.ata).cwiseAbs().maxCoeff(),
              1e-12 * direct.ata.cwiseAbs().maxCoeff());
    EXPECT_NEAR(train.sum_y, y.sum(), 1e-12 * y.cwiseAbs().sum());
    EXPECT_EQ(g.rows_in_fold(k), 30);
  }
}

TEST(ExactGram, KeepsEveryColumnAccurateAcrossSixHundredOrdersOfMagnitude) {
  const int n = 50;
  RowMatrix a(n, 3);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    a(i, 0) = std::ldexp(1.0 + 0.01 * i, 300);
    a(i, 1) = std::ldexp(1.0 - 0.013 * i, -300);
    a(i, 2) = (i % 3) - 1.0;
    y(i) = 0.5 * i;
  }
  const Moments m =
      ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, a, y)}, 3, GramOptions{}).total();
  for (int j = 0; j < 3; ++j) {
    for (int k = 0; k < 3; ++k) {
      long double s = 0;
      for (int i = 0; i < n; ++i) s += static_cast<long double>(a(i, j)) * a(i, k);
      EXPECT_LE(std::fabs(m.ata(j, k) - static_cast<double>(s)),
                1e-15 * std::fabs(static_cast<double>(s)))
          << j << "," << k;
    }
  }
}

TEST(ExactGram, RejectsNonFiniteValuesBadFoldsAndOverlaps) {
  RowMatrix a = RowMatrix::Ones(6, 2);
  Eigen::VectorXd y = Eigen::VectorXd::Ones(6);
  const auto message = [&](const std::vector<RowBlock>& blocks, GramOptions o) -> std::string {
    try {
      ExactGram::reduce(mpi::Comm::self(), blocks, 2, o);
    } catch (const Error& e) {
      return std::to_string(static_cast<int>(e.code())) + ": " + e.what();
    }
    return "no error";
  };
  y(4) = std::numeric_limits<double>::infinity();
  EXPECT_NE(message({RowBlock::view(0, a, y)}, {}).find("4: y(4) = inf is not finite"),
            std::string::npos);
  y(4) = 1;
  std::vector<std::int32_t> f = {0, 1, 0, 1, 2, 0};
  GramOptions o;
  o.folds = 2;
  EXPECT_NE(message({RowBlock::view(0, a, y, f.data())}, o).find("fold id 2 of row 4"),
            std::string::npos);
  EXPECT_NE(message({RowBlock::view(0, a, y), RowBlock::view(3, a.topRows(2), y.head(2))}, {})
                .find("held twice"),
            std::string::npos);
  EXPECT_NE(message({RowBlock::view(0, a, y)}, GramOptions{0}).find("chunk_rows"),
            std::string::npos);
}
