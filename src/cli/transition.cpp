// physfit transition: where a trained classifier puts a phase transition (issue 13). For each
// lattice size, a model and a dataset (from `physfit generate ising`): P(ordered | T) with error
// bars, the temperature T(L) where it crosses 1/2, and the finite-size extrapolation
// T(L) = T_c + a L^(-1/nu) (physfit::ising, include/physfit/ising/transition.hpp).

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/ising/exact.hpp"
#include "physfit/ising/transition.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/nn/data.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/trainer.hpp"
#include "physfit/plot/figures.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/json.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

std::string fmt(double v, int precision = 5) {
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

// One model on its data, or one lattice size (the mean of its models: an ensemble).
struct SizeResult {
  std::string model, data;  // comma-separated for an ensemble
  int size = 0;
  int members = 1;
  ising::Curve curve;
  ising::Crossing crossing;
  std::vector<double> member_crossings;  // each model's own T(L) (NaN: none)
};

// The lattice sizes in the order they first appear, each the ensemble of its models.
std::vector<SizeResult> group_by_size(const std::vector<SizeResult>& members, double window) {
  std::vector<SizeResult> sizes;
  for (const auto& m : members) {
    auto it = std::find_if(sizes.begin(), sizes.end(),
                           [&](const SizeResult& s) { return s.size == m.size; });
    if (it != sizes.end()) continue;
    SizeResult s;
    s.size = m.size;
    std::vector<ising::Curve> curves;
    std::vector<std::string> models, data;
    for (const auto& o : members) {
      if (o.size != m.size) continue;
      curves.push_back(o.curve);
      models.push_back(o.model);
      data.push_back(o.data);
      s.member_crossings.push_back(o.crossing.found ? o.crossing.temperature : std::nan(""));
    }
    try {
      s.curve = ising::ensemble_of(curves);
    } catch (const std::invalid_argument&) {
      throw UsageError("the models of L = " + std::to_string(m.size) + " (" +
                       util::join(models, ", ") +
                       ") were given datasets with different temperatures (" +
                       util::join(data, ", ") + "): an ensemble needs the same temperatures");
    }
    s.members = static_cast<int>(curves.size());
    s.model = util::join(models, ",");
    s.data = util::join(data, ",");
    s.crossing = ising::crossing_of(s.curve, window);
    // A network's curve moves as a whole with its training: the spread of the members' own
    // crossings / sqrt(K) is the ensemble's error when it exceeds the fit's (which treats the
    // temperatures as independent).
    const auto k = static_cast<double>(s.members);
    if (s.crossing.found && s.members > 1 &&
        std::none_of(s.member_crossings.begin(), s.member_crossings.end(),
                     [](double t) { return std::isnan(t); })) {
      double sum = 0, sum2 = 0;
      for (const double t : s.member_crossings) sum += t;
      for (const double t : s.member_crossings) sum2 += (t - sum / k) * (t - sum / k);
      const double spread = std::sqrt(sum2 / (k - 1) / k);
      if (spread > s.crossing.error) {
        s.crossing.error = spread;
        s.crossing.note += "; error from the spread of the " + std::to_string(s.members) +
                           " models' own crossings";
      }
    }
    sizes.push_back(std::move(s));
  }
  return sizes;
}

// L of a dataset: the generator's attribute /ising@L, else the side of square samples.
int lattice_size(const io::File& f, const std::string& path, const nn::DataInfo& info) {
  if (f.exists("/ising")) {
    const io::Group g = f.group("/ising");
    if (io::has_attribute(g.id(), "L")) return static_cast<int>(io::get_int_attribute(g.id(), "L"));
  }
  if (info.sample.h == info.sample.w && info.sample.c == 1) return info.sample.h;
  throw UsageError("'" + path + "' has no attribute L in /ising and its samples (" +
                   info.sample.str() + ") are not square: the lattice size is unknown");
}

// Probability of the ordered class for each of this rank's rows: the softmax of the scores for
// a cross-entropy model, else 1 when the predicted class is the ordered one.
std::vector<double> ordered_probability(const nn::Model& model, const std::vector<float>& scores,
                                        std::int64_t rows, int ordered) {
  const int k = model.outputs();
  const bool softmax = model.loss().name() == "cross_entropy";
  std::vector<double> p(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* y = scores.data() + r * k;
    if (softmax) {
      const double top = *std::max_element(y, y + k);
      double sum = 0;
      for (int j = 0; j < k; ++j) sum += std::exp(static_cast<double>(y[j]) - top);
      p[static_cast<std::size_t>(r)] = std::exp(static_cast<double>(y[ordered]) - top) / sum;
    } else {
      p[static_cast<std::size_t>(r)] = (std::max_element(y, y + k) - y) == ordered ? 1.0 : 0.0;
    }
  }
  return p;
}

// **Collective.** Every rank's values, in rank order, on rank 0 (others get an empty vector):
// rank 0 then sums in row order, so the curve does not depend on the number of ranks.
std::vector<double> gather_to_root(const mpi::Comm& comm, const std::vector<double>& mine) {
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(comm.size()), 0), displs(counts.size(), 0);
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm.raw());
  std::vector<double> all;
  if (comm.rank() == 0) {
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      displs[r] = static_cast<int>(total);
      total += counts[r];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
              comm.raw());
  return all;
}

plot::TransitionPlot figure_of(const std::vector<SizeResult>& sizes, const ising::Extrapolation& e,
                               double nu, double exact) {
  plot::TransitionPlot p;
  for (const auto& s : sizes) {
    p.curves.push_back({s.size, s.curve.temperature, s.curve.probability, s.curve.error});
    p.members = std::max(p.members, s.members);
    if (!s.crossing.found) continue;
    p.crossing_sizes.push_back(s.size);
    p.crossing.push_back(s.crossing.temperature);
    p.crossing_error.push_back(s.crossing.error);
  }
  p.extrapolated = e.found;
  p.critical_temperature = e.critical_temperature;
  p.critical_error = e.critical_error;
  p.slope = e.slope;
  p.nu = nu;
  p.exact = exact;
  return p;
}

void run(Context& ctx) {
  const util::StopHandlers stop_handlers;
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto models = o.get<std::vector<std::string>>("input.models");
  const auto data = o.get<std::vector<std::string>>("input.data");
  const int ordered = o.get<int>("transition.ordered-class");
  const double window = o.get<double>("transition.window");
  const double nu = o.get<double>("transition.nu");
  const double exact = ising::critical_temperature();
  const auto output = o.get<std::string>("output.file");
  const auto png = o.get<std::string>("output.figure");
  mpi::guarded(comm, [&] {
    if (models.empty() || models.size() != data.size()) {
      throw UsageError("--input.models has " + std::to_string(models.size()) +
                       " files and --input.data " + std::to_string(data.size()) +
                       ": give one model and one dataset for each lattice size, in the same order");
    }
    if (!png.empty()) plot::format_of(png, "--output.figure");
    return 0;
  });

  std::vector<SizeResult> members;
  for (std::size_t i = 0; i < models.size(); ++i) {
    mpi::stop_point(comm, "before evaluating '" + models[i] + "': nothing written");
    const util::Stopwatch clock;
    SizeResult s;
    s.model = models[i];
    s.data = data[i];
    const auto model = mpi::guarded(comm, [&] {
      const io::File f = io::File::open(models[i]);
      return nn::load_model(f);
    });
    const nn::DataInfo info = mpi::guarded(comm, [&] {
      nn::DataInfo d = nn::inspect_data(data[i], false);
      if (d.sample != model->input_shape()) {
        throw UsageError("the model '" + models[i] + "' takes " + model->input_shape().str() +
                         " but '" + data[i] + "' has samples of " + d.sample.str());
      }
      if (!model->loss().classification() || ordered >= model->outputs()) {
        throw UsageError("the model '" + models[i] + "' must classify into at least " +
                         std::to_string(ordered + 1) + " classes (--transition.ordered-class " +
                         std::to_string(ordered) + "); it has " + std::to_string(model->outputs()) +
                         " outputs and a " + model->loss().name() + " loss");
      }
      const io::File f = io::File::open(data[i]);
      if (!f.exists("/temperature")) {
        throw IoError("'" + data[i] +
                      "' has no /temperature (one per sample): write it with "
                      "'physfit generate ising'");
      }
      f.dataset("/temperature").require_shape({d.rows});
      s.size = lattice_size(f, data[i], d);
      return d;
    });
    std::vector<float> scores;
    std::int64_t first = 0, rows = 0;
    nn::evaluate_model(comm, *model, info, 0, info.rows, &scores, &first, &rows);
    const std::vector<double> p =
        gather_to_root(comm, ordered_probability(*model, scores, rows, ordered));
    mpi::guarded(comm, [&] {
      if (comm.rank() != 0) return 0;
      const io::File f = io::File::open(data[i]);
      const auto t = f.dataset("/temperature").read_all<double>();
      try {
        s.curve = ising::curve_of(s.size, t, p);
      } catch (const std::invalid_argument& e) {
        throw IoError("'/temperature' in '" + data[i] + "': " + e.what());
      }
      s.crossing = ising::crossing_of(s.curve, window);
      return 0;
    });
    if (comm.rank() == 0) {
      log::info("transition: L = ", s.size, ", ", info.rows, " samples at ",
                s.curve.temperature.size(), " temperatures of '", data[i], "': ",
                s.crossing.found
                    ? "P(ordered) = 1/2 at T = " + fmt(s.crossing.temperature, 6) + " +- " +
                          fmt(s.crossing.error, 2) + " (" + s.crossing.note + ")"
                    : "no crossing (" + s.crossing.note + ")",
                " (", fmt(clock.seconds(), 3), " s)");
    }
    members.push_back(std::move(s));
  }

  mpi::stop_point(comm, "before writing the outputs: nothing written");
  ising::Extrapolation e;
  std::vector<SizeResult> sizes;
  mpi::guarded(comm, [&] {
    if (comm.rank() != 0) return 0;
    sizes = group_by_size(members, window);
    for (const auto& s : sizes) {
      if (s.members == 1) continue;
      log::info("transition: L = ", s.size, ", ensemble of ", s.members, " models: ",
                s.crossing.found
                    ? "P(ordered) = 1/2 at T = " + fmt(s.crossing.temperature, 6) + " +- " +
                          fmt(s.crossing.error, 2) + " (" + s.crossing.note + ")"
                    : "no crossing (" + s.crossing.note + ")");
    }
    std::vector<int> ls;
    std::vector<ising::Crossing> cs;
    for (const auto& s : sizes) {
      ls.push_back(s.size);
      cs.push_back(s.crossing);
    }
    e = ising::extrapolate(ls, cs, nu);
    if (e.found) {
      log::info("transition: T_c = ", fmt(e.critical_temperature, 6), " +- ",
                fmt(e.critical_error, 2), " extrapolated from ", e.sizes,
                " sizes (T(L) = T_c + a L^(-1/nu), nu = ", fmt(nu, 3), ", a = ", fmt(e.slope, 4),
                " +- ", fmt(e.slope_error, 2), "); exact ", fmt(exact, 7), ": ",
                fmt(100.0 * (e.critical_temperature - exact) / exact, 3), " %");
    } else if (sizes.size() > 1) {
      log::warning("transition: no extrapolation: fewer than two sizes have a crossing");
    }
    io::StagedOutputs staged;
    if (!png.empty()) plot::transition_page(figure_of(sizes, e, nu, exact)).save(png);
    if (!output.empty()) {
      io::OutputFile out(mpi::Comm::self(), output, ctx.provenance(),
                         io::OutputFile::Writers::kRank0);
      const io::File& f = out.file();
      const io::Group g = f.create_group("/transition");
      std::vector<std::int64_t> ls64;
      std::vector<double> tl, tle;
      for (const auto& s : sizes) {
        const std::string base = "/transition/L" + std::to_string(s.size);
        f.create_group(base);
        const auto nt = static_cast<std::int64_t>(s.curve.temperature.size());
        f.create_dataset<double>(base + "/temperature", {nt}, "J/k_B")
            .write_all(s.curve.temperature);
        f.create_dataset<double>(base + "/probability", {nt}, "dimensionless")
            .write_all(s.curve.probability);
        f.create_dataset<double>(base + "/error", {nt}, "dimensionless").write_all(s.curve.error);
        f.create_dataset<std::int64_t>(base + "/count", {nt}, "dimensionless")
            .write_all(s.curve.count);
        const io::Group gl = f.group(base);
        io::set_attribute(gl.id(), "model", s.model);
        io::set_attribute(gl.id(), "data", s.data);
        io::set_attribute(gl.id(), "crossing_found", std::int64_t{s.crossing.found ? 1 : 0});
        io::set_attribute(gl.id(), "crossing_note", s.crossing.note);
        io::set_attribute(gl.id(), "ensemble", static_cast<std::int64_t>(s.members));
        f.create_dataset<double>(base + "/member_crossing", {s.members}, "J/k_B")
            .write_all(s.member_crossings);
        ls64.push_back(s.size);
        tl.push_back(s.crossing.found ? s.crossing.temperature : std::nan(""));
        tle.push_back(s.crossing.found ? s.crossing.error : std::nan(""));
      }
      const auto ns = static_cast<std::int64_t>(sizes.size());
      f.create_dataset<std::int64_t>("/transition/sizes", {ns}, "dimensionless").write_all(ls64);
      f.create_dataset<double>("/transition/crossing", {ns}, "J/k_B").write_all(tl);
      f.create_dataset<double>("/transition/crossing_error", {ns}, "J/k_B").write_all(tle);
      io::set_attribute(g.id(), "probability",
                        "P(ordered) of a sample: the softmax probability of class " +
                            std::to_string(ordered) +
                            " (cross_entropy), else 1 when the model predicts it; per "
                            "temperature the mean and its standard error");
      io::set_attribute(g.id(), "crossing_method",
                        std::string("weighted straight-line fit of logit P against T over the "
                                    "temperatures with window < P < 1 - window and the two "
                                    "around the crossing; window = ") +
                            fmt(window, 4));
      io::set_attribute(g.id(), "finite_size_form", "T(L) = T_c + a L^(-1/nu), nu = " + fmt(nu, 6));
      io::set_attribute(g.id(), "nu", nu);
      io::set_attribute(g.id(), "exact_critical_temperature", exact);
      io::set_attribute(g.id(), "extrapolated", std::int64_t{e.found ? 1 : 0});
      if (e.found) {
        io::set_attribute(g.id(), "critical_temperature", e.critical_temperature);
        io::set_attribute(g.id(), "critical_temperature_error", e.critical_error);
        io::set_attribute(g.id(), "slope_a", e.slope);
        io::set_attribute(g.id(), "slope_a_error", e.slope_error);
        io::set_attribute(g.id(), "relative_deviation_from_exact",
                          (e.critical_temperature - exact) / exact);
      }
      out.commit();
    }
    staged.commit();
    return 0;
  });
  if (comm.rank() == 0 && !png.empty()) log::info("transition: figure in '", png, "'");
  util::Json per_size = util::Json::array();
  for (const auto& s : sizes) {
    util::Json j = util::Json::object();
    j["L"] = s.size;
    j["crossing"] = s.crossing.found ? s.crossing.temperature : -1.0;
    j["crossing_error"] = s.crossing.error;
    j["temperatures"] = static_cast<std::int64_t>(s.curve.temperature.size());
    j["models"] = s.members;
    per_size.push_back(j);
  }
  ctx.summary["sizes"] = per_size;
  if (e.found) {
    ctx.summary["critical_temperature"] = e.critical_temperature;
    ctx.summary["critical_temperature_error"] = e.critical_error;
    ctx.summary["relative_deviation"] = (e.critical_temperature - exact) / exact;
  }
  ctx.summary["exact_critical_temperature"] = exact;
  if (!output.empty()) ctx.summary["output"] = output;
}

}  // namespace

Command transition_command() {
  Command c;
  c.name = "transition";
  c.summary = "locate a phase transition with a trained classifier (P(ordered | T), T_c(L))";
  c.description =
      "physfit transition --input.models m16.h5,m32.h5,m64.h5 --input.data t16.h5,t32.h5,t64.h5\n\n"
      "For each lattice size L, evaluates the model on the dataset (from 'physfit generate\n"
      "ising'; any classifier data with /temperature per sample): P(ordered | T), the mean over\n"
      "the samples at each temperature of the probability the model gives the ordered class\n"
      "(softmax for cross_entropy, else 1 when it predicts it), with its standard error; T(L),\n"
      "where P crosses 1/2 (a weighted fit of logit P against T near the crossing); and with two\n"
      "or more sizes the extrapolation T(L) = T_c + a L^(-1/nu) by weighted least squares,\n"
      "compared with Onsager's T_c = 2 / ln(1 + sqrt 2). Writes the curves, crossings and\n"
      "extrapolation to output.file and draws them in output.figure (PNG, SVG or PDF). Results do\n"
      "not depend on the number of ranks. A stop signal ends it with exit code 3, writing\n"
      "nothing.";
  c.declare = [](config::Options& opts) {
    opts.add<std::vector<std::string>>("input.models", "trained classifiers, one per lattice size")
        .path()
        .required();
    opts.add<std::vector<std::string>>("input.data",
                                       "their datasets (same order), with /temperature")
        .path()
        .required();
    opts.add<int>("transition.ordered-class", "the class index of the ordered phase")
        .default_value(1)
        .check(config::in_range(0, 1000000));
    opts.add<double>("transition.window",
                     "fit logit P over temperatures with window < P < 1 - window")
        .default_value(0.05)
        .check(config::in_range(0.0, 0.49));
    opts.add<double>("transition.nu", "correlation-length exponent of T(L) = T_c + a L^(-1/nu)")
        .default_value(1.0)
        .check(config::positive<double>());
    opts.add<std::string>("output.file", "HDF5 file to write (empty: none)")
        .path()
        .default_value(std::string("results/transition.h5"));
    opts.add<std::string>("output.figure", "figure to draw, .png, .svg or .pdf (empty: none)")
        .path()
        .default_value(std::string("results/transition.png"));
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    f.input_list(o, "input.models");
    f.input_list(o, "input.data");
    f.output(o, "output.file");
    f.output(o, "output.figure");
    return f;
  };
  return c;
}

}  // namespace physfit::cli
