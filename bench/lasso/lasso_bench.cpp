// Benchmark of the LASSO engine: Gram formation, one lambda, a 100-lambda path and 5-fold CV
// on seeded synthetic problems, 1 thread per rank. One JSON object per line on standard output
// (rank 0), with wall and CPU seconds; bench/lasso/run.sh runs it next to scikit-learn
// (bench/lasso/peers.py) on the same data and bench/lasso/summarize.py makes the tables.
//
//   lasso_bench --problem gauss --task gram|fit|path|cv|peak|write [--lambda-ratio 0.01]
//               [--rows N --cols P] [--reps 3] [--h5 FILE] [--tol 1e-10] [--chunk 1024]
//               [--mode gram|residual]
//   mpirun -np 2 lasso_bench --problem tall --task fit

#include <mpi.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/lasso/generate.hpp"
#include "physfit/lasso/gram.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/json.hpp"
#include "physfit/util/partition.hpp"

using namespace physfit;
using namespace physfit::lasso;

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double load_average() {
  double l[3] = {0, 0, 0};
  return getloadavg(l, 3) > 0 ? l[0] : -1;
}

SyntheticSpec preset(const std::string& name) {
  SyntheticSpec s;
  s.seed = 1;
  s.correlation = 1.0;  // every column pair correlated 0.5, as the peers' gauss/tall/wide
  s.noise_exponent = -3;
  if (name == "gauss") {
    s.rows = 100000;
    s.cols = 1000;
    s.nonzeros = 50;
  } else if (name == "tall") {
    s.rows = 1000000;
    s.cols = 200;
    s.nonzeros = 10;
  } else if (name == "wide") {
    s.rows = 20000;
    s.cols = 5000;
    s.nonzeros = 250;
  } else if (name == "fcl") {  // force-constant-like sizes and column scales 2^-6 .. 2^6
    s.rows = 28800;
    s.cols = 264;
    s.nonzeros = 90;
    s.scale_range = 6;
    s.correlation = 2.0;  // correlation 0.8
  } else {
    throw std::invalid_argument("unknown problem '" + name + "'");
  }
  return s;
}

// The FMA peak of one core: 24 independent 8-wide multiply-add chains in registers.
double fma_peak() {
  typedef double v8d __attribute__((vector_size(64)));
  v8d a[24];
  for (int i = 0; i < 24; ++i) a[i] = v8d{} + (1.0 + i * 1e-9);
  const v8d b = v8d{} + 0.999999999, c = v8d{} + 1e-9;
  const long iters = 20000000;
  const double t0 = cpu_seconds();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = a[i] * b + c;
  }
  const double dt = cpu_seconds() - t0;  // CPU time: the rate while the core is ours
  double s = 0;
  for (int i = 0; i < 24; ++i) s += a[i][0] + a[i][7];
  return s > 0 ? iters * 24.0 * 16 / dt / 1e9 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment env(argc, argv);
  const mpi::Comm comm = env.world();
  io::hdf5_initialize();
  std::string problem = "gauss", task = "gram", h5;
  double lambda_ratio = 0.01, tol = 1e-10;
  int reps = 3, folds = 5, count = 100;
  long long chunk = GramOptions{}.chunk_rows;
  std::string mode = "gram";
  long long rows = -1, cols = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--problem")
      problem = v;
    else if (k == "--task")
      task = v;
    else if (k == "--lambda-ratio")
      lambda_ratio = std::stod(v);
    else if (k == "--tol")
      tol = std::stod(v);
    else if (k == "--reps")
      reps = std::stoi(v);
    else if (k == "--rows")
      rows = std::stoll(v);
    else if (k == "--cols")
      cols = std::stoll(v);
    else if (k == "--h5")
      h5 = v;
    else if (k == "--folds")
      folds = std::stoi(v);
    else if (k == "--count")
      count = std::stoi(v);
    else if (k == "--chunk")
      chunk = std::stoll(v);
    else if (k == "--mode")
      mode = v;
    else {
      std::cerr << "lasso_bench: unknown option " << k << "\n";
      return 2;
    }
  }
  util::Json out = util::Json::object();
  out["bench"] = "physfit";
  out["problem"] = problem;
  out["task"] = task;
  out["ranks"] = comm.size();
  out["chunk_rows"] = chunk;
  out["mode"] = mode;
  if (task == "fit") out["lambda_ratio"] = lambda_ratio;
  out["load_before"] = load_average();
  if (task == "peak") {
    double best = 0;
    for (int r = 0; r < reps; ++r) best = std::max(best, fma_peak());
    out["fp64_peak_gflops"] = best;
    if (comm.is_root()) std::cout << out.dump() << std::endl;
    return 0;
  }
  SyntheticSpec spec = preset(problem);
  if (rows > 0) spec.rows = rows;
  if (cols > 0) spec.cols = cols;
  out["rows"] = spec.rows;
  out["cols"] = spec.cols;
  const std::int64_t p = spec.cols;

  if (task == "write") {  // the whole problem as HDF5 for the peers (rank 0)
    if (comm.is_root()) {
      io::File f = io::File::create(h5);
      const io::Dataset a = f.create_dataset<double>("/A", {spec.rows, p}, "dimensionless");
      const io::Dataset y = f.create_dataset<double>("/y", {spec.rows}, "dimensionless");
      const std::int64_t block = 20000;
      std::vector<double> ab(static_cast<std::size_t>(block * p)),
          yb(static_cast<std::size_t>(block));
      for (std::int64_t b = 0; b < spec.rows; b += block) {
        const std::int64_t n = std::min(block, spec.rows - b);
        generate_rows(spec, b, n, ab.data(), yb.data());
        a.write_rows(b, n, ab.data());
        y.write_rows(b, n, yb.data());
      }
      f.close();
      out["h5"] = h5;
      std::cout << out.dump() << std::endl;
    }
    return 0;
  }

  // This rank's rows.
  const util::Block mine = util::block_of(spec.rows, comm.size(), comm.rank());
  RowMatrix a(mine.count, p);
  Eigen::VectorXd y(mine.count);
  generate_rows(spec, mine.begin, mine.count, a.data(), y.data());
  std::vector<std::int32_t> fold;
  if (task == "cv") {
    std::vector<std::int64_t> groups;
    for (std::int64_t i = mine.begin; i < mine.end(); ++i) groups.push_back(i);
    fold = assign_folds(comm, groups, folds);  // contiguous, as scikit-learn's KFold(5)
  }
  const std::vector<RowBlock> blocks = {
      RowBlock::view(mine.begin, a, y, fold.empty() ? nullptr : fold.data())};
  ProblemOptions po;
  po.standardize = false;  // scikit-learn does not standardise: the same objective
  po.folds = task == "cv" ? folds : 0;
  po.mode = mode == "residual" ? Mode::kResidual : Mode::kGram;
  po.chunk_rows = chunk;
  SolverOptions so;
  so.tol = tol;

  double best_wall = 1e300, best_cpu = 1e300;
  util::Json detail = util::Json::object();
  for (int r = 0; r < reps; ++r) {
    comm.barrier();
    const double w0 = util::now_seconds(), c0 = cpu_seconds();
    detail = util::Json::object();
    if (task == "gram") {
      GramOptions go;
      go.chunk_rows = chunk;
      const ExactGram g = ExactGram::reduce(comm, blocks, p, go);
      const auto& t = g.timings();
      detail["kernel_s"] = t.kernel;
      detail["pack_s"] = t.pack;
      detail["exact_s"] = t.exact;
      detail["exchange_s"] = t.exchange;
      detail["allreduce_s"] = t.allreduce;
      detail["check_s"] = t.check;
    } else {
      const double g0 = util::now_seconds();
      const Problem pr = Problem::from_rows(comm, blocks, p, po);
      detail["gram_s"] = util::now_seconds() - g0;
      const double lmax = lambda_max(pr, 1.0);
      detail["lambda_max"] = lmax;
      const double s0 = util::now_seconds();
      if (task == "fit") {
        const Fit f = solve(pr, Penalty{lambda_ratio * lmax, 1.0, {}}, so);
        detail["lambda"] = f.lambda;
        detail["relative_gap"] = f.relative_gap;
        detail["objective"] = f.objective;
        detail["nonzeros"] = f.nonzeros;
        detail["epochs"] = f.epochs;
        detail["converged"] = f.converged;
      } else {
        PathOptions pa;
        pa.count = count;
        pa.ratio = 1e-4;
        pa.extend_decades = 0;  // the grid of scikit-learn's LassoCV, which has no extension
        pa.solver = so;
        if (task == "path") {
          const Path path = solve_path(pr, pa);
          detail["max_relative_gap"] = path.max_relative_gap();
          detail["relative_gap_last"] = path.relative_gaps.back();
          detail["all_converged"] = path.all_converged();
          std::int64_t e = 0;
          for (auto v : path.epochs) e += v;
          detail["epochs_total"] = e;
          detail["nonzeros_last"] = path.nonzeros.back();
        } else {
          const CrossValidation cv = cross_validate(pr, pa);
          detail["lambda_min_ratio"] = cv.lambda_min / lmax;
          detail["max_relative_gap_full_path"] = cv.path.max_relative_gap();
          detail["cv_error_min"] = cv.mean_error[static_cast<std::size_t>(cv.index_min)];
        }
      }
      detail["solve_s"] = util::now_seconds() - s0;
    }
    comm.barrier();
    const double wall = util::now_seconds() - w0, cpu = cpu_seconds() - c0;
    if (wall < best_wall) {
      best_wall = wall;
      best_cpu = cpu;
      out["detail"] = detail;
    }
  }
  out["wall_s"] = best_wall;
  out["cpu_s"] = comm.allreduce(best_cpu, mpi::Op::kMax);
  if (task == "gram") {
    out["gnp2_per_s"] = static_cast<double>(spec.rows) * p * p / best_wall / 1e9;
  }
  out["reps"] = reps;
  out["load_after"] = load_average();
  if (comm.is_root()) std::cout << out.dump() << std::endl;
  return 0;
}
