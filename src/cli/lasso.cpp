// `physfit lasso`: OLS, ridge, LASSO, elastic net and adaptive LASSO on (A, y) read from HDF5,
// each rank reading its own block of rows; a lambda path and K-fold cross-validation over
// groups of rows. The engine is physfit::lasso (include/physfit/lasso/).

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include "physfit/cli/lasso.hpp"

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

#include "physfit/plot/figures.hpp"

namespace physfit::cli {
namespace {

using lasso::RowMatrix;

// Shapes of the input datasets, checked on rank 0 and broadcast.
struct InputShape {
  long long rows = 0;
  long long cols = 0;
  long long has_groups = 0;
};

InputShape check_input(const std::string& path, const std::string& matrix,
                       const std::string& target, const std::string& groups) {
  const io::File f = io::File::open(path);
  const io::Dataset a = f.dataset(matrix);
  a.require_rank(2);
  const io::Dataset y = f.dataset(target);
  if (y.shape().size() == 2) {
    y.require_shape({a.rows(), 1});
  } else {
    y.require_rank(1);
    if (y.rows() != a.rows()) {
      throw IoError("dataset '" + target + "' in '" + path + "' has " + std::to_string(y.rows()) +
                    " rows but '" + matrix + "' has " + std::to_string(a.rows()) +
                    ": A and y must have the same rows");
    }
  }
  InputShape s{a.rows(), a.shape()[1], 0};
  if (s.rows < 1 || s.cols < 1) {
    throw IoError("dataset '" + matrix + "' in '" + path + "' is empty");
  }
  if (!groups.empty()) {
    const io::Dataset g = f.dataset(groups);
    g.require_rank(1);
    if (g.dtype().rfind("float", 0) == 0) {
      throw IoError("dataset '" + groups + "' in '" + path + "' has type " + g.dtype() +
                    "; group ids must be integers (convert them, e.g. numpy's astype('int64'))");
    }
    if (g.rows() != a.rows()) {
      throw IoError("dataset '" + groups + "' in '" + path + "' has " + std::to_string(g.rows()) +
                    " rows but '" + matrix + "' has " + std::to_string(a.rows()));
    }
    s.has_groups = 1;
  }
  return s;
}

std::string fmt(double v) {
  std::ostringstream s;
  s << std::setprecision(4) << v;
  return s.str();
}

// Units of what lasso writes, in those of the input: y's and the columns of A's.
const char* const kUnitCoef = "unit of y / unit of the column of A";
const char* const kUnitY2 = "(unit of y)^2";

void write_vector(const io::File& f, const std::string& name, const std::vector<double>& v,
                  const std::string& unit) {
  f.create_dataset<double>(name, {static_cast<std::int64_t>(v.size())}, unit).write_all(v);
}
void write_vector(const io::File& f, const std::string& name, const Eigen::VectorXd& v,
                  const std::string& unit) {
  write_vector(f, name, std::vector<double>(v.data(), v.data() + v.size()), unit);
}
void write_ints(const io::File& f, const std::string& name, const std::vector<std::int64_t>& v) {
  f.create_dataset<std::int64_t>(name, {static_cast<std::int64_t>(v.size())}, "dimensionless")
      .write_all(v);
}
// A p x L column-major matrix as an L x p row-major dataset (one row per lambda).
void write_columns(const io::File& f, const std::string& name, const Eigen::MatrixXd& m,
                   const std::string& unit) {
  const io::Dataset d = f.create_dataset<double>(name, {m.cols(), m.rows()}, unit);
  d.write_rows(0, m.cols(), m.data());
}
// A K x L matrix as a K x L row-major dataset.
void write_rows(const io::File& f, const std::string& name, const Eigen::MatrixXd& m,
                const std::string& unit) {
  const RowMatrix r = m;
  const io::Dataset d = f.create_dataset<double>(name, {m.rows(), m.cols()}, unit);
  d.write_rows(0, m.rows(), r.data());
}

void write_fit(const io::File& f, const std::string& group, const lasso::Fit& fit) {
  const io::Group gr = f.create_group(group);
  write_vector(f, group + "/coef", fit.coef, kUnitCoef);
  const hid_t id = gr.id();
  io::set_attribute(id, "method", fit.method);
  io::set_attribute(id, "lambda", fit.lambda);
  io::set_attribute(id, "l1_ratio", fit.l1_ratio);
  io::set_attribute(id, "intercept", fit.intercept);
  io::set_attribute(id, "objective", fit.objective);
  io::set_attribute(id, "duality_gap", fit.gap);
  io::set_attribute(id, "relative_gap", fit.relative_gap);
  io::set_attribute(id, "gap_floor", fit.gap_floor);
  io::set_attribute(id, "kkt_violation", fit.kkt_violation);
  io::set_attribute(id, "epochs", fit.epochs);
  io::set_attribute(id, "nonzeros", fit.nonzeros);
  io::set_attribute(id, "rank", static_cast<std::int64_t>(fit.rank));
  io::set_attribute(id, "converged", static_cast<std::int64_t>(fit.converged));
  io::set_attribute(id, "seconds", fit.seconds);
}

util::Json fit_json(const lasso::Fit& f) {
  util::Json j = util::Json::object();
  j["method"] = f.method;
  j["lambda"] = f.lambda;
  j["l1_ratio"] = f.l1_ratio;
  j["nonzeros"] = f.nonzeros;
  j["objective"] = f.objective;
  j["duality_gap"] = f.gap;
  j["relative_gap"] = f.relative_gap;
  j["kkt_violation"] = f.kkt_violation;
  j["epochs"] = f.epochs;
  j["converged"] = f.converged;
  j["intercept"] = f.intercept;
  return j;
}

// The CV curve with its standard errors, lambda_min and lambda_1se.
void draw_cv(const lasso::CrossValidation& cv, int folds, const std::string& method,
             const std::string& path) {
  plot::CvPlot p;
  p.lambdas = cv.lambdas;
  p.mean = cv.mean_error;
  p.standard_error = cv.standard_error;
  p.lambda_min = cv.lambda_min;
  p.lambda_1se = cv.lambda_1se;
  p.title = std::to_string(folds) + "-fold cross-validation (" + method + ")";
  plot::cv_figure(p).save(path);
}

// Work every rank does identically (the same options, the same reduced statistics): an error
// is the same on every rank, so it is made collective without communication.
template <class F>
auto replicated(const mpi::Comm& comm, F&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const mpi::CollectiveError&) {
    throw;
  } catch (const Error& e) {
    mpi::throw_on_all_ranks(comm, e);
  }
}

void run(Context& ctx) {
  // SIGTERM, SIGINT, SIGUSR1, SIGUSR2: stop at the next safe point (between phases, after each
  // lambda of a path or of a fold) with exit code 3, writing nothing.
  const util::StopHandlers stop_handlers;
  const util::Stopwatch total;
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto input = o.get<std::string>("input.file");
  const auto matrix = o.get<std::string>("input.matrix");
  const auto target = o.get<std::string>("input.target");
  const auto groups_name = o.get<std::string>("input.groups");
  const auto task = o.get<std::string>("fit.task");
  const auto method = o.get<std::string>("fit.method");
  const auto output = o.get<std::string>("output.file");
  const auto png = o.get<std::string>("output.figure");
  // Where a stop leaves the user. The lasso keeps no partial state: resuming a path or a CV
  // would need the reduced problem (the Gram of every fold) again, which is the data pass the
  // run repeats anyway, so a stopped run is simply run again.
  const auto stop_point = [&](const std::string& where) {
    mpi::stop_point(comm, where + ": nothing written ('" + output + "'" +
                              (png.empty() ? "" : " and '" + png + "'") +
                              " unchanged); run the same command again");
  };

  const lasso::ProblemOptions po = lasso_problem_options(o);
  const int folds = po.folds;
  if (method != "enet" && o.origin("fit.l1-ratio").kind != config::Origin::Kind::kDefault) {
    log::warning("fit.l1-ratio is ignored by method '", method, "'");
  }
  check_lasso_options(comm, o);
  replicated(comm, [&] {
    if (!png.empty() && task != "cv") {
      throw UsageError("output.png draws the cross-validation curve: it needs task = cv");
    }
    if (!png.empty()) plot::format_of(png, "output.figure");
  });
  // 1. Every rank reads its block of rows.
  util::Stopwatch watch;
  const InputShape shape = mpi::guarded(comm, [&] {
    return comm.is_root() ? check_input(input, matrix, target, groups_name) : InputShape{};
  });
  long long dims[3] = {shape.rows, shape.cols, shape.has_groups};
  comm.broadcast(dims, 3, 0);
  const long long n = dims[0], p = dims[1];
  const util::Block mine = util::block_of(n, comm.size(), comm.rank());
  RowMatrix a(mine.count, p);
  Eigen::VectorXd y(mine.count);
  std::vector<std::int64_t> groups;
  {
    io::File f = mpi::guarded(comm, [&] { return io::File::open(comm, input); });
    const io::Dataset da = f.dataset(matrix), dy = f.dataset(target);
    da.read_rows(mine.begin, mine.count, a.data());
    dy.read_rows(mine.begin, mine.count, y.data());
    if (dims[2]) {
      groups.resize(static_cast<std::size_t>(mine.count));
      f.dataset(groups_name).read_rows(mine.begin, mine.count, groups.data());
    }
    f.close();
  }
  // Non-finite values read from the file: malformed input naming the file and the dataset
  // (lasso::Problem checks again, without knowing the file).
  mpi::guarded(comm, [&] {
    auto bad = [&](const std::string& name, const std::string& at, double v) {
      throw IoError("dataset '" + name + "' in '" + input + "': " + at + " = " + std::to_string(v) +
                    " is not finite; remove or repair that row");
    };
    for (long long i = 0; i < mine.count; ++i) {
      const std::string row = std::to_string(mine.begin + i);
      for (long long j = 0; j < p; ++j) {
        if (!std::isfinite(a(i, j)))
          bad(matrix, "A(" + row + ", " + std::to_string(j) + ")", a(i, j));
      }
      if (!std::isfinite(y(i))) bad(target, "y(" + row + ")", y(i));
    }
    return 0;
  });
  const double read_seconds = watch.seconds();
  stop_point("after reading the data");
  log::info("lasso: ", n, " rows x ", p, " columns from '", input, "' (", comm.size(), " rank",
            comm.size() > 1 ? "s" : "", ", ", util::format_duration(read_seconds), ")");

  // 2. Folds from groups of rows (the row index when no groups are given), and 3. the
  // reduction (one exact allreduce), or the residual mode.
  watch.restart();
  const lasso::Problem problem = lasso_problem(comm, o, lasso::RowBlock::view(mine.begin, a, y),
                                               std::move(groups), dims[2] != 0);
  // A design matrix without information, or nothing to fit: input data, not a numerical
  // failure (an all-zero A "solved" with a NaN duality gap and exit 0). Every rank holds the
  // same reduced problem, so every rank decides the same.
  if ((problem.scale().array() == 0).all()) {
    mpi::throw_on_all_ranks(
        comm, IoError("dataset '" + matrix + "' in '" + input + "': every one of its " +
                      std::to_string(p) + " columns is zero" +
                      (po.intercept ? " or constant (the intercept takes constant columns)" : "") +
                      ": the design matrix carries no information about y. Check input.matrix "
                      "and the file; a fit needs at least one column that varies"));
  }
  if (!(problem.yy() > 0)) {
    mpi::throw_on_all_ranks(
        comm, IoError("dataset '" + target + "' in '" + input + "' is zero in every row" +
                      (po.intercept ? " (after removing its mean: the intercept fits it)" : "") +
                      ": there is nothing to fit. Check input.target and the file"));
  }
  const double reduce_seconds = watch.seconds();
  stop_point("after the reduction");
  log::info("lasso: ", lasso::mode_name(problem.mode()), " mode (", problem.mode_reason(),
            "); reduced in ", util::format_duration(reduce_seconds));

  // 4. Solve.
  watch.restart();
  std::unique_ptr<log::Progress> progress;
  // Called after each lambda, at the same points on every rank: a safe point.
  const auto on_lambda = [&](std::int64_t done, std::int64_t all) {
    if (!progress) {
      progress = std::make_unique<log::Progress>(
          task == "cv" ? "lasso: cross-validation, lambdas" : "lasso: path, lambdas", all);
    }
    progress->update(done);
    stop_point("after " + std::to_string(done) + " of " + std::to_string(all) +
               (task == "cv" ? " lambdas of the cross-validation" : " lambdas of the path"));
  };
  const LassoSolution solution = solve_lasso(comm, o, problem, on_lambda);
  const lasso::Fit& fit = solution.fit;
  const lasso::Fit& debiased = solution.debiased;
  const lasso::Path& path = solution.path;
  const lasso::CrossValidation& cv = solution.cv;
  const Eigen::VectorXd& weights = solution.weights;
  const bool have_path = solution.have_path, have_cv = solution.have_cv;
  const bool debias = solution.have_debiased;
  const double lmax = solution.lambda_max;
  if (progress) progress->finish();
  const double solve_seconds = watch.seconds();
  stop_point("after the solve");
  if (!fit.converged) {
    log::warning("lasso: not converged after ", fit.epochs, " epochs: relative gap ",
                 fmt(fit.relative_gap), " > tol ", fmt(o.get<double>("solver.tol")),
                 " (raise solver.max-epochs or solver.tol)");
  }

  // Where lambda_min lies: a warning with the next grid when it is at an end.
  const std::string select = o.get<std::string>("cv.select");
  const auto i_min = static_cast<std::size_t>(cv.index_min);
  const auto i_1se = static_cast<std::size_t>(cv.index_1se);
  const std::string& advice = solution.advice;

  // 5. Results (rank 0 writes; every rank holds the same bits).
  watch.restart();
  // The HDF5 file and the figure go to temporary names and are renamed together at the end.
  io::StagedOutputs staged;
  io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
  mpi::guarded(comm, [&] {
    if (!out.writes_here()) return;
    const io::File& f = out.file();
    write_fit(f, "/lasso/fit", fit);
    const io::Group lasso_group = f.group("/lasso");
    const hid_t g = lasso_group.id();
    io::set_attribute(g, "rows", static_cast<std::int64_t>(n));
    io::set_attribute(g, "cols", static_cast<std::int64_t>(p));
    io::set_attribute(g, "mode", std::string(lasso::mode_name(problem.mode())));
    io::set_attribute(g, "mode_reason", problem.mode_reason());
    io::set_attribute(g, "lambda_max", lmax);
    io::set_attribute(g, "standardize", static_cast<std::int64_t>(po.standardize));
    io::set_attribute(g, "intercept", static_cast<std::int64_t>(po.intercept));
    // The penalty multiplies the standardised coefficients (in y's unit) or the raw ones.
    const std::string lambda_unit =
        po.standardize ? "unit of y" : "(unit of y) x (unit of the column of A)";
    write_vector(f, "/lasso/column_scale", problem.scale(), "unit of the column of A");
    if (weights.size()) write_vector(f, "/lasso/adaptive_weights", weights, "dimensionless");
    if (debias) write_fit(f, "/lasso/debiased", debiased);
    if (have_path) {
      const io::Group pg = f.create_group("/lasso/path");
      write_vector(f, "/lasso/path/lambda", path.lambdas, lambda_unit);
      write_columns(f, "/lasso/path/coef", path.coef, kUnitCoef);
      write_vector(f, "/lasso/path/intercept", path.intercepts, "unit of y");
      write_vector(f, "/lasso/path/objective", path.objectives, kUnitY2);
      write_vector(f, "/lasso/path/duality_gap", path.gaps, kUnitY2);
      write_vector(f, "/lasso/path/relative_gap", path.relative_gaps, "dimensionless");
      write_ints(f, "/lasso/path/nonzeros", path.nonzeros);
      write_ints(f, "/lasso/path/epochs", path.epochs);
      io::set_attribute(pg.id(), "seconds", path.seconds);
    }
    if (have_cv) {
      const io::Group cg = f.create_group("/lasso/cv");
      write_vector(f, "/lasso/cv/lambda", cv.lambdas, lambda_unit);
      write_vector(f, "/lasso/cv/mean_error", cv.mean_error, kUnitY2);
      write_vector(f, "/lasso/cv/standard_error", cv.standard_error, kUnitY2);
      write_rows(f, "/lasso/cv/fold_error", cv.fold_error, kUnitY2);
      write_ints(f, "/lasso/cv/fold_rows", cv.fold_rows);
      const hid_t c = cg.id();
      io::set_attribute(c, "lambda_min", cv.lambda_min);
      io::set_attribute(c, "lambda_1se", cv.lambda_1se);
      io::set_attribute(c, "index_min", static_cast<std::int64_t>(cv.index_min));
      io::set_attribute(c, "index_1se", static_cast<std::int64_t>(cv.index_1se));
      io::set_attribute(c, "folds", static_cast<std::int64_t>(folds));
      io::set_attribute(c, "lambda_max", cv.lambda_max);
      io::set_attribute(c, "error_min", cv.error_min());
      io::set_attribute(c, "standard_error_min", cv.standard_error[i_min]);
      io::set_attribute(c, "error_1se", cv.error_1se());
      io::set_attribute(c, "standard_error_1se", cv.standard_error[i_1se]);
      io::set_attribute(c, "nonzero_min", cv.path.nonzeros[i_min]);
      io::set_attribute(c, "nonzero_1se", cv.path.nonzeros[i_1se]);
      io::set_attribute(c, "requested", static_cast<std::int64_t>(cv.requested));
      io::set_attribute(c, "extended", static_cast<std::int64_t>(cv.extended));
      io::set_attribute(c, "end", std::string(lasso::grid_end_name(cv.end)));
      io::set_attribute(c, "select", select);
      io::set_attribute(c, "warning", advice);
      if (!png.empty()) draw_cv(cv, folds, method, png);
    }
    const io::Group tg = f.create_group("/lasso/timings");
    const hid_t t = tg.id();
    io::set_attribute(t, "read", read_seconds);
    io::set_attribute(t, "reduce", reduce_seconds);
    io::set_attribute(t, "solve", solve_seconds);
    if (problem.gram()) {
      const auto& gt = problem.gram()->timings();
      io::set_attribute(t, "reduce_kernel", gt.kernel);
      io::set_attribute(t, "reduce_pack", gt.pack);
      io::set_attribute(t, "reduce_exact", gt.exact);
      io::set_attribute(t, "reduce_exchange", gt.exchange);
      io::set_attribute(t, "reduce_allreduce", gt.allreduce);
    }
  });
  out.commit();
  mpi::guarded(comm, [&] { staged.commit(); });  // rank 0's files; nothing on the others
  const double write_seconds = watch.seconds();

  // 6. Summary.
  log::info("lasso: ", method, " at lambda ", fmt(fit.lambda), ": ", fit.nonzeros, " of ", p,
            " nonzero, objective ", fmt(fit.objective), ", duality gap ", fmt(fit.gap),
            " (relative ", fmt(fit.relative_gap), ")", fit.converged ? "" : " NOT CONVERGED");
  if (have_cv) {
    log::info("lasso: ", folds, "-fold CV over ", cv.lambdas.size(), " lambdas (", cv.requested,
              " asked", cv.extended > 0 ? ", " + std::to_string(cv.extended) + " added below" : "",
              "): lambda_min ", fmt(cv.lambda_min), " (index ", cv.index_min, ", error ",
              fmt(cv.error_min()), " +- ", fmt(cv.standard_error[i_min]), ", ",
              cv.path.nonzeros[i_min], " nonzero), lambda_1se ", fmt(cv.lambda_1se), " (index ",
              cv.index_1se, ", error ", fmt(cv.error_1se()), " +- ", fmt(cv.standard_error[i_1se]),
              ", ", cv.path.nonzeros[i_1se], " nonzero); the fit is at lambda_", select);
    if (!advice.empty()) log::warning("lasso: ", advice);
  }
  log::info("lasso: results in '", output, "'", png.empty() ? "" : " and '" + png + "'", " (",
            util::format_duration(total.seconds()), ")");
  ctx.summary["rows"] = n;
  ctx.summary["cols"] = p;
  ctx.summary["mode"] = lasso::mode_name(problem.mode());
  ctx.summary["task"] = task;
  ctx.summary["lambda_max"] = lmax;
  ctx.summary["fit"] = fit_json(fit);
  if (debias) ctx.summary["debiased"] = fit_json(debiased);
  if (have_path) {
    ctx.summary["path_lambdas"] = static_cast<long long>(path.lambdas.size());
    ctx.summary["path_max_relative_gap"] = path.max_relative_gap();
  }
  if (have_cv) {
    ctx.summary["lambda_min"] = cv.lambda_min;
    ctx.summary["lambda_1se"] = cv.lambda_1se;
    ctx.summary["cv_error_min"] = cv.mean_error[static_cast<std::size_t>(cv.index_min)];
    util::Json c = util::Json::object();
    c["folds"] = folds;
    c["lambda_max"] = cv.lambda_max;
    c["lambda_min"] = cv.lambda_min;
    c["lambda_1se"] = cv.lambda_1se;
    c["index_min"] = cv.index_min;
    c["index_1se"] = cv.index_1se;
    c["error_min"] = cv.error_min();
    c["standard_error_min"] = cv.standard_error[i_min];
    c["error_1se"] = cv.error_1se();
    c["standard_error_1se"] = cv.standard_error[i_1se];
    c["nonzero_min"] = cv.path.nonzeros[i_min];
    c["nonzero_1se"] = cv.path.nonzeros[i_1se];
    c["lambdas"] = static_cast<long long>(cv.lambdas.size());
    c["requested"] = cv.requested;
    c["extended"] = cv.extended;
    c["end"] = lasso::grid_end_name(cv.end);
    c["select"] = select;
    c["warning"] = advice;
    ctx.summary["cv"] = c;
  }
  util::Json t = util::Json::object();
  t["read_s"] = read_seconds;
  t["reduce_s"] = reduce_seconds;
  t["solve_s"] = solve_seconds;
  t["write_s"] = write_seconds;
  ctx.summary["timings"] = t;
  ctx.summary["output"] = output;
}

}  // namespace

Command lasso_command() {
  Command c;
  c.name = "lasso";
  c.summary = "least squares, ridge, LASSO, elastic net: path and cross-validation";
  c.description =
      "Minimises 1/(2n) ||y - A x||^2 + lambda (r ||x||_1 + (1 - r)/2 ||x||^2) (scikit-learn's\n"
      "and glmnet's objective) for A and y read from HDF5 (each rank reads its block of rows),\n"
      "by coordinate descent with covariance updates (Friedman, Hastie and Tibshirani 2010) on\n"
      "A^T A reduced exactly over the ranks (the same bits on any number of ranks), or in the\n"
      "residual mode when p x p does not fit solver.memory-mib. fit.task = fit solves one lambda,\n"
      "path the lambda path, cv K-fold cross-validation over groups of rows (input.groups:\n"
      "rows with the same id are held out together) then a fit at lambda_min or lambda_1se.\n"
      "Writes coefficients, path, CV curve, duality gaps and timings to output.file.\n"
      "A stop signal is polled after each lambda of the path and of every CV fold.\n"
      "SIGUSR1, SIGUSR2, SIGTERM or SIGINT stop it at the next safe point with exit code 3;\n"
      "nothing is written (previous outputs unchanged): run it again. Under mpirun send\n"
      "SIGUSR1 (mpirun handles TERM and INT itself; docs/running.md, \"Stopping a run\").";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("input.file", "HDF5 file with A (rows x columns) and y")
        .path()
        .required();
    opts.add<std::string>("input.matrix", "dataset of A").default_value(std::string("/A"));
    opts.add<std::string>("input.target", "dataset of y").default_value(std::string("/y"));
    opts.add<std::string>("input.groups",
                          "dataset of integer group ids per row, for the CV folds (empty: rows)")
        .default_value(std::string(""));
    opts.add<std::string>("fit.task", "fit (one lambda), path, or cv (path + cross-validation)")
        .default_value(std::string("cv"))
        .check(config::one_of({"fit", "path", "cv"}));
    opts.add<std::string>("fit.method", "ols, ridge, lasso, enet, or adaptive (adaptive LASSO)")
        .default_value(std::string("lasso"))
        .check(config::one_of({"ols", "ridge", "lasso", "enet", "adaptive"}));
    opts.add<double>("fit.lambda", "penalty lambda (task fit; path: the final fit)")
        .check(config::non_negative<double>());
    opts.add<double>("fit.lambda-ratio", "penalty as a fraction of lambda_max (if no fit.lambda)")
        .check(config::non_negative<double>());
    opts.add<double>("fit.l1-ratio", "r of the elastic net (method enet)")
        .default_value(0.5)
        .check(config::in_range(0.0, 1.0));
    opts.add<bool>("fit.standardize", "divide columns by their RMS (std with intercept)")
        .default_value(true);
    opts.add<bool>("fit.intercept", "fit an unpenalised intercept").default_value(false);
    opts.add<bool>("fit.debias", "also refit least squares on the selected support")
        .default_value(false);
    opts.add<double>("fit.adaptive-gamma", "adaptive LASSO weights 1/|x_OLS|^gamma")
        .default_value(1.0)
        .check(config::positive<double>());
    opts.add<int>("path.count",
                  "lambdas on the path (unset: 100; adaptive 1 + 99 (1 + fit.adaptive-gamma), the "
                  "same spacing over its longer grid)")
        .default_value(100)
        .check(config::positive<int>());
    opts.add<double>("path.ratio",
                     "smallest lambda / lambda_max (unset: 1e-4; adaptive "
                     "1e-4^(1 + fit.adaptive-gamma), whose coefficients enter later on its path)")
        .default_value(1e-4)
        .check(config::in_range(1e-16, 0.999999));
    opts.add<double>("path.extend",
                     "task cv: decades the path may be extended below its smallest lambda while "
                     "the CV minimum is within its last decade (one decade at a time, "
                     "warm-started; stops once lambda_min has a decade below it, or the CV error "
                     "fell by < 0.1 standard error over the last decade; 0: never). A minimum "
                     "left at an end is a warning with the next grid to try")
        .default_value(6.0)
        .check(config::non_negative<double>());
    opts.add<int>("cv.folds", "folds of groups of rows")
        .default_value(5)
        .check(config::in_range(2, 1000));
    opts.add<long long>("cv.seed", "shuffle the groups before cutting folds (0: in order)")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<std::string>("cv.select", "final lambda: min or 1se")
        .default_value(std::string("min"))
        .check(config::one_of({"min", "1se"}));
    opts.add<double>("solver.tol", "stop when duality gap <= tol * objective")
        .default_value(1e-10)
        .check(config::in_range(1e-16, 1.0));
    opts.add<long long>("solver.max-epochs", "coordinate-descent sweeps per lambda, at most")
        .default_value(1000000LL)
        .check(config::positive<long long>());
    opts.add<std::string>("solver.order", "coordinate order: cyclic or random")
        .default_value(std::string("cyclic"))
        .check(config::one_of({"cyclic", "random"}));
    opts.add<long long>("solver.seed", "seed of the random order").default_value(1LL);
    opts.add<double>("solver.rcond", "least squares: relative eigenvalue cutoff (< 0: p * eps)")
        .default_value(-1.0);
    opts.add<std::string>("solver.mode", "auto, gram or residual")
        .default_value(std::string("auto"))
        .check(config::one_of({"auto", "gram", "residual"}));
    opts.add<double>("solver.memory-mib", "memory per rank for the Gram mode (MiB)")
        .default_value(4096.0)
        .check(config::positive<double>());
    opts.add<long long>("solver.chunk-rows", "rows per fixed chunk of the reduction")
        .default_value(1024LL)
        .check(config::in_range(1LL, 65536LL));
    opts.add<std::string>("output.file", "HDF5 file to write")
        .path()
        .default_value(std::string("results/lasso.h5"));
    opts.add<std::string>("output.figure",
                          "figure of the CV curve (task cv; PNG, SVG or PDF by the file's "
                          "extension; empty: none)")
        .path()
        .default_value(std::string(""));
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    f.input(o, "input.file");
    f.output(o, "output.file");
    f.output(o, "output.figure");
    return f;
  };
  return c;
}

void check_lasso_options(const mpi::Comm& comm, const config::Values& o) {
  const auto task = o.get<std::string>("fit.task");
  const auto method = o.get<std::string>("fit.method");
  replicated(comm, [&] {
    if (method == "ols" && task != "fit") {
      throw UsageError(
          "method 'ols' has no penalty, hence no path or cross-validation: use "
          "task = fit");
    }
    if (task == "cv" && o.get<std::string>("solver.mode") == "residual") {
      // Known from the options alone: said before the data are read.
      throw UsageError(
          "cross-validation needs the Gram mode (solver.mode = residual was asked): use "
          "solver.mode = gram or auto");
    }
    if (task == "fit" && method != "ols" && !o.has("fit.lambda") && !o.has("fit.lambda-ratio")) {
      throw UsageError("task 'fit' with method '" + method +
                       "' needs fit.lambda (absolute) or fit.lambda-ratio (times lambda_max)");
    }
  });
}

lasso::ProblemOptions lasso_problem_options(const config::Values& o) {
  lasso::ProblemOptions po;
  po.standardize = o.get<bool>("fit.standardize");
  po.intercept = o.get<bool>("fit.intercept");
  const auto mode = o.get<std::string>("solver.mode");
  po.mode = mode == "gram" ? lasso::Mode::kGram
                           : (mode == "residual" ? lasso::Mode::kResidual : lasso::Mode::kAuto);
  po.memory_budget = static_cast<std::size_t>(o.get<double>("solver.memory-mib") * 1048576.0);
  po.chunk_rows = o.get<long long>("solver.chunk-rows");
  po.folds = o.get<std::string>("fit.task") == "cv" ? o.get<int>("cv.folds") : 0;
  return po;
}

lasso::Problem lasso_problem(const mpi::Comm& comm, const config::Values& o, lasso::RowBlock rows,
                             std::vector<std::int64_t> groups, bool groups_given) {
  const lasso::ProblemOptions po = lasso_problem_options(o);
  // Folds from groups of rows (the row index when no groups are given).
  std::vector<std::int32_t> fold;
  if (po.folds > 0) {
    if (!groups_given) {
      groups.resize(static_cast<std::size_t>(rows.rows));
      for (std::int64_t i = 0; i < rows.rows; ++i)
        groups[static_cast<std::size_t>(i)] = rows.global_begin + i;
    }
    fold = lasso::assign_folds(comm, groups, po.folds,
                               static_cast<std::uint64_t>(o.get<long long>("cv.seed")));
  }
  rows.fold = fold.empty() ? nullptr : fold.data();
  // The reduction (one exact allreduce), or the residual mode. (Errors of the rows are
  // collective inside; those of the options, the same on every rank.) The folds are read by
  // the reduction only, the rows (residual mode) as long as the Problem lives.
  return replicated(comm, [&] { return lasso::Problem::from_rows(comm, {rows}, rows.cols, po); });
}

LassoSolution solve_lasso(const mpi::Comm& comm, const config::Values& o,
                          const lasso::Problem& problem,
                          const std::function<void(std::int64_t, std::int64_t)>& on_lambda,
                          const lasso::GridOptionNames& names) {
  LassoSolution s;
  s.task = o.get<std::string>("fit.task");
  s.method = o.get<std::string>("fit.method");
  const std::string& task = s.task;
  const std::string& method = s.method;
  s.folds = task == "cv" ? o.get<int>("cv.folds") : 0;

  lasso::SolverOptions so;
  so.tol = o.get<double>("solver.tol");
  so.max_epochs = o.get<long long>("solver.max-epochs");
  so.order = o.get<std::string>("solver.order") == "random" ? lasso::Order::kRandom
                                                            : lasso::Order::kCyclic;
  so.seed = static_cast<std::uint64_t>(o.get<long long>("solver.seed"));
  so.rcond = o.get<double>("solver.rcond");

  double l1_ratio = o.get<double>("fit.l1-ratio");
  if (method == "lasso" || method == "adaptive") l1_ratio = 1.0;
  if (method == "ridge") l1_ratio = 0.0;

  // The grid: unset, adaptive LASSO spans (1 + gamma) times the decades at the same spacing
  // (a coefficient enters its path at about |x_OLS|^gamma times the lambda where it enters
  // LASSO's; see fc/fit.hpp).
  const double span = method == "adaptive" ? 1 + o.get<double>("fit.adaptive-gamma") : 1.0;
  const auto given = [&](const char* key) {
    return o.origin(key).kind != config::Origin::Kind::kDefault;
  };
  const int path_count =
      given("path.count")
          ? o.get<int>("path.count")
          : 1 + static_cast<int>(std::lround((o.get<int>("path.count") - 1) * span));
  const double path_ratio = given("path.ratio") ? o.get<double>("path.ratio")
                                                : std::pow(o.get<double>("path.ratio"), span);
  const bool debias = o.get<bool>("fit.debias") && method != "ols";
  replicated(comm, [&] {
    if (method == "adaptive") {
      s.weights = lasso::adaptive_weights(problem, o.get<double>("fit.adaptive-gamma"), so);
    }
    s.lambda_max = method == "ols" ? 0.0 : lasso::lambda_max(problem, l1_ratio, s.weights);
    auto chosen_lambda = [&]() {
      return o.has("fit.lambda") ? o.get<double>("fit.lambda")
                                 : o.get<double>("fit.lambda-ratio") * s.lambda_max;
    };
    lasso::PathOptions pa;
    pa.count = path_count;
    pa.ratio = path_ratio;
    pa.extend_decades = o.get<double>("path.extend");
    pa.l1_ratio = l1_ratio;
    pa.weights = s.weights;
    pa.solver = so;
    if (on_lambda) pa.progress = on_lambda;
    if (task == "fit") {
      s.fit = method == "ols"
                  ? lasso::least_squares(problem, so)
                  : lasso::solve(problem, lasso::Penalty{chosen_lambda(), l1_ratio, s.weights}, so);
    } else if (task == "path") {
      s.path = lasso::solve_path(problem, pa);
      s.have_path = true;
    } else {
      s.cv = lasso::cross_validate(problem, pa);
      s.have_cv = true;
      s.path = s.cv.path;
      s.have_path = true;
    }
    if (s.have_path) {
      // The final fit: the chosen lambda (cv), or the one asked for (path), warm-started.
      std::size_t index = s.path.lambdas.size() - 1;
      if (s.have_cv) {
        index = static_cast<std::size_t>(o.get<std::string>("cv.select") == "1se" ? s.cv.index_1se
                                                                                  : s.cv.index_min);
      }
      lasso::Fit warm;
      warm.coef_standardized = s.path.coef_standardized.col(static_cast<Eigen::Index>(index));
      const double lambda = (task == "path" && (o.has("fit.lambda") || o.has("fit.lambda-ratio")))
                                ? chosen_lambda()
                                : s.path.lambdas[index];
      s.fit = lasso::solve(problem, lasso::Penalty{lambda, l1_ratio, s.weights}, so, &warm);
    }
    if (debias) {
      s.debiased = lasso::debias(problem, s.fit, so);
      s.have_debiased = true;
    }
  });
  // Where lambda_min lies: a warning with the next grid when it is at an end.
  if (s.have_cv) s.advice = lasso::grid_advice(s.cv, names);
  return s;
}

}  // namespace physfit::cli
