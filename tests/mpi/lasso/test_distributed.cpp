#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/gram.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/partition.hpp"

using namespace physfit;
using namespace physfit::lasso;

namespace {

// Bitwise equality of two arrays of doubles.
template <class A, class B>
bool same_bits(const A& a, const B& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(),
                                       sizeof(double) * static_cast<std::size_t>(a.size())) == 0);
}

void expect_same(const Moments& a, const Moments& b) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_TRUE(same_bits(a.ata, b.ata));
  EXPECT_TRUE(same_bits(a.aty, b.aty));
  EXPECT_EQ(std::memcmp(&a.yty, &b.yty, sizeof(double)), 0);
  EXPECT_TRUE(same_bits(a.sum_a, b.sum_a));
  EXPECT_EQ(std::memcmp(&a.sum_y, &b.sum_y, sizeof(double)), 0);
}

SyntheticSpec spec_of(std::int64_t rows, std::int64_t cols) {
  SyntheticSpec s;
  s.rows = rows;
  s.cols = cols;
  s.seed = 21;
  s.scale_range = 3;
  s.nonzeros = 5;
  s.noise_exponent = -3;
  return s;
}

// Fold of a row: groups of 10 rows, group g in fold g % 3.
std::vector<std::int32_t> folds_of(std::int64_t begin, std::int64_t count) {
  std::vector<std::int32_t> f(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) f[static_cast<std::size_t>(i)] = ((begin + i) / 10) % 3;
  return f;
}

}  // namespace

TEST(LassoDistributed, GramAndFoldsAreBitwiseTheSameOnAnyNumberOfRanks) {
  const mpi::Comm c = test::world();
  const SyntheticSpec spec = spec_of(157, 23);
  GramOptions o;
  o.chunk_rows = 16;  // chunks straddle the ranks' blocks
  o.folds = 3;
  o.column_sums = true;
  // Each rank generates only its block.
  const util::Block mine = util::block_of(spec.rows, c.size(), c.rank());
  RowMatrix a(mine.count, spec.cols);
  Eigen::VectorXd y(mine.count);
  generate_rows(spec, mine.begin, mine.count, a.data(), y.data());
  const auto f = folds_of(mine.begin, mine.count);
  const ExactGram g =
      ExactGram::reduce(c, {RowBlock::view(mine.begin, a, y, f.data())}, spec.cols, o);
  // The same rows reduced by one process.
  const SyntheticProblem whole = generate(spec);
  const auto fw = folds_of(0, spec.rows);
  const ExactGram s = ExactGram::reduce(
      mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y, fw.data())}, spec.cols, o);
  EXPECT_EQ(g.rows(), spec.rows);
  expect_same(g.total(), s.total());
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(g.rows_in_fold(k), s.rows_in_fold(k));
    expect_same(g.fold(k), s.fold(k));
    expect_same(g.without_fold(k), s.without_fold(k));
  }
  // And the values are right: A^T A against long-double sums.
  const Moments m = g.total();
  for (int j = 0; j < spec.cols; j += 5) {
    for (int k = 0; k <= j; k += 3) {
      long double sum = 0, mag = 0;
      for (int i = 0; i < spec.rows; ++i) {
        sum += static_cast<long double>(whole.a(i, j)) * whole.a(i, k);
        mag += std::fabs(static_cast<long double>(whole.a(i, j)) * whole.a(i, k));
      }
      EXPECT_LE(std::fabs(m.ata(j, k) - static_cast<double>(sum)),
                1e-14 * static_cast<double>(mag));
    }
  }
}

TEST(LassoDistributed, AStreamOfChunksEqualsTheReductionOfTheRowsOnAnyNumberOfRanks) {
  // Chunks of 10 rows dealt to the ranks in turn (chunk g in fold g % 3), added one at a time
  // with bounds from the first chunk; against ExactGram::reduce with 10-row chunks in one
  // process: the same bits once the bounds are the exact maxima, and on any number of ranks.
  const mpi::Comm c = test::world();
  const SyntheticSpec spec = spec_of(157, 23);
  const SyntheticProblem whole = generate(spec);
  GramOptions o;
  o.chunk_rows = 10;
  o.folds = 3;
  auto stream = [&](const std::vector<double>& bounds, ExactGram* out, const mpi::Comm& comm) {
    GramStream st(spec.cols, bounds, o);
    for (std::int64_t s = 0, g = 0; s < spec.rows; s += 10, ++g) {
      if (g % comm.size() != comm.rank()) continue;
      const std::int64_t count = std::min<std::int64_t>(10, spec.rows - s);
      st.add(RowBlock::view(s, whole.a.middleRows(s, count), whole.y.segment(s, count)),
             static_cast<int>(g % 3));
    }
    const bool ok = st.finish(comm, out);
    return std::make_pair(ok, st.maxima());
  };
  std::vector<double> sample(static_cast<std::size_t>(spec.cols + 1), 0.0);
  for (int i = 0; i < 10; ++i) {
    for (int j = 0; j < spec.cols; ++j) sample[j] = std::max(sample[j], std::abs(whole.a(i, j)));
    sample[spec.cols] = std::max(sample[spec.cols], std::abs(whole.y(i)));
  }
  ExactGram from_sample;
  const auto [ok_sample, maxima] = stream(sample, &from_sample, c);
  ASSERT_TRUE(ok_sample);  // the sample's bounds are within the window here
  EXPECT_EQ(from_sample.rows(), spec.rows);
  // Bounds 2^20 too large leave the window: every rank is told, and the maxima are global.
  std::vector<double> loose = sample;
  for (auto& v : loose) v *= 0x1p20;
  ExactGram unused;
  const auto [ok_loose, global] = stream(loose, &unused, c);
  EXPECT_FALSE(ok_loose);
  ExactGram exact;
  ASSERT_TRUE(stream(global, &exact, c).first);
  std::vector<std::int32_t> fw(static_cast<std::size_t>(spec.rows));
  for (std::int64_t i = 0; i < spec.rows; ++i) fw[static_cast<std::size_t>(i)] = (i / 10) % 3;
  const ExactGram ref = ExactGram::reduce(
      mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y, fw.data())}, spec.cols, o);
  expect_same(exact.total(), ref.total());
  for (int k = 0; k < 3; ++k) expect_same(exact.without_fold(k), ref.without_fold(k));
  // The sample's bounds give other bits than the exact ones, but the same values to rounding.
  const Moments a = from_sample.total(), b = ref.total();
  EXPECT_LE((a.ata - b.ata).cwiseAbs().maxCoeff(), 1e-15 * b.ata.cwiseAbs().maxCoeff());
  // The sample's result is the same on any number of ranks as in one process.
  ExactGram serial;
  ASSERT_TRUE(stream(sample, &serial, mpi::Comm::self()).first);
  expect_same(from_sample.total(), serial.total());
  for (int k = 0; k < 3; ++k) expect_same(from_sample.fold(k), serial.fold(k));
  // A NaN is an error naming the row.
  GramStream bad(spec.cols, global, o);
  Eigen::VectorXd y = whole.y.head(10);
  y(4) = std::nan("");
  EXPECT_THROW(bad.add(RowBlock::view(0, whole.a.topRows(10), y)), NumericalError);
}

TEST(LassoDistributed, ScatteredBlocksAndRanksWithoutRowsGiveTheSameBits) {
  const mpi::Comm c = test::world();
  for (std::int64_t rows : {2LL, 95LL}) {
    const SyntheticSpec spec = spec_of(rows, 12);
    const SyntheticProblem whole = generate(spec);
    GramOptions o;
    o.chunk_rows = 8;
    // Stripes of 13 rows dealt to the ranks in turn, listed in reverse order.
    std::vector<RowBlock> blocks;
    const std::int64_t stripe = 13;
    for (std::int64_t s = 0, k = 0; s < rows; s += stripe, ++k) {
      if (k % c.size() != c.rank()) continue;
      const std::int64_t count = std::min(stripe, rows - s);
      blocks.insert(blocks.begin(),
                    RowBlock::view(s, whole.a.middleRows(s, count), whole.y.segment(s, count)));
    }
    const ExactGram g = ExactGram::reduce(c, blocks, spec.cols, o);
    const ExactGram s =
        ExactGram::reduce(mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y)}, spec.cols, o);
    expect_same(g.total(), s.total());
  }
}

TEST(LassoDistributed, PathAndCrossValidationAreBitwiseTheSameOnAnyNumberOfRanks) {
  const mpi::Comm c = test::world();
  const SyntheticSpec spec = spec_of(240, 30);
  const util::Block mine = util::block_of(spec.rows, c.size(), c.rank());
  RowMatrix a_local(mine.count, spec.cols);
  Eigen::VectorXd y(mine.count);
  generate_rows(spec, mine.begin, mine.count, a_local.data(), y.data());
  std::vector<std::int64_t> groups;
  for (std::int64_t i = mine.begin; i < mine.end(); ++i) groups.push_back(i / 12);
  const std::vector<std::int32_t> folds = assign_folds(c, groups, 5, 7);
  ProblemOptions o;
  o.folds = 5;
  o.chunk_rows = 32;
  const Problem pr =
      Problem::from_rows(c, {RowBlock::view(mine.begin, a_local, y, folds.data())}, spec.cols, o);
  PathOptions po;
  po.count = 30;
  po.ratio = 1e-3;
  const CrossValidation cv = cross_validate(pr, po);
  // One process, the same rows and groups.
  const SyntheticProblem whole = generate(spec);
  std::vector<std::int64_t> all_groups;
  for (std::int64_t i = 0; i < spec.rows; ++i) all_groups.push_back(i / 12);
  const std::vector<std::int32_t> all_folds = assign_folds(mpi::Comm::self(), all_groups, 5, 7);
  for (std::int64_t i = 0; i < mine.count; ++i) {
    ASSERT_EQ(folds[static_cast<std::size_t>(i)],
              all_folds[static_cast<std::size_t>(mine.begin + i)]);
  }
  const Problem ps = Problem::from_rows(
      mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y, all_folds.data())}, spec.cols, o);
  const CrossValidation cs = cross_validate(ps, po);
  EXPECT_TRUE(same_bits(cv.lambdas, cs.lambdas));
  EXPECT_TRUE(same_bits(cv.fold_error, cs.fold_error));
  EXPECT_TRUE(same_bits(cv.path.coef, cs.path.coef));
  EXPECT_TRUE(same_bits(cv.path.gaps, cs.path.gaps));
  EXPECT_EQ(cv.index_min, cs.index_min);
  EXPECT_EQ(cv.index_1se, cs.index_1se);
  EXPECT_TRUE(cv.path.all_converged());

  // The residual mode (rows stay on their ranks) is reproducible to the bit as well.
  ProblemOptions ro;
  ro.mode = Mode::kResidual;
  ro.chunk_rows = 32;
  PathOptions rp = po;
  rp.count = 12;
  const Path a = solve_path(
      Problem::from_rows(c, {RowBlock::view(mine.begin, a_local, y)}, spec.cols, ro), rp);
  const Path b = solve_path(
      Problem::from_rows(mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y)}, spec.cols, ro),
      rp);
  EXPECT_TRUE(same_bits(a.coef, b.coef));
  EXPECT_TRUE(same_bits(a.gaps, b.gaps));
  EXPECT_TRUE(a.all_converged());
}

TEST(LassoDistributed, ThePathExtendedBelowTheGridIsBitwiseTheSameOnAnyNumberOfRanks) {
  // Quiet data (noise 2^-14): the default grid's CV minimum is at its end, and the path grows
  // below it by warm-started decades. Every rank holds the same reduction, so the extension
  // (the decisions and the numbers) is that of one process, bit for bit.
  const mpi::Comm c = test::world();
  SyntheticSpec spec = spec_of(300, 24);
  spec.noise_exponent = -14;
  const util::Block mine = util::block_of(spec.rows, c.size(), c.rank());
  RowMatrix a_local(mine.count, spec.cols);
  Eigen::VectorXd y(mine.count);
  generate_rows(spec, mine.begin, mine.count, a_local.data(), y.data());
  const std::vector<std::int32_t> folds = folds_of(mine.begin, mine.count);
  ProblemOptions o;
  o.folds = 3;
  o.chunk_rows = 16;
  const Problem pr =
      Problem::from_rows(c, {RowBlock::view(mine.begin, a_local, y, folds.data())}, spec.cols, o);
  PathOptions po;
  po.count = 21;
  po.ratio = 1e-4;
  const CrossValidation cv = cross_validate(pr, po);
  const SyntheticProblem whole = generate(spec);
  const std::vector<std::int32_t> all_folds = folds_of(0, spec.rows);
  const Problem ps = Problem::from_rows(
      mpi::Comm::self(), {RowBlock::view(0, whole.a, whole.y, all_folds.data())}, spec.cols, o);
  const CrossValidation cs = cross_validate(ps, po);
  EXPECT_GT(cv.extended, 0);
  EXPECT_EQ(cv.end, GridEnd::kInterior);
  EXPECT_EQ(cv.extended, cs.extended);
  EXPECT_TRUE(same_bits(cv.lambdas, cs.lambdas));
  EXPECT_TRUE(same_bits(cv.fold_error, cs.fold_error));
  EXPECT_TRUE(same_bits(cv.path.coef, cs.path.coef));
  EXPECT_TRUE(same_bits(cv.standard_error, cs.standard_error));
  EXPECT_EQ(cv.index_min, cs.index_min);
  EXPECT_EQ(cv.index_1se, cs.index_1se);
}

TEST(LassoDistributed, BadRowsOnOneRankFailEveryRankWithTheirError) {
  const mpi::Comm c = test::world();
  const SyntheticSpec spec = spec_of(40, 6);
  const util::Block mine = util::block_of(spec.rows, c.size(), c.rank());
  RowMatrix a(mine.count, spec.cols);
  Eigen::VectorXd y(mine.count);
  generate_rows(spec, mine.begin, mine.count, a.data(), y.data());
  if (c.rank() == c.size() - 1) a(mine.count - 1, 2) = std::numeric_limits<double>::quiet_NaN();
  try {
    ExactGram::reduce(c, {RowBlock::view(mine.begin, a, y)}, spec.cols);
    ADD_FAILURE() << "no error";
  } catch (const mpi::CollectiveError& e) {
    // A NaN read from the data is malformed input data (exit 4), not a numerical failure.
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_EQ(e.origin_rank(), c.size() - 1);
    EXPECT_NE(std::string(e.what()).find("A(39, 2)"), std::string::npos) << e.what();
  }
  // A gap: every rank leaves out the second row of its block.
  generate_rows(spec, mine.begin, mine.count, a.data(), y.data());
  try {
    std::vector<RowBlock> blocks;
    if (mine.count > 2) {
      blocks = {
          RowBlock::view(mine.begin, a.topRows(1), y.head(1)),
          RowBlock::view(mine.begin + 2, a.bottomRows(mine.count - 2), y.tail(mine.count - 2))};
    }
    ExactGram::reduce(c, blocks, spec.cols);
    ADD_FAILURE() << "no error";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("no rank holds global rows"), std::string::npos)
        << e.what();
  }
}
