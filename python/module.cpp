// physfit._physfit: the C++ side of the Python module (pybind11). The Python package
// (python/physfit/) turns keyword arguments into the options of the physfit command of the
// same name and calls these functions; the work is the command's own (cli/lasso.hpp), so the
// results are the command's bits. docs/python.md is the user guide.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/cli/lasso.hpp"
#include "physfit/error.hpp"
#include "physfit/lasso/rows.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/mpi/guard.hpp"

namespace py = pybind11;

namespace physfit::python {
namespace {

// MPI owned by the module when nothing (mpi4py, a host program) initialised it before.
std::unique_ptr<mpi::Environment> g_environment;

void initialize_mpi() {
  if (mpi::Environment::active()) return;
  int argc = 0;
  char** argv = nullptr;
  g_environment = std::make_unique<mpi::Environment>(argc, argv);
}

// Finalises MPI if the module initialised it (registered with atexit).
void finalize_mpi() { g_environment.reset(); }

mpi::Comm world() {
  if (!mpi::Environment::active()) {
    throw Error("MPI is not active (finalised at exit, or by mpi4py): physfit needs MPI");
  }
  return mpi::Comm::world();
}

// The options of `physfit lasso` as its command declares them.
config::Options lasso_declarations() {
  config::Options opts("physfit.lasso");
  // The configuration file the command's positional argument names (the program's entry point
  // declares it with its other common options, which have no use here).
  opts.add<std::string>("config", "INI configuration file").command_line_only();
  cli::lasso_command().declare(opts);
  return opts;
}

// Options a Python call has no use for: the data come as arrays, results are returned.
bool python_option(const std::string& key) {
  return key.find('.') != std::string::npos && key.rfind("input.", 0) != 0 &&
         key.rfind("output.", 0) != 0;
}

// (key, type, default as text or None, help) of every option a Python call accepts, in
// declaration order; the defaults are those of the command's declarations.
py::list lasso_options() {
  const config::Options opts = lasso_declarations();
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

py::array_t<double> vector_array(const Eigen::VectorXd& v) {
  py::array_t<double> a(v.size());
  std::copy(v.data(), v.data() + v.size(), a.mutable_data());
  return a;
}
py::array_t<double> vector_array(const std::vector<double>& v) {
  py::array_t<double> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}
py::array_t<std::int64_t> int_array(const std::vector<std::int64_t>& v) {
  py::array_t<std::int64_t> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}
// A p x L column-major matrix as an L x p array (one row per lambda), as the HDF5 output.
py::array_t<double> columns_array(const Eigen::MatrixXd& m) {
  py::array_t<double> a({static_cast<py::ssize_t>(m.cols()), static_cast<py::ssize_t>(m.rows())});
  std::copy(m.data(), m.data() + m.size(), a.mutable_data());
  return a;
}
// A K x L matrix as a K x L array.
py::array_t<double> rows_array(const Eigen::MatrixXd& m) {
  py::array_t<double> a({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  auto r = a.mutable_unchecked<2>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) r(i, j) = m(i, j);
  return a;
}

py::dict fit_dict(const lasso::Fit& f) {
  py::dict d;
  d["coef"] = vector_array(f.coef);
  d["intercept"] = f.intercept;
  d["method"] = f.method;
  d["lambda"] = f.lambda;
  d["l1_ratio"] = f.l1_ratio;
  d["objective"] = f.objective;
  d["duality_gap"] = f.gap;
  d["relative_gap"] = f.relative_gap;
  d["gap_floor"] = f.gap_floor;
  d["kkt_violation"] = f.kkt_violation;
  d["epochs"] = f.epochs;
  d["nonzeros"] = f.nonzeros;
  d["rank"] = f.rank;
  d["converged"] = f.converged;
  d["seconds"] = f.seconds;
  return d;
}

// A float64 array as the engine can read it in place: any strides that are whole elements.
// Other dtypes, byte orders and element-misaligned strides are converted (a copy).
py::array_t<double> as_float64(const py::handle& obj, const char* name) {
  auto a = py::array_t<double, py::array::forcecast>::ensure(obj);
  if (!a) throw UsageError(std::string(name) + " must be an array of real numbers");
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    if (a.strides(d) % static_cast<py::ssize_t>(sizeof(double)) != 0) {
      return py::array_t<double, py::array::forcecast | py::array::c_style>::ensure(a);
    }
  }
  return a;
}

// LASSO on this rank's rows (A, y, groups); the options as command-line arguments
// ("--fit.task", "cv", ...), keys and values already checked for names by the Python side.
py::dict lasso_run(const py::handle& a_obj, const py::handle& y_obj, const py::handle& g_obj,
                   const std::vector<std::string>& args, const std::vector<std::string>& names) {
  const mpi::Comm comm = world();
  const config::Options opts = lasso_declarations();
  const config::Values o = opts.parse(args, nullptr, false);
  cli::check_lasso_options(comm, o);

  // Shapes: checked on every rank, then made collective (a rank with bad arrays fails all).
  py::array_t<double> a, y;
  std::vector<std::int64_t> groups;
  const bool has_groups = !g_obj.is_none();
  long long mine[4] = {0, 0, has_groups ? 1 : 0, 0};  // rows, cols, groups given, ok
  mpi::guarded(comm, [&] {
    a = as_float64(a_obj, "A");
    y = as_float64(y_obj, "y");
    if (a.ndim() != 2) {
      throw UsageError("A must be a 2-d array (rows x columns); it has " +
                       std::to_string(a.ndim()) + " dimensions");
    }
    if (!(y.ndim() == 1 || (y.ndim() == 2 && y.shape(1) == 1))) {
      throw UsageError("y must be a 1-d array (or one column) with a value per row of A");
    }
    if (y.shape(0) != a.shape(0)) {
      throw UsageError("A has " + std::to_string(a.shape(0)) + " rows but y has " +
                       std::to_string(y.shape(0)) + " values: A and y must have the same rows");
    }
    if (has_groups) {
      const auto g = py::array::ensure(g_obj);
      if (!g || g.ndim() != 1 || !(g.dtype().kind() == 'i' || g.dtype().kind() == 'u')) {
        throw UsageError(
            "groups must be a 1-d array of integer group ids (numpy's astype('int64'))");
      }
      const auto g64 = py::array_t<std::int64_t, py::array::forcecast>::ensure(g);
      if (g64.shape(0) != a.shape(0)) {
        throw UsageError("groups has " + std::to_string(g64.shape(0)) + " values but A has " +
                         std::to_string(a.shape(0)) + " rows: one group id per row");
      }
      const auto r = g64.unchecked<1>();
      groups.resize(static_cast<std::size_t>(g64.shape(0)));
      for (py::ssize_t i = 0; i < g64.shape(0); ++i) groups[static_cast<std::size_t>(i)] = r(i);
    }
    return 0;
  });
  mine[0] = a.shape(0);
  mine[1] = a.shape(1);
  const std::vector<long long> rows = comm.allgather(mine[0]);
  const std::vector<long long> cols = comm.allgather(mine[1]);
  const std::vector<long long> given = comm.allgather(mine[2]);
  // Every rank sees the same gathered shapes and decides the same.
  long long begin = 0, total = 0;
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) begin += rows[static_cast<std::size_t>(r)];
    total += rows[static_cast<std::size_t>(r)];
    if (cols[static_cast<std::size_t>(r)] != cols[0]) {
      throw UsageError("A has " + std::to_string(cols[0]) + " columns on rank 0 but " +
                       std::to_string(cols[static_cast<std::size_t>(r)]) + " on rank " +
                       std::to_string(r) + ": every rank passes rows of the same A");
    }
    if (given[static_cast<std::size_t>(r)] != given[0]) {
      throw UsageError(
          "groups given on some ranks and not on others: every rank passes the "
          "group ids of its rows, or none does");
    }
  }
  if (total < 1 || cols[0] < 1) throw UsageError("A is empty: a fit needs rows and columns");

  lasso::RowBlock block;
  block.global_begin = begin;
  block.rows = mine[0];
  block.cols = mine[1];
  block.a = a.data();
  block.row_stride = a.strides(0) / static_cast<py::ssize_t>(sizeof(double));
  block.col_stride = a.strides(1) / static_cast<py::ssize_t>(sizeof(double));
  block.y = y.data();
  block.y_stride = y.strides(0) / static_cast<py::ssize_t>(sizeof(double));

  // Non-finite values: errors of the caller's arrays (ValueError) naming the global row, found
  // before the reduction (which would report them as errors of the data, OSError), as the
  // command does for its files.
  mpi::guarded(comm, [&] {
    for (std::int64_t i = 0; i < block.rows; ++i) {
      const std::string row = std::to_string(block.global_begin + i);
      for (std::int64_t j = 0; j < block.cols; ++j) {
        if (!std::isfinite(block.at(i, j))) {
          throw UsageError("A[" + row + ", " + std::to_string(j) +
                           "] = " + std::to_string(block.at(i, j)) + " is not finite (row " + row +
                           " of all ranks' rows; on this rank row " + std::to_string(i) +
                           "): remove or repair that row");
        }
      }
      if (!std::isfinite(block.y_at(i))) {
        throw UsageError("y[" + row + "] = " + std::to_string(block.y_at(i)) +
                         " is not finite: remove or repair that row");
      }
    }
    return 0;
  });

  lasso::GridOptionNames grid_names;
  if (names.size() == 4) {
    grid_names.ratio = names[0];
    grid_names.count = names[1];
    grid_names.extend = names[2];
    grid_names.select = names[3];
  }
  std::unique_ptr<lasso::Problem> problem;
  cli::LassoSolution s;
  {
    const py::gil_scoped_release released;
    problem = std::make_unique<lasso::Problem>(
        cli::lasso_problem(comm, o, block, std::move(groups), given[0] != 0));
    const bool intercept = problem->options().intercept;
    if ((problem->scale().array() == 0).all()) {
      throw UsageError("A: every one of its " + std::to_string(cols[0]) + " columns is zero" +
                       (intercept ? " or constant (the intercept takes constant columns)" : "") +
                       ": the design matrix carries no information about y");
    }
    if (!(problem->yy() > 0)) {
      throw UsageError(std::string("y is zero in every row") +
                       (intercept ? " (after removing its mean: the intercept fits it)" : "") +
                       ": there is nothing to fit");
    }
    s = cli::solve_lasso(comm, o, *problem, {}, grid_names);
  }

  py::dict d;
  d["task"] = s.task;
  d["method"] = s.method;
  d["rows"] = total;
  d["cols"] = cols[0];
  d["mode"] = std::string(lasso::mode_name(problem->mode()));
  d["mode_reason"] = problem->mode_reason();
  d["lambda_max"] = s.lambda_max;
  d["column_scale"] = vector_array(problem->scale());
  d["adaptive_weights"] = s.weights.size() ? py::object(vector_array(s.weights)) : py::none();
  d["fit"] = fit_dict(s.fit);
  d["debiased"] = s.have_debiased ? py::object(fit_dict(s.debiased)) : py::none();
  d["path"] = py::none();
  if (s.have_path) {
    py::dict p;
    p["lambda"] = vector_array(s.path.lambdas);
    p["coef"] = columns_array(s.path.coef);
    p["intercept"] = vector_array(s.path.intercepts);
    p["objective"] = vector_array(s.path.objectives);
    p["duality_gap"] = vector_array(s.path.gaps);
    p["relative_gap"] = vector_array(s.path.relative_gaps);
    p["nonzeros"] = int_array(s.path.nonzeros);
    p["epochs"] = int_array(s.path.epochs);
    d["path"] = p;
  }
  d["cv"] = py::none();
  if (s.have_cv) {
    const lasso::CrossValidation& cv = s.cv;
    const auto i_min = static_cast<std::size_t>(cv.index_min);
    const auto i_1se = static_cast<std::size_t>(cv.index_1se);
    py::dict c;
    c["lambda"] = vector_array(cv.lambdas);
    c["mean_error"] = vector_array(cv.mean_error);
    c["standard_error"] = vector_array(cv.standard_error);
    c["fold_error"] = rows_array(cv.fold_error);
    c["fold_rows"] = int_array(cv.fold_rows);
    c["folds"] = s.folds;
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
    c["requested"] = cv.requested;
    c["extended"] = cv.extended;
    c["end"] = std::string(lasso::grid_end_name(cv.end));
    c["select"] = o.get<std::string>("cv.select");
    c["warning"] = s.advice;
    d["cv"] = c;
  }
  return d;
}

}  // namespace
}  // namespace physfit::python

PYBIND11_MODULE(_physfit, m) {
  using namespace physfit::python;
  m.doc() = "physfit's engines (C++, MPI); use the physfit package, not this module";
  initialize_mpi();
  // Finalised at exit, after the interpreter's other atexit functions registered later
  // (mpi4py's, if imported after physfit, which then leaves MPI to physfit).
  py::module_::import("atexit").attr("register")(py::cpp_function(&finalize_mpi));

  // physfit's errors as Python's: usage -> ValueError, I/O -> OSError, others RuntimeError,
  // with physfit's message (on every rank for collective errors).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const physfit::Error& e) {
      switch (e.code()) {
        case physfit::ExitCode::kUsage:
          PyErr_SetString(PyExc_ValueError, e.what());
          return;
        case physfit::ExitCode::kIo:
          PyErr_SetString(PyExc_OSError, e.what());
          return;
        default:
          PyErr_SetString(PyExc_RuntimeError, e.what());
          return;
      }
    }
  });

  m.def(
      "mpi_rank", [] { return world().rank(); }, "This process's rank in MPI_COMM_WORLD.");
  m.def(
      "mpi_size", [] { return world().size(); }, "The number of ranks in MPI_COMM_WORLD.");
  m.def(
      "mpi_owned", [] { return g_environment != nullptr; },
      "True if physfit initialised MPI (and finalises it at exit).");
  m.def("lasso_options", &lasso_options,
        "(key, type, default text or None, help) of every option of `physfit lasso` a Python "
        "call accepts");
  m.def("lasso_run", &lasso_run, py::arg("a"), py::arg("y"), py::arg("groups"), py::arg("args"),
        py::arg("grid_names"));
  bind_fc(m);
  bind_nn(m);
}
