#pragma once
/// @file
/// The steps of `physfit train`, `physfit evaluate` and `physfit predict` around the engine,
/// shared by the commands (which read datasets from files) and the Python module (which gets
/// numpy arrays, held as nn::MemoryRows): the same options (config::Values parsed from
/// train_command()'s declarations, hence the same names, checks and defaults), the same model,
/// optimiser and trainer, the same training files, hence the same bits.

#include <cstdint>
#include <memory>
#include <string>

#include "physfit/config/options.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/mpi/comm.hpp"
#include "physfit/nn/data.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/nn/trainer.hpp"

namespace physfit::cli {

/// nn::TrainSettings from train.epochs, train.batch, train.micro-batch, train.seed and
/// data.max-memory.
nn::TrainSettings train_settings(const config::Values& options);

/// Which rows train and which validate: of `rows` training rows, with data.validation-split
/// the last floor(split * rows) validate (UsageError if none are left to train).
struct TrainRows {
  std::int64_t train = 0;      ///< rows [0, train) train
  std::int64_t val_begin = 0;  ///< validation rows [val_begin, val_begin + val_rows)
  std::int64_t val_rows = 0;   ///< 0: no validation
  bool split = false;          ///< the validation rows are the training data's last rows
};
/// The rows of a training set of `rows` rows (data.validation-split), or, when
/// `validation_rows` > 0 (a separate validation set), all of them and those. UsageError when
/// both a validation set and a split are given.
TrainRows split_rows(const config::Values& options, std::int64_t rows,
                     std::int64_t validation_rows);

/// **Collective.** A new model from model.layers, model.loss, model.margin and model.l2 for
/// samples of shape `input`, initialised from train.seed (errors collective: the memory check
/// may fail on one node).
std::unique_ptr<nn::Model> new_model(const mpi::Comm& comm, const config::Values& options,
                                     const nn::Shape& input);
/// A new optimiser (optimizer.*) for `model`.
std::unique_ptr<nn::Optimizer> new_optimizer(const config::Values& options, const nn::Model& model);

/// A training run continued from a training file (train.resume).
struct Resumed {
  std::string path;  ///< the file read; empty: nothing to resume, start afresh
  std::unique_ptr<nn::Model> model;
  std::unique_ptr<nn::Optimizer> optimizer;
  nn::TrainState state;
};
/// **Collective.** train.resume: a training file's model, optimiser and state, and its
/// settings (seed, batch sizes) in `settings` (train.epochs stays the options'); "auto" reads
/// `output` if it exists (a requeued job) and is empty otherwise, as is an empty train.resume.
Resumed resume_training(const mpi::Comm& comm, const config::Values& options,
                        nn::TrainSettings& settings, const std::string& output);
/// UsageError if `data` does not suit `model`: its sample shape, labels or targets as the loss
/// needs, and as many classes (or targets) as the model has outputs.
void check_fit(const nn::Model& model, const nn::DataInfo& data);

/// The log line of an epoch ("epoch 3/10: loss 0.4321 accuracy 85.00 % | ... samples/s ...").
std::string epoch_line(const nn::EpochReport& report, std::int64_t epochs, bool classification);
/// "loss 0.4321 accuracy 85.00 %" or "loss 0.1 rmse 0.2 mae 0.1", keys prefixed by `prefix`.
std::string metrics_text(const nn::Metrics& m, bool classification, const std::string& prefix);

/// **Collective.** Writes a training file (nn::save_training) to `path` as `physfit train`
/// does: rank 0 writes a temporary file with `provenance`, renamed over `path` on success.
void write_training_file(const mpi::Comm& comm, const io::Provenance& provenance,
                         const std::string& path, const nn::Model& model,
                         const nn::Optimizer& optimizer, const nn::TrainSettings& settings,
                         const nn::TrainState& state);

}  // namespace physfit::cli
