// Clusters, orbits and independent parameters, checked against a brute-force count that uses
// none of physfit's machinery (scripts/fc/brute_force_counts.py: the supercell's full space
// group from spglib, Reynolds projection over every ordered tuple, a rank computation for the
// sum rule), and against the invariances the parameters must satisfy.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "fc_test_data.hpp"
#include "physfit/fc/clusters.hpp"

using namespace physfit;

namespace {

struct Count {
  int order;
  double cutoff;
  int symmetric;
  int independent;
};

struct Case {
  std::string name;
  fc::Structure structure;
  Eigen::Matrix3d primitive;
  std::vector<Count> counts;
};

std::vector<Case> read_reference() {
  const std::string path = fc_test::source_dir() + "/tests/regression/fc/parameter_counts.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string word;
    s >> word;
    if (word == "case") {
      cases.emplace_back();
      s >> cases.back().name;
    } else if (word == "lattice" || word == "primitive") {
      Eigen::Matrix3d m;
      for (int k = 0; k < 9; ++k) s >> m(k / 3, k % 3);
      (word == "lattice" ? cases.back().structure.lattice : cases.back().primitive) = m;
    } else if (word == "atom") {
      int z;
      Eigen::Vector3d p;
      s >> z >> p[0] >> p[1] >> p[2];
      cases.back().structure.numbers.push_back(z);
      cases.back().structure.masses.push_back(z * 2.0);
      cases.back().structure.positions.push_back(p);
    } else if (word == "order") {
      Count c;
      std::string w;
      s >> c.order >> w >> c.cutoff >> w >> c.symmetric >> w >> c.independent;
      cases.back().counts.push_back(c);
    }
  }
  return cases;
}

}  // namespace

TEST(ClusterSpace, ParameterCountsMatchTheBruteForceNullSpace) {
  const auto cases = read_reference();
  ASSERT_GE(cases.size(), 4u);
  int checked = 0;
  for (const auto& c : cases) {
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    for (const auto& count : c.counts) {
      // One order at a time, with lower orders at a tiny cutoff so they do not matter.
      std::vector<double> cutoffs(count.order - 1, 0.1);
      cutoffs.back() = count.cutoff;
      const fc::ClusterSpace space(crystal, {cutoffs});
      EXPECT_EQ(space.num_symmetry_parameters(count.order), count.symmetric)
          << c.name << " order " << count.order << " cutoff " << count.cutoff;
      EXPECT_EQ(space.num_parameters(count.order), count.independent)
          << c.name << " order " << count.order << " cutoff " << count.cutoff;
      ++checked;
    }
  }
  EXPECT_GE(checked, 9);
}

TEST(ClusterSpace, AutomaticPrimitiveCellGivesTheSameCounts) {
  for (const auto& c : read_reference()) {
    const Eigen::Matrix3d found = fc::Crystal::find_primitive_lattice(c.structure, 1e-5);
    EXPECT_NEAR(std::abs(found.determinant()), std::abs(c.primitive.determinant()), 1e-8) << c.name;
    const fc::Crystal a(c.structure, c.primitive, 1e-5), b(c.structure, found, 1e-5);
    EXPECT_EQ(a.p2s(), b.p2s()) << c.name;
    const fc::ClusterSpace sa(a, {{-1.0}}), sb(b, {{-1.0}});
    EXPECT_EQ(sa.num_parameters(), sb.num_parameters()) << c.name;
  }
}

TEST(ClusterSpace, RandomParametersGiveSymmetricForceConstantsObeyingTheSumRule) {
  const auto cases = read_reference();
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  for (const auto& c : cases) {
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    const fc::ClusterSpace space(crystal, {{-1.0, 3.3}});
    Eigen::VectorXd z(space.num_parameters());
    for (int k = 0; k < z.size(); ++k) z[k] = normal(rng);
    const Eigen::MatrixXd phi = space.fc2(z);
    const int n = crystal.num_atoms();
    // Symmetric, sum rule, invariant under every operation and translation.
    EXPECT_LT((phi - phi.transpose()).cwiseAbs().maxCoeff(), 1e-12) << c.name;
    for (int i = 0; i < n; ++i) {
      Eigen::Matrix3d sum = Eigen::Matrix3d::Zero();
      for (int j = 0; j < n; ++j) sum += phi.block<3, 3>(3 * i, 3 * j);
      EXPECT_LT(sum.cwiseAbs().maxCoeff(), 1e-10) << c.name << " atom " << i;
    }
    double worst = 0;
    for (std::size_t o = 0; o < crystal.operations().size(); ++o) {
      const Eigen::Matrix3d r = crystal.operations()[o].cartesian;
      for (int t = 0; t < crystal.num_cells(); t += 3) {
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            const int gi = crystal.translate(crystal.map_atom(static_cast<int>(o), i), t);
            const int gj = crystal.translate(crystal.map_atom(static_cast<int>(o), j), t);
            const Eigen::Matrix3d rotated = r * phi.block<3, 3>(3 * i, 3 * j) * r.transpose();
            worst =
                std::max(worst, (phi.block<3, 3>(3 * gi, 3 * gj) - rotated).cwiseAbs().maxCoeff());
          }
      }
    }
    EXPECT_LT(worst, 1e-10) << c.name;
    // Third order: the sum rule over the last atom, with the first atom in the home cell.
    if (space.num_parameters(3) == 0) continue;
    const auto fc3 = space.fc3_compact(z);
    for (int p = 0; p < crystal.num_primitive(); ++p)
      for (int j = 0; j < n; ++j)
        for (int a = 0; a < 27; ++a) {
          double sum = 0;
          for (int k = 0; k < n; ++k) sum += fc3[((std::size_t(p) * n + j) * n + k) * 27 + a];
          EXPECT_NEAR(sum, 0.0, 1e-10) << c.name;
        }
  }
}

TEST(ClusterSpace, SensitivityRowsAreTheNegativeEnergyGradient) {
  // f = -dV/du with V = sum_c w_c Phi_c . u^n: compare rows z with a finite difference of V
  // evaluated independently from the full force-constant tensors.
  const auto cases = read_reference();
  const auto& c = cases.front();
  const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
  const fc::ClusterSpace space(crystal, {{-1.0, 4.0, 2.5}});
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  Eigen::VectorXd z(space.num_parameters());
  for (int k = 0; k < z.size(); ++k) z[k] = normal(rng);
  const int n = crystal.num_atoms();
  std::vector<double> u(3 * n);
  for (auto& v : u) v = 0.05 * normal(rng);
  const Eigen::MatrixXd phi2 = space.fc2(z);
  const auto phi3 = space.fc3_compact(z);
  const auto phi4 = space.fc4_compact(z);
  // V = 1/2 u Phi2 u + 1/6 Phi3 uuu + 1/24 Phi4 uuuu, using translation invariance to expand
  // the compact arrays: Phi(i, j, k) = Phi(home(i), T j, T k).
  auto energy = [&](const std::vector<double>& x) {
    const Eigen::Map<const Eigen::VectorXd> ux(x.data(), 3 * n);
    double e = 0.5 * ux.dot(phi2 * ux);
    for (int i = 0; i < n; ++i) {
      const int p = crystal.s2p()[i];
      const int t = crystal.translation_home(i);
      for (int j = 0; j < n; ++j)
        for (int k = 0; k < n; ++k) {
          const std::size_t base =
              (std::size_t(p) * n + crystal.translate(j, t)) * n + crystal.translate(k, t);
          for (int a = 0; a < 27; ++a) {
            e += phi3[base * 27 + a] * x[3 * i + a / 9] * x[3 * j + a / 3 % 3] * x[3 * k + a % 3] /
                 6;
          }
          for (int l = 0; l < n; ++l) {
            const std::size_t b4 = base * n + crystal.translate(l, t);
            for (int a = 0; a < 81; ++a) {
              e += phi4[b4 * 81 + a] * x[3 * i + a / 27] * x[3 * j + a / 9 % 3] *
                   x[3 * k + a / 3 % 3] * x[3 * l + a % 3] / 24;
            }
          }
        }
    }
    return e;
  };
  fc::RowMatrix rows;
  space.sensitivity(u.data(), rows);
  const Eigen::VectorXd f = rows * z;
  const double h = 1e-5;
  for (int k : {0, 5, 17, 3 * n - 1}) {
    auto plus = u, minus = u;
    plus[k] += h;
    minus[k] -= h;
    const double expected = -(energy(plus) - energy(minus)) / (2 * h);
    EXPECT_NEAR(f[k], expected, 1e-6 * (1 + std::abs(expected))) << "component " << k;
  }
}

TEST(ClusterSpace, RotationalInvarianceOptionHoldsForRandomParameters) {
  int reduced = 0;
  auto cases = read_reference();
  // A polar distortion of the orthorhombic cell (second species moved along z): sites of
  // symmetry mm2, where the rotational invariance is a real constraint.
  Case polar = cases.back();
  polar.name = "polar";
  for (int i = 0; i < polar.structure.size(); ++i) {
    if (polar.structure.numbers[i] == polar.structure.numbers.back())
      polar.structure.positions[i][2] += 0.2;
  }
  cases.push_back(polar);
  for (const auto& c : cases) {
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    fc::ClusterOptions plain{{-1.0}}, rotational{{-1.0}};
    rotational.rotational_invariance = true;
    const fc::ClusterSpace a(crystal, plain), b(crystal, rotational);
    EXPECT_LE(b.num_parameters(), a.num_parameters()) << c.name;
    reduced += b.num_parameters() < a.num_parameters();
    std::mt19937 rng(11);
    std::normal_distribution<double> normal;
    Eigen::VectorXd z(b.num_parameters());
    for (int k = 0; k < z.size(); ++k) z[k] = normal(rng);
    const Eigen::MatrixXd phi = b.fc2(z);
    const int n = crystal.num_atoms();
    for (int i = 0; i < n; ++i) {
      Eigen::Matrix<double, 27, 1> sum = Eigen::Matrix<double, 27, 1>::Zero();
      for (int j = 0; j < n; ++j) {
        Eigen::Vector3d r = Eigen::Vector3d::Zero();
        const auto v = crystal.shortest_vectors(i, j, 1e-5);
        for (const auto& x : v) r += x / static_cast<double>(v.size());
        for (int p = 0; p < 27; ++p) {
          const int al = p / 9, be = p / 3 % 3, ga = p % 3;
          sum[p] += phi(3 * i + al, 3 * j + be) * r[ga] - phi(3 * i + al, 3 * j + ga) * r[be];
        }
      }
      EXPECT_LT(sum.cwiseAbs().maxCoeff(), 1e-9) << c.name << " atom " << i;
    }
  }
  EXPECT_GE(reduced, 1);  // a real constraint somewhere, not only in theory
}
