// Special points and band paths (fc/bandpath): analytic references. The comparison with ASE's
// Setyawan-Curtarolo zones for all 25 cases and with phonopy's frequencies is in
// tests/cli/test_bandpath.py.

#include <gtest/gtest.h>

#include <cmath>

#include "physfit/error.hpp"
#include "physfit/fc/bandpath.hpp"
#include "physfit/fc/phonons.hpp"
#include "physfit/fc/units.hpp"

using namespace physfit;

namespace {

Eigen::Matrix3d rotation_about(const Eigen::Vector3d& axis, double angle) {
  return Eigen::AngleAxisd(angle, axis.normalized()).toRotationMatrix();
}

// A one-atom simple cubic crystal (lattice constant a) as an n x n x n supercell, in a rotated
// Cartesian frame, with nearest-neighbour radial springs k (eV/A^2), and its primitive basis
// given as a unimodular combination of the cube's edges.
struct SpringCube {
  double a = 2.5, k = 3.0, mass = 20.0;
  int n = 3;
  Eigen::Matrix3d rot = rotation_about({1, 2, 3}, 0.7);
  Eigen::Matrix3d primitive;
  fc::Structure supercell;
  Eigen::MatrixXd fc2;

  SpringCube() {
    Eigen::Matrix3d skew;
    skew << 1, 1, 0, 0, 1, 0, 1, 1, 1;  // det 1
    primitive = skew * (a * Eigen::Matrix3d::Identity()) * rot.transpose();
    supercell.lattice = n * a * rot.transpose();
    for (int x = 0; x < n; ++x)
      for (int y = 0; y < n; ++y)
        for (int z = 0; z < n; ++z) {
          supercell.positions.push_back(rot * Eigen::Vector3d(x, y, z) * a);
          supercell.numbers.push_back(1);
          supercell.masses.push_back(mass);
        }
    const int atoms = supercell.size();
    fc2 = Eigen::MatrixXd::Zero(3 * atoms, 3 * atoms);
    const Eigen::Matrix3d inverse = supercell.lattice.inverse();
    for (int i = 0; i < atoms; ++i)
      for (int j = 0; j < atoms; ++j) {
        if (i == j) continue;
        Eigen::RowVector3d f =
            (supercell.positions[j] - supercell.positions[i]).transpose() * inverse;
        f = f - f.array().round().matrix();
        const Eigen::Vector3d v = (f * supercell.lattice).transpose();
        if (std::abs(v.norm() - a) > 1e-9) continue;
        const Eigen::Vector3d u = v / v.norm();
        fc2.block<3, 3>(3 * i, 3 * j) = -k * u * u.transpose();
      }
    for (int i = 0; i < atoms; ++i) {
      Eigen::Matrix3d s = Eigen::Matrix3d::Zero();
      for (int j = 0; j < atoms; ++j)
        if (j != i) s += fc2.block<3, 3>(3 * i, 3 * j);
      fc2.block<3, 3>(3 * i, 3 * i) = -s;
    }
  }
};

}  // namespace

TEST(BrillouinZone, SimpleCubicPointsGiveTheAnalyticSpringFrequenciesInASkewedRotatedBasis) {
  // Radial nearest-neighbour springs on a simple cubic lattice: the dynamical matrix is
  // diagonal, omega_x^2 = 2 k / m (1 - cos(2 pi q_x)) with q in units of 1/a. At X one mode
  // has q_x = 1/2, at M two, at R three: omega^2 = 4 k / m.
  const SpringCube cube;
  const fc::Crystal crystal(cube.supercell, cube.primitive, 1e-6);
  const fc::BrillouinZone zone = fc::brillouin_zone(crystal.primitive(), 1e-6);
  EXPECT_EQ(zone.lattice, "CUB");
  EXPECT_EQ(zone.variant, "CUB");
  EXPECT_EQ(zone.spacegroup_number, 221);
  EXPECT_EQ(zone.cells, 1);
  EXPECT_NEAR(std::abs(zone.to_standard.determinant()), 1.0, 1e-12);
  EXPECT_LT((zone.standard_primitive - zone.to_standard * cube.primitive).cwiseAbs().maxCoeff(),
            1e-12);
  const fc::DynamicalMatrix d(crystal, cube.fc2);
  const double top = std::sqrt(4 * cube.k / cube.mass) * fc::units::kEigenvalueToTHz;
  const std::pair<const char*, int> expected[] = {{"G", 0}, {"X", 1}, {"M", 2}, {"R", 3}};
  for (const auto& [label, modes] : expected) {
    const Eigen::VectorXd f = d.frequencies(zone.point(label));
    for (int m = 0; m < 3; ++m) {
      EXPECT_NEAR(f[m], m < 3 - modes ? 0.0 : top, 1e-6) << label << " mode " << m;
    }
  }
  // Aliases of Gamma, and the message for a label the zone does not have.
  EXPECT_EQ(zone.point("Gamma"), Eigen::Vector3d::Zero());
  EXPECT_EQ(zone.point("Γ"), Eigen::Vector3d::Zero());
  try {
    zone.point("K");
    FAIL() << "K is not a point of the simple cubic zone";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("CUB lattice"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("G, M, R, X"), std::string::npos) << e.what();
  }
}

TEST(BrillouinZone, TheSamePointsInCartesianForEveryPrimitiveBasisOfAFaceCentredCrystal) {
  // FCC: phonopy's primitive basis and two others of the same lattice. Each label's
  // Cartesian wave vector is one of the equivalent points: |k| and the distance to the
  // nearest reciprocal lattice vector are the same in every basis.
  const double a = 5.43;
  Eigen::Matrix3d phonopy;
  phonopy << 0, .5, .5, .5, 0, .5, .5, .5, 0;
  phonopy *= a;
  Eigen::Matrix3d m1, m2;
  m1 << 1, 0, 0, 1, 1, 0, 2, 1, 1;
  m2 << 0, 1, 0, 0, 0, 1, 1, 0, 0;
  auto length = [](const fc::BrillouinZone& z, const Eigen::Matrix3d& lattice, const char* l) {
    const Eigen::Vector3d k = lattice.inverse() * z.point(l);  // Cartesian, no 2 pi
    return k.norm();
  };
  fc::Structure cell;
  cell.positions = {Eigen::Vector3d::Zero()};
  cell.numbers = {14};
  cell.masses = {28.0855};
  std::vector<double> reference;
  for (const Eigen::Matrix3d& m : {Eigen::Matrix3d(Eigen::Matrix3d::Identity()), m1, m2}) {
    cell.lattice = m * phonopy;
    const fc::BrillouinZone z = fc::brillouin_zone(cell, 1e-5);
    EXPECT_EQ(z.variant, "FCC");
    std::vector<double> lengths;
    for (const char* l : {"X", "L", "W", "K", "U"}) lengths.push_back(length(z, cell.lattice, l));
    if (reference.empty()) {
      reference = lengths;
      // |X| = 1/a, |L| = sqrt(3)/(2a), |W| = sqrt(5)/(2a), |K| = |U| = 3 sqrt(2)/(4a).
      EXPECT_NEAR(lengths[0], 1 / a, 1e-12);
      EXPECT_NEAR(lengths[1], std::sqrt(3.0) / (2 * a), 1e-12);
      EXPECT_NEAR(lengths[2], std::sqrt(5.0) / (2 * a), 1e-12);
      EXPECT_NEAR(lengths[3], 3 * std::sqrt(2.0) / (4 * a), 1e-12);
    }
    for (std::size_t k = 0; k < lengths.size(); ++k) EXPECT_NEAR(lengths[k], reference[k], 1e-12);
  }
}

TEST(BandPath, TextParsesIntoBranchesAndBadPathsNameTheOption) {
  const auto b = fc::parse_path_text("G-X-W|L, K ,G", "--bands.path");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], (std::vector<std::string>{"G", "X", "W"}));
  EXPECT_EQ(b[1], (std::vector<std::string>{"L", "K", "G"}));
  EXPECT_EQ(fc::parse_path_text("G,X,|,L,K", "--bands.path"), fc::parse_path_text("G-X|L-K", "x"));
  try {
    fc::parse_path_text("G-X||L-K", "--bands.path");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--bands.path"), std::string::npos);
  }
  fc::BrillouinZone zone;
  zone.lattice = zone.variant = "CUB";
  zone.points = {{"G", Eigen::Vector3d::Zero(), Eigen::Vector3d::Zero()}};
  try {
    fc::make_band_path(zone, {{"A", "B"}}, {0, 0, 0, 1}, "--bands.points", 5);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--bands.points needs 3"), std::string::npos) << e.what();
  }
  const fc::BandPath p =
      fc::make_band_path(zone, {{"A", "B"}, {"C", "D"}}, {0, 0, 0, .5, 0, 0, 0, .5, 0, 0, .5, .5},
                         "--bands.points", 5);
  EXPECT_EQ(p.text(), "A-B|C-D");
  EXPECT_TRUE(p.joined(0));
  EXPECT_FALSE(p.joined(1));
  EXPECT_TRUE(p.joined(2));
}

TEST(BandPath, BreaksShareATickAndStartANewBranchWithoutAdvancingTheDistance) {
  const SpringCube cube;
  const fc::Crystal crystal(cube.supercell, cube.primitive, 1e-6);
  const fc::BrillouinZone zone = fc::brillouin_zone(crystal.primitive(), 1e-6);
  const fc::DynamicalMatrix d(crystal, cube.fc2);
  const fc::BandPath path =
      fc::make_band_path(zone, fc::parse_path_text("G-X-M|R-G", "p"), {}, "", 11);
  const fc::Bands bands = fc::band_structure(d, crystal, path);
  // Three segments of 11 points; the first two share their joint.
  EXPECT_EQ(bands.qpoints.size(), 11u + 10u + 11u);
  EXPECT_EQ(bands.labels, (std::vector<std::string>{"G", "X", "M|R", "G"}));
  ASSERT_EQ(bands.branch.size(), bands.qpoints.size());
  EXPECT_EQ(bands.branch.front(), 0);
  EXPECT_EQ(bands.branch[20], 0);
  EXPECT_EQ(bands.branch[21], 1);
  // |GX| = 1/(2a), |XM| = 1/(2a), |RG| = sqrt(3)/(2a); the jump M -> R adds nothing.
  const double h = 1 / (2 * cube.a);
  ASSERT_EQ(bands.label_distance.size(), 4u);
  EXPECT_NEAR(bands.label_distance[1], h, 1e-12);
  EXPECT_NEAR(bands.label_distance[2], 2 * h, 1e-12);
  EXPECT_NEAR(bands.label_distance[3], (2 + std::sqrt(3.0)) * h, 1e-12);
  EXPECT_DOUBLE_EQ(bands.distance[21], bands.distance[20]);
  // At R (first point of the second branch) all three modes are at the top.
  const double top = std::sqrt(4 * cube.k / cube.mass) * fc::units::kEigenvalueToTHz;
  for (int m = 0; m < 3; ++m) EXPECT_NEAR(bands.frequencies(21, m), top, 1e-6);
}

TEST(FrequencyUnits, AreThoseOfPhonopy) {
  // 1 THz = 10^12 / (100 c) cm^-1 with c = 299792458 m/s; 1 THz = h 10^12 s^-1 with
  // phonopy's h = 4.13566733e-15 eV s (phonopy/units.py; the Python tests compare against
  // phonopy.units itself).
  EXPECT_NEAR(fc::units::kTHzToInverseCm, 33.3564095198152, 1e-12);
  EXPECT_DOUBLE_EQ(fc::units::kTHzToMeV, 4.13566733);
  EXPECT_STREQ(fc::units::kFrequencyUnits[1].name, "cm-1");
}
