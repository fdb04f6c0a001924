// The exact gradient reduction in int32 limbs (FixedPointReducer): sums at the no-overflow
// bound, an overflow seen by every rank and fitted by one redo, and micro-shard gradients
// reduced on any rank count against PyTorch's whole-batch gradient and steps.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../support/mpi_test.hpp"
#include "../../support/torch_case.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/nn/reduce.hpp"
#include "physfit/util/partition.hpp"

using namespace physfit;
using namespace physfit::nn;

namespace {

// Rank r's share of [0, n): its elements after reduce_scatter.
std::vector<std::int64_t> even_bounds(std::int64_t n, int ranks) {
  std::vector<std::int64_t> b;
  for (int r = 0; r <= ranks; ++r) b.push_back(n * r / ranks);
  return b;
}

// One reduction of `shards` (rank r adds block_of(shards, ranks, r)); reduce_scatter on several
// ranks, as the trainer. Returns reduce's verdict; `out` gets this rank's slice.
bool reduce_shards(FixedPointReducer& r, const mpi::Comm& comm,
                   const std::vector<std::vector<float>>& shards, std::vector<float>& out) {
  const int n = static_cast<int>(shards.size());
  const util::Block mine = util::block_of(n, comm.size(), comm.rank());
  if (mine.count == 0) r.zero();
  for (std::int64_t j = mine.begin; j < mine.end(); ++j)
    r.accumulate(shards[j].data(), j == mine.begin);
  std::vector<LossSums> sums(static_cast<std::size_t>(n));
  for (std::int64_t j = mine.begin; j < mine.end(); ++j) sums[j].samples = 1;
  const auto p = static_cast<std::int64_t>(shards[0].size());
  const bool ok = comm.size() > 1 ? r.reduce_scatter(comm, sums, n, even_bounds(p, comm.size()))
                                  : r.reduce(comm, sums, n);
  if (ok) {
    out.assign(static_cast<std::size_t>(p), std::numeric_limits<float>::quiet_NaN());
    r.to_float(out.data());
    for (int j = 0; j < n; ++j) EXPECT_EQ(sums[j].samples, 1.0) << j;
  }
  return ok;
}

}  // namespace

TEST(FixedPointReduction, EightShardsAtTheBoundDoNotOverflowAndOneAboveIsRedoneOnce) {
  const mpi::Comm world = test::world();
  const int ranks = world.size(), rank = world.rank();
  // 8 shards: c = 3, |q| <= 2^28 - 1. With exponent 0, q = g: 8 x (2^28 - 16) = 2^31 - 128,
  // the largest int32 sum this grid can hold at 8 shards, in both signs.
  FixedPointReducer r({{0, 4, true}}, 4, 8);
  EXPECT_EQ(r.limit(), (std::int64_t{1} << 28) - 1);
  const float top = std::ldexp(1.0f, 28) - 16.0f;
  std::vector<std::vector<float>> shards(8, std::vector<float>{top, -top, 1.0f, 0.0f});
  r.exponents()[0] = 0;
  std::vector<float> out;
  ASSERT_TRUE(reduce_shards(r, world, shards, out));
  const auto bounds = even_bounds(4, ranks);
  const float want[4] = {std::ldexp(1.0f, 31) - 128.0f, -(std::ldexp(1.0f, 31) - 128.0f), 8.0f,
                         0.0f};
  for (std::int64_t i = bounds[rank]; i < bounds[rank + 1]; ++i) EXPECT_EQ(out[i], want[i]) << i;
  // The next exponent puts the largest value (binary order 27) at order 30 - c - headroom.
  EXPECT_EQ(r.exponents()[0], 30 - 3 - FixedPointReducer::kHeadroom - 27);

  // One value of one shard (on the last rank) one above the bound: every rank sees the overflow,
  // the exponent is fitted to it at once, and the redo fits.
  r.exponents()[0] = 0;
  shards[7][0] = std::ldexp(1.0f, 28);
  EXPECT_FALSE(reduce_shards(r, world, shards, out));
  EXPECT_TRUE(r.finite());
  EXPECT_EQ(r.exponents()[0], 30 - 3 - FixedPointReducer::kHeadroom - 28);
  ASSERT_TRUE(reduce_shards(r, world, shards, out));
  EXPECT_EQ(r.redone(), 1);
  // q = g 2^k with k = -(1 + headroom), exact for these multiples of 16 (1 * 2^k rounds to 0);
  // the exact sums rounded once to float.
  const double big = std::ldexp(1.0, 28) - 16;
  const float want2[4] = {static_cast<float>(7 * big + std::ldexp(1.0, 28)),
                          static_cast<float>(-8 * big), 0.0f, 0.0f};
  for (std::int64_t i = bounds[rank]; i < bounds[rank + 1]; ++i) EXPECT_EQ(out[i], want2[i]) << i;

  // An infinite value: an overflow that no exponent fits.
  shards[3][2] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(reduce_shards(r, world, shards, out));
  EXPECT_FALSE(r.finite());
}

TEST(FixedPointReduction, AGradientThatGrowsSixteenfoldIsRedoneOnceWithTheRightExponent) {
  const mpi::Comm world = test::world();
  const std::int64_t p = 50;
  FixedPointReducer r({{0, 20, true}, {20, 30, true}}, p, 5);  // c = 3
  std::vector<std::vector<float>> shards(5, std::vector<float>(p));
  auto fill = [&](float scale) {
    for (int j = 0; j < 5; ++j) {
      for (std::int64_t i = 0; i < p; ++i) {
        shards[j][i] = scale * static_cast<float>((i * 7 + j * 3) % 23 - 11) / 11.0f;
      }
    }
  };
  std::vector<float> out;
  fill(0.01f);
  EXPECT_FALSE(reduce_shards(r, world, shards, out));  // the first step measures the maxima
  EXPECT_TRUE(reduce_shards(r, world, shards, out));
  EXPECT_TRUE(reduce_shards(r, world, shards, out));  // steady: no redo
  EXPECT_EQ(r.redone(), 1);
  const std::vector<std::int64_t> steady = r.exponents();
  fill(0.16f);  // 16x: more than the headroom of 3 bits allows
  EXPECT_FALSE(reduce_shards(r, world, shards, out));
  EXPECT_EQ(r.exponents()[0], steady[0] - 4);
  EXPECT_EQ(r.exponents()[1], steady[1] - 4);
  EXPECT_TRUE(reduce_shards(r, world, shards, out));
  EXPECT_EQ(r.redone(), 2);
  fill(0.16f * 6.0f);  // 6x: within the headroom
  EXPECT_TRUE(reduce_shards(r, world, shards, out));
  EXPECT_EQ(r.redone(), 2);
}

TEST(FixedPointReduction, PairwiseAndMpiReduceScatterGiveTheExactSumOnUnevenSlices) {
  // The pairwise exchange (up to kPairwiseRanks ranks) and MPI_Reduce_scatter (above it) must
  // give every rank its slice of the exact integer sum, also for uneven slices and an empty one
  // (at 2-4 ranks rank 0 holds nothing, the last rank the most; at 1 rank the slice is the
  // whole). 9 shards over two tensors of 1001 values.
  const mpi::Comm world = test::world();
  const int ranks = world.size();
  const std::int64_t p = 1001;
  std::vector<std::int64_t> bounds = {0};
  for (int r = 1; r < ranks; ++r) bounds.push_back(r == 1 ? 0 : p * r / (ranks + 2));
  bounds.push_back(p);
  std::vector<std::vector<float>> shards(9, std::vector<float>(p));
  for (int j = 0; j < 9; ++j) {
    for (std::int64_t i = 0; i < p; ++i) {
      shards[j][i] = static_cast<float>((i * 31 + j * 17) % 257 - 128) * (i < 600 ? 1e-3f : 7.0f);
    }
  }
  const util::Block mine = util::block_of(9, ranks, world.rank());
  auto run = [&](int pairwise) {
    FixedPointReducer r({{0, 600, true}, {600, 401, true}}, p, 9);
    r.set_pairwise_ranks(pairwise);
    std::vector<LossSums> sums(9);
    for (int attempt = 0; attempt < 2; ++attempt) {  // the first step fits the exponents
      if (mine.count == 0) r.zero();
      for (std::int64_t j = mine.begin; j < mine.end(); ++j) {
        r.accumulate(shards[j].data(), j == mine.begin);
      }
      std::fill(sums.begin(), sums.end(), LossSums{});
      EXPECT_EQ(r.reduce_scatter(world, sums, 9, bounds), attempt == 1);  // also at 1 rank
    }
    std::vector<float> out(p, std::numeric_limits<float>::quiet_NaN());
    r.to_float(out.data());
    return std::make_pair(out, r.exponents());
  };
  const auto [pairwise, exponents] = run(FixedPointReducer::kPairwiseRanks);
  const auto [collective, unused] = run(1);
  (void)unused;
  for (std::int64_t i = bounds[world.rank()]; i < bounds[world.rank() + 1]; ++i) {
    // The independent sum: each shard rounded to the grid of the step's exponent (the one
    // fitted at the first attempt, which the second used: the exponents then stay), added in
    // 64-bit integers.
    const int t = i < 600 ? 0 : 1;
    const double scale = std::ldexp(1.0, static_cast<int>(exponents[t]));
    std::int64_t q = 0;
    for (int j = 0; j < 9; ++j) {
      q += static_cast<std::int64_t>(std::nearbyint(static_cast<double>(shards[j][i]) * scale));
    }
    const auto want = static_cast<float>(static_cast<double>(q) / scale);
    EXPECT_EQ(pairwise[i], want) << i;
    EXPECT_EQ(collective[i], want) << i;
  }
}

namespace {

// The tolerance of tests/unit/nn/test_torch_reference.cpp, on the model's buffers.
void expect_close(const float* got, const std::vector<float>& want, const std::string& what) {
  test::expect_close(std::vector<float>(got, got + want.size()), want, what);
}

// PyTorch's whole-batch case, computed one sample per micro-shard, the shards spread over the
// ranks and summed by the reducer, then the optimiser's steps.
void compare_sharded(const std::string& name) {
  const mpi::Comm world = test::world();
  const io::File f = io::File::open(PHYSFIT_NN_TORCH_REFERENCE);
  test::TorchCase c = test::read_torch_case(f, name);
  const ModelSpec& spec = c.spec;
  Model model(spec);
  Optimizer optimizer(c.optimizer, model.parameter_count());
  const std::vector<ParameterRange> ranges = test::ranges_of(model);
  std::copy(c.initial.begin(), c.initial.end(), model.parameters());
  const std::vector<float>& x = c.x;
  const int n = c.n;
  const std::int64_t features = model.input_shape().size();
  const std::vector<std::int32_t>& labels = c.labels;
  const std::vector<float>& targets = c.targets;
  const int outputs = model.outputs();
  const std::int64_t per_target =
      targets.empty() ? 0 : static_cast<std::int64_t>(targets.size()) / n;
  std::vector<float> dscores(static_cast<std::size_t>(outputs));
  FixedPointReducer reducer(ranges, model.parameter_count(), n);
  const util::Block mine = util::block_of(n, world.size(), world.rank());
  for (int step = 0; step < 3; ++step) {
    const std::string s = std::to_string(step);
    std::vector<LossSums> sums(static_cast<std::size_t>(n));
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
      std::fill(sums.begin(), sums.end(), LossSums{});
      if (mine.count == 0) reducer.zero();
      for (std::int64_t j = mine.begin; j < mine.end(); ++j) {
        const float* y = model.forward(x.data() + j * features, 1, Pass{});
        model.loss().evaluate(y, outputs, 1, labels.empty() ? nullptr : labels.data() + j,
                              targets.empty() ? nullptr : targets.data() + j * per_target,
                              dscores.data(), 1.0f / static_cast<float>(n), sums[j]);
        model.backward(x.data() + j * features, dscores.data(), 1, Pass{});
        reducer.accumulate(model.gradients(), j == mine.begin);
      }
      ok = reducer.reduce(world, sums, n);
    }
    ASSERT_TRUE(ok) << name << " step " << s;
    reducer.to_float(model.gradients());
    LossSums total;
    for (const auto& sum : sums) total.add(sum);
    const double want = f.dataset("/" + name + "/loss_" + s).read_all<double>()[0];
    EXPECT_NEAR(total.loss / n, want, 2e-6 * std::max(1.0, want)) << name << " loss " << s;
    expect_close(model.gradients(), f.dataset("/" + name + "/gradient_" + s).read_all<float>(),
                 name + " gradient " + s);
    if (step == 2) break;
    optimizer.step(model.parameters(), model.gradients(), ranges, spec.l2);
    expect_close(
        model.parameters(),
        f.dataset("/" + name + "/after_step_" + std::to_string(step + 1)).read_all<float>(),
        name + " parameters after step " + std::to_string(step + 1));
  }
}

}  // namespace

TEST(FixedPointReduction, OneSampleShardsReducedOnAnyRankCountMatchPyTorch) {
  compare_sharded("mlp_cross_entropy_adam");
  compare_sharded("cnn_hinge_sgd");
  compare_sharded("regression_mse_adam");
}
