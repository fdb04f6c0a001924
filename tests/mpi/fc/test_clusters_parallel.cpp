// The cluster space built by 1-4 ranks together (the searches for clusters, the orbits' bases
// and the sum-rule rows dealt to the ranks, merged by allgathers) is bitwise the one a single
// process builds: counts, parameter order, orbits and their bases, members, the elimination T,
// the clusters and the sensitivity rows. The crystals (silicon, hcp, orthorhombic; from
// tests/regression/fc/parameter_counts.txt) cover orders 2-4, a cutoff beyond the supercell's
// limit (ALAMODE's per-image sum rule) and the rotational invariance; their counts are the
// brute force's. A construction over its memory budget ends every rank with a UsageError.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "../../support/mpi_test.hpp"
#include "../../unit/fc/fc_test_data.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/clusters.hpp"

using namespace physfit;

namespace {

struct Case {
  fc::Structure structure;
  Eigen::Matrix3d primitive;
  std::map<std::pair<int, double>, std::pair<int, int>> counts;  // (order, cutoff) -> x, z
};

// One crystal of the brute-force reference file.
Case read_case(const std::string& name) {
  std::ifstream in(fc_test::source_dir() + "/tests/regression/fc/parameter_counts.txt");
  Case c;
  bool mine = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string word;
    s >> word;
    if (word == "case") {
      std::string n;
      s >> n;
      mine = n == name;
    } else if (!mine) {
      continue;
    } else if (word == "lattice" || word == "primitive") {
      Eigen::Matrix3d m;
      for (int k = 0; k < 9; ++k) s >> m(k / 3, k % 3);
      (word == "lattice" ? c.structure.lattice : c.primitive) = m;
    } else if (word == "atom") {
      int z;
      Eigen::Vector3d p;
      s >> z >> p[0] >> p[1] >> p[2];
      c.structure.numbers.push_back(z);
      c.structure.masses.push_back(z * 2.0);
      c.structure.positions.push_back(p);
    } else if (word == "order") {
      int order, x, zc;
      double cutoff;
      std::string w;
      s >> order >> w >> cutoff >> w >> x >> w >> zc;
      c.counts[{order, cutoff}] = {x, zc};
    }
  }
  if (c.structure.positions.empty()) throw std::runtime_error("no case " + name);
  return c;
}

bool same_bits(const double* a, const double* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(double)) == 0;
}

// Everything observable of two cluster spaces, compared bit for bit.
void expect_identical(const fc::ClusterSpace& a, const fc::ClusterSpace& b) {
  ASSERT_EQ(a.max_order(), b.max_order());
  ASSERT_EQ(a.num_parameters(), b.num_parameters());
  ASSERT_EQ(a.num_symmetry_parameters(), b.num_symmetry_parameters());
  for (int order = 2; order <= a.max_order(); ++order) {
    EXPECT_EQ(a.num_orbits(order), b.num_orbits(order)) << order;
    EXPECT_EQ(a.num_clusters(order), b.num_clusters(order)) << order;
    EXPECT_EQ(a.num_parameters(order), b.num_parameters(order)) << order;
  }
  ASSERT_EQ(a.orbits().size(), b.orbits().size());
  for (std::size_t k = 0; k < a.orbits().size(); ++k) {
    const fc::Orbit &x = a.orbits()[k], &y = b.orbits()[k];
    EXPECT_EQ(x.representative, y.representative) << "orbit " << k;
    EXPECT_EQ(x.first_parameter, y.first_parameter) << "orbit " << k;
    EXPECT_EQ(x.num_clusters, y.num_clusters) << "orbit " << k;
    EXPECT_EQ(x.num_members, y.num_members) << "orbit " << k;
    ASSERT_EQ(x.basis.rows(), y.basis.rows());
    ASSERT_EQ(x.basis.cols(), y.basis.cols());
    EXPECT_TRUE(same_bits(x.basis.data(), y.basis.data(), x.basis.size())) << "orbit " << k;
  }
  ASSERT_EQ(a.num_members(), b.num_members());
  for (int m = 0; m < a.num_members(); ++m) {
    EXPECT_EQ(a.member_orbit(m), b.member_orbit(m));
    EXPECT_EQ(a.member_operation(m), b.member_operation(m));
    EXPECT_EQ(a.member_atoms(m), b.member_atoms(m));
  }
  const auto &ta = a.elimination(), &tb = b.elimination();
  ASSERT_EQ(ta.nonZeros(), tb.nonZeros());
  EXPECT_TRUE(
      std::equal(ta.innerIndexPtr(), ta.innerIndexPtr() + ta.nonZeros(), tb.innerIndexPtr()));
  EXPECT_TRUE(
      std::equal(ta.outerIndexPtr(), ta.outerIndexPtr() + ta.outerSize() + 1, tb.outerIndexPtr()));
  EXPECT_TRUE(same_bits(ta.valuePtr(), tb.valuePtr(), static_cast<std::size_t>(ta.nonZeros())));
  for (int order = 2; order <= a.max_order(); ++order) {
    const auto ia = a.instances(order), ib = b.instances(order);
    ASSERT_EQ(ia.size(), ib.size());
    ASSERT_EQ(static_cast<std::int64_t>(ia.size()), a.num_clusters(order));
    for (std::size_t k = 0; k < ia.size(); ++k) {
      ASSERT_EQ(ia[k].atoms, ib[k].atoms) << "cluster " << k << " of order " << order;
      ASSERT_EQ(ia[k].member, ib[k].member);
    }
  }
  // Sensitivity rows of two configurations (in one call and one at a time).
  const int n = a.crystal().num_atoms();
  std::mt19937 rng(17);
  std::normal_distribution<double> normal(0.0, 0.05);
  std::vector<double> u(6 * static_cast<std::size_t>(n));
  for (auto& v : u) v = normal(rng);
  fc::RowMatrix ra, rb, one;
  a.sensitivity(u.data(), 2, ra);
  b.sensitivity(u.data(), 2, rb);
  ASSERT_EQ(ra.rows(), rb.rows());
  ASSERT_EQ(ra.cols(), b.num_parameters());
  EXPECT_TRUE(same_bits(ra.data(), rb.data(), static_cast<std::size_t>(ra.size())));
  b.sensitivity(u.data() + 3 * n, one);
  EXPECT_TRUE(
      same_bits(one.data(), rb.data() + rb.size() / 2, static_cast<std::size_t>(one.size())));
}

}  // namespace

TEST(DistributedClusterSpace, IsBitwiseTheOneProcessBuildsOnEveryRankCount) {
  const mpi::Comm world = test::world();
  struct Model {
    std::string crystal;
    std::vector<double> cutoffs;
    bool rotational;
  };
  // si64: FC3 at 5.5563 Angstrom reaches the 5.43 Angstrom limit (ALAMODE's clusters and
  // per-image sum rule), FC4 to 3.9 Angstrom; hcp36: FC2-FC4; ortho16: every pair with the
  // rotational invariance.
  const std::vector<Model> models = {{"si64", {-1.0, 5.5563607144814995, 3.9}, false},
                                     {"hcp36", {-1.0, 3.3, 3.3}, false},
                                     {"ortho16", {-1.0, 3.3}, true}};
  for (const Model& m : models) {
    SCOPED_TRACE(m.crystal);
    const Case c = read_case(m.crystal);
    const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
    fc::ClusterOptions o;
    o.cutoffs = m.cutoffs;
    o.allow_wrapping = true;
    o.rotational_invariance = m.rotational;
    const fc::ClusterSpace parallel(world, crystal, o);
    const fc::ClusterSpace serial(crystal, o);  // MPI_COMM_SELF
    expect_identical(parallel, serial);
    // Counts are the brute force's where the reference has them (order by order, lower
    // orders at a tiny cutoff there: only the highest order's count is comparable).
    int compared = 0;
    for (int order = 2; order <= parallel.max_order(); ++order) {
      const auto it = c.counts.find({order, m.cutoffs[order - 2]});
      if (it == c.counts.end() || m.rotational) continue;
      EXPECT_EQ(parallel.num_symmetry_parameters(order), it->second.first) << order;
      EXPECT_EQ(parallel.num_parameters(order), it->second.second) << order;
      ++compared;
    }
    if (!m.rotational) EXPECT_GE(compared, 1);
    // Real work for every rank: more heads and translation classes than ranks.
    EXPECT_GT(parallel.build_report().translation_classes, 4 * world.size());
    EXPECT_GT(parallel.build_report().constraint_rows, 0);
  }
}

TEST(DistributedClusterSpace, AConstructionOverItsMemoryBudgetEndsEveryRankWithAUsageError) {
  const mpi::Comm world = test::world();
  const Case c = read_case("si64");
  const fc::Crystal crystal(c.structure, c.primitive, 1e-5);
  fc::ClusterOptions o;
  o.cutoffs = {-1.0, 5.0, 3.9};
  o.memory_budget = 100;  // bytes: less than the second order's clusters up to translation
  try {
    const fc::ClusterSpace space(world, crystal, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage) << e.what();
    const std::string m = e.what();
    EXPECT_NE(m.find("of order 2"), std::string::npos) << m;
    EXPECT_NE(m.find("memory-budget-gb"), std::string::npos) << m;
  }
  o.memory_budget = 1e9;  // and within a budget it builds
  EXPECT_GT(fc::ClusterSpace(world, crystal, o).num_parameters(4), 0);
}
