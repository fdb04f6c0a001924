// physfit plot: draws what a physfit HDF5 file holds (training history, LASSO path and
// cross-validation, force-constant CV curve, phonon bands with DOS) as PNG, SVG or PDF.

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/plot/figures.hpp"

namespace physfit::cli {

namespace {

std::string default_output(const std::string& input) {
  const auto slash = input.find_last_of('/');
  const auto dot = input.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    return input.substr(0, dot) + ".png";
  }
  return input + ".png";
}

std::string output_of(const config::Values& o) {
  const auto out = o.get<std::string>("output.file");
  return out.empty() ? default_output(o.get<std::string>("file")) : out;
}

std::vector<double> read(const io::File& f, const std::string& name) {
  return f.dataset(name).read_all<double>();
}

double attribute(const io::File& f, const std::string& group, const std::string& name) {
  const auto g = f.group(group);
  if (!io::has_attribute(g.id(), name)) {
    throw IoError(f.path() + ": " + group + " has no attribute '" + name +
                  "' (not written by physfit, or by an older version)");
  }
  return io::get_numeric_attribute(g.id(), name).at(0);
}

std::string basename(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Whole epochs on the x axis: at most about 6 ticks, 1, 2 or 5 times a power of ten apart.
void epoch_ticks(plot::Figure& fig, const std::vector<double>& epoch) {
  if (epoch.empty()) return;
  const double lo = *std::min_element(epoch.begin(), epoch.end());
  const double hi = *std::max_element(epoch.begin(), epoch.end());
  double step = 1;
  for (double decade = 1; (hi - lo) / step > 6; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      step = m * decade;
      if ((hi - lo) / step <= 6) break;
    }
  }
  std::vector<double> at;
  std::vector<std::string> labels;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9; t += step) {
    at.push_back(t);
    labels.push_back(std::to_string(static_cast<long long>(std::llround(t))));
  }
  fig.xticks(at, labels);
  if (hi > lo) fig.xlim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo));  // markers whole
}

// Loss, a metric and the throughput per epoch, training solid and validation dashed.
plot::Page history_page(const io::File& f, int width, int height, const std::string& title) {
  const auto epoch = read(f, "/history/epoch");
  auto column = [&](const std::string& key) {
    return f.exists("/history/" + key) ? read(f, "/history/" + key) : std::vector<double>{};
  };
  auto panel = [&](const std::string& key, const std::string& name, const std::string& unit,
                   bool log) {
    plot::Figure fig(width, height);
    fig.title(name).xlabel("epoch").ylabel(unit.empty() ? name : name + " (" + unit + ")");
    epoch_ticks(fig, epoch);
    const auto train = column(key), val = column("val_" + key);
    double lo = INFINITY, hi = 0;
    for (double v : train) lo = std::min(lo, v), hi = std::max(hi, v);
    for (double v : val) lo = std::min(lo, v), hi = std::max(hi, v);
    if (log && lo > 0 && hi / lo > 20) fig.log_y();
    auto& t = fig.line(epoch, train, "training");
    t.color = plot::palette(0);
    t.markers = epoch.size() <= 30;
    if (!val.empty()) {
      auto& v = fig.line(epoch, val, "validation");
      v.color = plot::palette(1);
      v.dashed = true;
      v.markers = epoch.size() <= 30;
    }
    return fig;
  };
  plot::Page page(width, height);
  page.title(title);
  page.add(panel("loss", "loss", "", true));
  if (f.exists("/history/accuracy")) {
    page.add(panel("accuracy", "accuracy", "", false));
  } else if (f.exists("/history/rmse")) {
    page.add(panel("rmse", "RMSE", "target units", true));
  }
  if (f.exists("/history/samples_per_s")) {
    plot::Figure fig(width, height);
    fig.title("throughput").xlabel("epoch").ylabel("samples per second");
    epoch_ticks(fig, epoch);
    auto& s = fig.line(epoch, read(f, "/history/samples_per_s"), "all ranks");
    s.color = plot::palette(2);
    s.markers = epoch.size() <= 30;
    page.add(fig);
  }
  return page;
}

// The LASSO path (coefficients against lambda) and the CV curve when present.
plot::Page lasso_page(const io::File& f, int width, int height, const std::string& title) {
  plot::Page page(width, height);
  page.title(title);
  const bool has_cv = f.exists("/lasso/cv/mean_error");
  double lmin = NAN, l1se = NAN;
  if (has_cv) {
    lmin = attribute(f, "/lasso/cv", "lambda_min");
    l1se = attribute(f, "/lasso/cv", "lambda_1se");
  }
  if (f.exists("/lasso/path/coef")) {
    const auto lambdas = read(f, "/lasso/path/lambda");
    const auto ds = f.dataset("/lasso/path/coef");
    const auto coef = ds.read_all<double>();
    const std::size_t n = lambdas.size();
    const std::size_t p = n ? coef.size() / n : 0;
    plot::Figure fig(width, height);
    fig.title("regularisation path").xlabel("penalty λ").ylabel("coefficient").log_x();
    std::vector<double> y(n);
    for (std::size_t j = 0; j < p; ++j) {
      bool any = false;
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = coef[i * p + j];
        any = any || y[i] != 0;
      }
      if (!any) continue;  // never selected: a line on zero says nothing
      auto& s = fig.line(lambdas, y);
      s.color = plot::palette(static_cast<int>(j % 6));
      s.width = 1.5;
    }
    fig.hline(0);
    if (has_cv) {
      auto& a = fig.vline(lmin, "λ_{min}");
      a.color = plot::palette(1);
      auto& b = fig.vline(l1se, "λ_{1se}");
      b.color = plot::palette(7);
      b.width = 1.6;
    }
    page.add(fig);
  }
  if (has_cv) {
    plot::CvPlot cv;
    cv.lambdas = read(f, "/lasso/cv/lambda");
    cv.mean = read(f, "/lasso/cv/mean_error");
    cv.standard_error = read(f, "/lasso/cv/standard_error");
    cv.lambda_min = lmin;
    cv.lambda_1se = l1se;
    cv.title = "cross-validation";
    page.add(plot::cv_figure(cv, width, height));
  }
  return page;
}

// The CV curve of a force-constant fit (/fit/lambdas, /fit/cv_mse, /fit/cv_se).
// Predicted against true values: a marker series per entry of `series` ({name, true values,
// predicted values}), the diagonal dashed, equal scales on both axes; the RMSE in the title.
plot::Figure parity_figure(
    const std::vector<std::tuple<std::string, std::vector<double>, std::vector<double>>>& series,
    const std::string& what, const std::string& unit, int side) {
  double lo = INFINITY, hi = -INFINITY, sq = 0;
  std::size_t n = 0;
  for (const auto& [name, truth, predicted] : series) {
    for (std::size_t i = 0; i < truth.size(); ++i) {
      lo = std::min({lo, predicted[i], truth[i]});
      hi = std::max({hi, predicted[i], truth[i]});
      sq += (predicted[i] - truth[i]) * (predicted[i] - truth[i]);
    }
    n += truth.size();
  }
  if (n == 0) lo = 0, hi = 1;
  const double rmse = std::sqrt(sq / static_cast<double>(std::max<std::size_t>(1, n)));
  const double pad = 0.05 * (hi > lo ? hi - lo : 1);
  plot::Figure fig(std::max(side, 200), std::max(side, 150));
  fig.title(what + ", RMSE " + plot::short_number(rmse) + (unit.empty() ? "" : " " + unit))
      .xlabel("true" + (unit.empty() ? std::string() : " (" + unit + ")"))
      .ylabel("predicted" + (unit.empty() ? std::string() : " (" + unit + ")"))
      .xlim(lo - pad, hi + pad)
      .ylim(lo - pad, hi + pad);
  auto& diagonal = fig.line({lo - pad, hi + pad}, {lo - pad, hi + pad}, "predicted = true");
  diagonal.color = plot::palette(7);
  diagonal.width = 1.2;
  diagonal.dashed = true;
  int k = 0;
  for (const auto& [name, truth, predicted] : series) {
    auto& s = fig.markers(truth, predicted, name);
    s.color = plot::palette(k++ % 6);
  }
  return fig;
}

// The cross-validation curve of an `fc` model and the parity of its forces, when present.
// What `physfit transition` wrote: the curves per lattice size, the crossings, the extrapolation.
plot::Page transition_page(const io::File& f, int width, int height, const std::string& title) {
  plot::TransitionPlot p;
  const auto sizes = f.dataset("/transition/sizes").read_all<std::int64_t>();
  const auto crossing = read(f, "/transition/crossing");
  const auto crossing_error = read(f, "/transition/crossing_error");
  if (crossing.size() != sizes.size() || crossing_error.size() != sizes.size()) {
    throw IoError(f.path() + ": /transition/crossing and /transition/sizes differ in length");
  }
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::string base = "/transition/L" + std::to_string(sizes[i]);
    p.curves.push_back({static_cast<int>(sizes[i]), read(f, base + "/temperature"),
                        read(f, base + "/probability"), read(f, base + "/error")});
    if (io::has_attribute(f.group(base).id(), "ensemble")) {
      p.members = std::max(p.members, static_cast<int>(attribute(f, base, "ensemble")));
    }
    if (std::isnan(crossing[i])) continue;
    p.crossing_sizes.push_back(static_cast<int>(sizes[i]));
    p.crossing.push_back(crossing[i]);
    p.crossing_error.push_back(crossing_error[i]);
  }
  p.nu = attribute(f, "/transition", "nu");
  p.exact = attribute(f, "/transition", "exact_critical_temperature");
  p.extrapolated = attribute(f, "/transition", "extrapolated") != 0;
  if (p.extrapolated) {
    p.critical_temperature = attribute(f, "/transition", "critical_temperature");
    p.critical_error = attribute(f, "/transition", "critical_temperature_error");
    p.slope = attribute(f, "/transition", "slope_a");
  }
  p.title = title;
  return plot::transition_page(p, std::max(width, 1300), height);
}

plot::Page fc_page(const io::File& f, int width, int height, const std::string& title) {
  plot::Page page(width, height);
  page.title(title);
  if (f.exists("/fit/cv_mse")) {
    plot::CvPlot cv;
    cv.lambdas = read(f, "/fit/lambdas");
    cv.mean = read(f, "/fit/cv_mse");
    cv.standard_error = read(f, "/fit/cv_se");
    cv.lambda_min = attribute(f, "/fit", "lambda_min");
    cv.lambda_1se = attribute(f, "/fit", "lambda_1se");
    cv.title = "cross-validation of the force-constant fit";
    cv.ylabel = "held-out force MSE ((eV/Å)²)";
    page.add(plot::cv_figure(cv, width, height), 1.25);
  }
  if (f.exists("/parity/true_forces") && f.exists("/parity/predicted_forces")) {
    const auto truth = read(f, "/parity/true_forces");
    const auto predicted = read(f, "/parity/predicted_forces");
    if (truth.size() != predicted.size() || truth.size() % 3 != 0) {
      throw IoError(f.path() + ": /parity/true_forces and /parity/predicted_forces differ in size");
    }
    std::string set = "forces";
    const auto group = f.group("/parity");
    if (io::has_attribute(group.id(), "configurations")) {
      set = io::get_string_attribute(group.id(), "configurations") + " forces";
    }
    std::vector<std::tuple<std::string, std::vector<double>, std::vector<double>>> series;
    const char* names[] = {"F_{x}", "F_{y}", "F_{z}"};
    for (std::size_t c = 0; c < 3; ++c) {
      std::vector<double> t, p;
      for (std::size_t i = c; i < truth.size(); i += 3)
        t.push_back(truth[i]), p.push_back(predicted[i]);
      series.emplace_back(names[c], std::move(t), std::move(p));
    }
    page.add(parity_figure(series, set, "eV/Å", std::min(width, height)), 1);
  }
  return page;
}

// Phonon bands along the path with the DOS beside them (phonons.h5).
plot::Page bands_page(const io::File& f, int width, int height, const std::string& title,
                      bool difference) {
  plot::BandPlot p;
  const auto ds = f.dataset("/bands/frequencies");
  ds.require_rank(2);
  p.fit.frequencies = ds.read_all<double>();
  p.fit.bands = static_cast<int>(ds.shape()[1]);
  p.fit.distance = read(f, "/bands/distance");
  for (double b : read(f, "/bands/branch")) p.fit.branch.push_back(static_cast<int>(b));
  p.label_distance = read(f, "/bands/label_distance");
  std::string unit = "THz";
  if (io::has_attribute(ds.id(), "unit")) unit = io::get_string_attribute(ds.id(), "unit");
  p.unit = unit == "cm-1" ? "cm⁻¹" : unit;
  if (io::has_attribute(ds.id(), "labels")) {
    std::string labels = io::get_string_attribute(ds.id(), "labels"), item;
    for (char c : labels + ",") {
      if (c == ',') {
        p.labels.push_back(item == "G" || item == "GAMMA" || item == "Gamma" ? "Γ" : item);
        item.clear();
      } else {
        item += c;
      }
    }
    if (p.labels.size() != p.label_distance.size()) p.labels.clear();
  }
  if (p.labels.empty()) {
    for (std::size_t k = 0; k < p.label_distance.size(); ++k) p.labels.emplace_back("");
  }
  if (f.exists("/reference/frequencies")) {  // a reference stored beside the bands
    const auto rs = f.dataset("/reference/frequencies");
    p.reference = p.fit;
    p.reference.frequencies = rs.read_all<double>();
    if (p.reference.frequencies.size() != p.fit.frequencies.size()) p.reference = {};
  }
  if (f.exists("/dos/frequency") && f.exists("/dos/density")) {
    p.dos_frequency = read(f, "/dos/frequency");
    p.dos_density = read(f, "/dos/density");
  }
  p.title = title;
  if (difference && p.reference.distance.empty()) {
    throw UsageError(f.path() +
                     ": --figure.difference needs /reference/frequencies (phonons "
                     "--reference.fc) on the bands' q-points");
  }
  p.difference = difference;
  return plot::band_page(p, width, height);
}

// Predicted against true values of a regression (`predict` output: /scores, with the targets
// of the data file it names, or of --parity.data).
plot::Page parity_page(const io::File& f, const std::string& data_option, int width, int height,
                       const std::string& title) {
  const auto scores = f.dataset("/scores");
  std::string data = data_option;
  if (data.empty()) {
    if (!io::has_attribute(scores.id(), "data")) {
      throw UsageError(f.path() + ": /scores names no data file; give it with --parity.data");
    }
    data = io::get_string_attribute(scores.id(), "data");
  }
  const io::File d = io::File::open(data);
  if (!d.exists("/targets")) {
    throw UsageError(data + ": no /targets dataset (a parity plot needs regression targets; " +
                     "set --parity.data to the data file the predictions were made for)");
  }
  const auto targets = d.dataset("/targets");
  const auto predicted = scores.read_all<double>();
  const auto truth = targets.read_all<double>();
  if (predicted.size() != truth.size()) {
    throw UsageError(f.path() + ": /scores has " + std::to_string(predicted.size()) +
                     " values but /targets of '" + data + "' has " + std::to_string(truth.size()) +
                     "; set --parity.data to the data file the predictions were made for");
  }
  const std::size_t outputs = static_cast<std::size_t>(scores.row_size());
  const std::size_t rows = outputs ? predicted.size() / outputs : 0;
  std::vector<std::tuple<std::string, std::vector<double>, std::vector<double>>> series;
  for (std::size_t k = 0; k < outputs; ++k) {
    std::vector<double> x(rows), y(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      x[r] = truth[r * outputs + k];
      y[r] = predicted[r * outputs + k];
    }
    series.emplace_back(outputs > 1 ? "output " + std::to_string(k) : "samples", std::move(x),
                        std::move(y));
  }
  const int side = std::min(width, height);
  plot::Figure fig = parity_figure(series, "parity", "", side);
  fig.xlabel("true value (target units)").ylabel("predicted value (target units)");
  plot::Page page(std::max(side, 200), std::max(side, 150));  // square: equal scales
  page.title(title);
  return page.add(fig);
}

void run(Context& ctx) {
  const auto& o = ctx.options;
  const auto file = o.get<std::string>("file");
  const auto output = output_of(o);
  const int width = o.get<int>("figure.width");
  const int height = o.get<int>("figure.height");
  std::string kind;
  mpi::guarded(ctx.comm, [&] {
    plot::format_of(output, "--output.file");
    if (!ctx.comm.is_root()) return;  // one rank draws
    const io::File f = io::File::open(file);
    std::string title = o.get<std::string>("figure.title");
    if (title.empty()) title = basename(file);
    plot::Page page(width, height);
    if (f.exists("/history/epoch")) {
      kind = "history";
      page = history_page(f, width, height, title);
    } else if (f.exists("/lasso/path") || f.exists("/lasso/cv")) {
      kind = "lasso";
      page = lasso_page(f, width, height, title);
    } else if (f.exists("/bands/frequencies")) {
      kind = "bands";
      page = bands_page(f, width, height, title, o.get<bool>("figure.difference"));
    } else if (f.exists("/scores") && !f.exists("/predicted")) {
      kind = "parity";
      page = parity_page(f, o.get<std::string>("parity.data"), width, height, title);
    } else if (f.exists("/transition/sizes")) {
      kind = "transition";
      page = transition_page(f, width, height, title);
    } else if (f.exists("/fit/cv_mse") || f.exists("/parity/true_forces")) {
      kind = "fc";
      page = fc_page(f, width, height, title);
    } else {
      throw UsageError(
          file +
          ": nothing to draw: physfit plot draws /history (train), /lasso/path and "
          "/lasso/cv (lasso), /bands and /dos (phonons), /fit/cv_mse (fc with "
          "cross-validation), /transition (transition) and /scores of a regression (predict)");
    }
    page.save(output);
    log::info("plot: ", kind, " of '", file, "' drawn in '", output, "'");
  });
  ctx.summary["kind"] = kind;
  ctx.summary["output"] = output;
}

}  // namespace

Command plot_command() {
  Command c;
  c.name = "plot";
  c.summary = "draw what a physfit HDF5 file holds (PNG, SVG or PDF)";
  c.description =
      "Detects what FILE.h5 holds and draws it for a paper or a talk: the training curves of a\n"
      "`train` model (loss, accuracy or RMSE, training and validation, throughput per epoch),\n"
      "the regularisation path and cross-validation curve of a `lasso` result (lambda_min and\n"
      "lambda_1se marked), the phonon bands with the density of states beside them of a\n"
      "`phonons` output, the cross-validation curve of an `fc` model, the curves and crossings\n"
      "of a `transition` output, or the parity plot\n"
      "(predicted against true) of a regression's `predict` output. The format follows\n"
      "the extension of --output.file: .png, .svg or .pdf. One rank draws; the file is written\n"
      "under a temporary name and renamed.";
  c.declare = [](config::Options& opts) {
    opts.add<std::string>("file", "the HDF5 file to draw").required().command_line_only();
    opts.positional("file");
    opts.add<std::string>("output.file",
                          "figure file: .png, .svg or .pdf ('' for FILE with the extension .png)")
        .path()
        .default_value(std::string());
    opts.add<int>("figure.width", "width in pixels (PNG) or points (SVG, PDF)")
        .default_value(1100)
        .check(config::positive<int>());
    opts.add<int>("figure.height", "height in pixels (PNG) or points (SVG, PDF)")
        .default_value(560)
        .check(config::positive<int>());
    opts.add<std::string>("figure.title", "title over the figure ('' for the file's name)")
        .default_value(std::string());
    opts.add_flag("figure.difference",
                  "bands with a reference: a panel under them with fit - reference");
    opts.add<std::string>("parity.data",
                          "data file with the /targets of a `predict` output ('' for the file "
                          "its /scores name)")
        .path()
        .default_value(std::string());
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    f.input(o, "file");
    f.input(o, "parity.data");
    f.outputs.push_back({"--output.file", output_of(o)});
    return f;
  };
  return c;
}

}  // namespace physfit::cli
