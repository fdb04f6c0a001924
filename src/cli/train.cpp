// `physfit train`, `physfit evaluate`, `physfit predict`: the neural-network engine's commands.

#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <iomanip>
#include <sstream>

#include "physfit/cli/command.hpp"
#include "physfit/cli/train.hpp"
#include "physfit/error.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/nn/trainer.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

void put_metrics(util::Json& j, const nn::Metrics& m, bool classification) {
  j["loss"] = m.loss;
  if (classification) {
    j["accuracy"] = m.accuracy;
  } else {
    j["rmse"] = m.rmse;
    j["mae"] = m.mae;
  }
  j["samples"] = m.samples;
}

nn::DataInfo inspect_everywhere(const mpi::Comm& comm, const std::string& path) {
  return mpi::guarded(comm, [&] { return nn::inspect_data(path); });
}

}  // namespace

std::string metrics_text(const nn::Metrics& m, bool classification, const std::string& prefix) {
  std::string s = prefix + "loss " + fixed(m.loss, 4);
  if (classification) return s + " " + prefix + "accuracy " + fixed(100 * m.accuracy, 2) + " %";
  return s + " " + prefix + "rmse " + fixed(m.rmse, 4) + " " + prefix + "mae " + fixed(m.mae, 4);
}

std::string epoch_line(const nn::EpochReport& r, std::int64_t epochs, bool classification) {
  std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + ": " +
                     metrics_text(r.train, classification, "");
  if (r.has_validation) line += " | " + metrics_text(r.validation, classification, "val_");
  line += " | " + std::to_string(static_cast<long long>(r.samples_per_second)) + " samples/s, " +
          fixed(r.seconds, 2) + " s (compute " + fixed(r.compute, 2) + ", allreduce " +
          fixed(r.allreduce, 2) + ", io " + fixed(r.io, 2) + ")";
  return line;
}

void check_fit(const nn::Model& model, const nn::DataInfo& data) {
  if (data.sample != model.input_shape()) {
    throw UsageError("the model's input is " + model.input_shape().str() + " but '" + data.path +
                     "' has samples of " + data.sample.str());
  }
  if (model.loss().classification() != data.classification) {
    throw UsageError("the loss '" + model.loss().name() + "' needs " +
                     (model.loss().classification() ? "/labels" : "/targets") + " but '" +
                     data.path + "' has " + (data.classification ? "/labels" : "/targets"));
  }
  const int expected = data.classification ? data.classes : data.targets;
  if (model.outputs() != expected) {
    throw UsageError("the last layer gives " + std::to_string(model.outputs()) + " outputs but '" +
                     data.path + "' has " + std::to_string(expected) +
                     (data.classification ? " classes" : " targets") +
                     "; make the last layer 'dense " + std::to_string(expected) + "'");
  }
}

void write_training_file(const mpi::Comm& comm, const io::Provenance& provenance,
                         const std::string& path, const nn::Model& model,
                         const nn::Optimizer& optimizer, const nn::TrainSettings& settings,
                         const nn::TrainState& state) {
  io::OutputFile out(comm, path, provenance, io::OutputFile::Writers::kRank0);
  mpi::guarded(comm, [&] {
    if (out.writes_here()) nn::save_training(out.file(), model, optimizer, settings, state);
  });
  out.commit();
}

nn::TrainSettings train_settings(const config::Values& o) {
  nn::TrainSettings settings;
  settings.epochs = o.get<long long>("train.epochs");
  settings.batch = o.get<long long>("train.batch");
  settings.micro_batch = o.get<long long>("train.micro-batch");
  settings.seed = static_cast<std::uint64_t>(o.get<long long>("train.seed"));
  settings.max_memory = util::parse_bytes(o.get<std::string>("data.max-memory"), "data.max-memory");
  return settings;
}

TrainRows split_rows(const config::Values& o, std::int64_t rows, std::int64_t validation_rows) {
  const double split = o.get<double>("data.validation-split");
  if (validation_rows > 0 && split > 0) {
    throw UsageError("give either data.validation or data.validation-split, not both");
  }
  TrainRows t;
  t.train = rows;
  if (validation_rows > 0) {
    t.val_rows = validation_rows;
  } else if (split > 0) {
    t.split = true;
    t.val_rows = static_cast<std::int64_t>(std::floor(split * static_cast<double>(rows)));
    t.train = rows - t.val_rows;
    t.val_begin = t.train;
    if (t.train <= 0) throw UsageError("data.validation-split leaves no training rows");
  }
  return t;
}

std::unique_ptr<nn::Model> new_model(const mpi::Comm& comm, const config::Values& o,
                                     const nn::Shape& input) {
  nn::ModelSpec spec;
  spec.layers = o.get<std::vector<std::string>>("model.layers");
  if (spec.layers.empty()) throw UsageError("model.layers is empty: list the model's layers");
  spec.input = input;
  spec.loss = o.get<std::string>("model.loss");
  spec.margin = o.get<double>("model.margin");
  spec.l2 = o.get<double>("model.l2");
  const std::string where = o.origin("model.layers").describe();
  std::unique_ptr<nn::Model> model;
  // Guarded: the model's memory check may fail on one node only.
  mpi::guarded(comm, [&] { model = std::make_unique<nn::Model>(spec, where); });
  model->initialize(static_cast<std::uint64_t>(o.get<long long>("train.seed")));
  return model;
}

std::unique_ptr<nn::Optimizer> new_optimizer(const config::Values& o, const nn::Model& model) {
  nn::OptimizerSettings os;
  os.type = o.get<std::string>("optimizer.type");
  os.learning_rate = o.get<double>("optimizer.learning-rate");
  os.beta1 = o.get<double>("optimizer.beta1");
  os.beta2 = o.get<double>("optimizer.beta2");
  os.epsilon = o.get<double>("optimizer.epsilon");
  os.momentum = o.get<double>("optimizer.momentum");
  return std::make_unique<nn::Optimizer>(os, model.parameter_count());
}

Resumed resume_training(const mpi::Comm& comm, const config::Values& o, nn::TrainSettings& settings,
                        const std::string& output) {
  Resumed r;
  r.path = o.get<std::string>("train.resume");
  if (r.path == "auto") {
    // Continue from our own output if an earlier run of this job left one (a job requeued
    // after a stop signal), else start afresh.
    int exists = 0;
    if (comm.is_root()) exists = ::access(output.c_str(), F_OK) == 0 ? 1 : 0;
    comm.broadcast(exists, 0);
    r.path = exists ? output : std::string();
    if (!exists) log::info("train: no '", output, "' yet (resume = auto): starting afresh");
  }
  if (r.path.empty()) return r;
  mpi::guarded(comm, [&] {
    const io::File f = io::File::open(r.path);
    r.model = nn::load_model(f);
    r.optimizer =
        std::make_unique<nn::Optimizer>(nn::load_optimizer_settings(f), r.model->parameter_count());
    const std::int64_t epochs = settings.epochs;
    nn::load_training(f, *r.optimizer, settings, r.state);
    settings.epochs = epochs;
  });
  log::info("train: resuming from '", r.path, "' after epoch ", r.state.epochs_done,
            r.state.batches_done ? " and batch " + std::to_string(r.state.batches_done) : "",
            " (architecture, optimizer, seed and batch sizes from the file)");
  return r;
}

namespace {

// Asks glibc to keep freed memory instead of returning it to the system. The first touch of a
// fresh page costs about 20 us on these virtual machines (peers/nn/FINDINGS.md): Open MPI
// allocates and frees temporary buffers of the size of the gradient in every large allreduce,
// and without this each step paid hundreds of page faults.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void run_train(Context& ctx) {
  keep_freed_memory();
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const util::StopHandlers stop_handlers;
  const util::Stopwatch clock;
  nn::TrainSettings settings = train_settings(o);
  const auto output = o.get<std::string>("output.model");
  const auto checkpoint_every = o.get<long long>("output.checkpoint-every");
  const auto train_path = o.get<std::string>("data.train");
  const auto val_path = o.get<std::string>("data.validation");
  if (train_path.empty()) {
    throw UsageError("no training data: set 'train' in [data] or give --data.train FILE");
  }
  if (!val_path.empty() && o.get<double>("data.validation-split") > 0) {
    throw UsageError("give either data.validation or data.validation-split, not both");
  }

  const nn::DataInfo train = inspect_everywhere(comm, train_path);
  nn::DataInfo validation;
  if (!val_path.empty()) validation = inspect_everywhere(comm, val_path);
  const TrainRows rows = split_rows(o, train.rows, val_path.empty() ? 0 : validation.rows);
  if (rows.split) validation = train;
  const std::int64_t train_rows = rows.train, val_begin = rows.val_begin, val_rows = rows.val_rows;

  Resumed resumed = resume_training(comm, o, settings, output);
  const bool resuming = !resumed.path.empty();
  std::unique_ptr<nn::Model> model = std::move(resumed.model);
  std::unique_ptr<nn::Optimizer> optimizer = std::move(resumed.optimizer);
  if (!resuming) {
    model = new_model(comm, o, train.sample);
    optimizer = new_optimizer(o, *model);
  }
  check_fit(*model, train);
  if (val_rows > 0) check_fit(*model, validation);
  const bool classification = model->loss().classification();

  nn::Trainer trainer(comm, *model, *optimizer, settings, train, train_rows,
                      val_rows > 0 ? &validation : nullptr, val_begin, val_rows);
  if (resuming) trainer.state() = resumed.state;
  log::info("train: ", model->parameter_count(), " parameters (",
            util::join(model->layer_specs(), ", "), "), ", model->loss().name(), ", ",
            optimizer->settings().type, "; ", train_rows, " training rows",
            val_rows ? ", " + std::to_string(val_rows) + " validation rows" : "", "; batch ",
            settings.batch, " in micro-batches of ", settings.micro(), " on ", comm.size(), " rank",
            comm.size() > 1 ? "s" : "", "; data ",
            trainer.cached()       ? "in memory"
            : trainer.overlapped() ? "streamed from the file (reads overlap compute)"
                                   : "streamed from the file",
            ", exchanged every ", trainer.window_batches(), " batch(es)");

  nn::EpochReport last;
  const int signal = trainer.run([&](const nn::EpochReport& r) {
    last = r;
    log::info(epoch_line(r, settings.epochs, classification));
    const bool last_epoch = r.epoch == settings.epochs;
    if (!last_epoch && checkpoint_every > 0 && r.epoch % checkpoint_every == 0) {
      write_training_file(comm, ctx.provenance(), output, *model, *optimizer, settings,
                          trainer.state());
    }
  });
  write_training_file(comm, ctx.provenance(), output, *model, *optimizer, settings,
                      trainer.state());

  const nn::TrainState& st = trainer.state();
  util::Json history = util::Json::object();
  for (const auto& [key, values] : st.history.columns) history[key] = util::Json::array(values);
  ctx.summary["output"] = output;
  ctx.summary["parameters"] = model->parameter_count();
  ctx.summary["epochs_done"] = st.epochs_done;
  ctx.summary["ranks"] = comm.size();
  ctx.summary["batch"] = settings.batch;
  ctx.summary["micro_batch"] = settings.micro();
  ctx.summary["seconds"] = clock.seconds();
  if (last.epoch > 0) {
    util::Json t = util::Json::object();
    put_metrics(t, last.train, classification);
    ctx.summary["train"] = std::move(t);
    if (last.has_validation) {
      util::Json v = util::Json::object();
      put_metrics(v, last.validation, classification);
      ctx.summary["validation"] = std::move(v);
    }
  }
  ctx.summary["history"] = std::move(history);
  ctx.summary["streamed"] = !trainer.cached();
  ctx.summary["overlapped"] = trainer.overlapped();
  ctx.summary["window_batches"] = trainer.window_batches();
  ctx.summary["data_max_memory_bytes"] = settings.max_memory;
  ctx.report_peak_memory();
  if (signal != 0) {
    mpi::throw_on_all_ranks(
        comm, StoppedError(std::string("stopped by ") + util::signal_name(signal) + " in epoch " +
                           std::to_string(st.epochs_done + 1) + " after batch " +
                           std::to_string(st.batches_done) + "; '" + output +
                           "' holds the state: continue with --train.resume " + output));
  }
  log::info("train: done in ", util::format_duration(clock.seconds()), "; model in '", output, "'");
}

std::unique_ptr<nn::Model> load_everywhere(const mpi::Comm& comm, const std::string& path) {
  return mpi::guarded(comm, [&] {
    const io::File f = io::File::open(path);
    return nn::load_model(f);
  });
}

void run_evaluate(Context& ctx) {
  const auto model_path = ctx.options.get<std::string>("input.model");
  const auto data_path = ctx.options.get<std::string>("input.data");
  auto model = load_everywhere(ctx.comm, model_path);
  const nn::DataInfo data = inspect_everywhere(ctx.comm, data_path);
  mpi::guarded(ctx.comm, [&] { check_fit(*model, data); });
  const util::Stopwatch clock;
  const nn::LossSums sums = nn::evaluate_model(ctx.comm, *model, data, 0, data.rows);
  const nn::Metrics m = nn::metrics_of(sums, *model, false);
  const bool classification = model->loss().classification();
  log::info("evaluate: ", data.rows, " samples of '", data_path,
            "': ", metrics_text(m, classification, ""), " (", fixed(clock.seconds(), 2), " s)");
  put_metrics(ctx.summary, m, classification);
  ctx.summary["model"] = model_path;
  ctx.summary["data"] = data_path;
}

void run_predict(Context& ctx) {
  const auto model_path = ctx.options.get<std::string>("input.model");
  const auto data_path = ctx.options.get<std::string>("input.data");
  const auto output = ctx.options.get<std::string>("output.file");
  auto model = load_everywhere(ctx.comm, model_path);
  const nn::DataInfo data =
      mpi::guarded(ctx.comm, [&] { return nn::inspect_data(data_path, false); });
  mpi::guarded(ctx.comm, [&] {
    if (data.has_outputs || data.sample != model->input_shape()) check_fit(*model, data);
  });
  std::vector<float> scores;
  std::int64_t first = 0, rows = 0;
  const nn::LossSums sums =
      nn::evaluate_model(ctx.comm, *model, data, 0, data.rows, &scores, &first, &rows);
  const int outputs = model->outputs();
  const bool classification = model->loss().classification();
  io::OutputFile out(ctx.comm, output, ctx.provenance(), io::OutputFile::Writers::kAllRanks);
  const io::Dataset s = out.file().create_dataset<float>(
      "/scores", {data.rows, outputs},
      classification ? "dimensionless" : "unit of the /targets of the training data");
  s.write_rows(first, rows, scores.data());
  if (classification) {
    std::vector<std::int32_t> predicted(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* y = scores.data() + r * outputs;
      predicted[static_cast<std::size_t>(r)] =
          static_cast<std::int32_t>(std::max_element(y, y + outputs) - y);
    }
    const io::Dataset p =
        out.file().create_dataset<std::int32_t>("/predicted", {data.rows}, "dimensionless");
    p.write_rows(first, rows, predicted.data());
  }
  io::set_attribute(s.id(), "model", model_path);
  io::set_attribute(s.id(), "data", data_path);
  out.commit();
  const nn::Metrics m = nn::metrics_of(sums, *model, false);
  log::info("predict: ", data.rows, " samples of '", data_path, "' -> '", output, "'",
            data.has_outputs ? " (" + metrics_text(m, classification, "") + " against the file's " +
                                   (classification ? "labels" : "targets") + ")"
                             : std::string());
  if (data.has_outputs) put_metrics(ctx.summary, m, classification);
  ctx.summary["rows"] = data.rows;
  ctx.summary["output"] = output;
}

}  // namespace

Command train_command() {
  Command c;
  c.name = "train";
  c.summary = "train a neural network data-parallel (reproducible across rank counts)";
  c.description =
      "mpirun -np N physfit train CONFIG.ini [--train.epochs 10 ...]\n\n"
      "Every rank holds the model and computes whole micro-batches of each global batch from\n"
      "the rows it owns (exchanged window by window while the previous window computes);\n"
      "gradients are summed exactly, so for a given seed, batch and micro-batch the trained\n"
      "weights are bitwise identical on any number of ranks. Writes output.model (model,\n"
      "optimizer state, history) after every output.checkpoint-every epochs and at the end.\n"
      "SIGUSR1, SIGUSR2, SIGTERM and SIGINT write a checkpoint and exit with code 3 (under\n"
      "mpirun send SIGUSR1: mpirun handles TERM and INT itself); continue with --train.resume\n"
      "FILE, or give --train.resume auto from the start to continue from output.model whenever\n"
      "it exists (Slurm requeues).\n\n"
      "Layers (model.layers, comma-separated): dense N [relu|sigmoid|tanh], conv2d FILTERS\n"
      "KERNEL [stride=S] [padding=valid|same] [activation], maxpool2d POOL [stride=S],\n"
      "globalavgpool2d (each channel's mean over the image), dropout RATE, flatten, relu,\n"
      "sigmoid, tanh. Losses: cross_entropy (softmax), hinge\n"
      "(multiclass, margin model.margin), mse (least squares).";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("data.train", "HDF5 dataset to train on (see 'physfit import')")
        .path()
        .default_value(std::string());
    opts.add<std::string>("data.validation", "HDF5 dataset to validate on after each epoch")
        .path()
        .default_value(std::string());
    opts.add<double>("data.validation-split",
                     "fraction of the training rows (the last ones) kept for validation")
        .default_value(0.0)
        .check(config::in_range(0.0, 0.99));
    opts.add<std::string>("data.max-memory",
                          "bytes of data records a rank may hold (0: no limit; 800M, 2G); "
                          "beyond it the data are streamed from the file")
        .default_value(std::string("0"));
    opts.add<std::vector<std::string>>("model.layers", "the layers, comma-separated")
        .default_value(std::vector<std::string>{});
    opts.add<std::string>("model.loss", "cross_entropy, hinge or mse")
        .default_value(std::string("cross_entropy"))
        .check(config::one_of({"cross_entropy", "softmax_cross_entropy", "hinge", "mse"}));
    opts.add<double>("model.margin", "hinge margin Delta").default_value(1.0);
    opts.add<double>("model.l2", "L2 coefficient lambda (lambda * sum of squared weights)")
        .default_value(0.0)
        .check(config::non_negative<double>());
    opts.add<std::string>("optimizer.type", "adam or sgd")
        .default_value(std::string("adam"))
        .check(config::one_of({"adam", "sgd"}));
    opts.add<double>("optimizer.learning-rate", "step size (Adam's alpha)")
        .default_value(0.001)
        .check(config::positive<double>());
    opts.add<double>("optimizer.beta1", "Adam")
        .default_value(0.9)
        .check(config::in_range(0.0, 0.999999));
    opts.add<double>("optimizer.beta2", "Adam")
        .default_value(0.999)
        .check(config::in_range(0.0, 0.99999999));
    opts.add<double>("optimizer.epsilon", "Adam")
        .default_value(1e-8)
        .check(config::positive<double>());
    opts.add<double>("optimizer.momentum", "SGD momentum (0: plain SGD)")
        .default_value(0.0)
        .check(config::in_range(0.0, 0.999999));
    opts.add<long long>("train.epochs", "epochs to train (in total, when resuming)")
        .default_value(5LL)
        .check(config::positive<long long>());
    opts.add<long long>("train.batch", "global mini-batch size (over all ranks)")
        .default_value(32LL)
        .check(config::positive<long long>());
    opts.add<long long>("train.micro-batch",
                        "samples per micro-batch, the unit of work of a rank (0: min(batch, 64)); "
                        "results depend on it, never on the number of ranks")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<long long>("train.seed", "seed of the initial weights, sample order and dropout")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<std::string>("train.resume",
                          "training file to continue from; auto: output.model if it exists "
                          "(for jobs that are requeued after a stop signal)")
        .path({"auto"})
        .default_value(std::string());
    opts.add<std::string>("output.model", "the model file to write")
        .path()
        .default_value(std::string("results/model.h5"));
    opts.add<long long>("output.checkpoint-every",
                        "write output.model every N epochs (0: at the end)")
        .default_value(1LL)
        .check(config::non_negative<long long>());
  };
  c.run = run_train;
  // train.resume is not an input that output.model could destroy: continuing from the output
  // and writing it again is how a requeued job resumes.
  c.files = [](const config::Values& o) {
    Files f;
    f.input(o, "data.train");
    f.input(o, "data.validation");
    f.output(o, "output.model");
    return f;
  };
  return c;
}

Command evaluate_command() {
  Command c;
  c.name = "evaluate";
  c.summary = "loss and accuracy (or RMSE and MAE) of a trained model on a dataset";
  c.description =
      "physfit evaluate MODEL.h5 DATA.h5 [--json]\n\n"
      "Each rank reads its block of rows; the result has the same bits on any number of ranks.";
  c.declare = [](config::Options& opts) {
    opts.add<std::string>("input.model", "model file written by 'physfit train'").path().required();
    opts.add<std::string>("input.data", "HDF5 dataset (see 'physfit import')").path().required();
    opts.positional("input.model");
    opts.positional("input.data");
  };
  c.run = run_evaluate;
  return c;
}

Command predict_command() {
  Command c;
  c.name = "predict";
  c.summary = "scores (and predicted classes) of a trained model for every row of a dataset";
  c.description =
      "physfit predict MODEL.h5 DATA.h5 --output.file predictions.h5\n\n"
      "Writes /scores (float32 [N, outputs]) and, for classifiers, /predicted (int32 [N]); every\n"
      "rank writes its own rows with collective MPI-IO.";
  c.declare = [](config::Options& opts) {
    opts.add<std::string>("input.model", "model file written by 'physfit train'").path().required();
    opts.add<std::string>("input.data", "HDF5 dataset (see 'physfit import')").path().required();
    opts.add<std::string>("output.file", "HDF5 file to write")
        .path()
        .default_value(std::string("results/predictions.h5"));
    opts.positional("input.model");
    opts.positional("input.data");
  };
  c.run = run_predict;
  c.files = [](const config::Values& o) {
    Files f;
    f.input(o, "input.model");
    f.input(o, "input.data");
    f.output(o, "output.file");
    return f;
  };
  return c;
}

}  // namespace physfit::cli
