#pragma once
/// @file
/// Data-parallel training, reproducible to the bit across rank counts.
///
/// Every rank holds the whole model. For a fixed seed, global batch B and micro-batch S:
/// - the sample order of epoch e is a permutation drawn from (seed, e) alone;
/// - global batch b is samples [b B, (b + 1) B) of that order, cut into micro-shards of S
///   samples (the last ones shorter), whose boundaries do not depend on the rank count; rank r
///   computes the contiguous block of shards util::block_of(shards, ranks, r), so every shard
///   is computed with the same matrix sizes whatever the rank count (Eigen's products give
///   bits that depend on the sizes);
/// - dropout masks are hashes of (seed, epoch, layer, global sample index, feature);
/// - the shard gradients are summed exactly (FixedPointReducer), or, when a batch is a single
///   shard, taken as they are;
/// - the optimiser step runs identically on every rank.
/// So the trained weights are bitwise identical at 1, 2, 3, ... ranks and between runs.
///
/// Data: rank r owns rows util::block_of(N, ranks, r) of the training rows and reads only
/// them (or, when DataInfo::memory holds them, uses them where they are; the validation rows
/// are those evaluation_rows() gives it). The batches go by in windows (an eighth of an epoch
/// when the rows are kept in memory, as many batches as `max_memory` allows when they are
/// streamed); the ranks exchange the records each needs for a window's shards with one
/// MPI_Ialltoallv, posted when the previous window begins, so that it proceeds while that
/// window computes (the next epoch's first window while an epoch's last computes: its order is
/// known). When the rank's rows do not fit in `max_memory`, they are not kept in memory but read
/// from the file per window, which changes nothing in the results. When the reader needs no
/// HDF5 (RecordReader::direct()), the own rows of the window after the next are read on a
/// thread of their own while the current window computes; the I/O time reported is what the
/// main thread spent on data (reads it made or waited for, packing and posting the exchange,
/// and waiting for it).

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/mpi/comm.hpp"
#include "physfit/nn/data.hpp"
#include "physfit/nn/loss.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/nn/reduce.hpp"
#include "physfit/util/partition.hpp"

namespace physfit::nn {

/// Settings of a training run.
struct TrainSettings {
  std::int64_t epochs = 5;
  std::int64_t batch = 32;       ///< global batch size
  std::int64_t micro_batch = 0;  ///< shard size; 0: min(batch, 64)
  std::uint64_t seed = 0;
  std::int64_t max_memory = 0;  ///< bytes of data records a rank may hold; 0: no limit
  std::int64_t micro() const {
    return micro_batch > 0 ? std::min(micro_batch, batch) : std::min<std::int64_t>(batch, 64);
  }
};

/// Per-epoch history, column by column (key, values), in insertion order.
struct History {
  std::vector<std::pair<std::string, std::vector<double>>> columns;
  void append(const std::string& key, double value);
  const std::vector<double>* find(const std::string& key) const;
  std::size_t epochs() const { return columns.empty() ? 0 : columns.front().second.size(); }
};

/// Metrics of a set of samples.
struct Metrics {
  double loss = 0;      ///< mean loss (plus the L2 term for training)
  double accuracy = 0;  ///< classification
  double rmse = 0;      ///< regression, over samples and outputs
  double mae = 0;
  std::int64_t samples = 0;
};
Metrics metrics_of(const LossSums& sums, const Model& model, bool with_l2);

/// The state a run can be resumed from (besides the model and the optimiser).
struct TrainState {
  std::int64_t epochs_done = 0;
  std::int64_t batches_done = 0;             ///< batches of the current epoch already done
  LossSums partial;                          ///< sums of the current epoch so far
  double partial_seconds[4] = {0, 0, 0, 0};  ///< compute, allreduce, io, total of it so far
  std::vector<std::int64_t> exponents;       ///< FixedPointReducer's
  History history;
};

/// What one epoch measured.
struct EpochReport {
  std::int64_t epoch = 0;  ///< 1-based
  Metrics train;
  bool has_validation = false;
  Metrics validation;
  double seconds = 0, compute = 0, allreduce = 0, io = 0, samples_per_second = 0;
  double cpu = 0;  ///< CPU seconds of the training part of the epoch, slowest rank
  /// Thread CPU seconds of the compute sections (forward, backward, gradient conversion,
  /// optimizer step), largest over the ranks: the work without waiting or descheduling.
  double cpu_compute = 0;
};

/// A training run on the rows [0, train_rows) of `train`, with optional validation rows.
class Trainer {
 public:
  /// **Collective.** `validation` may be null; `val_begin`/`val_rows` select its rows.
  Trainer(const mpi::Comm& comm, Model& model, Optimizer& optimizer, const TrainSettings& settings,
          const DataInfo& train, std::int64_t train_rows, const DataInfo* validation,
          std::int64_t val_begin, std::int64_t val_rows);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainState& state() { return state_; }
  /// **Collective.** Trains until state().epochs_done == settings.epochs. `on_epoch` runs on
  /// every rank after each epoch (checkpoints). Stops early when a stop signal is agreed
  /// (checked every few batches) and returns the signal (the state then says where it stopped),
  /// else 0.
  int run(const std::function<void(const EpochReport&)>& on_epoch);
  /// Whether the rank's training rows are kept in memory (false: streamed from the file).
  bool cached() const;
  /// Batches per window of exchanged records.
  std::int64_t window_batches() const;
  /// Whether streamed rows of the next window are read while the current one computes.
  bool overlapped() const;

 private:
  struct Impl;
  Impl* impl_;
  TrainState state_;
};

/// The rows of [0, count) that rank `rank` of `ranks` computes in evaluate_model: whole chunks
/// of 256 rows, the ranks taking contiguous blocks of chunks (empty when it has none).
util::Block evaluation_rows(std::int64_t count, int ranks, int rank);

/// **Collective.** Loss sums of `model` on rows [begin, begin + count) of a dataset, the same
/// bits for any number of ranks: the rows are cut into chunks of 256 that ranks take in
/// contiguous blocks, and the chunk sums are added in chunk order. If `scores` is not null it
/// receives the scores of this rank's rows (outputs x rows, column per sample), which are
/// rows `*first`.. of the range.
LossSums evaluate_model(const mpi::Comm& comm, Model& model, const DataInfo& data,
                        std::int64_t begin, std::int64_t count,
                        std::vector<float>* scores = nullptr, std::int64_t* first = nullptr,
                        std::int64_t* local_rows = nullptr);

/// Writes a training file: the model (save_model), `/optimizer` (attributes type,
/// learning_rate, beta1, beta2, epsilon, momentum, steps; datasets m and v), `/training`
/// (attributes epochs_done, batches_done, seed, batch, micro_batch, exponents, partial sums)
/// and `/history/<metric>` (float64 [epochs]).
void save_training(const io::File& file, const Model& model, const Optimizer& optimizer,
                   const TrainSettings& settings, const TrainState& state);
/// Reads what save_training wrote into an optimiser and a state (the model: load_model).
void load_training(const io::File& file, Optimizer& optimizer, TrainSettings& settings,
                   TrainState& state);
/// Reads the optimiser settings of a training file.
OptimizerSettings load_optimizer_settings(const io::File& file);
/// Reads /history of a file (empty if none).
History load_history(const io::File& file);

}  // namespace physfit::nn
