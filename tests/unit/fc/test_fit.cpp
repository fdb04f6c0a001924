// Fits from the exact Gram of the streamed rows, against the explicit sensitivity matrix
// solved by QR, and LASSO solutions against their optimality (KKT) conditions; exports read
// back.

#include <gtest/gtest.h>

#include "../../support/mpi_test.hpp"
#include "fc_test_data.hpp"
#include "physfit/fc/exports.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/fc/phonons.hpp"
#include "physfit/lasso/solver.hpp"

using namespace physfit;

namespace {

struct Silicon {
  fc::IdealStructure ideal = fc::read_structure_hdf5(fc_test::si_data() + "/si64_rattle_0.03.h5");
  fc::Crystal crystal{ideal.supercell, ideal.resolve_primitive_lattice(1e-5), 1e-5};
  fc::ClusterSpace space{crystal, {{-1.0, 4.0}}};
  fc::Configurations configs = fc::read_configurations_hdf5(
      mpi::Comm::self(), fc_test::si_data() + "/si64_rattle_0.03.h5", 64);
};

}  // namespace

TEST(Fit, LeastSquaresEqualsAQrSolveOfTheExplicitMatrix) {
  const Silicon si;
  const int configs = 12;
  fc::RowMatrix a;
  si.space.sensitivity(si.configs.displacements.data(), configs, a);
  const Eigen::Map<const Eigen::VectorXd> y(si.configs.forces.data(), a.rows());
  const Eigen::VectorXd reference = Eigen::MatrixXd(a).colPivHouseholderQr().solve(y);
  const auto data = fc::accumulate(mpi::Comm::self(), si.space, si.configs, 3, 0, configs, 5);
  EXPECT_EQ(data.num_rows, a.rows());
  EXPECT_EQ(data.passes, 1);  // the sampled scales were good
  // The Gram against the explicit products.
  const lasso::Moments m = data.gram->total();
  const Eigen::MatrixXd ata = a.transpose() * a;
  EXPECT_LT((m.ata - ata).cwiseAbs().maxCoeff(), 1e-13 * ata.cwiseAbs().maxCoeff());
  EXPECT_LT((m.aty - a.transpose() * y).cwiseAbs().maxCoeff(),
            1e-13 * (a.transpose() * y).cwiseAbs().maxCoeff());
  const auto r = fc::fit(data, {});
  EXPECT_EQ(r.rank, a.cols());
  EXPECT_LT((r.z - reference).norm(), 1e-7 * reference.norm());
  const double rms = std::sqrt(y.squaredNorm() / y.size());
  EXPECT_NEAR(r.train_rmse, std::sqrt((y - a * reference).squaredNorm() / y.size()), 1e-9 * rms);
  // The held-out error of each fold from its statistics equals the explicit residual.
  const lasso::Moments fold = data.gram->fold(1);
  EXPECT_EQ(fold.n, 4 * 192);  // configurations 1, 4, 7, 10
  double sse = 0;
  for (int c : {1, 4, 7, 10}) {
    const Eigen::VectorXd f = si.space.forces(si.configs.displacements.data() + c * 192, reference);
    sse += (Eigen::Map<const Eigen::VectorXd>(si.configs.forces.data() + c * 192, 192) - f)
               .squaredNorm();
  }
  EXPECT_NEAR(fc::mean_squared_error(fold, reference), sse / fold.n, 1e-9 * sse / fold.n);
}

TEST(Fit, AConfigurationFarOutsideTheSampledScalesTakesASecondPassAndStaysExact) {
  // 20 configurations: the scales come from configurations 0 and 10; configuration 13 displaced
  // 100 times more has third-order columns 10^4 times larger, beyond the stream's window.
  Silicon si;
  const int configs = 20;
  for (int i = 0; i < 192; ++i) si.configs.displacements[13 * 192 + i] *= 100;
  const auto data = fc::accumulate(mpi::Comm::self(), si.space, si.configs, 0, 0, configs, 3);
  EXPECT_EQ(data.sampled, 2);
  EXPECT_EQ(data.passes, 2);
  fc::RowMatrix a;
  si.space.sensitivity(si.configs.displacements.data(), configs, a);
  const Eigen::MatrixXd ata = a.transpose() * a;
  const lasso::Moments m = data.gram->total();
  for (Eigen::Index j = 0; j < ata.cols(); ++j) {
    for (Eigen::Index k = 0; k <= j; ++k) {
      const double scale = std::sqrt(ata(j, j) * ata(k, k));
      ASSERT_LE(std::abs(m.ata(j, k) - ata(j, k)), 1e-13 * scale) << j << " " << k;
    }
  }
}

TEST(Fit, LassoSolutionsSatisfyTheKktConditions) {
  // The fitted parameters of a fixed lambda are optimal for the standardised problem: duality
  // gap within the tolerance, and the KKT conditions (computed from the Gram) hold.
  const Silicon si;
  const auto data = fc::accumulate(mpi::Comm::self(), si.space, si.configs, 0, 0, 30, 4);
  const auto problem = lasso::Problem::from_gram(data.gram);
  const double top = lasso::lambda_max(problem, 1.0);
  fc::FitOptions o;
  o.method = fc::Method::kLasso;
  for (double ratio : {0.3, 0.01, 1e-4}) {
    o.lambda = top * ratio;
    const auto r = fc::fit(data, o);
    EXPECT_LE(r.relative_gap, 1e-9) << ratio;
    lasso::Penalty pen;
    pen.lambda = o.lambda;
    const auto c = lasso::certify(problem, pen, problem.to_standardized(r.z));
    EXPECT_LT(c.kkt_violation, 1e-6 * o.lambda) << ratio;
    const auto nonzero = (r.z.array() != 0).count();
    EXPECT_GT(nonzero, 0) << ratio;
    if (ratio == 0.3) {
      EXPECT_LT(nonzero, r.z.size() / 2);  // sparse at a large lambda
    }
  }
}

TEST(Fit, CrossValidatedLassoChoosesALambdaOnThePathAndRefits) {
  const Silicon si;
  const auto data = fc::accumulate(mpi::Comm::self(), si.space, si.configs, 5, 0, 40, 4);
  fc::FitOptions o;
  o.method = fc::Method::kLasso;
  o.lambdas = 20;
  const auto r = fc::fit(data, o);
  // 20 lambdas asked for, and whole decades added below them if the minimum was at the end.
  EXPECT_EQ(r.cv.requested, 20);
  ASSERT_EQ(r.cv_mse.size(), 20u + static_cast<std::size_t>(r.cv.extended));
  ASSERT_EQ(r.lambdas.size(), r.cv_mse.size());
  EXPECT_EQ(r.cv.index_min, r.chosen);
  EXPECT_EQ(r.cv.end, "interior");
  ASSERT_GE(r.chosen, 0);
  EXPECT_EQ(r.lambda, r.lambdas[r.chosen]);
  for (double m : r.cv_mse) EXPECT_GE(m, r.cv_mse[r.chosen]);
  EXPECT_NEAR(r.cv_rmse, std::sqrt(r.cv_mse[r.chosen]), 1e-12);
  EXPECT_LT(r.cv_relative, 0.02);
  // A fixed lambda equal to the chosen one gives the same refit.
  o.lambda = r.lambda;
  const auto fixed = fc::fit(data, o);
  EXPECT_LT((fixed.z - r.z).norm(), 1e-6 * r.z.norm());
}

TEST(Exports, ForceConstantsTextRoundTripsFullAndCompact) {
  const Silicon si;
  const auto data = fc::accumulate(mpi::Comm::self(), si.space, si.configs, 0, 0, 20, 4);
  const Eigen::MatrixXd phi = si.space.fc2(fc::fit(data, {}).z);
  for (bool compact : {false, true}) {
    const std::string path = test::scratch_dir() + (compact ? "/FC_compact" : "/FC_full");
    fc::write_force_constants_text(path, si.crystal, phi, compact);
    const Eigen::MatrixXd back = fc::read_force_constants_text(path, si.crystal);
    EXPECT_LT((back - phi).cwiseAbs().maxCoeff(), 1e-14);
  }
}

TEST(Phonons, PhonopysForceConstantsGivePhonopysFrequencies) {
  const Silicon si;
  const Eigen::MatrixXd phi =
      fc::read_force_constants_text(fc_test::si_data() + "/FORCE_CONSTANTS", si.crystal);
  const fc::DynamicalMatrix d(si.crystal, phi);
  const fc::BrillouinZone zone = fc::brillouin_zone(si.crystal.primitive(), 1e-5);
  // phonopy's values (FC-NOTES.md, and si64_phonopy.h5).
  const Eigen::VectorXd x = d.frequencies(zone.point("X"));
  const double expected_x[6] = {6.6514, 6.6514, 12.9934, 12.9934, 15.6286, 15.6286};
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(x[k], expected_x[k], 6e-5);
  const Eigen::VectorXd l = d.frequencies(zone.point("L"));
  const double expected_l[6] = {4.7032, 4.7032, 11.7682, 13.3980, 16.7667, 16.7667};
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(l[k], expected_l[k], 6e-5);
  const Eigen::VectorXd g = d.frequencies(zone.point("G"));
  for (int k = 0; k < 3; ++k) EXPECT_LT(std::abs(g[k]), 1e-3);
  EXPECT_NEAR(g[5], 17.8324, 6e-5);
  // The density of states integrates to 3 np modes.
  const auto dos = fc::density_of_states(d, 6, 0.2);
  double area = 0;
  for (std::size_t k = 1; k < dos.frequency.size(); ++k) {
    area += 0.5 * (dos.density[k] + dos.density[k - 1]) * (dos.frequency[k] - dos.frequency[k - 1]);
  }
  EXPECT_NEAR(area, 6.0, 0.01);
}
