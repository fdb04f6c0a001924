// physfit._physfit, neural networks: what python/physfit/nn.py calls. The steps are those of
// `physfit train`, `physfit evaluate` and `physfit predict` (cli/train.hpp) on numpy arrays held
// as nn::MemoryRows: the global rows are rank 0's rows, then rank 1's, ...; they are moved to
// the ranks that compute them as the command's ranks would read them from a file, so the bits
// are the command's. docs/python.md is the user guide.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/cli/train.hpp"
#include "physfit/config/load.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_paths.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/nn/data.hpp"
#include "physfit/nn/trainer.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/partition.hpp"

namespace py = pybind11;

namespace physfit::python {
namespace {

mpi::Comm nn_world() {
  if (!mpi::Environment::active()) {
    throw Error("MPI is not active (finalised at exit, or by mpi4py): physfit needs MPI");
  }
  return mpi::Comm::world();
}

// physfit's log on this rank: warnings only, or the command's lines (rank 0) when verbose.
void configure_log(const mpi::Comm& comm, bool verbose) {
  log::configure({comm.rank(), comm.size(), verbose ? log::Level::kInfo : log::Level::kWarning,
                  nullptr, nullptr, 30.0});
}

// Options a Python call does not take: the configuration file (an argument of its own).
bool python_option(const std::string& key) { return key != "config"; }

// The options of `physfit train` as its command declares them.
config::Options train_declarations() {
  config::Options opts("physfit.nn.train");
  opts.add<std::string>("config", "INI configuration file").command_line_only();
  cli::train_command().declare(opts);
  return opts;
}

// (key, type, default as text or None, help) of every option a Python call accepts.
py::list train_options() {
  const config::Options opts = train_declarations();
  const config::Values defaults = opts.parse({}, nullptr, false);
  py::list out;
  for (const std::string& key : opts.keys()) {
    if (!python_option(key)) continue;
    const config::OptionSpec* spec = opts.find(key);
    py::object def = py::none();
    if (defaults.has(key)) def = py::str(defaults.text(key));
    out.append(py::make_tuple(key, spec->type_name(), def, spec->help()));
  }
  return out;
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// One rank's share of a dataset given as arrays, checked, with its place in the global rows.
struct Arrays {
  std::string x_name, y_name;
  py::array x;  // float32 or uint8, C order
  py::array y;  // int64 labels or float32 targets [n, T], C order; none if absent
  bool has_y = false;
  bool uint8 = false;
  nn::Shape sample;
  int targets = 0;
  std::int64_t rows = 0, first = 0, total = 0;
};

// Checks X (and y, unless None) on every rank and agrees on their global layout: the same
// sample shape, dtype class and targets on every rank. `classification`: y holds labels.
Arrays check_arrays(const mpi::Comm& comm, const py::handle& x_obj, const py::handle& y_obj,
                    bool classification, const std::string& x_name, const std::string& y_name) {
  Arrays a;
  a.x_name = x_name;
  a.y_name = y_name;
  a.has_y = !y_obj.is_none();
  // rows, h, w, c, uint8, targets, has_y
  long long mine[7] = {0, 0, 0, 0, 0, 0, a.has_y ? 1 : 0};
  mpi::guarded(comm, [&] {
    const py::array raw = py::array::ensure(x_obj);
    if (!raw) throw UsageError(x_name + " must be a numpy array (rows x features)");
    const char kind = raw.dtype().kind();
    if (kind == 'u' && raw.itemsize() == 1) {
      a.uint8 = true;
      a.x = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(raw);
    } else if (kind == 'f') {
      a.x = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(raw);
    } else {
      throw UsageError(x_name + " has dtype " + dtype_text(raw) +
                       "; physfit reads features as float32, float64 (rounded to float32, as a "
                       "dataset file stores them) or uint8: convert it, e.g. " +
                       x_name + ".astype('float32')");
    }
    const auto nd = a.x.ndim();
    if (nd < 2 || nd > 4) {
      throw UsageError(x_name + " has " + std::to_string(nd) +
                       " dimensions; it must be [rows, features], [rows, H, W] or "
                       "[rows, H, W, C] (one row per sample)");
    }
    for (py::ssize_t d = 1; d < nd; ++d) {
      if (a.x.shape(d) < 1 || a.x.shape(d) > 65536 * 256) {
        throw UsageError(x_name + ": dimension " + std::to_string(d) + " is " +
                         std::to_string(a.x.shape(d)) +
                         "; every dimension of a sample must be "
                         "positive");
      }
    }
    a.rows = a.x.shape(0);
    if (nd == 2) a.sample = {1, 1, static_cast<int>(a.x.shape(1))};
    if (nd == 3) a.sample = {static_cast<int>(a.x.shape(1)), static_cast<int>(a.x.shape(2)), 1};
    if (nd == 4) {
      a.sample = {static_cast<int>(a.x.shape(1)), static_cast<int>(a.x.shape(2)),
                  static_cast<int>(a.x.shape(3))};
    }
    if (a.has_y) {
      const py::array yr = py::array::ensure(y_obj);
      if (!yr)
        throw UsageError(y_name + " must be a numpy array with one entry per row of " + x_name);
      const char yk = yr.dtype().kind();
      if (classification) {
        if (yk != 'i' && yk != 'u') {
          throw UsageError(y_name + " has dtype " + dtype_text(yr) +
                           " but the loss is a classifier's: " + y_name +
                           " must hold integer class labels 0, 1, ... (convert with "
                           "astype('int32') after checking they are whole numbers, or use "
                           "model_loss='mse' for regression)");
        }
        if (!(yr.ndim() == 1 || (yr.ndim() == 2 && yr.shape(1) == 1))) {
          throw UsageError(y_name + " must be a 1-d array of class labels, one per row of " +
                           x_name + "; it has shape " + std::to_string(yr.ndim()) + "-d");
        }
        a.y = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(yr);
      } else {
        if (yk != 'f' && yk != 'i' && yk != 'u') {
          throw UsageError(y_name + " has dtype " + dtype_text(yr) +
                           "; regression targets must be real numbers");
        }
        if (yr.ndim() != 1 && yr.ndim() != 2) {
          throw UsageError(y_name + " must be [rows] or [rows, targets]; it has " +
                           std::to_string(yr.ndim()) + " dimensions");
        }
        a.y = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(yr);
        a.targets = yr.ndim() == 1 ? 1 : static_cast<int>(yr.shape(1));
        if (a.targets < 1) throw UsageError(y_name + " has no targets (0 columns)");
      }
      if (a.y.shape(0) != a.rows) {
        throw UsageError(x_name + " has " + std::to_string(a.rows) + " rows but " + y_name +
                         " has " + std::to_string(a.y.shape(0)) + ": one " +
                         (classification ? "label" : "target row") + " per row of " + x_name);
      }
    }
  });
  mine[0] = a.rows;
  mine[1] = a.sample.h;
  mine[2] = a.sample.w;
  mine[3] = a.sample.c;
  mine[4] = a.uint8 ? 1 : 0;
  mine[5] = a.targets;
  std::vector<std::vector<long long>> all(7);
  for (int k = 0; k < 7; ++k) all[static_cast<std::size_t>(k)] = comm.allgather(mine[k]);
  // Every rank sees the same gathered values and decides the same.
  for (int r = 0; r < comm.size(); ++r) {
    const auto q = static_cast<std::size_t>(r);
    if (r < comm.rank()) a.first += all[0][q];
    a.total += all[0][q];
    auto shape_of = [&](std::size_t s) {
      return nn::Shape{static_cast<int>(all[1][s]), static_cast<int>(all[2][s]),
                       static_cast<int>(all[3][s])}
          .str();
    };
    if (all[1][q] != all[1][0] || all[2][q] != all[2][0] || all[3][q] != all[3][0]) {
      throw UsageError(x_name + " has samples of " + shape_of(0) + " on rank 0 but " + shape_of(q) +
                       " on rank " + std::to_string(r) +
                       ": every rank passes rows of the same dataset");
    }
    if (all[4][q] != all[4][0]) {
      throw UsageError(x_name +
                       " is uint8 on some ranks and not on others: every rank passes "
                       "rows of the same dtype");
    }
    if (all[6][q] != all[6][0]) {
      throw UsageError(y_name + " given on some ranks and not on others");
    }
    if (all[5][q] != all[5][0]) {
      throw UsageError(y_name + " has " + std::to_string(all[5][0]) + " targets on rank 0 but " +
                       std::to_string(all[5][q]) + " on rank " + std::to_string(r));
    }
  }
  if (a.total < 1) throw UsageError(x_name + " has no rows (on any rank)");
  return a;
}

// The dataset layout of arrays (DataInfo); `classes` for labels.
nn::DataInfo info_of(const Arrays& a, bool classification, int classes) {
  nn::DataInfo info;
  info.path = a.x_name;
  info.rows = a.total;
  info.sample = a.sample;
  info.uint8 = a.uint8;
  info.classification = classification;
  info.classes = classification ? classes : 0;
  info.targets = classification ? 0 : a.targets;
  info.has_outputs = a.has_y;
  return info;
}

// **Collective.** This rank's rows as records (the layout a dataset file's rows have in
// memory), checked as the file reader checks them: finite features and targets, labels in
// [0, classes). Errors name the global row.
std::vector<unsigned char> records_of(const mpi::Comm& comm, const Arrays& a,
                                      const nn::DataInfo& info) {
  std::vector<unsigned char> records;
  mpi::guarded(comm, [&] {
    const std::int64_t rb = info.record_bytes(), fb = info.feature_bytes();
    const std::int64_t f = info.sample.size();
    records.resize(static_cast<std::size_t>(a.rows * rb));
    const auto* x = static_cast<const unsigned char*>(a.x.data());
    for (std::int64_t r = 0; r < a.rows; ++r) {
      unsigned char* out = records.data() + r * rb;
      std::memcpy(out, x + r * fb, static_cast<std::size_t>(fb));
      const std::string row = std::to_string(a.first + r);
      const std::string here =
          a.first == 0 && a.rows == a.total ? "" : " (row " + std::to_string(r) + " on this rank)";
      if (!info.uint8) {
        const auto* v = reinterpret_cast<const float*>(x + r * fb);
        for (std::int64_t i = 0; i < f; ++i) {
          if (!std::isfinite(v[i])) {
            throw UsageError(a.x_name + " row " + row + here + ", element " + std::to_string(i) +
                             ": value is not finite (as float32); remove or repair that row");
          }
        }
      }
      if (!info.has_outputs) continue;
      if (info.classification) {
        const std::int64_t label = static_cast<const std::int64_t*>(a.y.data())[r];
        if (label < 0 || label >= info.classes) {
          throw UsageError(a.y_name + "[" + row + "] = " + std::to_string(label) + here +
                           " is outside [0, " + std::to_string(info.classes) + "): the model's " +
                           "last layer gives " + std::to_string(info.classes) +
                           " class scores; labels must be 0 to " +
                           std::to_string(info.classes - 1));
        }
        const auto l32 = static_cast<std::int32_t>(label);
        std::memcpy(out + fb, &l32, 4);
      } else {
        const float* t = static_cast<const float*>(a.y.data()) + r * info.targets;
        for (int k = 0; k < info.targets; ++k) {
          if (!std::isfinite(t[k])) {
            throw UsageError(a.y_name + " row " + row + here + ", target " + std::to_string(k) +
                             ": value is not finite (as float32); remove or repair that row");
          }
        }
        std::memcpy(out + fb, t, 4 * static_cast<std::size_t>(info.targets));
      }
    }
  });
  return records;
}

// **Collective.** `info` with the records of global rows [begin, begin + count) in memory on
// this rank, moved from the ranks that hold them.
nn::DataInfo holding(const mpi::Comm& comm, nn::DataInfo info, const Arrays& a,
                     const std::vector<unsigned char>& records, std::int64_t begin,
                     std::int64_t count) {
  info.memory = std::make_shared<const nn::MemoryRows>(
      nn::exchange_rows(comm, info.record_bytes(), records.data(), a.first, a.rows, begin, count));
  return info;
}

py::array_t<double> doubles(const std::vector<double>& v) {
  py::array_t<double> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict history_dict(const nn::History& h) {
  py::dict d;
  for (const auto& [key, values] : h.columns) d[py::str(key)] = doubles(values);
  return d;
}

py::dict metrics_dict(const nn::Metrics& m, bool classification, const std::string& prefix) {
  py::dict d;
  d[py::str(prefix + "loss")] = m.loss;
  if (classification) {
    d[py::str(prefix + "accuracy")] = m.accuracy;
  } else {
    d[py::str(prefix + "rmse")] = m.rmse;
    d[py::str(prefix + "mae")] = m.mae;
  }
  return d;
}

// A network and what continues or saves its training (from a run or a training file).
struct Network {
  std::unique_ptr<nn::Model> model;
  std::unique_ptr<nn::Optimizer> optimizer;
  nn::TrainSettings settings;
  nn::TrainState state;
  std::string config;  // effective configuration (INI text), for the provenance of saves
};

void save_network(const Network& n, const std::string& path, const std::string& command) {
  const mpi::Comm comm = nn_world();
  if (!n.optimizer) throw UsageError("this model has no optimiser state to save");
  io::check_output_paths(comm, {}, {{"path", path}});
  std::vector<std::string> made;
  mpi::guarded(comm, [&] {
    if (comm.is_root()) io::make_output_folders({{"path", path}}, made);
  });
  const io::Provenance p = io::current_provenance(comm, command, n.config, util::utc_timestamp());
  cli::write_training_file(comm, p, path, *n.model, *n.optimizer, n.settings, n.state);
}

std::shared_ptr<Network> load_network(const std::string& path) {
  const mpi::Comm comm = nn_world();
  auto n = std::make_shared<Network>();
  mpi::guarded(comm, [&] {
    const io::File f = io::File::open(path);
    n->model = nn::load_model(f);
    if (f.exists("/optimizer") && f.exists("/training")) {
      n->optimizer = std::make_unique<nn::Optimizer>(nn::load_optimizer_settings(f),
                                                     n->model->parameter_count());
      nn::load_training(f, *n->optimizer, n->settings, n->state);
      const io::Group t = f.group("/training");
      if (io::has_attribute(t.id(), "epochs")) {
        n->settings.epochs = io::get_int_attribute(t.id(), "epochs");
      }
    }
    if (f.exists("/physfit")) n->config = io::read_provenance(f).config;
  });
  return n;
}

// Scores of the model for this rank's rows of X (and the loss sums if y is given).
struct Scored {
  Arrays a;
  nn::LossSums sums;
  std::vector<float> scores;  // outputs x a.rows, this rank's rows in its order
};

Scored score(Network& n, const py::handle& x, const py::handle& y, bool need_y) {
  const mpi::Comm comm = nn_world();
  configure_log(comm, false);
  nn::Model& model = *n.model;
  const bool classification = model.loss().classification();
  Scored s;
  s.a = check_arrays(comm, x, y, classification, "X", "y");
  if (need_y && !s.a.has_y) {  // has_y is the same on every rank
    throw UsageError("evaluate needs y (labels or targets), one per row of X");
  }
  if (s.a.sample != model.input_shape()) {
    throw UsageError("the model's input is " + model.input_shape().str() +
                     " but X has samples of " + s.a.sample.str() + " (X's shape after the rows)");
  }
  nn::DataInfo info = info_of(s.a, classification, model.outputs());
  if (info.has_outputs) mpi::guarded(comm, [&] { cli::check_fit(model, info); });
  const std::vector<unsigned char> records = records_of(comm, s.a, info);
  const util::Block rows = nn::evaluation_rows(s.a.total, comm.size(), comm.rank());
  info = holding(comm, info, s.a, records, rows.begin, rows.count);
  std::vector<float> scores;
  std::int64_t first = 0, local = 0;
  {
    const py::gil_scoped_release released;
    s.sums = nn::evaluate_model(comm, model, info, 0, s.a.total, &scores, &first, &local);
  }
  // Back to the caller's rows.
  const int outputs = model.outputs();
  nn::MemoryRows back =
      nn::exchange_rows(comm, 4LL * outputs, reinterpret_cast<const unsigned char*>(scores.data()),
                        first, local, s.a.first, s.a.rows);
  s.scores.resize(static_cast<std::size_t>(s.a.rows * outputs));
  if (!back.records.empty()) std::memcpy(s.scores.data(), back.records.data(), back.records.size());
  return s;
}

py::dict predict(Network& n, const py::handle& x) {
  Scored s = score(n, x, py::none(), false);
  const int outputs = n.model->outputs();
  py::array_t<float> scores(
      {static_cast<py::ssize_t>(s.a.rows), static_cast<py::ssize_t>(outputs)});
  std::copy(s.scores.begin(), s.scores.end(), scores.mutable_data());
  py::dict d;
  d["scores"] = scores;
  d["predicted"] = py::none();
  if (n.model->loss().classification()) {
    // As `physfit predict`: the first class of the largest score.
    py::array_t<std::int32_t> predicted(static_cast<py::ssize_t>(s.a.rows));
    auto* p = predicted.mutable_data();
    for (std::int64_t r = 0; r < s.a.rows; ++r) {
      const float* v = s.scores.data() + r * outputs;
      p[r] = static_cast<std::int32_t>(std::max_element(v, v + outputs) - v);
    }
    d["predicted"] = predicted;
  }
  return d;
}

py::dict evaluate(Network& n, const py::handle& x, const py::handle& y) {
  Scored s = score(n, x, y, true);
  const bool classification = n.model->loss().classification();
  const nn::Metrics m = nn::metrics_of(s.sums, *n.model, false);
  py::dict d = metrics_dict(m, classification, "");
  d["samples"] = m.samples;
  return d;
}

// Raised on every rank to leave Trainer::run when the callback stops the training.
struct StopTraining {};

// The trainer flushes denormals to zero (MXCSR's FTZ and DAZ) while it runs; the callback's
// Python code runs with them off, as everywhere else in Python, and the trainer's mode after.
class PythonFloatingPoint {
 public:
  PythonFloatingPoint() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ & ~kFlushBits); }
  ~PythonFloatingPoint() { _mm_setcsr(saved_); }
  PythonFloatingPoint(const PythonFloatingPoint&) = delete;
  PythonFloatingPoint& operator=(const PythonFloatingPoint&) = delete;

 private:
  static constexpr unsigned kFlushBits = 0x8040;  // flush-to-zero, denormals-are-zero
  unsigned saved_;
};

py::dict train(const py::handle& x, const py::handle& y, const py::handle& xv, const py::handle& yv,
               const std::vector<std::string>& args, const std::string& ini_path,
               const py::object& callback, bool verbose) {
  const mpi::Comm comm = nn_world();
  configure_log(comm, verbose);
  // What the ranks passed must agree (or some would wait in a collective that others skip).
  std::string given = ini_path;
  for (const std::string& a : args) given += '\n' + a;
  const auto hash = static_cast<unsigned long long>(std::hash<std::string>{}(given));
  const int flags = (x.is_none() ? 0 : 1) | (y.is_none() ? 0 : 2) | (xv.is_none() ? 0 : 4) |
                    (yv.is_none() ? 0 : 8);
  if (comm.allreduce(hash, mpi::Op::kMin) != comm.allreduce(hash, mpi::Op::kMax)) {
    throw UsageError(
        "the options of physfit.nn.train differ between ranks: every rank passes "
        "the same options (only the rows of X and y are its own)");
  }
  if (comm.allreduce(flags, mpi::Op::kMin) != comm.allreduce(flags, mpi::Op::kMax)) {
    throw UsageError(
        "X, y, X_val and y_val are given on some ranks and None on others: every "
        "rank passes its rows (possibly none: an array with 0 rows)");
  }
  const std::string start_time = util::utc_timestamp();
  const config::Options opts = train_declarations();
  config::IniText ini;
  if (!ini_path.empty()) ini = config::load_ini(comm, ini_path);
  const config::Values o =
      mpi::guarded(comm, [&] { return opts.parse(args, ini_path.empty() ? nullptr : &ini); });
  nn::TrainSettings settings = cli::train_settings(o);
  const std::string output = o.get<std::string>("output.model");
  const bool write = o.origin("output.model").kind != config::Origin::Kind::kDefault;
  // train.resume: the command's (a training file's model, optimiser, state and settings;
  // "auto" continues from output_model when it exists).
  cli::Resumed resumed = cli::resume_training(comm, o, settings, write ? output : std::string());
  const bool resuming = !resumed.path.empty();
  const auto checkpoint_every = o.get<long long>("output.checkpoint-every");
  const auto train_path = o.get<std::string>("data.train");
  const auto val_path = o.get<std::string>("data.validation");
  const bool arrays = !x.is_none();
  const bool val_arrays = !xv.is_none();
  if (arrays == !train_path.empty()) {
    throw UsageError(arrays ? "give either X, y or data_train (a dataset file), not both"
                            : "no training data: give X and y, or data_train (a dataset file)");
  }
  if (arrays && y.is_none()) throw UsageError("X given without y (labels or targets)");
  if (val_arrays && !val_path.empty()) {
    throw UsageError("give either X_val, y_val or data_validation, not both");
  }
  if (val_arrays && yv.is_none()) throw UsageError("X_val given without y_val");
  const bool classification =
      resuming ? resumed.model->loss().classification() : o.get<std::string>("model.loss") != "mse";

  // The outputs' rules of the command: never an input, only a regular file is replaced.
  if (write) {
    std::vector<io::NamedPath> inputs;
    if (!train_path.empty()) inputs.push_back({"data_train", train_path});
    if (!val_path.empty()) inputs.push_back({"data_validation", val_path});
    if (!ini_path.empty()) inputs.push_back({"config", ini_path});
    io::check_output_paths(comm, inputs, {{"output_model", output}});
    std::vector<std::string> made;
    mpi::guarded(comm, [&] {
      if (comm.is_root()) io::make_output_folders({{"output_model", output}}, made);
    });
  }

  // The training data: arrays, or a file read as the command reads it.
  Arrays ta, va;
  nn::DataInfo train, validation;
  std::vector<unsigned char> train_records, val_records;
  if (arrays) {
    ta = check_arrays(comm, x, y, classification, "X", "y");
  } else {
    train = mpi::guarded(comm, [&] { return nn::inspect_data(train_path); });
  }
  if (val_arrays) {
    va = check_arrays(comm, xv, yv, classification, "X_val", "y_val");
  } else if (!val_path.empty()) {
    validation = mpi::guarded(comm, [&] { return nn::inspect_data(val_path); });
  }
  const nn::Shape sample = arrays ? ta.sample : train.sample;
  const std::int64_t total = arrays ? ta.total : train.rows;
  const std::int64_t val_total = val_arrays ? va.total : (val_path.empty() ? 0 : validation.rows);
  const cli::TrainRows rows = cli::split_rows(o, total, val_total);

  auto net = std::make_shared<Network>();
  net->settings = settings;
  net->config = o.effective_ini();
  if (resuming) {
    net->model = std::move(resumed.model);
    net->optimizer = std::move(resumed.optimizer);
  } else {
    net->model = cli::new_model(comm, o, sample);
    net->optimizer = cli::new_optimizer(o, *net->model);
  }
  nn::Model& model = *net->model;
  const int classes = model.outputs();

  if (arrays) {
    train = info_of(ta, classification, classes);
    mpi::guarded(comm, [&] { cli::check_fit(model, train); });
    train_records = records_of(comm, ta, train);
    ta.x = py::array();  // the converted copies (if any) are no longer needed
    ta.y = py::array();
  }
  if (val_arrays) {
    validation = info_of(va, classification, classes);
    mpi::guarded(comm, [&] { cli::check_fit(model, validation); });
    val_records = records_of(comm, va, validation);
    va.x = py::array();
    va.y = py::array();
  }
  if (rows.split) validation = train;
  mpi::guarded(comm, [&] {
    cli::check_fit(model, train);
    if (rows.val_rows > 0) cli::check_fit(model, validation);
  });
  // Arrays: each rank holds the rows the command's rank would read from the file: its block of
  // the training rows, and the validation rows it evaluates.
  if (arrays) {
    const util::Block own = util::block_of(rows.train, comm.size(), comm.rank());
    train = holding(comm, train, ta, train_records, own.begin, own.count);
  }
  if (rows.val_rows > 0 && (val_arrays || (rows.split && arrays))) {
    const util::Block mine = nn::evaluation_rows(rows.val_rows, comm.size(), comm.rank());
    const Arrays& from = val_arrays ? va : ta;
    validation = holding(comm, validation, from, val_arrays ? val_records : train_records,
                         rows.val_begin + mine.begin, mine.count);
  }
  std::vector<unsigned char>().swap(train_records);  // freed, not only emptied
  std::vector<unsigned char>().swap(val_records);

  nn::Trainer trainer(comm, model, *net->optimizer, settings, train, rows.train,
                      rows.val_rows > 0 ? &validation : nullptr, rows.val_begin, rows.val_rows);
  if (resuming) trainer.state() = resumed.state;
  const io::Provenance provenance =
      io::current_provenance(comm, "python: physfit.nn.train", net->config, start_time);

  // The callback: on every rank after each epoch; False or an exception on any rank stops all.
  std::exception_ptr raised;
  int raised_rank = -1;
  bool stopped = false;
  std::int64_t stopped_after = 0;
  auto on_epoch = [&](const nn::EpochReport& r) {
    int stop = 0;  // 1: returned False, 2: raised
    log::info(cli::epoch_line(r, settings.epochs, classification));
    if (!callback.is_none()) {
      const py::gil_scoped_acquire gil;
      const PythonFloatingPoint python_fp;
      try {
        py::dict m = metrics_dict(r.train, classification, "");
        if (r.has_validation) {
          for (auto item : metrics_dict(r.validation, classification, "val_")) {
            m[item.first] = item.second;
          }
        }
        m["samples_per_s"] = r.samples_per_second;
        m["time_s"] = r.seconds;
        const py::object result = callback(r.epoch, r.train.loss, m);
        if (!result.is_none()) {
          const int truth = PyObject_IsTrue(result.ptr());
          if (truth < 0) throw py::error_already_set();
          if (truth == 0) stop = 1;
        }
      } catch (...) {
        raised = std::current_exception();
        stop = 2;
      }
    }
    const int any = comm.allreduce(stop, mpi::Op::kMax);
    const int first_raised = comm.allreduce(stop == 2 ? comm.rank() : comm.size(), mpi::Op::kMin);
    const bool last_epoch = r.epoch == settings.epochs;
    if (write && any != 2 &&
        (any == 1 || (!last_epoch && checkpoint_every > 0 && r.epoch % checkpoint_every == 0))) {
      cli::write_training_file(comm, provenance, output, model, *net->optimizer, settings,
                               trainer.state());
    }
    if (any != 0) {
      stopped = true;
      stopped_after = r.epoch;
      raised_rank = any == 2 ? first_raised : -1;
      throw StopTraining{};
    }
  };
  try {
    const py::gil_scoped_release released;
    trainer.run(on_epoch);
  } catch (const StopTraining&) {
  }
  if (raised) std::rethrow_exception(raised);
  if (raised_rank >= 0) {
    throw Error("physfit.nn.train: the callback raised an exception on rank " +
                std::to_string(raised_rank) + "; training stopped after epoch " +
                std::to_string(stopped_after) + " on every rank");
  }
  if (write && !stopped) {
    cli::write_training_file(comm, provenance, output, model, *net->optimizer, settings,
                             trainer.state());
  }
  net->state = trainer.state();
  py::dict d;
  d["model"] = py::cast(net);
  d["history"] = history_dict(net->state.history);
  d["epochs_done"] = net->state.epochs_done;
  d["stopped"] = stopped;
  d["rows"] = rows.train;
  d["validation_rows"] = rows.val_rows;
  d["output"] = write ? py::object(py::str(output)) : py::none();
  d["config"] = net->config;
  return d;
}

}  // namespace

void bind_nn(py::module_& m) {
  io::hdf5_initialize();
  py::class_<Network, std::shared_ptr<Network>>(m, "NnNetwork",
                                                "A neural network (use physfit.nn.Model)")
      .def_property_readonly("layers", [](const Network& n) { return n.model->layer_specs(); })
      .def_property_readonly("input_shape",
                             [](const Network& n) {
                               const nn::Shape& s = n.model->input_shape();
                               return py::make_tuple(s.h, s.w, s.c);
                             })
      .def_property_readonly("loss", [](const Network& n) { return n.model->loss().name(); })
      .def_property_readonly("classification",
                             [](const Network& n) { return n.model->loss().classification(); })
      .def_property_readonly("outputs", [](const Network& n) { return n.model->outputs(); })
      .def_property_readonly(
          "parameters",
          [](const Network& n) {
            py::array_t<float> a(static_cast<py::ssize_t>(n.model->parameter_count()));
            std::copy(n.model->parameters(), n.model->parameters() + n.model->parameter_count(),
                      a.mutable_data());
            return a;
          })
      .def_property_readonly("history",
                             [](const Network& n) { return history_dict(n.state.history); })
      .def_property_readonly("epochs_done", [](const Network& n) { return n.state.epochs_done; })
      .def_property_readonly("config", [](const Network& n) { return n.config; })
      .def("predict", &predict, py::arg("x"))
      .def("evaluate", &evaluate, py::arg("x"), py::arg("y"))
      .def("save", &save_network, py::arg("path"), py::arg("command"));
  m.def("nn_load", &load_network, py::arg("path"));
  m.def("nn_options", &train_options,
        "(key, type, default text or None, help) of every option of `physfit train` a Python "
        "call accepts");
  m.def("nn_train", &train, py::arg("x"), py::arg("y"), py::arg("x_val"), py::arg("y_val"),
        py::arg("args"), py::arg("ini"), py::arg("callback"), py::arg("verbose"));
  // HDF5's objects closed before MPI is finalised (atexit runs this before finalize_mpi, which
  // module.cpp registered earlier).
  py::module_::import("atexit").attr("register")(py::cpp_function([] { io::hdf5_finish(); }));
}

}  // namespace physfit::python
