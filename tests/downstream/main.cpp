// A program that uses the installed physfit as a user's would: built by a project that enables
// only C++, with the compiler's default flags (no -march), and linked to the shared or the static
// library. It calls every engine through its public API, Eigen-typed functions included (Eigen
// objects made here are freed in the library and the other way round, so an Eigen ABI that
// differs between the two aborts or corrupts the heap), and checks the numbers against
// references computed here:
//   lasso  an orthogonal design, where the LASSO is soft-thresholding of A^T y / n, and least
//          squares on a general design against Eigen's QR solve of the same rows;
//   nn     a dense layer's gradient against central finite differences of the squared loss, and
//          training of a linear model on noise-free data against the exact weights;
//   fc     force constants of a simple cubic crystal of nearest-neighbour springs, whose forces
//          and force constants are written by hand below.
// It also writes a parallel HDF5 file with provenance. Prints one line that the test checks.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "physfit/fc/clusters.hpp"
#include "physfit/fc/crystal.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/lasso/path.hpp"
#include "physfit/lasso/solver.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/nn/trainer.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/version.hpp"

namespace {

int failures = 0;

// Records a failure when |value - expected| > tolerance.
void check(const char* what, double value, double expected, double tolerance) {
  if (!(std::abs(value - expected) <= tolerance)) {
    std::fprintf(stderr, "FAILED %s: %.17g, expected %.17g (tolerance %g)\n", what, value, expected,
                 tolerance);
    ++failures;
  }
}

// Deterministic values in [-1, 1) (the same on every rank).
double noise(std::uint64_t i) {
  std::uint64_t z = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
}

using physfit::mpi::Comm;

// LASSO on an orthogonal design (columns of Walsh functions, A^T A = n I): the solution of
// 1/(2n) |y - Ax|^2 + lambda |x|_1 is x_j = S(a_j.y / n, lambda). Rows split over the ranks.
void lasso_checks(const Comm& comm) {
  namespace lasso = physfit::lasso;
  const int n = 32, p = 5;
  Eigen::MatrixXd a(n, p);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < p; ++j) a(i, j) = ((i >> j) & 1) ? -1.0 : 1.0;
    y(i) = 3.0 * noise(i);
  }
  const Eigen::VectorXd c = a.transpose() * y / n;
  const auto block = physfit::util::block_of(n, comm.size(), comm.rank());
  const Eigen::MatrixXd a_local = a.middleRows(block.begin, block.count);
  const Eigen::VectorXd y_local = y.segment(block.begin, block.count);
  lasso::ProblemOptions options;
  options.standardize = false;
  options.intercept = false;
  options.mode = lasso::Mode::kGram;
  const lasso::Problem problem = lasso::Problem::from_rows(
      comm, {lasso::RowBlock::view(block.begin, a_local, y_local)}, p, options);
  check("lasso lambda_max", lasso::lambda_max(problem, 1.0), c.cwiseAbs().maxCoeff(), 1e-14);
  // lambda between the sizes of the coefficients: some are zero, some shrunk.
  Eigen::VectorXd sorted = c.cwiseAbs();
  std::sort(sorted.data(), sorted.data() + p);
  const double lambda = 0.5 * (sorted(1) + sorted(2));
  lasso::SolverOptions solver;
  solver.tol = 1e-14;
  lasso::Penalty penalty;
  penalty.lambda = lambda;
  penalty.weights = Eigen::VectorXd::Ones(p);  // made here, copied and freed in the library
  const lasso::Fit fit = lasso::solve(problem, penalty, solver);
  for (int j = 0; j < p; ++j) {
    const double soft = std::copysign(std::max(std::abs(c(j)) - lambda, 0.0), c(j));
    check("lasso coefficient", fit.coef(j), soft, 1e-12);
  }
  const lasso::Certificate cert = lasso::certify(problem, penalty, fit.coef_standardized);
  check("lasso duality gap", cert.gap, 0.0, 1e-12);
  // A path of 4 lambdas: every column soft-thresholding at its lambda.
  lasso::PathOptions path_options;
  path_options.lambdas = {0.9 * sorted(4), sorted(3), lambda, 0.1 * sorted(0)};
  path_options.solver = solver;
  const lasso::Path path = lasso::solve_path(problem, path_options);
  for (int k = 0; k < 4; ++k) {
    for (int j = 0; j < p; ++j) {
      const double l = path.lambdas[k];
      check("lasso path", path.coef(j, k), std::copysign(std::max(std::abs(c(j)) - l, 0.0), c(j)),
            1e-12);
    }
  }
  // Least squares on a general design, against Eigen's QR of the same rows made here.
  Eigen::MatrixXd g(n, 3);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) g(i, j) = noise(1000 + 3 * i + j) + (j == 0 ? 0.5 : 0.0);
  }
  const Eigen::VectorXd reference = g.colPivHouseholderQr().solve(y);
  const Eigen::MatrixXd g_local = g.middleRows(block.begin, block.count);
  const lasso::Problem general = lasso::Problem::from_rows(
      comm, {lasso::RowBlock::view(block.begin, g_local, y_local)}, 3, options);
  const lasso::Fit ols = lasso::least_squares(general);
  for (int j = 0; j < 3; ++j) check("least squares", ols.coef(j), reference(j), 1e-12);
}

// The gradient of a small network against central differences of the loss, then training of
// a linear model y = w.x + b on noise-free data, which must find w and b.
void nn_checks(const Comm& comm, const std::string& folder) {
  namespace nn = physfit::nn;
  {
    nn::ModelSpec spec;
    spec.input = nn::Shape{1, 1, 3};
    spec.layers = {"dense 4 tanh", "dense 2"};
    spec.loss = "squared";
    nn::Model model(spec);
    model.initialize(7);
    const int n = 5;
    model.reserve(n);
    std::vector<float> x(n * 3), t(n * 2);
    for (int i = 0; i < n * 3; ++i) x[i] = static_cast<float>(noise(2000 + i));
    for (int i = 0; i < n * 2; ++i) t[i] = static_cast<float>(noise(3000 + i));
    const nn::Pass pass;
    auto loss_of = [&]() {
      const float* s = model.forward(x.data(), n, pass);
      nn::LossSums sums;
      model.loss().evaluate(s, 2, n, nullptr, t.data(), nullptr, 1.0f, sums);
      return sums.loss;
    };
    const float* s = model.forward(x.data(), n, pass);
    std::vector<float> ds(n * 2);
    nn::LossSums sums;
    model.loss().evaluate(s, 2, n, nullptr, t.data(), ds.data(), 1.0f, sums);
    std::fill(model.gradients(), model.gradients() + model.parameter_count(), 0.0f);
    model.backward(x.data(), ds.data(), n, pass);
    const std::vector<float> grad(model.gradients(), model.gradients() + model.parameter_count());
    double scale = 0;
    for (float v : grad) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::int64_t k = 0; k < model.parameter_count(); ++k) {
      float& w = model.parameters()[k];
      const float saved = w;
      const float h = 1e-2f;
      w = saved + h;
      const double up = loss_of();
      w = saved - h;
      const double down = loss_of();
      w = saved;
      check("nn gradient vs finite difference", grad[k], (up - down) / (2.0 * h), 2e-3 * scale);
    }
  }
  // Training data: y = w.x + b, written by rank 0 into an HDF5 file through physfit::io.
  const double w_true[3] = {0.7, -1.3, 0.4}, b_true = 0.25;
  const std::int64_t rows = 64;
  const std::string path = folder + "/linear.h5";
  if (comm.is_root()) {
    std::vector<float> x(rows * 3), yv(rows);
    for (std::int64_t r = 0; r < rows; ++r) {
      double v = b_true;
      for (int i = 0; i < 3; ++i) {
        x[r * 3 + i] = static_cast<float>(noise(4000 + r * 3 + i));
        v += w_true[i] * x[r * 3 + i];
      }
      yv[r] = static_cast<float>(v);
    }
    physfit::io::File f = physfit::io::File::create(path);
    f.create_dataset<float>("/features", {rows, 3}, "dimensionless").write_rows(0, rows, x.data());
    f.create_dataset<float>("/targets", {rows, 1}, "dimensionless").write_rows(0, rows, yv.data());
    f.close();
  }
  comm.barrier();
  const nn::DataInfo data = nn::inspect_data(path);
  nn::ModelSpec spec;
  spec.input = data.sample;
  spec.layers = {"dense 1"};
  spec.loss = "squared";
  nn::Model model(spec);
  model.initialize(1);
  nn::OptimizerSettings os;
  os.type = "sgd";
  os.learning_rate = 0.2;
  nn::Optimizer optimizer(os, model.parameter_count());
  nn::TrainSettings settings;
  settings.epochs = 150;
  settings.batch = 16;
  nn::Trainer trainer(comm, model, optimizer, settings, data, rows, nullptr, 0, 0);
  std::int64_t epochs = 0;
  trainer.run([&](const nn::EpochReport& r) { epochs = r.epoch; });
  check("nn epochs", static_cast<double>(epochs), 150, 0);
  const float* params = model.parameters();
  for (int i = 0; i < 3; ++i) check("nn trained weight", params[i], w_true[i], 1e-4);
  check("nn trained bias", params[3], b_true, 1e-4);
  const auto* loss = trainer.state().history.find("loss");
  if (loss == nullptr || loss->size() != 150 || !(loss->back() < 1e-6 * loss->front())) {
    std::fprintf(stderr, "FAILED nn history: the training loss did not fall by 1e6\n");
    ++failures;
  }
}

// Simple cubic crystal (a = 2 Angstrom, 3x3x3 supercell) with springs of constant k between
// nearest neighbours: the force on atom i is -k sum_j ((u_i - u_j).e_ij) e_ij. Its force
// constants are exactly second order within a 2.5 Angstrom cutoff.
void fc_checks(const Comm& comm) {
  namespace fc = physfit::fc;
  const int m = 3, atoms = m * m * m;
  const double a0 = 2.0, k = 1.7;
  auto index = [&](int x, int y, int z) {
    return ((x + m) % m) * m * m + ((y + m) % m) * m + ((z + m) % m);
  };
  fc::Structure cell;
  cell.lattice = Eigen::Matrix3d::Identity() * (a0 * m);
  for (int x = 0; x < m; ++x) {
    for (int y = 0; y < m; ++y) {
      for (int z = 0; z < m; ++z) {
        cell.positions.push_back(Eigen::Vector3d(x, y, z) * a0);
        cell.numbers.push_back(18);
        cell.masses.push_back(39.948);
      }
    }
  }
  cell.fill_symbols();
  const fc::Crystal crystal(cell, Eigen::Matrix3d::Identity() * a0, 1e-5);
  fc::ClusterOptions options;
  options.cutoffs = {2.5};
  const fc::ClusterSpace space(comm, crystal, options);
  auto springs = [&](const std::vector<double>& u) {
    std::vector<double> f(3 * atoms, 0.0);
    for (int x = 0; x < m; ++x) {
      for (int y = 0; y < m; ++y) {
        for (int z = 0; z < m; ++z) {
          const int i = index(x, y, z);
          const int nb[3][2] = {{index(x + 1, y, z), index(x - 1, y, z)},
                                {index(x, y + 1, z), index(x, y - 1, z)},
                                {index(x, y, z + 1), index(x, y, z - 1)}};
          for (int d = 0; d < 3; ++d) {
            for (int j : nb[d]) f[3 * i + d] -= k * (u[3 * i + d] - u[3 * j + d]);
          }
        }
      }
    }
    return f;
  };
  auto displacements = [&](int c) {
    std::vector<double> u(3 * atoms);
    for (int i = 0; i < 3 * atoms; ++i) u[i] = 0.03 * noise(10000 + 100 * c + i);
    return u;
  };
  const int count = 4;
  const auto block = physfit::util::block_of(count, comm.size(), comm.rank());
  fc::Configurations local;
  local.num_atoms = atoms;
  local.first = block.begin;
  for (std::int64_t c = block.begin; c < block.begin + block.count; ++c) {
    const auto u = displacements(static_cast<int>(c));
    local.add(u, springs(u), std::nan(""));
  }
  local.total = count;
  const fc::FitData data = fc::accumulate(comm, space, local, 0, 0, count);
  const fc::FitResult result = fc::fit(data, fc::FitOptions{});
  check("fc training force error", result.train_rmse, 0.0, 1e-10);
  // Forces of a configuration not fitted, against the springs.
  const auto u = displacements(99);
  const Eigen::VectorXd predicted = space.forces(u.data(), result.z);
  const auto exact = springs(u);
  for (int i = 0; i < 3 * atoms; ++i) check("fc predicted force", predicted(i), exact[i], 1e-10);
  // Force constants: -k along the bond between neighbours, 0 across it, 2k on the diagonal.
  const Eigen::MatrixXd phi = space.fc2(result.z);
  const int i = index(1, 1, 1), j = index(2, 1, 1);
  check("fc2 along the bond", phi(3 * i, 3 * j), -k, 1e-10);
  check("fc2 across the bond", phi(3 * i + 1, 3 * j + 1), 0.0, 1e-10);
  check("fc2 self term", phi(3 * i + 2, 3 * i + 2), 2 * k, 1e-10);
  check("fc2 second neighbour", phi(3 * i, 3 * index(2, 2, 1)), 0.0, 1e-10);
}

}  // namespace

int main(int argc, char** argv) {
  physfit::mpi::Environment env(argc, argv);
  const auto comm = env.world();
  const std::string path = argc > 1 ? argv[1] : "downstream.h5";
  const std::string folder = argc > 2 ? argv[2] : ".";
  const auto p = physfit::io::current_provenance(comm, "downstream", "", "now");
  const auto block = physfit::util::block_of(10, comm.size(), comm.rank());
  std::vector<double> rows(block.count, 1.0 + comm.rank());
  physfit::io::OutputFile out(comm, path, p, physfit::io::OutputFile::Writers::kAllRanks);
  out.file()
      .create_dataset<double>("/x", {10}, "dimensionless")
      .write_rows(block.begin, block.count, rows.data());
  out.commit();
  lasso_checks(comm);
  nn_checks(comm, folder);
  fc_checks(comm);
  const int failed = comm.allreduce(failures, physfit::mpi::Op::kSum);
  const int sum = comm.allreduce(1, physfit::mpi::Op::kSum);
  if (comm.is_root() && failed == 0) {
    std::printf("downstream ok: physfit %s, %d ranks, lasso nn fc checked\n", physfit::version(),
                sum);
  }
  return failed == 0 ? 0 : 1;
}
