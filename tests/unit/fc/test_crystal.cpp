// The crystal (primitive/supercell maps, spglib symmetry) and the data readers: every text
// format holds the same numbers as the HDF5 data make_si.py wrote from the same arrays.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "../../support/mpi_test.hpp"
#include "fc_test_data.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/units.hpp"

using namespace physfit;

namespace {

std::string si(const std::string& name) { return fc_test::si_data() + "/" + name; }

fc::IdealStructure si_ideal() { return fc::read_structure_hdf5(si("si64_rattle_0.01.h5")); }

fc::Configurations si_configs(const std::string& sigma) {
  return fc::read_configurations_hdf5(mpi::Comm::self(), si("si64_rattle_" + sigma + ".h5"), 64);
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    worst = std::max(worst, std::abs(a[k] - b[k]));
  }
  return worst;
}

}  // namespace

TEST(Crystal, SiliconSupercellHasTheDiamondSpaceGroupAndPhonopysPrimitiveMap) {
  const auto ideal = si_ideal();
  const fc::Crystal c(ideal.supercell, ideal.resolve_primitive_lattice(1e-5), 1e-5);
  EXPECT_EQ(c.international(), "Fd-3m");
  EXPECT_EQ(c.spacegroup_number(), 227);
  EXPECT_EQ(c.operations().size(), 48u);
  EXPECT_EQ(c.dropped_operations(), 0);
  EXPECT_EQ(c.num_cells(), 32);
  EXPECT_EQ(c.p2s(), (std::vector<int>{0, 32}));  // phonopy's p2s_map for this supercell
  // Every operation maps the structure onto itself: same species, distances preserved.
  for (std::size_t o = 0; o < c.operations().size(); ++o) {
    for (int i = 0; i < 64; i += 7) {
      for (int j = 0; j < 64; j += 5) {
        const int gi = c.map_atom(static_cast<int>(o), i), gj = c.map_atom(static_cast<int>(o), j);
        // The rotated shortest vector is one of the shortest vectors of the images (several
        // when the pair sits at half a supercell).
        const Eigen::Vector3d v = c.operations()[o].cartesian * c.shortest_vector(i, j);
        double best = 1e9;
        for (const auto& w : c.shortest_vectors(gi, gj, 1e-6))
          best = std::min(best, (v - w).norm());
        EXPECT_LT(best, 1e-8);
      }
    }
  }
  // Translations: translation_home brings every atom to its primitive atom.
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(c.translate(i, c.translation_home(i)), c.p2s()[c.s2p()[i]]);
  // Nearest-neighbour distance a sqrt(3) / 4.
  double nearest = 1e9;
  for (int j = 1; j < 64; ++j) nearest = std::min(nearest, c.distance(0, j));
  EXPECT_NEAR(nearest, 5.43095 * std::sqrt(3.0) / 4, 1e-9);
}

TEST(Crystal, PrimitiveLatticeThatIsNotASublatticeIsAUsageError) {
  const auto ideal = si_ideal();
  Eigen::Matrix3d wrong = ideal.resolve_primitive_lattice(1e-5);
  wrong.row(0) *= 1.1;
  EXPECT_THROW(fc::Crystal(ideal.supercell, wrong, 1e-5), UsageError);
  // A lattice vector that is not a pure translation (half the conventional cell along x).
  Eigen::Matrix3d half = Eigen::Matrix3d::Identity() * 5.43095 / 2;
  try {
    fc::Crystal(ideal.supercell, half, 1e-5);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("pure"), std::string::npos) << e.what();
  }
}

TEST(Readers, ExtendedXyzAndDfsetHoldTheHdf5Numbers) {
  const auto ideal = si_ideal();
  for (const std::string sigma : {"0.01", "0.1"}) {
    const auto h5 = si_configs(sigma);
    ASSERT_EQ(h5.count(), 200);
    const auto xyz = fc::read_extxyz(si("si64_rattle_" + sigma + ".extxyz"), ideal.supercell, 1.0);
    EXPECT_EQ(xyz.count(), 200);
    EXPECT_LT(max_difference(xyz.displacements, h5.displacements), 2e-9);
    EXPECT_LT(max_difference(xyz.forces, h5.forces), 2e-9);
    EXPECT_LT(max_difference(xyz.energies, h5.energies), 2e-9);
    const auto dfset =
        fc::read_dfset(si("DFSET_" + sigma), ideal.supercell, fc::DfsetUnits::kRydbergBohr);
    EXPECT_EQ(dfset.count(), 200);
    EXPECT_LT(max_difference(dfset.displacements, h5.displacements), 1e-12);
    EXPECT_LT(max_difference(dfset.forces, h5.forces), 1e-11);
  }
}

TEST(Readers, ExtendedXyzAtomsInAnotherOrderAreMappedToTheirSites) {
  const auto ideal = si_ideal();
  const auto h5 = si_configs("0.03");
  // One frame with atoms reversed and wrapped by a lattice vector.
  const std::string path = test::scratch_dir() + "/shuffled.extxyz";
  {
    std::ofstream out(path);
    out.precision(12);
    out << "64\nLattice=\"10.8619 0 0 0 10.8619 0 0 0 10.8619\" "
           "Properties=species:S:1:pos:R:3:forces:R:3 energy=1.5 pbc=\"T T T\"\n";
    for (int i = 63; i >= 0; --i) {
      Eigen::Vector3d p = ideal.supercell.positions[i];
      for (int a = 0; a < 3; ++a) p[a] += h5.displacements[3 * i + a];
      if (i % 3 == 0) p[0] += 10.8619;
      out << "Si " << p[0] << " " << p[1] << " " << p[2];
      for (int a = 0; a < 3; ++a) out << " " << h5.forces[3 * i + a];
      out << "\n";
    }
  }
  const auto c = fc::read_extxyz(path, ideal.supercell, 0.5);
  ASSERT_EQ(c.count(), 1);
  for (int k = 0; k < 192; ++k) {
    EXPECT_NEAR(c.displacements[k], h5.displacements[k], 1e-9);
    EXPECT_NEAR(c.forces[k], h5.forces[k], 1e-9);
  }
  EXPECT_EQ(c.energies[0], 1.5);
}

TEST(Readers, AtomFarFromEverySiteIsAnErrorNamingConfigurationAndAtom) {
  const auto ideal = si_ideal();
  const std::string path = test::scratch_dir() + "/far.extxyz";
  {
    std::ofstream out(path);
    for (int frame = 0; frame < 2; ++frame) {
      out << "64\nLattice=\"10.8619 0 0 0 10.8619 0 0 0 10.8619\" "
             "Properties=species:S:1:pos:R:3:forces:R:3\n";
      for (int i = 0; i < 64; ++i) {
        Eigen::Vector3d p = ideal.supercell.positions[i];
        if (frame == 1 && i == 9) p[1] += 1.0;
        out << "Si " << p[0] << " " << p[1] << " " << p[2] << " 0 0 0\n";
      }
    }
  }
  try {
    fc::read_extxyz(path, ideal.supercell, 0.5);
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {  // data that do not map to the ideal supercell: exit 4
    const std::string what = e.what();
    EXPECT_NE(what.find("configuration 2"), std::string::npos) << what;
    EXPECT_NE(what.find("atom 10"), std::string::npos) << what;
    EXPECT_NE(what.find("tolerance"), std::string::npos) << what;
  }
}

TEST(Readers, MalformedTextIsAnIoErrorNamingFileAndLine) {
  const auto ideal = si_ideal();
  const std::string path = test::scratch_dir() + "/DFSET_bad";
  {
    std::ofstream out(path);
    out << "# config 1\n";
    for (int i = 0; i < 64; ++i) out << (i == 5 ? "0 0 x 0 0 0\n" : "0 0 0 0 0 0\n");
  }
  try {
    fc::read_dfset(path, ideal.supercell, fc::DfsetUnits::kRydbergBohr);
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":7: 'x' is not a number"), std::string::npos)
        << e.what();
  }
  {
    std::ofstream out(path);
    for (int i = 0; i < 70; ++i) out << "0 0 0 0 0 0\n";
  }
  EXPECT_THROW(fc::read_dfset(path, ideal.supercell, fc::DfsetUnits::kRydbergBohr), IoError);
}

TEST(Readers, PhonopyParamsGiveTheSupercellPrimitiveMatrixAndDisplacements) {
  const auto [ideal, configs] = fc::read_phonopy_params(si("phonopy_params.yaml"));
  const auto reference = si_ideal();
  ASSERT_EQ(ideal.supercell.size(), 64);
  for (int i = 0; i < 64; ++i) {
    EXPECT_LT((ideal.supercell.positions[i] - reference.supercell.positions[i]).norm(), 1e-9);
    EXPECT_EQ(ideal.supercell.numbers[i], 14);
    EXPECT_NEAR(ideal.supercell.masses[i], 28.0855, 1e-9);
  }
  ASSERT_TRUE(ideal.primitive_matrix && ideal.unit_lattice);
  EXPECT_LT((ideal.resolve_primitive_lattice(1e-5) - reference.resolve_primitive_lattice(1e-5))
                .cwiseAbs()
                .maxCoeff(),
            1e-12);
  ASSERT_EQ(configs.count(), 2);  // +-0.01 Angstrom on atom 1
  EXPECT_NEAR(configs.displacements[0], 0.01, 1e-15);
  EXPECT_NEAR(configs.displacements[192], -0.01, 1e-15);
  EXPECT_NEAR(configs.forces[0], -0.1770630863067444, 1e-15);
  double sum = 0;
  for (int i = 0; i < 64; ++i) sum += configs.forces[3 * i];
  EXPECT_NEAR(sum, 0.0, 1e-9);
}

TEST(Readers, ForceSetsTypeOneMatchesPhonopyParams) {
  const auto [ideal, configs] = fc::read_phonopy_params(si("phonopy_params.yaml"));
  const std::string path = test::scratch_dir() + "/FORCE_SETS";
  {
    std::ofstream out(path);
    out.precision(16);
    out << "64\n2\n";
    for (int c = 0; c < 2; ++c) {
      out << "\n1\n" << configs.displacements[c * 192] << " 0 0\n";
      for (int i = 0; i < 64; ++i) {
        for (int a = 0; a < 3; ++a) out << configs.forces[c * 192 + 3 * i + a] << " ";
        out << "\n";
      }
    }
  }
  const auto sets = fc::read_force_sets(path, ideal.supercell);
  EXPECT_LT(max_difference(sets.displacements, configs.displacements), 1e-15);
  EXPECT_LT(max_difference(sets.forces, configs.forces), 1e-15);
}
