// physfit._physfit's force constants: `physfit fc` on an ideal supercell and displacement/force
// arrays that the Python package (python/physfit/fc.py) makes from ASE or phonopy objects. The
// work is the command's own (cli/fc.hpp: the same options, crystal, cluster space, rows and
// fit), so the force constants are the command's bits. docs/python.md is the user guide.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/cli/fc.hpp"
#include "physfit/error.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/partition.hpp"

namespace py = pybind11;

namespace physfit::python {
namespace {

mpi::Comm fc_world() {
  if (!mpi::Environment::active()) {
    throw Error("MPI is not active (finalised at exit, or by mpi4py): physfit needs MPI");
  }
  return mpi::Comm::world();
}

// The options of `physfit fc` as its command declares them.
config::Options fc_declarations() {
  config::Options opts("physfit.fc");
  opts.add<std::string>("config", "INI configuration file").command_line_only();
  cli::fc_command().declare(opts);
  return opts;
}

// Options a Python call has no use for: the data come as objects, results are returned.
bool fc_python_option(const std::string& key) {
  return key.find('.') != std::string::npos && key.rfind("input.", 0) != 0 &&
         key.rfind("output.", 0) != 0;
}

// (key, type, default as text or None, help) of every option a Python call accepts.
py::list fc_options() {
  const config::Options opts = fc_declarations();
  const config::Values defaults = opts.parse({}, nullptr, false);
  py::list out;
  for (const std::string& key : opts.keys()) {
    if (!fc_python_option(key)) continue;
    const config::OptionSpec* spec = opts.find(key);
    py::object def = py::none();
    if (defaults.has(key)) def = py::str(defaults.text(key));
    // A flag is given without a value (true) or not at all (false).
    out.append(
        py::make_tuple(key, spec->is_flag() ? "flag" : spec->type_name(), def, spec->help()));
  }
  return out;
}

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

Eigen::Matrix3d matrix3(const py::dict& d, const char* key) {
  const Array a = Array::ensure(d[key]);
  if (!a || a.ndim() != 2 || a.shape(0) != 3 || a.shape(1) != 3) {
    throw UsageError(std::string("structure ") + key + " must be a 3 x 3 matrix");
  }
  Eigen::Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m(i, j) = a.at(i, j);
  return m;
}

// The ideal structure from the dict fc.py makes (lattice, positions, numbers, masses, symbols
// and phonopy's unit_lattice / primitive_matrix / supercell_matrix when known).
fc::IdealStructure ideal_structure(const py::dict& d) {
  fc::IdealStructure ideal;
  fc::Structure& s = ideal.supercell;
  s.lattice = matrix3(d, "lattice");
  const Array pos = Array::ensure(d["positions"]);
  const auto numbers = d["numbers"].cast<std::vector<int>>();
  const auto masses = d["masses"].cast<std::vector<double>>();
  s.symbols = d["symbols"].cast<std::vector<std::string>>();
  if (!pos || pos.ndim() != 2 || pos.shape(1) != 3) {
    throw UsageError("structure positions must be an n x 3 array");
  }
  for (py::ssize_t i = 0; i < pos.shape(0); ++i) {
    s.positions.emplace_back(pos.at(i, 0), pos.at(i, 1), pos.at(i, 2));
  }
  s.numbers = numbers;
  s.masses = masses;
  if (d.contains("unit_lattice") && !d["unit_lattice"].is_none()) {
    ideal.unit_lattice = matrix3(d, "unit_lattice");
    ideal.primitive_matrix = matrix3(d, "primitive_matrix");
  }
  if (d.contains("supercell_matrix") && !d["supercell_matrix"].is_none()) {
    const Eigen::Matrix3d m = matrix3(d, "supercell_matrix");
    Eigen::Matrix3i mi;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) mi(i, j) = static_cast<int>(std::lround(m(i, j)));
    ideal.supercell_matrix = mi;
  }
  s.validate("structure");
  return ideal;
}

// FNV-1a of `count` doubles' bytes, continuing from `h`.
std::uint64_t fnv1a(const double* data, std::size_t count, std::uint64_t h) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < count * sizeof(double); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ULL;
  }
  return h;
}

py::array_t<double> array_of(const double* data, std::vector<py::ssize_t> shape) {
  py::array_t<double> a(shape);
  std::copy(data, data + a.size(), a.mutable_data());
  return a;
}
py::array_t<double> array_of(const std::vector<double>& v) {
  return array_of(v.data(), {static_cast<py::ssize_t>(v.size())});
}
template <class T>
py::array_t<T> int_array_of(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict structure_dict(const fc::Structure& s) {
  py::dict d;
  const Eigen::Matrix3d rows = s.lattice.transpose();  // column-major: the rows one by one
  d["lattice"] = array_of(rows.data(), {3, 3});
  std::vector<double> pos;
  for (const auto& p : s.positions) pos.insert(pos.end(), {p.x(), p.y(), p.z()});
  d["positions"] = array_of(pos.data(), {static_cast<py::ssize_t>(s.positions.size()), 3});
  d["numbers"] = int_array_of(s.numbers);
  d["masses"] = int_array_of(s.masses);
  std::vector<std::string> symbols;
  for (int i = 0; i < s.size(); ++i) symbols.push_back(s.symbol(i));
  d["symbols"] = symbols;
  return d;
}

// `physfit fc` on this rank's configurations (u, F: count x n x 3 arrays; the same on every
// rank unless `distributed`, where rank r's follow rank r - 1's), the options as command-line
// arguments ("--fit.method", "lasso", ...) checked for names by the Python side. `name` is what
// messages call the data; `error`, if not empty, is an error the Python side found in this
// rank's objects, raised on every rank (the others would otherwise wait for this one).
py::dict fc_run(const py::dict& structure, const py::handle& u_obj, const py::handle& f_obj,
                bool distributed, const std::vector<std::string>& args, const std::string& name,
                const std::string& log_level, const std::string& error) {
  const mpi::Comm comm = fc_world();
  log::Settings ls = log::settings();
  const log::Settings saved = ls;
  ls.rank = comm.rank();
  ls.size = comm.size();
  ls.level = log::parse_level(log_level);
  // Warnings (and progress, debug) are kept for the Python side, which turns the warnings into
  // RuntimeWarnings and writes the rest to sys.stderr; information goes to standard output.
  std::ostringstream captured;
  ls.err = &captured;
  struct Restore {
    log::Settings s;
    ~Restore() { log::configure(s); }
  } restore{saved};
  log::configure(ls);

  const config::Options opts = fc_declarations();
  std::vector<std::string> all_args = args;
  // No model file: the results are returned (output.* are not keywords).
  all_args.insert(all_args.end(), {"--output.file", ""});
  const config::Values o = opts.parse(all_args, nullptr, false);

  // The structure and the arrays, checked on every rank, then collectively.
  fc::IdealStructure ideal;
  Array u, f;
  mpi::guarded(comm, [&] {
    // An error the Python side found on this rank (its objects): raised on every rank.
    if (!error.empty()) throw UsageError(error);
    ideal = ideal_structure(structure);
    u = Array::ensure(u_obj);
    f = Array::ensure(f_obj);
    const auto n = static_cast<py::ssize_t>(ideal.supercell.size());
    for (auto [a, what] : {std::pair<const Array*, const char*>{&u, "displacements"},
                           std::pair<const Array*, const char*>{&f, "forces"}}) {
      if (!*a || a->ndim() != 3 || a->shape(1) != n || a->shape(2) != 3) {
        throw UsageError(std::string(what) + " must be an array of shape (configurations, " +
                         std::to_string(n) + ", 3): one row per atom of the " + std::to_string(n) +
                         "-atom supercell");
      }
    }
    if (u.shape(0) != f.shape(0)) {
      throw UsageError("displacements has " + std::to_string(u.shape(0)) +
                       " configurations but forces has " + std::to_string(f.shape(0)));
    }
    return 0;
  });
  const std::vector<long long> counts = comm.allgather(static_cast<long long>(u.shape(0)));
  long long offset = 0, total = 0;
  for (int r = 0; r < comm.size(); ++r) {
    const long long c = counts[static_cast<std::size_t>(r)];
    if (!distributed && c != counts[0]) {
      throw UsageError(name + ": rank 0 passed " + std::to_string(counts[0]) +
                       " configurations but rank " + std::to_string(r) + " passed " +
                       std::to_string(c) +
                       ": with distributed=False every rank passes all of them (with "
                       "distributed=True each passes its own share)");
    }
    if (r < comm.rank()) offset += c;
    total += c;
  }
  if (!distributed) {
    offset = 0;
    total = counts[0];
    // Every rank must pass the same configurations: their bytes' hashes must agree.
    std::uint64_t h = 14695981039346656037ULL;
    h = fnv1a(u.data(), static_cast<std::size_t>(u.size()), h);
    h = fnv1a(f.data(), static_cast<std::size_t>(f.size()), h);
    const std::vector<unsigned long long> hashes =
        comm.allgather(static_cast<unsigned long long>(h));
    for (int r = 1; r < comm.size(); ++r) {
      if (hashes[static_cast<std::size_t>(r)] != hashes[0]) {
        throw UsageError(name + ": rank " + std::to_string(r) +
                         " passed other displacements or forces than rank 0: with "
                         "distributed=False every rank passes all the configurations, the same "
                         "(with distributed=True each passes its own share)");
      }
    }
  }
  const int n = ideal.supercell.size();
  const double* u_data = u.data();
  const double* f_data = f.data();
  const long long mine = u.shape(0);

  cli::FcSource source;
  source.name = name;
  source.displacements_name = "the displacements";
  source.forces_name = "the forces";
  source.structure = [&] { return ideal; };
  source.total = [&](int) { return static_cast<std::int64_t>(total); };
  source.read = [&](int, std::int64_t begin, std::int64_t end) {
    // This rank's part of [begin, end): its block (as the command reads a file) when every
    // rank holds all configurations, else what it holds of the range.
    std::int64_t lo = begin, hi = end;
    if (distributed) {
      lo = std::max<std::int64_t>(begin, offset);
      hi = std::min<std::int64_t>(end, offset + mine);
      if (hi < lo) hi = lo;
    } else {
      const util::Block b = util::block_of(end - begin, comm.size(), comm.rank());
      lo = begin + b.begin;
      hi = lo + b.count;
    }
    fc::Configurations c;
    c.num_atoms = n;
    c.first = lo;
    c.total = total;
    const std::size_t row = 3 * static_cast<std::size_t>(n);
    const std::size_t from = static_cast<std::size_t>(lo - offset) * row;
    const std::size_t to = static_cast<std::size_t>(hi - offset) * row;
    c.displacements.assign(u_data + from, u_data + to);
    c.forces.assign(f_data + from, f_data + to);
    c.validate(name);
    return c;
  };

  util::Json summary = util::Json::object();
  util::Stopwatch clock;
  cli::FcRun run;
  {
    const py::gil_scoped_release released;
    run = cli::fit_fc(comm, o, source, summary, ": nothing returned");
    if (!run.plan_only) cli::write_fc_summary(run, summary, clock.seconds());
  }

  const fc::Crystal& crystal = *run.crystal;
  const fc::ClusterSpace& space = *run.space;
  py::dict d;
  d["summary"] = summary.dump();
  d["spacegroup"] = crystal.international();
  d["spacegroup_number"] = crystal.spacegroup_number();
  d["supercell"] = structure_dict(crystal.supercell());
  d["primitive"] = structure_dict(crystal.primitive());
  {
    const Eigen::Matrix3i& m = crystal.supercell_matrix();
    py::array_t<int> a({3, 3});
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) a.mutable_at(i, j) = m(i, j);
    d["supercell_matrix"] = a;  // supercell lattice = this x primitive lattice (rows)
  }
  d["p2s_map"] = int_array_of(crystal.p2s());
  d["s2p_map"] = int_array_of(crystal.s2p());
  {
    // translations[i, j]: where the translation that takes atom i into the primitive cell
    // (to p2s_map[s2p_map[i]]) takes atom j.
    py::array_t<int> t({n, n});
    for (int i = 0; i < n; ++i) {
      const int home = crystal.translation_home(i);
      for (int j = 0; j < n; ++j) t.mutable_at(i, j) = crystal.translate(j, home);
    }
    d["translations"] = t;
  }
  d["max_order"] = space.max_order();
  d["parameters"] = space.num_parameters();
  d["log"] = captured.str();
  if (run.plan_only) return d;

  const fc::FitResult& r = run.result;
  d["z"] = array_of(r.z.data(), {static_cast<py::ssize_t>(r.z.size())});
  {
    const Eigen::MatrixXd phi = space.fc2(r.z);  // 3n x 3n, (3i + a, 3j + b)
    py::array_t<double> a({n, n, 3, 3});
    auto w = a.mutable_unchecked<4>();
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        for (int x = 0; x < 3; ++x)
          for (int y = 0; y < 3; ++y) w(i, j, x, y) = phi(3 * i + x, 3 * j + y);
    d["fc2"] = a;
  }
  if (space.max_order() >= 3) {
    const std::vector<double> fc3 = space.fc3_compact(r.z);
    d["fc3_compact"] = array_of(fc3.data(), {crystal.num_primitive(), n, n, 3, 3, 3});
  } else {
    d["fc3_compact"] = py::none();
  }
  d["method"] = std::string(fc::method_name(run.method));
  d["storage"] = std::string(run.storage == fc::Storage::kGram ? "gram" : "residual");
  d["lambda"] = r.lambda;
  d["lambdas"] = array_of(r.lambdas);
  d["cv_mse"] = array_of(r.cv_mse);
  d["cv_se"] = array_of(r.cv_se);
  d["nonzeros"] = int_array_of(r.nonzeros);
  d["chosen"] = r.chosen;
  d["train_rmse"] = r.train_rmse;
  d["train_relative"] = r.train_relative;
  d["cv_rmse"] = r.cv_rmse;
  d["cv_relative"] = r.cv_relative;
  d["relative_gap"] = r.relative_gap;
  d["rank"] = r.rank;
  d["configurations"] = run.data.configurations;
  return d;
}

}  // namespace

void bind_fc(py::module_& m) {
  m.def("fc_options", &fc_options,
        "(key, type, default text or None, help) of every option of `physfit fc` a Python "
        "call accepts");
  m.def("fc_run", &fc_run, py::arg("structure"), py::arg("displacements"), py::arg("forces"),
        py::arg("distributed"), py::arg("args"), py::arg("name"), py::arg("log_level"),
        py::arg("error"));
}

}  // namespace physfit::python
