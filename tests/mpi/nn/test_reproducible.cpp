// Reproducibility across rank counts (issue 3, point 4): the same seed and global batch give
// bitwise identical trained weights on 1, 2, 3 and 4 ranks, dropout included, and between two
// runs; streaming the data under a memory limit changes nothing; evaluation has the same bits.
// Each test trains on the world communicator and, on rank 0, again alone (MPI_COMM_SELF), and
// compares the two.

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <memory>
#include <tuple>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/nn/random.hpp"
#include "physfit/nn/reduce.hpp"
#include "physfit/nn/trainer.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/signal.hpp"

using namespace physfit;
using namespace physfit::nn;

namespace {

constexpr std::int64_t kRows = 203;  // odd: blocks and batches do not divide evenly

// A small image classification set: class = which quadrant is brightest, plus noise.
std::string write_images(const mpi::Comm& comm, std::int64_t kRows = kRows) {
  const std::string path = test::scratch_dir() + "/images.h5";
  if (comm.is_root()) {
    std::vector<std::uint8_t> x(kRows * 8 * 8);
    std::vector<std::int32_t> y(kRows);
    const std::uint64_t key = hash_key(1, Stream::kSplit, 0);
    for (std::int64_t r = 0; r < kRows; ++r) {
      y[r] = static_cast<std::int32_t>(bounded(hash_at(key, r), 4));
      for (int i = 0; i < 64; ++i) {
        const int quadrant = (i / 8 >= 4) * 2 + (i % 8 >= 4);
        const auto noise = static_cast<int>(bounded(hash_at(key, 1000 + r * 64 + i), 120));
        x[r * 64 + i] = static_cast<std::uint8_t>(noise + (quadrant == y[r] ? 100 : 0));
      }
    }
    io::File f = io::File::create(path);
    const io::Dataset d =
        f.create_dataset<std::uint8_t>("/features", {kRows, 8, 8}, "dimensionless");
    d.write_rows(0, kRows, x.data());
    io::set_attribute(d.id(), "scale", 1.0 / 255.0);
    io::set_attribute(d.id(), "offset", -0.2);
    const io::Dataset l = f.create_dataset<std::int32_t>("/labels", {kRows}, "dimensionless");
    l.write_rows(0, kRows, y.data());
    io::set_attribute(l.id(), "classes", std::int64_t{4});
    f.close();
  }
  comm.barrier();
  return path;
}

// A regression set: float32 features [N, 5], two targets.
std::string write_table(const mpi::Comm& comm) {
  const std::string path = test::scratch_dir() + "/table.h5";
  if (comm.is_root()) {
    std::vector<float> x(kRows * 5), y(kRows * 2);
    const std::uint64_t key = hash_key(2, Stream::kSplit, 0);
    for (std::int64_t r = 0; r < kRows; ++r) {
      for (int i = 0; i < 5; ++i) x[r * 5 + i] = 2.0f * uniform01(hash_at(key, r * 5 + i)) - 1.0f;
      y[r * 2] = x[r * 5] * x[r * 5 + 1] + 0.5f * x[r * 5 + 2];
      y[r * 2 + 1] = std::sin(3.0f * x[r * 5 + 3]) - x[r * 5 + 4];
    }
    io::File f = io::File::create(path);
    f.create_dataset<float>("/features", {kRows, 5}, "dimensionless")
        .write_rows(0, kRows, x.data());
    f.create_dataset<float>("/targets", {kRows, 2}, "dimensionless").write_rows(0, kRows, y.data());
    f.close();
  }
  comm.barrier();
  return path;
}

struct Outcome {
  std::vector<float> parameters;
  History history;
};

Outcome train_on(const mpi::Comm& comm, const std::string& path, const ModelSpec& spec,
                 const OptimizerSettings& os, TrainSettings settings, std::int64_t val_rows) {
  const DataInfo data = inspect_data(path);
  Model model(spec);
  model.initialize(settings.seed);
  Optimizer optimizer(os, model.parameter_count());
  Trainer trainer(comm, model, optimizer, settings, data, data.rows - val_rows, &data,
                  data.rows - val_rows, val_rows);
  trainer.run(nullptr);
  return {std::vector<float>(model.parameters(), model.parameters() + model.parameter_count()),
          trainer.state().history};
}

ModelSpec cnn(const Shape& input) {
  ModelSpec s;
  s.input = input;
  s.layers = {"conv2d 4 3 padding=same relu",
              "maxpool2d 2",
              "flatten",
              "dense 16 tanh",
              "dropout 0.3",
              "dense 4"};
  return s;
}

// Trains on every rank and alone on rank 0; the parameters and history must be equal.
void expect_same_as_one_rank(const std::string& path, const ModelSpec& spec,
                             const OptimizerSettings& os, const TrainSettings& settings,
                             std::int64_t val_rows, const TrainSettings* alone_settings = nullptr) {
  const mpi::Comm world = test::world();
  const Outcome all = train_on(world, path, spec, os, settings, val_rows);
  int differ = 0;
  if (world.is_root()) {
    const Outcome one = train_on(mpi::Comm::self(), path, spec, os,
                                 alone_settings ? *alone_settings : settings, val_rows);
    EXPECT_EQ(all.parameters.size(), one.parameters.size());
    for (std::size_t i = 0; i < all.parameters.size(); ++i) {
      differ += std::memcmp(&all.parameters[i], &one.parameters[i], sizeof(float)) != 0;
    }
    EXPECT_EQ(differ, 0) << "parameters differ between " << world.size() << " ranks and 1";
    for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy", "rmse", "val_mae"}) {
      const auto* a = all.history.find(key);
      const auto* b = one.history.find(key);
      ASSERT_EQ(a == nullptr, b == nullptr) << key;
      if (a != nullptr) {
        EXPECT_EQ(*a, *b) << key;  // exact: the sums are reproducible too
      }
    }
  }
  // Every rank holds the same model.
  double checksum = 0;
  for (float p : all.parameters) checksum += p;
  const double low = world.allreduce(checksum, mpi::Op::kMin);
  const double high = world.allreduce(checksum, mpi::Op::kMax);
  EXPECT_EQ(low, high);
}

}  // namespace

TEST(Reproducibility, CnnWithDropoutGivesTheSameBitsOnAnyRankCount) {
  const std::string path = write_images(test::world());
  TrainSettings s;
  s.epochs = 2;
  s.batch = 24;
  s.micro_batch = 5;  // 5 shards per batch, the last 4 samples; the last batch has 11
  s.seed = 3;
  expect_same_as_one_rank(path, cnn({8, 8, 1}), OptimizerSettings{}, s, 30);
}

TEST(Reproducibility, TwoRunsGiveTheSameBitsAndSeedsDiffer) {
  const mpi::Comm world = test::world();
  const std::string path = write_images(world);
  TrainSettings s;
  s.epochs = 1;
  s.batch = 16;
  s.micro_batch = 4;
  s.seed = 5;
  OptimizerSettings os;
  os.type = "sgd";
  os.momentum = 0.9;
  os.learning_rate = 0.05;
  const Outcome a = train_on(world, path, cnn({8, 8, 1}), os, s, 0);
  const Outcome b = train_on(world, path, cnn({8, 8, 1}), os, s, 0);
  EXPECT_EQ(0, std::memcmp(a.parameters.data(), b.parameters.data(),
                           a.parameters.size() * sizeof(float)));
  s.seed = 6;
  const Outcome c = train_on(world, path, cnn({8, 8, 1}), os, s, 0);
  EXPECT_NE(0, std::memcmp(a.parameters.data(), c.parameters.data(),
                           a.parameters.size() * sizeof(float)));
}

TEST(Reproducibility, RegressionWithOneShardPerBatchGivesTheSameBits) {
  const std::string path = write_table(test::world());
  ModelSpec spec;
  spec.input = {1, 1, 5};
  spec.layers = {"dense 12 sigmoid", "dense 2"};
  spec.loss = "mse";
  spec.l2 = 1e-3;
  TrainSettings s;
  s.epochs = 2;
  s.batch = 10;
  s.micro_batch = 10;  // one shard: the other ranks contribute zeros to a float allreduce
  expect_same_as_one_rank(path, spec, OptimizerSettings{}, s, 40);
}

TEST(Reproducibility, StreamingUnderAMemoryLimitGivesTheSameBits) {
  const std::string path = write_images(test::world());
  TrainSettings s;
  s.epochs = 2;
  s.batch = 24;
  s.micro_batch = 6;
  s.seed = 1;
  // 24 samples of 68-byte records per batch: a few batches per window, rows read per window.
  s.max_memory = 6000;
  TrainSettings unlimited = s;
  unlimited.max_memory = 0;
  const DataInfo info = inspect_data(path);
  Model m(cnn({8, 8, 1}));
  Optimizer o(OptimizerSettings{}, m.parameter_count());
  Trainer t(test::world(), m, o, s, info, info.rows, nullptr, 0, 0);
  EXPECT_FALSE(t.cached());
  EXPECT_GE(t.window_batches(), 1);
  EXPECT_LT(t.window_batches(), 9);
  expect_same_as_one_rank(path, cnn({8, 8, 1}), OptimizerSettings{}, s, 0, &unlimited);
}

TEST(Reproducibility, StreamingWithReadsOverlappingComputeGivesTheSameBitsAsCached) {
  const std::string path = write_images(test::world());
  TrainSettings s;
  s.epochs = 2;
  s.batch = 24;
  s.micro_batch = 6;
  s.seed = 3;
  // Room for 4 windows of records (own, next, sent, received) of 1 to 4 batches at 1-4 ranks.
  s.max_memory = 7000;
  TrainSettings cached = s;
  cached.max_memory = 0;
  const DataInfo info = inspect_data(path);
  Model m(cnn({8, 8, 1}));
  Optimizer o(OptimizerSettings{}, m.parameter_count());
  Trainer t(test::world(), m, o, s, info, info.rows - 30, nullptr, 0, 0);
  EXPECT_FALSE(t.cached());
  EXPECT_TRUE(t.overlapped());
  EXPECT_LT(t.window_batches(), 7);
  expect_same_as_one_rank(path, cnn({8, 8, 1}), OptimizerSettings{}, s, 30, &cached);
}

TEST(Reproducibility, ExchangeOverlappedInWindowsAndStoppedMidEpochGivesTheSameBitsAsOneRank) {
  // 173 rows in batches of 8: 22 batches an epoch. In memory the windows are an eighth of an
  // epoch (3 batches), streamed 2 batches; each window's records are exchanged while the
  // previous one computes, the next epoch's first during an epoch's last. A stop after the
  // second batch of epoch 2 (mid-window, an exchange in flight) and a resume from there give
  // the bits of an uninterrupted run on one rank.
  const mpi::Comm world = test::world();
  const std::string path = write_images(world);
  const DataInfo info = inspect_data(path);
  const std::int64_t val_rows = 30, train_rows = info.rows - val_rows;
  TrainSettings s;
  s.epochs = 3;
  s.batch = 8;
  s.micro_batch = 4;
  s.seed = 7;
  for (const std::int64_t max_memory : {std::int64_t{0}, std::int64_t{5000}}) {
    s.max_memory = max_memory;
    Model model(cnn({8, 8, 1}));
    model.initialize(s.seed);
    Optimizer optimizer(OptimizerSettings{}, model.parameter_count());
    Trainer trainer(world, model, optimizer, s, info, train_rows, &info, train_rows, val_rows);
    EXPECT_EQ(trainer.cached(), max_memory == 0);
    EXPECT_EQ(trainer.overlapped(), max_memory != 0);
    EXPECT_EQ(trainer.window_batches(), max_memory == 0 ? 3 : 2);
    int signal = 0;
    {
      const util::StopHandlers handlers;
      signal = trainer.run([](const EpochReport& r) {
        if (r.epoch == 1) std::raise(SIGUSR1);
      });
      util::clear_stop_request();
    }
    EXPECT_EQ(signal, SIGUSR1);
    EXPECT_EQ(trainer.state().epochs_done, 1);
    EXPECT_EQ(trainer.state().batches_done, 2);
    EXPECT_EQ(trainer.run(nullptr), 0);
    if (world.is_root()) {
      TrainSettings alone = s;
      alone.max_memory = 0;
      const Outcome one =
          train_on(mpi::Comm::self(), path, cnn({8, 8, 1}), OptimizerSettings{}, alone, val_rows);
      EXPECT_EQ(0, std::memcmp(one.parameters.data(), model.parameters(),
                               one.parameters.size() * sizeof(float)))
          << "max_memory " << max_memory << ", " << world.size() << " ranks";
      for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
        EXPECT_EQ(*one.history.find(key), *trainer.state().history.find(key)) << key;
      }
    }
  }
}

TEST(Reproducibility, EvaluationGivesTheSameSumsOnAnyRankCount) {
  const mpi::Comm world = test::world();
  const std::string path = write_images(world, 1200);  // 5 chunks of 256 rows (the last 76)
  const DataInfo info = inspect_data(path);
  Model model(cnn({8, 8, 1}));
  model.initialize(4);
  std::vector<float> scores;
  std::int64_t first = -1, rows = -1;
  const LossSums all = evaluate_model(world, model, info, 3, 1100, &scores, &first, &rows);
  EXPECT_EQ(static_cast<std::int64_t>(scores.size()), rows * 4);
  const std::int64_t total = world.allreduce(rows, mpi::Op::kSum);
  EXPECT_EQ(total, 1100);
  EXPECT_EQ(all.samples, 1100);
  if (world.is_root()) {
    const LossSums one = evaluate_model(mpi::Comm::self(), model, info, 3, 1100);
    EXPECT_EQ(all.loss, one.loss);
    EXPECT_EQ(all.correct, one.correct);
  }
}

TEST(FixedPointReduction, SumIsExactAndIndependentOfTheGrouping) {
  const mpi::Comm world = test::world();
  // 7 shards of a 3-tensor gradient with values over 6 orders of magnitude; rank r adds the
  // shards block_of(7, ranks, r).
  const std::int64_t p = 300;
  const std::vector<ParameterRange> tensors = {{0, 100, true}, {100, 150, true}, {250, 50, false}};
  auto shard = [&](int j) {
    std::vector<float> g(p);
    const std::uint64_t key = hash_key(9, Stream::kSplit, static_cast<std::uint64_t>(j));
    for (std::int64_t i = 0; i < p; ++i) {
      const float u = 2.0f * uniform01(hash_at(key, static_cast<std::uint64_t>(i))) - 1.0f;
      g[i] = u * (i < 100 ? 1e-3f : i < 250 ? 10.0f : 1e-6f);
    }
    return g;
  };
  auto run = [&](const mpi::Comm& comm) {
    FixedPointReducer r(tensors, p, 7);
    std::vector<LossSums> sums(7);
    std::vector<std::int64_t> used;
    for (int attempt = 0; attempt < 20; ++attempt) {  // the first overflows, then fitted
      const auto mine = [&] {
        const std::int64_t q = 7 / comm.size(), rem = 7 % comm.size();
        const std::int64_t b = comm.rank() * q + std::min<std::int64_t>(comm.rank(), rem);
        return std::make_pair(b, b + q + (comm.rank() < rem));
      }();
      if (mine.first == mine.second) r.zero();
      for (std::int64_t j = mine.first; j < mine.second; ++j) {
        r.accumulate(shard(static_cast<int>(j)).data(), j == mine.first);
      }
      std::fill(sums.begin(), sums.end(), LossSums{});
      for (std::int64_t j = mine.first; j < mine.second; ++j) sums[j].loss = 1.5 * j;
      used = r.exponents();
      EXPECT_EQ(r.reduce(comm, sums, 7), attempt > 0) << attempt;
    }
    std::vector<float> out(p);
    r.to_float(out.data());
    return std::make_tuple(out, sums, used);
  };
  const auto [sum, sums, used] = run(world);
  // The sum is the exact sum of the shards rounded to each tensor's grid (an int32 each, 7
  // shards: |q| < 2^28), converted to float once; each tensor's largest value lies in
  // [2^(28 - headroom - 1), 2^(28 - headroom)) of its grid.
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const double scale = std::ldexp(1.0, static_cast<int>(used[t]));
    double largest = 0;
    for (std::int64_t i = tensors[t].offset; i < tensors[t].offset + tensors[t].count; ++i) {
      std::int64_t q = 0;
      for (int j = 0; j < 7; ++j) {
        const double d = static_cast<double>(shard(j)[i]) * scale;
        largest = std::max(largest, std::fabs(d));
        q += static_cast<std::int64_t>(std::nearbyint(d));  // to nearest, ties to even
      }
      EXPECT_EQ(sum[i], static_cast<float>(static_cast<double>(q) / scale)) << i;
    }
    EXPECT_GE(largest, std::ldexp(1.0, 27 - FixedPointReducer::kHeadroom)) << t;
    EXPECT_LT(largest, std::ldexp(1.0, 28 - FixedPointReducer::kHeadroom)) << t;
  }
  for (int j = 0; j < 7; ++j) EXPECT_EQ(sums[j].loss, 1.5 * j);
  if (world.is_root()) {
    const auto one = run(mpi::Comm::self());
    EXPECT_EQ(0, std::memcmp(std::get<0>(one).data(), sum.data(), p * sizeof(float)));
  }
}

namespace {

// This rank's uneven share of rows [0, n): rank r holds [cut_r, cut_{r+1}), rank 0 the most.
util::Block uneven_share(std::int64_t n, int ranks, int rank) {
  auto cut = [&](int r) { return r == 0 ? 0 : r == ranks ? n : n * r / (ranks + 1) + 17; };
  return {cut(rank), cut(rank + 1) - cut(rank)};
}

// `info` with the records of rows [begin, begin + count) in memory, moved by exchange_rows
// from the uneven shares the ranks read from the file (as the Python module's arrays).
DataInfo in_memory(const mpi::Comm& comm, DataInfo info, std::int64_t begin, std::int64_t count) {
  const util::Block mine = uneven_share(info.rows, comm.size(), comm.rank());
  std::vector<unsigned char> held(static_cast<std::size_t>(mine.count * info.record_bytes()));
  RecordReader(info).read(mine.begin, mine.count, held.data());
  info.memory = std::make_shared<const MemoryRows>(
      exchange_rows(comm, info.record_bytes(), held.data(), mine.begin, mine.count, begin, count));
  return info;
}

}  // namespace

TEST(MemoryRows, ExchangeGivesEveryRankTheRowsItWants) {
  const mpi::Comm world = test::world();
  const DataInfo info = inspect_data(write_images(world));
  // Each rank wants a different window, crossing the holders' boundaries.
  const std::int64_t begin = 11 * world.rank(), count = info.rows - 13 - begin;
  const DataInfo mem = in_memory(world, info, begin, count);
  ASSERT_EQ(mem.memory->first, begin);
  ASSERT_EQ(mem.memory->count, count);
  std::vector<unsigned char> expected(static_cast<std::size_t>(count * info.record_bytes()));
  RecordReader(info).read(begin, count, expected.data());
  EXPECT_EQ(mem.memory->records, expected);
  // Read through a reader like the file: a range, scattered rows, and a row it does not hold.
  RecordReader reader(mem);
  std::vector<unsigned char> got(expected.size());
  reader.read(begin, count, got.data());
  EXPECT_EQ(got, expected);
  const std::int64_t ids[2] = {begin + 1, begin + count - 1};
  std::vector<unsigned char> two(static_cast<std::size_t>(2 * info.record_bytes()));
  reader.read_ids(ids, 2, two.data());
  EXPECT_EQ(0, std::memcmp(two.data() + info.record_bytes(),
                           expected.data() + (count - 1) * info.record_bytes(),
                           static_cast<std::size_t>(info.record_bytes())));
  EXPECT_THROW(reader.read(begin + count, 1, got.data()), Error);
}

TEST(MemoryRows, TrainingOnRowsInMemoryGivesTheFilesBits) {
  const mpi::Comm world = test::world();
  const DataInfo file = inspect_data(write_images(world));
  const std::int64_t val_rows = 30, train_rows = file.rows - val_rows;
  TrainSettings s;
  s.epochs = 2;
  s.batch = 24;
  s.micro_batch = 5;
  s.seed = 3;
  for (const std::int64_t max_memory : {std::int64_t{0}, std::int64_t{6000}}) {  // cached, streamed
    s.max_memory = max_memory;
    const Outcome ref =
        train_on(world, file.path, cnn({8, 8, 1}), OptimizerSettings{}, s, val_rows);
    const util::Block own = util::block_of(train_rows, world.size(), world.rank());
    const util::Block eval = evaluation_rows(val_rows, world.size(), world.rank());
    const DataInfo train = in_memory(world, file, own.begin, own.count);
    const DataInfo val = in_memory(world, file, train_rows + eval.begin, eval.count);
    Model model(cnn({8, 8, 1}));
    model.initialize(s.seed);
    Optimizer optimizer(OptimizerSettings{}, model.parameter_count());
    Trainer trainer(world, model, optimizer, s, train, train_rows, &val, train_rows, val_rows);
    trainer.run(nullptr);
    EXPECT_EQ(0, std::memcmp(ref.parameters.data(), model.parameters(),
                             ref.parameters.size() * sizeof(float)))
        << "max_memory " << max_memory;
    for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
      EXPECT_EQ(*ref.history.find(key), *trainer.state().history.find(key)) << key;
    }
  }
}
