#include "physfit/fc/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/fc/elements.hpp"
#include "physfit/fc/structure_io.hpp"
#include "physfit/fc/units.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::fc {
namespace {

std::ifstream open_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open '" + path + "' for reading");
  return in;
}

std::string where_line(const std::string& path, long line) {
  return path + ":" + std::to_string(line);
}

// Parses every whitespace-separated token of `text` as a double; IoError at `where` otherwise.
std::vector<double> parse_numbers(const std::string& text, const std::string& where) {
  std::vector<double> out;
  std::istringstream s(text);
  std::string token;
  while (s >> token) {
    char* end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (end == token.c_str() || *end != '\0') {
      throw IoError(where + ": '" + util::printable(token) + "' is not a number");
    }
    if (!std::isfinite(v))
      throw IoError(where + ": value '" + util::printable(token) + "' is not finite");
    out.push_back(v);
  }
  return out;
}

// A count or index read from a text file as a number: IoError naming `where` and `what`
// unless it is a whole number in [lo, hi] (a cast of anything else is undefined).
long whole_number(double v, long lo, long hi, const std::string& where, const std::string& what) {
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v)) {
    std::ostringstream text;
    text << where << ": " << what << " must be a whole number from " << lo << " to " << hi
         << ", got " << v;
    throw IoError(text.str());
  }
  return static_cast<long>(v);
}

Eigen::Matrix3d read_matrix3(const io::File& f, const std::string& name) {
  const io::Dataset d = f.dataset(name);
  d.require_shape({3, 3});
  const auto v = d.read_all<double>();
  Eigen::Matrix3d m;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) m(a, b) = v[3 * a + b];
  if (!m.allFinite()) throw IoError(f.path() + ": " + name + " has a non-finite value");
  return m;
}

void write_matrix3(const io::File& f, const std::string& name, const Eigen::Matrix3d& m,
                   const std::string& unit) {
  std::vector<double> v(9);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) v[3 * a + b] = m(a, b);
  const auto d = f.create_dataset<double>(name, {3, 3}, unit);
  d.write_all(v);
}

}  // namespace

Eigen::Matrix3d IdealStructure::resolve_primitive_lattice(double symprec) const {
  if (primitive_lattice) return *primitive_lattice;
  if (unit_lattice && primitive_matrix) return primitive_matrix->transpose() * *unit_lattice;
  return Crystal::find_primitive_lattice(supercell, symprec);
}

void Configurations::add(const std::vector<double>& u, const std::vector<double>& f,
                         double energy) {
  displacements.insert(displacements.end(), u.begin(), u.end());
  forces.insert(forces.end(), f.begin(), f.end());
  energies.push_back(energy);
  total = first + count();
}

void Configurations::validate(const std::string& where) const {
  const std::int64_t n = count();
  for (std::int64_t c = 0; c < n; ++c) {
    for (int i = 0; i < num_atoms; ++i) {
      for (int a = 0; a < 3; ++a) {
        const std::size_t k = (c * num_atoms + i) * 3 + a;
        if (!std::isfinite(displacements[k]) || !std::isfinite(forces[k])) {
          throw IoError(where + ": configuration " + std::to_string(first + c + 1) + ", atom " +
                        std::to_string(i + 1) + ": displacement or force is not finite");
        }
      }
    }
  }
}

IdealStructure read_structure_hdf5(const std::string& path) {
  const io::File f = io::File::open(path);
  IdealStructure out;
  Structure& s = out.supercell;
  s.lattice = read_matrix3(f, "/structure/lattice");
  const io::Dataset pos = f.dataset("/structure/positions");
  pos.require_shape({-1, 3});
  const std::int64_t n = pos.rows();
  const auto p = pos.read_all<double>();
  for (std::int64_t i = 0; i < n; ++i)
    s.positions.emplace_back(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
  const io::Dataset num = f.dataset("/structure/numbers");
  num.require_shape({n});
  if (num.dtype().rfind("float", 0) == 0) {  // HDF5 would truncate 11.5 to 11
    throw IoError(path + ": /structure/numbers has type " + num.dtype() +
                  "; atomic numbers must be integers (int32)");
  }
  for (auto z : num.read_all<std::int64_t>()) {
    if (element_symbol(z >= 1 && z <= 1000 ? static_cast<int>(z) : 0).empty()) {
      throw IoError(path + ": /structure/numbers, atom " + std::to_string(s.numbers.size() + 1) +
                    ": atomic number " + std::to_string(z) +
                    " is not an element (1 H to 118 Og); write the file with 'physfit import' "
                    "or fix the number");
    }
    s.numbers.push_back(static_cast<int>(z));
  }
  const io::Dataset mass = f.dataset("/structure/masses");
  mass.require_shape({n});
  s.masses = mass.read_all<double>();
  if (f.exists("/structure/symbols")) {
    const io::Dataset sym = f.dataset("/structure/symbols");
    sym.require_shape({n});
    s.symbols = sym.read_strings();
  }
  s.fill_symbols();  // files written before species names: the element symbols
  s.validate(path + ": /structure");
  if (f.exists("/structure/primitive_lattice")) {
    out.primitive_lattice = read_matrix3(f, "/structure/primitive_lattice");
  }
  if (f.exists("/structure/unit_lattice")) {
    out.unit_lattice = read_matrix3(f, "/structure/unit_lattice");
  }
  if (f.exists("/structure/primitive_matrix")) {
    out.primitive_matrix = read_matrix3(f, "/structure/primitive_matrix");
  }
  if (f.exists("/structure/supercell_matrix")) {
    const Eigen::Matrix3d m = read_matrix3(f, "/structure/supercell_matrix");
    Eigen::Matrix3i mi;
    if (!integer_matrix(m, 1e-8, mi)) {
      std::ostringstream text;
      text << path << ": /structure/supercell_matrix: expected integers of at most 2^20, got\n"
           << m;
      throw IoError(text.str());
    }
    out.supercell_matrix = mi;
  }
  if (out.primitive_matrix && !out.unit_lattice && !out.primitive_lattice) {
    throw IoError(path +
                  ": /structure/primitive_matrix needs /structure/unit_lattice (phonopy's "
                  "primitive matrix is relative to the unit cell)");
  }
  return out;
}

Configurations read_configurations_hdf5(const mpi::Comm& comm, const std::string& path,
                                        int num_atoms, std::int64_t begin, std::int64_t end) {
  io::File f = io::File::open(comm, path);
  const io::Dataset u = f.dataset("/configs/displacements");
  const io::Dataset force = f.dataset("/configs/forces");
  u.require_shape({-1, num_atoms, 3});
  force.require_shape({u.rows(), num_atoms, 3});
  Configurations c;
  c.num_atoms = num_atoms;
  c.total = u.rows();
  if (c.total == 0) {
    throw IoError("dataset '/configs/displacements' in '" + path +
                  "' holds no configurations: import displaced supercells and their forces "
                  "(physfit import)");
  }
  if (end < 0) end = c.total;
  if (begin < 0 || begin > end || end > c.total) {
    throw UsageError("configurations [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") asked of '" + path + "', which has " + std::to_string(c.total));
  }
  util::Block b = util::block_of(end - begin, comm.size(), comm.rank());
  b.begin += begin;
  c.first = b.begin;
  c.displacements = u.read_rows<double>(b.begin, b.count);
  c.forces = force.read_rows<double>(b.begin, b.count);
  if (f.exists("/configs/energies")) {
    const io::Dataset e = f.dataset("/configs/energies");
    e.require_shape({c.total});
    c.energies = e.read_rows<double>(b.begin, b.count);
  }
  f.close();
  return c;
}

void write_dataset_hdf5(const io::File& f, const IdealStructure& ideal,
                        const Configurations& configs) {
  const Structure& s = ideal.supercell;
  const std::int64_t n = s.size();
  write_matrix3(f, "/structure/lattice", s.lattice, "angstrom");
  std::vector<double> pos;
  for (const auto& p : s.positions) pos.insert(pos.end(), p.data(), p.data() + 3);
  auto d = f.create_dataset<double>("/structure/positions", {n, 3}, "angstrom");
  d.write_all(pos);
  std::vector<std::int32_t> numbers(s.numbers.begin(), s.numbers.end());
  f.create_dataset<std::int32_t>("/structure/numbers", {n}, "dimensionless").write_all(numbers);
  d = f.create_dataset<double>("/structure/masses", {n}, "amu");
  d.write_all(s.masses);
  std::vector<std::string> symbols(n);
  for (std::int64_t i = 0; i < n; ++i) symbols[i] = s.symbol(static_cast<int>(i));
  f.write_strings("/structure/symbols", symbols);
  if (ideal.primitive_lattice) {
    write_matrix3(f, "/structure/primitive_lattice", *ideal.primitive_lattice, "angstrom");
  }
  if (ideal.unit_lattice)
    write_matrix3(f, "/structure/unit_lattice", *ideal.unit_lattice, "angstrom");
  if (ideal.primitive_matrix) {
    write_matrix3(f, "/structure/primitive_matrix", *ideal.primitive_matrix, "dimensionless");
  }
  if (ideal.supercell_matrix) {
    std::vector<std::int32_t> m(9);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) m[3 * a + b] = (*ideal.supercell_matrix)(a, b);
    f.create_dataset<std::int32_t>("/structure/supercell_matrix", {3, 3}, "dimensionless")
        .write_all(m);
  }
  const std::int64_t count = configs.count();
  if (count == 0) return;
  d = f.create_dataset<double>("/configs/displacements", {count, n, 3}, "angstrom");
  d.write_all(configs.displacements);
  d = f.create_dataset<double>("/configs/forces", {count, n, 3}, "eV/angstrom");
  d.write_all(configs.forces);
  const bool have_energies = std::all_of(configs.energies.begin(), configs.energies.end(),
                                         [](double e) { return std::isfinite(e); });
  if (have_energies && static_cast<std::int64_t>(configs.energies.size()) == count) {
    d = f.create_dataset<double>("/configs/energies", {count}, "eV");
    d.write_all(configs.energies);
  }
}

std::vector<int> map_to_ideal(const Structure& ideal, const std::vector<Eigen::Vector3d>& positions,
                              const std::vector<int>& numbers, double tolerance,
                              const std::string& where, std::vector<double>& displacements) {
  const int n = ideal.size();
  if (static_cast<int>(positions.size()) != n) {
    // The structure does not fit the data (a unit cell without --structure.supercell-matrix):
    // usage.
    throw UsageError(where + ": " + std::to_string(positions.size()) +
                     " atoms, but the ideal supercell has " + std::to_string(n));
  }
  const Eigen::Matrix3d lt = ideal.lattice.transpose();
  const Eigen::Matrix3d lt_inv = lt.inverse();
  std::vector<int> site_atom(n, -1);
  displacements.assign(3 * n, 0.0);
  for (int a = 0; a < n; ++a) {
    int best = -1;
    double best_d = std::numeric_limits<double>::infinity();
    Eigen::Vector3d best_v = Eigen::Vector3d::Zero();
    for (int i = 0; i < n; ++i) {
      Eigen::Vector3d f = lt_inv * (positions[a] - ideal.positions[i]);
      for (int k = 0; k < 3; ++k) f[k] -= std::round(f[k]);
      const Eigen::Vector3d v = lt * f;
      const double d = v.norm();
      if (d < best_d) {
        best_d = d;
        best = i;
        best_v = v;
      }
    }
    std::ostringstream atom;
    atom << where << ", atom " << a + 1;
    if (best_d > tolerance) {
      throw IoError(atom.str() + ": the nearest site of the ideal supercell (site " +
                    std::to_string(best + 1) + ") is " + std::to_string(best_d) +
                    " Angstrom away, beyond the mapping tolerance " + std::to_string(tolerance) +
                    " Angstrom (wrong structure, or raise the tolerance)");
    }
    if (numbers[a] != ideal.numbers[best]) {
      throw IoError(atom.str() + " (Z = " + std::to_string(numbers[a]) + ") is nearest to site " +
                    std::to_string(best + 1) +
                    " of element Z = " + std::to_string(ideal.numbers[best]));
    }
    if (site_atom[best] >= 0) {
      throw IoError(atom.str() + " and atom " + std::to_string(site_atom[best] + 1) +
                    " both map to site " + std::to_string(best + 1) +
                    " of the ideal supercell (lower the tolerance, or check the structure)");
    }
    site_atom[best] = a;
    for (int k = 0; k < 3; ++k) displacements[3 * best + k] = best_v[k];
  }
  return site_atom;
}

namespace {

// One frame of an extended XYZ file.
struct XyzFrame {
  std::string where;  // "path: configuration k (line l)"
  Eigen::Matrix3d lattice;
  std::vector<std::string> species;
  std::vector<Eigen::Vector3d> positions, forces;
  std::vector<double> masses;  // empty unless the file has a masses column
  double energy = std::numeric_limits<double>::quiet_NaN();
};

// Reads the next frame of `in` into `out`; false at the end of the file. Forces are required
// when `need_forces`.
bool next_xyz_frame(std::ifstream& in, const std::string& path, long& line_no, int& frame,
                    bool need_forces, XyzFrame& out) {
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (!util::trim(line).empty()) break;
  }
  if (!in && util::trim(line).empty()) return false;
  ++frame;
  out.where =
      path + ": configuration " + std::to_string(frame) + " (line " + std::to_string(line_no) + ")";
  const auto count_v = parse_numbers(line, where_line(path, line_no));
  if (count_v.size() != 1) {
    throw IoError(where_line(path, line_no) + ": expected the number of atoms, got '" + line + "'");
  }
  const int n = static_cast<int>(whole_number(count_v[0], 1, std::numeric_limits<int>::max(),
                                              where_line(path, line_no), "the number of atoms"));
  if (!std::getline(in, line)) throw IoError(where_line(path, line_no) + ": missing comment line");
  ++line_no;
  // key=value pairs, values possibly in double quotes.
  std::map<std::string, std::string> kv;
  for (std::size_t i = 0; i < line.size();) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const std::size_t k0 = i;
    while (i < line.size() && line[i] != '=' && !std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    std::string key = line.substr(k0, i - k0);
    std::string value;
    if (i < line.size() && line[i] == '=') {
      ++i;
      if (i < line.size() && line[i] == '"') {
        const std::size_t close = line.find('"', i + 1);
        if (close == std::string::npos) {
          throw IoError(where_line(path, line_no) + ": unterminated quote after '" + key + "='");
        }
        value = line.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        const std::size_t v0 = i;
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        value = line.substr(v0, i - v0);
      }
    }
    if (!key.empty()) kv[util::to_lower(key)] = value;
  }
  if (!kv.count("lattice")) throw IoError(where_line(path, line_no) + ": no Lattice=\"...\"");
  const auto lat = parse_numbers(kv["lattice"], where_line(path, line_no) + ": Lattice");
  if (lat.size() != 9) throw IoError(where_line(path, line_no) + ": Lattice needs 9 numbers");
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) out.lattice(a, b) = lat[3 * a + b];
  // Properties=name:type:cols:...
  const auto props =
      util::split(kv.count("properties") ? kv["properties"] : "species:S:1:pos:R:3", ':');
  int col = 0, species_col = -1, pos_col = -1, force_col = -1, mass_col = -1;
  for (std::size_t k = 0; k + 2 < props.size(); k += 3) {
    const std::string name = util::to_lower(props[k]);
    // Columns of each property: a small positive number; species and masses take 1, pos and
    // forces 3 (a file that says otherwise would be read out of its columns).
    char* end = nullptr;
    const long cols = std::strtol(props[k + 2].c_str(), &end, 10);
    const int expected = name == "species" || name == "masses" || name == "mass" ? 1
                         : name == "pos" || name == "forces" || name == "force"  ? 3
                                                                                 : 0;
    if (end == props[k + 2].c_str() || *end != '\0' || cols < 1 || cols > 1000 ||
        (expected > 0 && cols != expected)) {
      throw IoError(where_line(path, line_no) + ": Properties: '" + props[k] + "' has '" +
                    props[k + 2] + "' columns, expected " +
                    (expected > 0 ? std::to_string(expected) : std::string("1 to 1000")));
    }
    if (name == "species") species_col = col;
    if (name == "pos") pos_col = col;
    if (name == "forces" || name == "force") force_col = col;
    if (name == "masses" || name == "mass") mass_col = col;
    col += cols;
  }
  const int width = col;
  if (species_col < 0 || pos_col < 0 || (need_forces && force_col < 0)) {
    throw IoError(where_line(path, line_no) + ": Properties must name species, pos" +
                  (need_forces ? " and forces" : "") + " columns");
  }
  out.energy = std::numeric_limits<double>::quiet_NaN();
  if (kv.count("energy")) {
    const auto e = parse_numbers(kv["energy"], where_line(path, line_no) + ": energy");
    if (e.size() != 1) {
      throw IoError(where_line(path, line_no) + ": energy='" + kv["energy"] +
                    "' is not one number");
    }
    out.energy = e[0];
  }
  // Nothing is allocated from the count alone (a damaged count line could promise 2^31
  // atoms): each atom is appended when its line has been read.
  out.species.clear();
  out.positions.clear();
  out.forces.clear();
  out.masses.clear();
  for (int a = 0; a < n; ++a) {
    if (!std::getline(in, line)) {
      throw IoError(out.where + ": the file ends after " + std::to_string(a) + " of " +
                    std::to_string(n) + " atoms");
    }
    ++line_no;
    std::istringstream s(line);
    std::vector<std::string> tokens;
    for (std::string t; s >> t;) tokens.push_back(t);
    if (static_cast<int>(tokens.size()) != width) {
      throw IoError(where_line(path, line_no) + ": " + std::to_string(tokens.size()) +
                    " columns, Properties declares " + std::to_string(width));
    }
    out.species.push_back(tokens[species_col]);
    std::string text;
    for (int k = 0; k < 3; ++k) text += tokens[pos_col + k] + " ";
    if (force_col >= 0) {
      for (int k = 0; k < 3; ++k) text += tokens[force_col + k] + " ";
    }
    if (mass_col >= 0) text += tokens[mass_col];
    const auto v = parse_numbers(text, where_line(path, line_no));
    out.positions.emplace_back(v[0], v[1], v[2]);
    if (force_col >= 0) out.forces.emplace_back(v[3], v[4], v[5]);
    if (mass_col >= 0) out.masses.push_back(v.back());
  }
  return true;
}

}  // namespace

Structure read_extxyz_structure(const std::string& path) {
  std::ifstream in = open_text(path);
  long line_no = 0;
  int frame = 0;
  XyzFrame f;
  if (!next_xyz_frame(in, path, line_no, frame, false, f)) {
    throw IoError(path + ": no frame (extended XYZ)");
  }
  Structure s;
  s.lattice = f.lattice;
  s.positions = f.positions;
  s.symbols = f.species;
  for (const auto& name : f.species) {
    const int z = element_of_label(name);
    if (z == 0) throw IoError(f.where + ": species '" + name + "' is not an element symbol");
    s.numbers.push_back(z);
  }
  s.masses = f.masses;
  assign_masses(s, {}, path);
  s.validate(f.where);
  return s;
}

Configurations read_extxyz(const std::string& path, const Structure& ideal, double tolerance,
                           bool skip_first) {
  std::ifstream in = open_text(path);
  Configurations out;
  out.num_atoms = ideal.size();
  long line_no = 0;
  int frame = 0;
  XyzFrame f;
  while (next_xyz_frame(in, path, line_no, frame, true, f)) {
    if (skip_first && frame == 1) continue;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        if (std::abs(f.lattice(a, b) - ideal.lattice(a, b)) > 1e-4) {
          // The structure does not fit the data (a unit cell without --structure.supercell-matrix).
          throw UsageError(f.where + ": its lattice differs from the ideal supercell's (" +
                           std::to_string(f.lattice(a, b)) + " vs " +
                           std::to_string(ideal.lattice(a, b)) + " Angstrom)");
        }
      }
    std::vector<int> numbers;
    for (const auto& name : f.species) {
      numbers.push_back(element_of_label(name));
      if (numbers.back() == 0) {
        throw IoError(f.where + ": unknown element '" + name + "'");
      }
    }
    std::vector<double> u;
    const auto site_atom = map_to_ideal(ideal, f.positions, numbers, tolerance, f.where, u);
    std::vector<double> force(3 * out.num_atoms);
    for (int i = 0; i < out.num_atoms; ++i)
      for (int k = 0; k < 3; ++k) force[3 * i + k] = f.forces[site_atom[i]][k];
    out.add(u, force, f.energy);
  }
  if (out.count() == 0) throw IoError(path + ": no configurations");
  return out;
}

Configurations read_dfset(const std::string& path, const Structure& ideal, DfsetUnits units) {
  std::ifstream in = open_text(path);
  const double ul = units == DfsetUnits::kRydbergBohr ? units::kBohr : 1.0;
  const double uf = units == DfsetUnits::kRydbergBohr ? units::kRyPerBohr : 1.0;
  Configurations out;
  const int n = ideal.size();
  out.num_atoms = n;
  std::vector<double> u, f;
  std::string line;
  long line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string t = util::trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto v = parse_numbers(t, where_line(path, line_no));
    if (v.size() != 6) {
      throw IoError(where_line(path, line_no) + ": expected 6 numbers (ux uy uz fx fy fz), got " +
                    std::to_string(v.size()));
    }
    for (int k = 0; k < 3; ++k) {
      u.push_back(v[k] * ul);
      f.push_back(v[3 + k] * uf);
    }
    if (static_cast<int>(u.size()) == 3 * n) {
      out.add(u, f, std::numeric_limits<double>::quiet_NaN());
      u.clear();
      f.clear();
    }
  }
  if (!u.empty()) {
    throw IoError(path + ": the data lines are not a multiple of the " + std::to_string(n) +
                  " atoms of the structure (the last configuration has " +
                  std::to_string(u.size() / 3) + " lines)");
  }
  if (out.count() == 0) throw IoError(path + ": no configurations");
  out.energies.clear();
  return out;
}

Configurations read_force_sets(const std::string& path, const Structure& ideal) {
  std::ifstream in = open_text(path);
  std::vector<std::pair<long, std::string>> lines;
  std::string line;
  for (long k = 1; std::getline(in, line); ++k) {
    const std::string t = util::trim(line);
    if (!t.empty() && t[0] != '#') lines.emplace_back(k, t);
  }
  const int n = ideal.size();
  Configurations out;
  out.num_atoms = n;
  if (lines.empty()) throw IoError(path + ": empty file");
  const auto first = parse_numbers(lines[0].second, where_line(path, lines[0].first));
  if (first.size() == 1) {
    // Type 1: natom, ndisp, then per displacement: atom, displacement, natom forces.
    const long natom = whole_number(first[0], 1, std::numeric_limits<int>::max(),
                                    where_line(path, lines[0].first), "the number of atoms");
    if (natom != n) {
      // A structure that does not fit the data file (usually a unit cell given without
      // --structure.supercell-matrix): fixed by the options, hence a usage error.
      throw UsageError(where_line(path, lines[0].first) + ": " + std::to_string(natom) +
                       " atoms, but the structure has " + std::to_string(n));
    }
    if (lines.size() < 2) throw IoError(path + ": missing the number of displacements");
    const auto ndisp_v = parse_numbers(lines[1].second, where_line(path, lines[1].first));
    if (ndisp_v.size() != 1) {
      throw IoError(where_line(path, lines[1].first) + ": expected the number of displacements");
    }
    const long ndisp =
        whole_number(ndisp_v[0], 0, std::numeric_limits<int>::max(),
                     where_line(path, lines[1].first), "the number of displacements");
    std::size_t k = 2;
    for (long d = 0; d < ndisp; ++d) {
      if (k + 2 + n > lines.size() + 0) {
        throw IoError(path + ": displacement " + std::to_string(d + 1) + " of " +
                      std::to_string(ndisp) + " is incomplete");
      }
      const auto atom_v = parse_numbers(lines[k].second, where_line(path, lines[k].first));
      if (atom_v.size() != 1) {
        throw IoError(where_line(path, lines[k].first) + ": expected the displaced atom's number");
      }
      const int atom =
          static_cast<int>(whole_number(atom_v[0], 1, n, where_line(path, lines[k].first),
                                        "the displaced atom's number")) -
          1;
      const auto disp = parse_numbers(lines[k + 1].second, where_line(path, lines[k + 1].first));
      if (disp.size() != 3)
        throw IoError(where_line(path, lines[k + 1].first) + ": expected 3 numbers");
      std::vector<double> u(3 * n, 0.0), f;
      for (int a = 0; a < 3; ++a) u[3 * atom + a] = disp[a];
      for (int i = 0; i < n; ++i) {
        const auto fv =
            parse_numbers(lines[k + 2 + i].second, where_line(path, lines[k + 2 + i].first));
        if (fv.size() != 3) {
          throw IoError(where_line(path, lines[k + 2 + i].first) + ": expected 3 force components");
        }
        f.insert(f.end(), fv.begin(), fv.end());
      }
      out.add(u, f, std::numeric_limits<double>::quiet_NaN());
      k += 2 + n;
    }
  } else {
    // Type 2: lines "ux uy uz fx fy fz", natom per configuration.
    if (lines.size() % n != 0) {
      throw IoError(path + ": " + std::to_string(lines.size()) +
                    " data lines are not a multiple of the " + std::to_string(n) + " atoms");
    }
    for (std::size_t c = 0; c < lines.size() / n; ++c) {
      std::vector<double> u, f;
      for (int i = 0; i < n; ++i) {
        const auto& l = lines[c * n + i];
        const auto v = parse_numbers(l.second, where_line(path, l.first));
        if (v.size() != 6) throw IoError(where_line(path, l.first) + ": expected 6 numbers");
        u.insert(u.end(), v.begin(), v.begin() + 3);
        f.insert(f.end(), v.begin() + 3, v.end());
      }
      out.add(u, f, std::numeric_limits<double>::quiet_NaN());
    }
  }
  out.energies.clear();
  return out;
}

std::pair<IdealStructure, Configurations> read_phonopy_params(const std::string& path) {
  PhonopyYaml y = read_phonopy_yaml(path);
  IdealStructure ideal = read_structure(path);
  if (y.dataset_type == 0) {
    throw IoError(path + ": no 'displacements' (was it saved without the data set?)");
  }
  if (!y.has_forces) {
    throw IoError(path +
                  ": the displacements have no forces: give the forces as FORCE_SETS "
                  "(physfit import force-sets --input.file FORCE_SETS --structure.file " +
                  path + ")");
  }
  return {ideal, y.configurations};
}

}  // namespace physfit::fc
