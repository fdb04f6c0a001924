// Born effective charges and the non-analytic correction: BORN files (parsing, symmetry
// expansion, errors, round trips) and properties of the corrected dynamical matrix that follow
// from the physics, independently of phonopy (tests/cli/test_nac.py compares with phonopy).

#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "physfit/error.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/fc/phonons.hpp"

using namespace physfit;

namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "/physfit_nac_" + std::to_string(::getpid()) + "_" + name;
}

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

// A periodic structure from a lattice (rows), fractional positions and atomic numbers, repeated
// n x n x n times (atoms ordered basis atom first, as phonopy's supercells).
fc::Structure build(const Eigen::Matrix3d& lattice, const std::vector<Eigen::Vector3d>& frac,
                    const std::vector<int>& numbers, const std::vector<double>& masses, int n) {
  fc::Structure s;
  s.lattice = lattice * n;
  for (std::size_t b = 0; b < frac.size(); ++b)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
          s.positions.push_back(lattice.transpose() * (frac[b] + Eigen::Vector3d(i, j, k)));
          s.numbers.push_back(numbers[b]);
          s.masses.push_back(masses[b]);
        }
  return s;
}

fc::Crystal rutile() {
  const double u = 0.305;
  const Eigen::Matrix3d lattice = Eigen::Vector3d(4.59, 4.59, 2.96).asDiagonal();
  const std::vector<Eigen::Vector3d> frac = {
      {0, 0, 0},         {.5, .5, .5},         {u, u, 0},
      {1 - u, 1 - u, 0}, {.5 + u, .5 - u, .5}, {.5 - u, .5 + u, .5}};
  return fc::Crystal(
      build(lattice, frac, {22, 22, 8, 8, 8, 8}, {47.867, 47.867, 16, 16, 16, 16}, 1), lattice,
      1e-5);
}

const char* const kRutileBorn =
    "# TiO2\n6.3 0 0 0 6.3 0 0 0 7.9\n3.4 0.9 0 0.9 3.4 0 0 0 7.5\n"
    "-1.7 1.2 0 1.2 -1.7 0 0 0 -3.75\n";

// Rocksalt (FCC, two atoms) in a 3 x 3 x 3 supercell of the primitive cell, with force
// constants of central and transverse springs to the neighbours within 4.2 Angstrom.
struct Rocksalt {
  Eigen::Matrix3d primitive;
  std::unique_ptr<fc::Crystal> crystal;
  Eigen::MatrixXd fc2;
  fc::NacParameters nac;
};

Rocksalt rocksalt(double z = 1.1, double eps = 2.4) {
  Rocksalt r;
  const double a = 5.64;
  r.primitive << 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0;
  const Eigen::Vector3d cl = r.primitive.transpose().inverse() * Eigen::Vector3d(a / 2, 0, 0);
  r.crystal = std::make_unique<fc::Crystal>(
      build(r.primitive, {Eigen::Vector3d::Zero(), cl}, {11, 17}, {22.99, 35.45}, 3), r.primitive,
      1e-5);
  const fc::Structure& s = r.crystal->supercell();
  const int n = s.size();
  r.fc2 = Eigen::MatrixXd::Zero(3 * n, 3 * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int x = -2; x <= 2; ++x)
        for (int y = -2; y <= 2; ++y)
          for (int w = -2; w <= 2; ++w) {
            const Eigen::Vector3d v =
                s.positions[j] - s.positions[i] + s.lattice.transpose() * Eigen::Vector3d(x, y, w);
            const double d = v.norm();
            if (d < 1e-8 || d > 4.2) continue;
            const Eigen::Vector3d e = v / d;
            const double kl =
                (s.numbers[i] != s.numbers[j] ? 12.0 : 3.0) * std::exp(-(d - 2) / 0.6);
            const Eigen::Matrix3d b =
                -(kl * e * e.transpose() +
                  0.15 * kl * (Eigen::Matrix3d::Identity() - e * e.transpose()));
            r.fc2.block<3, 3>(3 * i, 3 * j) += b;
            r.fc2.block<3, 3>(3 * i, 3 * i) -= b;
          }
  r.nac.epsilon = eps * Eigen::Matrix3d::Identity();
  r.nac.born = {z * Eigen::Matrix3d::Identity(), -z * Eigen::Matrix3d::Identity()};
  return r;
}

double largest(const Eigen::MatrixXcd& m) { return m.cwiseAbs().maxCoeff(); }

}  // namespace

TEST(BornFile, RutileChargesAreRotatedOntoTheEquivalentAtoms) {
  const fc::Crystal c = rutile();
  EXPECT_EQ(fc::independent_atoms(c), (std::vector<int>{0, 2}));
  fc::NacCheck check;
  const auto nac = fc::read_born(write_text("rutile", kRutileBorn), c, &check);
  EXPECT_DOUBLE_EQ(nac.factor, fc::kDefaultNacFactor);
  // The 4_2 screw axis maps Ti 1 onto Ti 2 and O 1 onto O 4 and flips the sign of xy; the
  // inversion maps O 1 onto O 2 and O 3 onto O 4 and keeps it.
  const double xy[6] = {0.9, -0.9, 1.2, 1.2, -1.2, -1.2};
  const double xx[6] = {3.4, 3.4, -1.7, -1.7, -1.7, -1.7};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(nac.born[i](0, 1), xy[i], 1e-12) << i;
    EXPECT_NEAR(nac.born[i](1, 0), xy[i], 1e-12) << i;
    EXPECT_NEAR(nac.born[i](0, 0), xx[i], 1e-12) << i;
    EXPECT_NEAR(nac.born[i](2, 2), i < 2 ? 7.5 : -3.75, 1e-12) << i;
  }
  EXPECT_LT(check.charge_sum.cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT(check.born_symmetry_deviation, 1e-12);
}

TEST(BornFile, ChargesThatDoNotSumToZeroAreShiftedByTheirMean) {
  const fc::Crystal c = rutile();
  fc::NacCheck check;
  const auto nac =
      fc::read_born(write_text("rutile_charged",
                               "# c\n6.3 0 0 0 6.3 0 0 0 7.9\n3.7 0.9 0 0.9 3.7 0 0 0 7.5\n"
                               "-1.7 1.2 0 1.2 -1.7 0 0 0 -3.75\n"),
                    c, &check);
  EXPECT_NEAR(check.charge_sum(0, 0), 0.6, 1e-12);  // 2 x 0.3 too much on the Ti atoms
  Eigen::Matrix3d sum = Eigen::Matrix3d::Zero();
  for (const auto& z : nac.born) sum += z;
  EXPECT_LT(sum.cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_NEAR(nac.born[0](0, 0), 3.7 - 0.1, 1e-12);
  EXPECT_NEAR(nac.born[2](0, 0), -1.7 - 0.1, 1e-12);
}

TEST(BornFile, WrittenFileReadsBackWithThePhonopyParametersOfItsFirstLine) {
  const fc::Crystal c = rutile();
  auto nac = fc::read_born(
      write_text("rutile_in", "14.4 1.25 0.5\n" + std::string(kRutileBorn).substr(7)), c);
  EXPECT_DOUBLE_EQ(nac.factor, 14.4);
  EXPECT_DOUBLE_EQ(nac.g_cutoff, 1.25);
  EXPECT_DOUBLE_EQ(nac.lambda, 0.5);
  const std::string out = temp_path("rutile_out");
  fc::write_born(out, nac, c);
  const auto back = fc::read_born(out, c);
  EXPECT_DOUBLE_EQ(back.factor, 14.4);
  EXPECT_DOUBLE_EQ(back.g_cutoff, 1.25);
  EXPECT_DOUBLE_EQ(back.lambda, 0.5);
  for (int i = 0; i < 6; ++i) EXPECT_LT((back.born[i] - nac.born[i]).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_LT((back.epsilon - nac.epsilon).cwiseAbs().maxCoeff(), 1e-14);

  const std::string h5 = temp_path("nac.h5");
  {
    io::File f = io::File::create(h5);
    nac.method = fc::NacMethod::kWang;
    fc::write_nac_hdf5(f, nac);
    f.close();
  }
  const auto stored = fc::read_nac_hdf5(h5);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->method, fc::NacMethod::kWang);
  EXPECT_DOUBLE_EQ(stored->lambda, 0.5);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(stored->born[i], nac.born[i]);
}

TEST(BornFile, MalformedTextNamesFileLineAndField) {
  const fc::Crystal c = rutile();
  auto message = [&](const std::string& text) -> std::string {
    try {
      fc::read_born(write_text("bad", text), c);
    } catch (const IoError& e) {
      return e.what();
    }
    return "no IoError";
  };
  const std::string eps = "6.3 0 0 0 6.3 0 0 0 7.9\n", ti = "3.4 0.9 0 0.9 3.4 0 0 0 7.5\n";
  EXPECT_NE(message("# c\n" + eps + "3.4 0.9 0 0.9 3.4 0 0\n")
                .find(":3: expected the Born charge of atom 1"),
            std::string::npos);
  EXPECT_NE(message("# c\n" + eps + ti + "-1.7 1.2 0 1.2 x 0 0 0 -3.75\n").find(":4: field 5 (yy"),
            std::string::npos);
  EXPECT_NE(message("# c\n6.3 0 0 0 6.3 0 0 0 inf\n").find(":2: field 9 (zz"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
}

TEST(BornFile, ChargesThatBreakTheSiteSymmetryAreAUsageError) {
  const fc::Crystal c = rutile();
  // Ti's site symmetry (mmm) makes Z*xx = Z*yy.
  const std::string path = write_text("asym",
                                      "# c\n6.3 0 0 0 6.3 0 0 0 7.9\n3.4 0.9 0 0.9 3.0 0 0 0 7.5\n"
                                      "-1.7 1.2 0 1.2 -1.7 0 0 0 -3.75\n");
  try {
    fc::read_born(path, c);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: the Born charge of atom 1"), std::string::npos)
        << e.what();
  }
}

TEST(NonAnalyticCorrection, GonzeLeeGivesTheSupercellsDynamicalMatrixAtCommensuratePoints) {
  Rocksalt r = rocksalt();
  const fc::DynamicalMatrix plain(*r.crystal, r.fc2);
  r.nac.method = fc::NacMethod::kGonze;
  const fc::DynamicalMatrix gonze(*r.crystal, r.fc2, 1e-5, &r.nac);
  ASSERT_NE(gonze.dipole_dipole(), nullptr);
  // Short-range constants plus the dipole-dipole sum are exact on the supercell's q-points...
  for (const Eigen::Vector3d q :
       {Eigen::Vector3d(1. / 3, 0, 2. / 3), Eigen::Vector3d(1. / 3, 1. / 3, 1. / 3),
        Eigen::Vector3d(2. / 3, 1. / 3, 0)}) {
    // (to the truncation of the G-sum, which is not exactly periodic in q: ~1e-8)
    EXPECT_LT(largest(gonze.at(q) - plain.at(q)), 1e-6 * largest(plain.at(q))) << q.transpose();
  }
  // ...and interpolate differently in between.
  const Eigen::Vector3d q(0.1, 0.05, -0.07);
  EXPECT_GT(largest(gonze.at(q) - plain.at(q)), 1e-3 * largest(plain.at(q)));
}

TEST(NonAnalyticCorrection, AtGammaBothMethodsAddTheAnalyticTermAlongTheDirection) {
  Rocksalt r = rocksalt();
  const fc::DynamicalMatrix plain(*r.crystal, r.fc2);
  const Eigen::Vector3d gamma = Eigen::Vector3d::Zero();
  const Eigen::Matrix3d reciprocal = r.primitive.inverse();
  for (const Eigen::Vector3d dir : {Eigen::Vector3d(1, 0, 0), Eigen::Vector3d(0.2, -0.5, 0.7)}) {
    // (4 pi factor / Omega) (q Z_i)(q Z_j) / (q eps q) / sqrt(m_i m_j), q Cartesian.
    const Eigen::Vector3d q = reciprocal * dir;
    const double volume = std::abs(r.primitive.determinant());
    const double m[2] = {22.99, 35.45};
    Eigen::MatrixXcd expected = plain.at(gamma);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const Eigen::Vector3d zi = r.nac.born[i].transpose() * q,
                              zj = r.nac.born[j].transpose() * q;
        expected.block<3, 3>(3 * i, 3 * j) +=
            (4 * M_PI * r.nac.factor / volume * zi * zj.transpose() / q.dot(r.nac.epsilon * q) /
             std::sqrt(m[i] * m[j]))
                .cast<std::complex<double>>();
      }
    for (auto method : {fc::NacMethod::kGonze, fc::NacMethod::kWang}) {
      r.nac.method = method;
      const fc::DynamicalMatrix d(*r.crystal, r.fc2, 1e-5, &r.nac);
      EXPECT_LT(largest(d.at(gamma, dir) - expected), 1e-9 * largest(expected))
          << fc::nac_method_name(method) << " " << dir.transpose();
      // Without a direction, Gamma is left alone (as phonopy).
      EXPECT_LT(largest(d.at(gamma) - plain.at(gamma)), 1e-12 * largest(expected));
      // Approaching Gamma along the direction gives the same optical frequencies in the limit
      // (the acoustic ones rise linearly).
      const Eigen::VectorXd near = d.frequencies(2e-4 * dir), at = d.frequencies(gamma, dir);
      EXPECT_LT((near - at).tail(3).cwiseAbs().maxCoeff(), 1e-4) << fc::nac_method_name(method);
      EXPECT_GT(at[5] - at[4], 1.0);  // the LO-TO splitting
    }
  }
}

TEST(NonAnalyticCorrection, MethodNamesParseAndBadOnesAreUsageErrors) {
  EXPECT_EQ(fc::parse_nac_method("wang", "x"), fc::NacMethod::kWang);
  EXPECT_EQ(std::string(fc::nac_method_name(fc::NacMethod::kGonze)), "gonze");
  EXPECT_THROW(fc::parse_nac_method("ewald", "--nac.method"), UsageError);
}
