// Structure readers and writers (structure_io.hpp, elements.hpp, dataset.hpp) against files
// written by phonopy 2.17 and ASE 3.22 and what those programs hold (fixture fc_format_files:
// tests/unit/fc/make_format_files.py), and hand-made malformed files.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "physfit/error.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/elements.hpp"
#include "physfit/fc/structure_io.hpp"
#include "physfit/io/hdf5.hpp"

using namespace physfit;
using namespace physfit::fc;

namespace {

std::string data(const std::string& name) {
  const char* env = std::getenv("PHYSFIT_FORMAT_DATA");
  return std::string(env ? env : PHYSFIT_FORMAT_DATA_DEFAULT) + "/" + name;
}

struct Reference {
  Eigen::Matrix3d lattice;
  std::vector<Eigen::Vector3d> positions;
  std::vector<std::string> symbols;
  std::vector<double> masses;
};

Reference reference(const std::string& name) {
  const io::File f = io::File::open(data("reference.h5"));
  Reference r;
  const auto l = f.dataset("/" + name + "/lattice").read_all<double>();
  for (int k = 0; k < 9; ++k) r.lattice(k / 3, k % 3) = l[k];
  const auto p = f.dataset("/" + name + "/positions").read_all<double>();
  for (std::size_t k = 0; k < p.size(); k += 3) r.positions.emplace_back(p[k], p[k + 1], p[k + 2]);
  r.symbols = f.dataset("/" + name + "/symbols").read_strings();
  r.masses = f.dataset("/" + name + "/masses").read_all<double>();
  return r;
}

// Same lattice, and the same atoms in the same order (positions modulo the lattice).
void expect_structure(const Structure& s, const Reference& r, double tol = 1e-9) {
  ASSERT_EQ(s.size(), static_cast<int>(r.positions.size()));
  EXPECT_LT((s.lattice - r.lattice).cwiseAbs().maxCoeff(), tol);
  for (int i = 0; i < s.size(); ++i) {
    Eigen::Vector3d d = r.lattice.transpose().inverse() * (s.positions[i] - r.positions[i]);
    for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
    EXPECT_LT((r.lattice.transpose() * d).norm(), tol) << "atom " << i + 1;
    EXPECT_EQ(s.symbol(i), r.symbols[i]) << "atom " << i + 1;
    EXPECT_EQ(s.numbers[i], atomic_number(r.symbols[i])) << "atom " << i + 1;
    EXPECT_NEAR(s.masses[i], r.masses[i], 1e-9) << "atom " << i + 1;
  }
}

// Files written by write_temp, removed when the test program ends.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const auto& p : paths) std::remove(p.c_str());
  }
};
TempFiles g_temp_files;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "physfit_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path) << text;
  g_temp_files.paths.push_back(path);
  return path;
}

// The message of the physfit error `f` throws (type E), or "" if none.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

const char* const kPoscar =
    "GaN\n1.0\n3.19 0 0\n-1.595 2.7626210380723593 0\n0 0 5.19\nGa N\n2 2\nDirect\n"
    "0.333333333333333 0.666666666666667 0\n0.666666666666667 0.333333333333333 0.5\n"
    "0.333333333333333 0.666666666666667 0.377\n0.666666666666667 0.333333333333333 0.877\n";

}  // namespace

TEST(Elements, StandardWeightsArePhonopysDefaultMasses) {
  const io::File f = io::File::open(data("reference.h5"));
  const auto weights = f.dataset("/phonopy_weights").read_all<double>();
  ASSERT_EQ(weights.size(), 119u);  // phonopy's table: X, then H .. Z = 118
  int compared = 0;
  for (int z = 1; z <= kNumElements; ++z) {
    if (std::isnan(weights[z])) {
      EXPECT_EQ(standard_atomic_weight(z), 0.0) << element_symbol(z);
    } else {
      EXPECT_EQ(standard_atomic_weight(z), weights[z]) << element_symbol(z);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 88);
  EXPECT_EQ(atomic_number("Ga"), 31);
  EXPECT_EQ(element_of_label("Fe1"), 26);
  EXPECT_EQ(element_of_label("Co2"), 27);
  EXPECT_EQ(element_of_label("Ga_d"), 31);
  EXPECT_EQ(element_of_label("N"), 7);
  EXPECT_EQ(element_of_label("Xx"), 0);
  EXPECT_EQ(element_of_label("fe"), 0);
}

TEST(Poscar, Vasp5FromPhonopyGivesItsCell) {
  const Structure s = read_poscar(data("GaN_vasp5.POSCAR"));
  expect_structure(s, reference("GaN"));
  EXPECT_EQ(detect_structure_format(data("GaN_vasp5.POSCAR")), StructureFormat::kPoscar);
}

TEST(Poscar, Vasp4TakesSpeciesFromTheOptionOrTheCommentLine) {
  // ASE writes the species on the comment line of a VASP 4 file.
  expect_structure(read_poscar(data("GaN_vasp4.POSCAR")), reference("GaN"));
  StructureOptions o;
  o.species = {"Ga", "N"};
  expect_structure(read_poscar(data("GaN_vasp4_nocomment.POSCAR"), o), reference("GaN"));
  const std::string msg =
      error_of<UsageError>([&] { read_poscar(data("GaN_vasp4_nocomment.POSCAR")); });
  EXPECT_NE(msg.find("GaN_vasp4_nocomment.POSCAR:6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--structure.species"), std::string::npos) << msg;
}

TEST(Poscar, SelectiveDynamicsCartesianAndNegativeScale) {
  expect_structure(read_poscar(data("NaCl_sd_cart.POSCAR")), reference("NaCl"));
  // Scale = -volume: lattice and Cartesian positions rescaled to that volume (3 species).
  expect_structure(read_poscar(data("SrTiO3_negscale.POSCAR")), reference("SrTiO3"), 1e-8);
}

TEST(Poscar, WriterRoundTripsSpeciesRunsAndOrder) {
  Structure s = read_poscar(data("GaN_SPOSCAR_nondiag"));
  // Interleave the species so that the writer must repeat names to keep the order.
  std::swap(s.positions[1], s.positions[s.size() - 1]);
  std::swap(s.symbols[1], s.symbols[s.size() - 1]);
  std::swap(s.numbers[1], s.numbers[s.size() - 1]);
  std::swap(s.masses[1], s.masses[s.size() - 1]);
  s.symbols[2] = "Ga2";  // a label that is not an element symbol
  const std::string path = write_temp("written.POSCAR", "");
  write_poscar(path, s, "round trip");
  const Structure t = read_poscar(path);
  ASSERT_EQ(t.size(), s.size());
  for (int i = 0; i < s.size(); ++i) {
    EXPECT_EQ(t.symbol(i), s.symbol(i));
    EXPECT_EQ(t.numbers[i], s.numbers[i]);
    EXPECT_LT((t.positions[i] - s.positions[i]).norm(), 1e-12);
  }
  EXPECT_EQ(t.symbol(2), "Ga2");
  EXPECT_EQ(t.numbers[2], 31);
}

TEST(Poscar, MalformedFilesNameFileLineAndField) {
  std::string text = kPoscar;
  text.replace(text.find("-1.595"), 6, "-1.5x5");
  std::string path = write_temp("bad_lattice.POSCAR", text);
  std::string msg = error_of<IoError>([&] { read_poscar(path); });
  EXPECT_NE(msg.find("bad_lattice.POSCAR:4: lattice vector 2: '-1.5x5'"), std::string::npos) << msg;
  text = kPoscar;
  text.replace(text.find("2 2\n"), 4, "2 1\n");
  path = write_temp("short.POSCAR", text);
  EXPECT_NO_THROW(read_poscar(path));  // 3 atoms, the 4th line ignored as VASP would
  text = kPoscar;
  text.replace(text.find("2 2\n"), 4, "2 3\n");
  path = write_temp("missing_atom.POSCAR", text);
  msg = error_of<IoError>([&] { read_poscar(path); });
  EXPECT_NE(msg.find("position of atom 5 of 5"), std::string::npos) << msg;
  text = kPoscar;
  text.replace(text.find("Direct"), 6, "Fractional");
  path = write_temp("mode.POSCAR", text);
  msg = error_of<IoError>([&] { read_poscar(path); });
  EXPECT_NE(msg.find("mode.POSCAR:8: coordinate mode"), std::string::npos) << msg;
  text = kPoscar;
  text.replace(text.find("Ga N"), 4, "Qq N");
  path = write_temp("species.POSCAR", text);
  msg = error_of<IoError>([&] { read_poscar(path); });
  EXPECT_NE(msg.find("species.POSCAR:6: species 'Qq'"), std::string::npos) << msg;
}

TEST(Supercell, PhonopysAtomOrderForDiagonalAndNonDiagonalMatrices) {
  const io::File f = io::File::open(data("reference.h5"));
  for (const auto& [tag, unit_file] : std::vector<std::pair<std::string, std::string>>{
           {"GaN_SPOSCAR_diag", "GaN_vasp5.POSCAR"},
           {"GaN_SPOSCAR_nondiag", "GaN_vasp5.POSCAR"},
           {"NaCl_SPOSCAR_cubic", "NaCl_sd_cart.POSCAR"}}) {
    SCOPED_TRACE(tag);
    const auto m = f.dataset("/" + tag + "/supercell_matrix").read_all<std::int64_t>();
    StructureOptions o;
    o.supercell_matrix = Eigen::Matrix3i();
    for (int k = 0; k < 9; ++k) (*o.supercell_matrix)(k / 3, k % 3) = static_cast<int>(m[k]);
    const IdealStructure built = read_structure(data(unit_file), o);
    expect_structure(built.supercell, reference(tag), 1e-8);
    ASSERT_TRUE(built.unit_lattice && built.supercell_matrix);
    // phonopy's SPOSCAR itself is the same supercell.
    expect_structure(read_structure(data(tag)).supercell, reference(tag), 1e-8);
  }
}

TEST(PhonopyYaml, DispYamlGivesTheSupercellAndTypeOneDisplacementsWithoutForces) {
  EXPECT_EQ(detect_structure_format(data("phonopy_disp.yaml")), StructureFormat::kPhonopyYaml);
  const PhonopyYaml y = read_phonopy_yaml(data("phonopy_disp.yaml"));
  ASSERT_TRUE(y.supercell && y.unit_cell && y.supercell_matrix);
  expect_structure(*y.supercell, reference("GaN_221"), 1e-12);
  expect_structure(*y.unit_cell, reference("GaN"), 1e-12);
  EXPECT_EQ(*y.supercell_matrix, Eigen::Vector3i(2, 2, 1).asDiagonal().toDenseMatrix());
  EXPECT_FALSE(y.primitive_matrix);
  EXPECT_EQ(y.dataset_type, 1);
  EXPECT_FALSE(y.has_forces);
  const io::File f = io::File::open(data("reference.h5"));
  const auto atoms = f.dataset("/type1/atoms").read_all<std::int64_t>();
  const auto u = f.dataset("/type1/displacements").read_all<double>();
  ASSERT_EQ(y.displaced_atoms.size(), atoms.size());
  for (std::size_t k = 0; k < atoms.size(); ++k) EXPECT_EQ(y.displaced_atoms[k], atoms[k]);
  ASSERT_EQ(y.configurations.displacements.size(), u.size());
  for (std::size_t k = 0; k < u.size(); ++k)
    EXPECT_NEAR(y.configurations.displacements[k], u[k], 1e-15);
  // As a structure: the supercell with phonopy's unit cell and matrix, and physfit's import of
  // FORCE_SETS does not need forces here (the bug of issue 10).
  const IdealStructure ideal = read_structure(data("phonopy_disp.yaml"));
  expect_structure(ideal.supercell, reference("GaN_221"), 1e-12);
  EXPECT_LT((*ideal.unit_lattice - reference("GaN").lattice).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(PhonopyYaml, ParamsGiveForcesOfBothDataSetTypesAndTheNacParameters) {
  const io::File f = io::File::open(data("reference.h5"));
  for (const std::string type : {"type1", "type2"}) {
    SCOPED_TRACE(type);
    const auto [ideal, configs] = read_phonopy_params(data("phonopy_params_" + type + ".yaml"));
    expect_structure(ideal.supercell, reference("GaN_221"), 1e-12);
    const auto u = f.dataset("/" + type + "/displacements").read_all<double>();
    const auto force = f.dataset("/" + type + "/forces").read_all<double>();
    ASSERT_EQ(configs.displacements.size(), u.size());
    ASSERT_EQ(configs.forces.size(), force.size());
    double worst = 0;
    for (std::size_t k = 0; k < u.size(); ++k) {
      worst = std::max({worst, std::abs(configs.displacements[k] - u[k]),
                        std::abs(configs.forces[k] - force[k])});
    }
    EXPECT_LT(worst, 1e-15);  // phonopy writes 16 significant digits
  }
  const PhonopyYaml y = read_phonopy_yaml(data("phonopy_params_type1.yaml"));
  ASSERT_TRUE(y.nac);
  const auto born = f.dataset("/nac/born").read_all<double>();
  ASSERT_EQ(y.nac->born.size(), 4u);
  for (int a = 0; a < 4; ++a)
    for (int k = 0; k < 9; ++k) EXPECT_NEAR(y.nac->born[a](k / 3, k % 3), born[9 * a + k], 1e-14);
  EXPECT_NEAR(y.nac->dielectric(2, 2), 5.4, 1e-14);
  ASSERT_TRUE(y.nac->factor);
  EXPECT_NEAR(*y.nac->factor, 14.399652, 1e-9);
  const std::string msg =
      error_of<IoError>([&] { read_phonopy_params(data("phonopy_disp.yaml")); });
  EXPECT_NE(msg.find("FORCE_SETS"), std::string::npos) << msg;
}

TEST(PhonopyYaml, MalformedFilesNameFileLineAndKey) {
  std::ifstream in(data("phonopy_disp.yaml"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t at = text.find("coordinates:", text.find("supercell:\n"));
  std::string bad = text;
  bad.replace(bad.find("0.", at), 2, "x.");
  const std::string path = write_temp("bad_coordinate.yaml", bad);
  std::string msg = error_of<IoError>([&] { read_structure(path); });
  const long line = std::count(text.begin(), text.begin() + static_cast<long>(at), '\n') + 1;
  EXPECT_NE(
      msg.find("bad_coordinate.yaml:" + std::to_string(line) + ": supercell.points[1].coordinates"),
      std::string::npos)
      << msg;
  bad = text;
  bad.replace(bad.find("[", at), 1, "{");
  msg = error_of<IoError>([&] { read_structure(write_temp("bad_yaml.yaml", bad)); });
  EXPECT_NE(msg.find("bad_yaml.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("YAML"), std::string::npos) << msg;
  StructureOptions o;
  o.supercell_matrix = Eigen::Matrix3i::Identity() * 3;
  msg = error_of<UsageError>([&] { read_structure(data("phonopy_disp.yaml"), o); });
  EXPECT_NE(msg.find("differs from --structure.supercell-matrix"), std::string::npos) << msg;
}

// What yaml-cpp throws becomes an IoError naming the file, the field and the value: nesting
// beyond yaml-cpp's depth limit (a damaged file must not overflow the stack), a node of another
// kind than phonopy writes, and a key that is absent (yaml-cpp has no position for it).
TEST(PhonopyYaml, YamlCppFailuresBecomeIoErrorsNamingFieldAndValue) {
  const std::string cell =
      "supercell:\n  lattice: [[5,0,0],[0,5,0],[0,0,5]]\n  points:\n"
      "  - symbol: Si\n    coordinates: [0,0,0]\n";
  std::string msg = error_of<IoError>([&] {
    read_phonopy_yaml(write_temp(
        "deep.yaml", "supercell: " + std::string(100000, '[') + std::string(100000, ']') + "\n"));
  });
  EXPECT_NE(msg.find("deep.yaml:1: not valid phonopy YAML: nested more than"), std::string::npos)
      << msg;
  msg = error_of<IoError>([&] {
    read_phonopy_params(write_temp("scalar_entry.yaml", cell + "displacements:\n- - 3\n"));
  });
  EXPECT_NE(msg.find("scalar_entry.yaml:7: displacements[1][1]: expected 'displacement' and "
                     "'force' (phonopy's type-2 data set), got '3'"),
            std::string::npos)
      << msg;
  msg = error_of<IoError>([&] {
    read_phonopy_params(write_temp("misspelt.yaml", cell +
                                                        "displacements:\n- - displacment: [0.01, "
                                                        "0, 0]\n    force: [1, 0, 0]\n"));
  });
  EXPECT_NE(msg.find("misspelt.yaml: displacements[1][1].displacement: expected a list of 3 "
                     "numbers, got nothing"),
            std::string::npos)
      << msg;
  msg = error_of<IoError>([&] {
    std::string four = cell;
    four.replace(four.find("[0,0,0]"), 7, "[0,0,0,1]");
    read_phonopy_yaml(write_temp("four.yaml", four));
  });
  EXPECT_NE(msg.find("four.yaml:5: supercell.points[1].coordinates: expected a list of 3 numbers, "
                     "got 4 values"),
            std::string::npos)
      << msg;
}

TEST(Alamode, InputGivesTheSupercellSpeciesAndMasses) {
  EXPECT_EQ(detect_structure_format(data("GaN.alamode.in")), StructureFormat::kAlamode);
  const Structure s = read_alamode_input(data("GaN.alamode.in"));
  expect_structure(s, reference("GaN_221"), 1e-12);
  std::ifstream in(data("GaN.alamode.in"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string bad = text;
  bad.replace(bad.find("NAT = 16"), 8, "NAT = 15");
  std::string msg = error_of<IoError>([&] { read_alamode_input(write_temp("nat.in", bad)); });
  EXPECT_NE(msg.find("&position has 16 atoms, NAT = 15"), std::string::npos) << msg;
  bad = text;
  bad.replace(bad.find("\n  2 "), 5, "\n  3 ");
  msg = error_of<IoError>([&] { read_alamode_input(write_temp("kind.in", bad)); });
  EXPECT_NE(msg.find("kind 3 is not in 1..2"), std::string::npos) << msg;
}

TEST(Extxyz, FirstFrameIsAStructureAndTheDetectorKnowsIt) {
  EXPECT_EQ(detect_structure_format(data("NaCl.extxyz")), StructureFormat::kExtxyz);
  const IdealStructure ideal = read_structure(data("NaCl.extxyz"));
  expect_structure(ideal.supercell, reference("NaCl_xyz"), 1e-8);
  // The first frame is the ideal structure: the configurations are the other frames.
  const Configurations c = read_extxyz(data("NaCl.extxyz"), ideal.supercell, 0.5, true);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(read_extxyz(data("NaCl.extxyz"), ideal.supercell, 0.5, false).count(), 2);
}

TEST(Species, SpglibTypesTellSpeciesApartByNameAndMass) {
  Structure s;
  s.lattice = Eigen::Matrix3d::Identity() * 3;
  for (int i = 0; i < 4; ++i) s.positions.push_back(Eigen::Vector3d(0.75 * i, 0, 0));
  s.numbers = {26, 26, 26, 26};
  s.masses = {55.845, 55.845, 55.845, 56.0};
  s.symbols = {"Fe1", "Fe2", "Fe1", "Fe1"};
  EXPECT_EQ(species_types(s), (std::vector<int>{1, 2, 1, 3}));
  s.symbols.clear();
  EXPECT_EQ(species_types(s), (std::vector<int>{1, 1, 1, 2}));
  EXPECT_EQ(s.symbol(0), "Fe");
}

TEST(Hdf5, SymbolsAreStoredAsStringsAndOldFilesReadWithout) {
  IdealStructure ideal = read_structure(data("GaN_SPOSCAR_diag"));
  ideal.supercell.symbols[0] = "Ga1";
  const std::string path = write_temp("symbols.h5", "");
  {
    io::File f = io::File::create(path);
    write_dataset_hdf5(f, ideal, Configurations{});
    f.close();
  }
  EXPECT_EQ(detect_structure_format(path), StructureFormat::kHdf5);
  const IdealStructure back = read_structure(path);
  ASSERT_EQ(back.supercell.symbols.size(), 16u);
  EXPECT_EQ(back.supercell.symbols[0], "Ga1");
  EXPECT_EQ(back.supercell.symbols[15], "N");
  EXPECT_EQ(io::File::open(path).dataset("/structure/symbols").dtype(), "string");
  {
    // A file written before species names: no /structure/symbols.
    io::File f = io::File::create(path);
    Structure s = ideal.supercell;
    const std::int64_t n = s.size();
    std::vector<double> l(9), p;
    for (int k = 0; k < 9; ++k) l[k] = s.lattice(k / 3, k % 3);
    for (const auto& v : s.positions) p.insert(p.end(), v.data(), v.data() + 3);
    f.create_dataset<double>("/structure/lattice", {3, 3}, "dimensionless").write_all(l);
    f.create_dataset<double>("/structure/positions", {n, 3}, "dimensionless").write_all(p);
    f.create_dataset<std::int32_t>("/structure/numbers", {n}, "dimensionless")
        .write_all(std::vector<std::int32_t>(s.numbers.begin(), s.numbers.end()));
    f.create_dataset<double>("/structure/masses", {n}, "dimensionless").write_all(s.masses);
    f.close();
  }
  const IdealStructure old = read_structure_hdf5(path);
  EXPECT_EQ(old.supercell.symbols[0], "Ga");
  EXPECT_EQ(old.supercell.symbols[15], "N");
}

TEST(Options, MatricesParseAsPhonopyWritesThem) {
  EXPECT_EQ(supercell_matrix_from({2, 2, 1}, "x"),
            Eigen::Vector3i(2, 2, 1).asDiagonal().toDenseMatrix());
  Eigen::Matrix3i m;
  m << -1, 1, 1, 1, -1, 1, 1, 1, -1;
  EXPECT_EQ(supercell_matrix_from({-1, 1, 1, 1, -1, 1, 1, 1, -1}, "x"), m);
  EXPECT_NE(error_of<UsageError>([] {
              supercell_matrix_from({2, 2}, "--structure.supercell-matrix");
            }).find("--structure.supercell-matrix: give 3"),
            std::string::npos);
  const auto f = primitive_matrix_from("F", "x");
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)(0, 1), 0.5);
  const auto g = primitive_matrix_from("0 1/2 1/2 1/2 0 1/2 1/2 1/2 0", "x");
  ASSERT_TRUE(g);
  EXPECT_EQ(*f, *g);
  EXPECT_FALSE(primitive_matrix_from("auto", "x"));
  EXPECT_NE(error_of<UsageError>([] {
              primitive_matrix_from("1 2 3", "--structure.primitive-matrix");
            }).find("--structure.primitive-matrix: give 9"),
            std::string::npos);
}

TEST(Masses, OptionOverridesByNameAndAnUnknownNameIsAnError) {
  StructureOptions o;
  o.masses = {{"N", 15.0001}};
  const Structure s = read_poscar(data("GaN_vasp5.POSCAR"), o);
  EXPECT_EQ(s.masses[0], standard_atomic_weight(31));
  EXPECT_EQ(s.masses[3], 15.0001);
  o.masses = {{"Gq", 70.0}};
  const std::string msg = error_of<UsageError>([&] { read_poscar(data("GaN_vasp5.POSCAR"), o); });
  EXPECT_NE(
      msg.find("--structure.masses names 'Gq', which is not a species of the structure (Ga, N)"),
      std::string::npos)
      << msg;
  // Elements without a standard weight need a mass.
  Structure po;
  po.positions = {Eigen::Vector3d::Zero()};
  po.numbers = {84};
  EXPECT_NE(
      error_of<UsageError>([&] { assign_masses(po, {}, "po"); }).find("--structure.masses Po="),
      std::string::npos);
  assign_masses(po, {{"Po", 209.0}}, "po");
  EXPECT_EQ(po.masses[0], 209.0);
}
