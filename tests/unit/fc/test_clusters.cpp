// Clusters, orbits and independent parameters, checked against a brute-force count that uses
// none of physfit's machinery (scripts/fc/brute_force_counts.py: compact clusters by trying
// every choice of periodic images, the supercell's full space group from spglib, Reynolds
// projection over the tuples, a rank computation for the sum rule), against ALAMODE's counts
// quoted by issue 10, against direct enumerations of images and clusters written here, and
// against the invariances the parameters must satisfy.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "fc_test_data.hpp"
#include "physfit/error.hpp"
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
  double limit = 0;  // half the shortest supercell lattice vector, by the script's enumeration
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
    } else if (word == "limit") {
      s >> cases.back().limit;
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

namespace {

const Case& find_case(const std::vector<Case>& cases, const std::string& name) {
  for (const auto& c : cases) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("no case " + name + " in parameter_counts.txt");
}

// The counts of one order, lower orders at a tiny cutoff so they do not matter.
fc::ClusterOptions one_order(int order, double cutoff, bool allow_wrapping) {
  fc::ClusterOptions o;
  o.cutoffs.assign(order - 1, 0.1);
  o.cutoffs.back() = cutoff;
  o.allow_wrapping = allow_wrapping;
  return o;
}

constexpr double kBohr = 0.529177210903;

}  // namespace

TEST(ClusterSpace, ParameterCountsMatchTheBruteForceNullSpace) {
  const auto cases = read_reference();
  ASSERT_GE(cases.size(), 7u);
  int checked = 0, wrapping = 0;
  for (const auto& c : cases) {
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    EXPECT_NEAR(fc::cutoff_limit(crystal), c.limit, 1e-9) << c.name;
    for (const auto& count : c.counts) {
      // At or above the limit only with allow_wrapping (ALAMODE's definition, which the
      // script follows there).
      const bool wraps = count.cutoff >= 0 && count.cutoff + fc::kCutoffTolerance >= c.limit;
      if (wraps) {
        EXPECT_THROW(fc::ClusterSpace(crystal, one_order(count.order, count.cutoff, false)),
                     UsageError);
      }
      wrapping += wraps;
      const fc::ClusterSpace space(crystal, one_order(count.order, count.cutoff, wraps));
      EXPECT_EQ(space.wraps(count.order), wraps) << c.name;
      EXPECT_EQ(space.num_symmetry_parameters(count.order), count.symmetric)
          << c.name << " order " << count.order << " cutoff " << count.cutoff;
      EXPECT_EQ(space.num_parameters(count.order), count.independent)
          << c.name << " order " << count.order << " cutoff " << count.cutoff;
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
  EXPECT_GE(wrapping, 5);
}

TEST(ClusterSpace, ThirdAndFourthOrderCountsAreAlamodesOnSilicon) {
  // ALAMODE's alm on the Stillinger-Weber silicon supercells, as issue 10 quotes it (its
  // measured output: an external reference). 10.5 Bohr on 64 atoms and 12.0 Bohr on 64 atoms
  // reach the cutoff limit (5.43 Angstrom), so they need allow_wrapping; 10.5 Bohr on 216 atoms
  // and 8.6 Bohr are below the limits, where ALAMODE's clusters are the compact ones.
  const auto cases = read_reference();
  const auto& c64 = find_case(cases, "si64");
  const auto& c216 = find_case(cases, "si216");
  const fc::Crystal si64(c64.structure, c64.primitive, 1e-5);
  const fc::Crystal si216(c216.structure, c216.primitive, 1e-5);
  fc::ClusterOptions o;
  o.cutoffs = {-1.0, 10.5 * kBohr};
  o.allow_wrapping = true;
  EXPECT_EQ(fc::ClusterSpace(si64, o).num_parameters(3), 107);
  o.allow_wrapping = false;
  EXPECT_EQ(fc::ClusterSpace(si216, o).num_parameters(3), 110);
  o.cutoffs = {-1.0, 12.0 * kBohr, 8.6 * kBohr};
  o.allow_wrapping = true;
  const fc::ClusterSpace both(si64, o);
  EXPECT_TRUE(both.wraps(3));
  EXPECT_FALSE(both.wraps(4));
  EXPECT_EQ(both.num_parameters(3), 196);
  EXPECT_EQ(both.num_parameters(4), 581);
}

TEST(ClusterSpace, ACutoffAtTheLimitIsAnErrorNamingOrderValueLimitAndTheWayOut) {
  const auto cases = read_reference();
  const auto& c = find_case(cases, "si64");
  const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
  EXPECT_NEAR(c.limit, 5.430950, 1e-9);  // half of the 2a = 10.8619 Angstrom cube edge
  try {
    fc::ClusterSpace(crystal, {{-1.0, 5.5563}});
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("order 3"), std::string::npos) << m;
    EXPECT_NE(m.find("5.5563"), std::string::npos) << m;
    EXPECT_NE(m.find("5.43095"), std::string::npos) << m;
    EXPECT_NE(m.find("larger supercell"), std::string::npos) << m;
    EXPECT_NE(m.find("allow-wrapping"), std::string::npos) << m;
  }
  // Exactly at the limit is at it; just below is fine; negative cutoffs never wrap (FC2 of
  // every pair); FC2 at 20 Angstrom does.
  EXPECT_THROW(fc::ClusterSpace(crystal, {{-1.0, c.limit}}), UsageError);
  EXPECT_NO_THROW(fc::ClusterSpace(crystal, {{-1.0, 5.43}}));
  EXPECT_THROW(fc::ClusterSpace(crystal, {{20.0}}), UsageError);
  fc::ClusterOptions o{{20.0}};
  o.allow_wrapping = true;
  const fc::ClusterSpace every(crystal, o), none(crystal, {{-1.0}});
  EXPECT_TRUE(every.wraps(2));
  EXPECT_FALSE(none.wraps(2));
  EXPECT_EQ(every.num_parameters(), none.num_parameters());
}

TEST(LatticeImages, FindTheShortestVectorAndEveryImageOfASkewedBasis) {
  // Bases of known lattices given badly: the rows are long, their combinations short. The
  // references are searches over a wide box of integer combinations.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(-3, 3);
  const Eigen::Matrix3d cubic = Eigen::Matrix3d::Identity() * 4.0;
  Eigen::Matrix3d hexagonal;
  hexagonal << 3.2, 0, 0, -1.6, 3.2 * std::sqrt(3.0) / 2, 0, 0, 0, 5.2;
  const Eigen::Matrix3d triclinic =
      (Eigen::Matrix3d() << 3.0, 0.2, 0.1, 0.7, 3.3, -0.3, 0.4, 0.9, 4.1).finished();
  for (const Eigen::Matrix3d& good : {cubic, hexagonal, triclinic}) {
    for (int trial = 0; trial < 20; ++trial) {
      Eigen::Matrix3i m;
      do {
        for (int k = 0; k < 9; ++k) m(k / 3, k % 3) = pick(rng);
      } while (std::abs(m.cast<double>().determinant()) != 1.0);
      const Eigen::Matrix3d bad = m.cast<double>() * good;  // the same lattice
      const fc::LatticeImages images(bad);
      double shortest = 1e300;
      for (int a = -12; a <= 12; ++a)
        for (int b = -12; b <= 12; ++b)
          for (int c = -12; c <= 12; ++c) {
            if (a == 0 && b == 0 && c == 0) continue;
            shortest =
                std::min(shortest, (a * good.row(0) + b * good.row(1) + c * good.row(2)).norm());
          }
      EXPECT_NEAR(images.shortest_vector().norm(), shortest, 1e-9);
      // Every image of a vector within a radius, none missing, none twice.
      const Eigen::Vector3d d(0.3, -1.1, 2.9);
      const double radius = 7.5;
      int expected = 0;
      for (int a = -12; a <= 12; ++a)
        for (int b = -12; b <= 12; ++b)
          for (int c = -12; c <= 12; ++c) {
            const Eigen::Vector3d v =
                d + (a * good.row(0) + b * good.row(1) + c * good.row(2)).transpose();
            expected += v.norm() <= radius;
          }
      const auto found = images.within(d, radius);
      EXPECT_EQ(static_cast<int>(found.size()), expected);
      for (std::size_t i = 0; i < found.size(); ++i) {
        EXPECT_LE(found[i].norm(), radius);
        const Eigen::Vector3d f = good.transpose().partialPivLu().solve(found[i] - d);
        EXPECT_LT((f - f.array().round().matrix()).cwiseAbs().maxCoeff(), 1e-9);
        for (std::size_t j = 0; j < i; ++j) EXPECT_GT((found[i] - found[j]).norm(), 1e-6);
      }
      EXPECT_NEAR(images.shortest_image(d).norm(),
                  images.within(d, 20.0).empty() ? 0.0 : [&] {
                    double best = 1e300;
                    for (const auto& v : images.within(d, 20.0)) best = std::min(best, v.norm());
                    return best;
                  }(),
                  1e-12);
    }
  }
}

TEST(ClusterSpace, TripletsAreTheCompactOnesNotThoseOfShortMinimumImageDistances) {
  // Si 64 atoms at 4.6 Angstrom (below its 5.43 Angstrom limit): a second-neighbour vector and
  // two third-neighbour vectors, (a/4)(2,2,0) + (a/4)(3,-1,1) + (a/4)(3,-1,-1) = (2a, 0, 0), add
  // up to a supercell vector: such triangles have every minimum-image distance within the
  // cutoff but do not close in the crystal. Count both kinds here, trying every image.
  const auto cases = read_reference();
  const auto& c = find_case(cases, "si64");
  const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
  const double rc = 4.6 + fc::kCutoffTolerance;
  const fc::ClusterSpace space(crystal, {{0.1, 4.6}});
  const int n = crystal.num_atoms();
  const Eigen::Matrix3d l = crystal.supercell().lattice;
  const auto& pos = crystal.supercell().positions;
  // Images of j within rc of i (shifts -1..1 hold them all: rc is below every spacing).
  auto images = [&](int i, int j) {
    std::vector<Eigen::Vector3d> out;
    for (int a = -1; a <= 1; ++a)
      for (int b = -1; b <= 1; ++b)
        for (int d = -1; d <= 1; ++d) {
          Eigen::Vector3d v =
              pos[j] - pos[i] + (a * l.row(0) + b * l.row(1) + d * l.row(2)).transpose();
          // wrap first so that -1..1 around the nearest image covers the ball
          const Eigen::Vector3d f = l.transpose().partialPivLu().solve(pos[j] - pos[i]);
          v -= l.transpose() * f.array().round().matrix();
          if (v.norm() <= rc) out.push_back(v);
        }
    return out;
  };
  std::int64_t compact = 0, short_pairs = 0;
  for (int a = 0; a < n; ++a)
    for (int b = a; b < n; ++b)
      for (int d = b; d < n; ++d) {
        if (crystal.distance(a, b) > rc || crystal.distance(a, d) > rc ||
            crystal.distance(b, d) > rc) {
          continue;
        }
        ++short_pairs;
        bool ok = false;
        for (const auto& vb : images(a, b))
          for (const auto& vd : images(a, d)) ok = ok || (vd - vb).norm() <= rc;
        compact += ok;
      }
  EXPECT_EQ(space.num_clusters(3), compact);
  EXPECT_GT(short_pairs, compact);  // the wrapped triangles exist, and are not clusters
  // Each kept triplet has exactly one compact embedding (below the limit).
  for (const auto& in : space.instances(3)) {
    const auto e = fc::compact_embeddings(crystal, {in.atoms[0], in.atoms[1], in.atoms[2]}, 4.6);
    ASSERT_EQ(e.size(), 1u);
  }
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
    if (c.structure.size() > 64) continue;
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    // 3.3 Angstrom reaches the limit of hcp16 and ortho16: there the sum rule is ALAMODE's
    // per-image one, which must imply the supercell's checked here.
    fc::ClusterOptions options{{-1.0, 3.3}};
    options.allow_wrapping = true;
    const fc::ClusterSpace space(crystal, options);
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
  const auto& c = find_case(cases, "si16");
  const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
  fc::ClusterOptions options{{-1.0, 4.0, 2.5}};
  options.allow_wrapping = true;  // 4.0 Angstrom reaches the 3.84 Angstrom limit of si16
  const fc::ClusterSpace space(crystal, options);
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
  Case polar = find_case(cases, "ortho16");
  polar.name = "polar";
  for (int i = 0; i < polar.structure.size(); ++i) {
    if (polar.structure.numbers[i] == polar.structure.numbers.back())
      polar.structure.positions[i][2] += 0.2;
  }
  cases.push_back(polar);
  for (const auto& c : cases) {
    if (c.structure.size() > 64) continue;
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
