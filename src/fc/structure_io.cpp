#include "physfit/fc/structure_io.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/fc/elements.hpp"
#include "physfit/fc/units.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::fc {
namespace {

std::string at_line(const std::string& path, long line) {
  return path + ":" + std::to_string(line);
}

std::vector<std::string> tokens_of(const std::string& text) {
  std::istringstream s(text);
  std::vector<std::string> out;
  for (std::string t; s >> t;) out.push_back(t);
  return out;
}

// A finite number, or nullopt.
std::optional<double> to_number(const std::string& token) {
  if (token.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

double number_at(const std::string& token, const std::string& where, const std::string& field) {
  const auto v = to_number(token);
  if (!v) throw IoError(where + ": " + field + ": '" + token + "' is not a finite number");
  return *v;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open '" + path + "' for reading");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(l);
  }
  return lines;
}

Eigen::Vector3d wrap01(Eigen::Vector3d f) {
  for (int k = 0; k < 3; ++k) f[k] -= std::floor(f[k]);
  return f;
}

// Species of every atom from a name per species and a count per species.
void set_species(Structure& s, const std::vector<std::string>& names,
                 const std::vector<int>& counts, const std::string& where) {
  s.symbols.clear();
  s.numbers.clear();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const int z = element_of_label(names[k]);
    if (z == 0) {
      throw IoError(where + ": species '" + names[k] +
                    "' does not start with an element symbol (write e.g. 'Fe' or 'Fe1')");
    }
    for (int c = 0; c < counts[k]; ++c) {
      s.symbols.push_back(names[k]);
      s.numbers.push_back(z);
    }
  }
  s.masses.assign(s.symbols.size(), 0.0);
}

// Fractions such as "1/2" or "-1/3", or plain numbers.
std::optional<double> fraction(const std::string& token) {
  const auto slash = token.find('/');
  if (slash == std::string::npos) return to_number(token);
  const auto a = to_number(token.substr(0, slash)), b = to_number(token.substr(slash + 1));
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

// ------------------------------------------------------------------------------ YAML helpers

std::string yaml_where(const std::string& path, const YAML::Node& node) {
  if (!node.IsDefined()) return path;  // an absent key has no position (Mark() would throw)
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return path;
  return at_line(path, m.line + 1);
}

// What a node holds, for a message: "4 values", "'abc'", "a mapping", "nothing".
std::string yaml_got(const YAML::Node& n) {
  if (!n || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "'" + util::printable(n.Scalar()) + "'";
  if (n.IsMap()) return "a mapping";
  return std::to_string(n.size()) + (n.size() == 1 ? " value" : " values");
}

double yaml_number(const YAML::Node& n, const std::string& path, const std::string& field) {
  if (!n || !n.IsScalar()) {
    throw IoError(yaml_where(path, n) + ": " + field + ": expected a number, got " + yaml_got(n));
  }
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    throw IoError(yaml_where(path, n) + ": " + field + ": '" + n.Scalar() + "' is not a number");
  }
  if (!std::isfinite(v)) {
    throw IoError(yaml_where(path, n) + ": " + field + ": '" + n.Scalar() + "' is not finite");
  }
  return v;
}

Eigen::Vector3d yaml_vector3(const YAML::Node& n, const std::string& path,
                             const std::string& field) {
  if (!n || !n.IsSequence() || n.size() != 3) {
    throw IoError(yaml_where(path, n) + ": " + field + ": expected a list of 3 numbers, got " +
                  yaml_got(n));
  }
  Eigen::Vector3d v;
  for (int k = 0; k < 3; ++k) v[k] = yaml_number(n[k], path, field);
  return v;
}

Eigen::Matrix3d yaml_matrix3(const YAML::Node& n, const std::string& path,
                             const std::string& field) {
  if (!n || !n.IsSequence() || n.size() != 3) {
    throw IoError(yaml_where(path, n) + ": " + field + ": expected 3 rows of 3 numbers, got " +
                  yaml_got(n));
  }
  Eigen::Matrix3d m;
  for (int r = 0; r < 3; ++r) m.row(r) = yaml_vector3(n[r], path, field).transpose();
  return m;
}

// A phonopy cell: lattice (rows) and points (symbol, coordinates, mass); positions Cartesian.
Structure yaml_cell(const YAML::Node& cell, const std::string& path, const std::string& name) {
  if (!cell.IsMap()) throw IoError(yaml_where(path, cell) + ": " + name + ": expected a mapping");
  Structure s;
  if (!cell["lattice"]) throw IoError(yaml_where(path, cell) + ": " + name + ": no 'lattice'");
  s.lattice = yaml_matrix3(cell["lattice"], path, name + ".lattice");
  const YAML::Node points = cell["points"] ? cell["points"] : cell["atoms"];
  if (!points || !points.IsSequence() || points.size() == 0) {
    throw IoError(yaml_where(path, cell) + ": " + name + ": no 'points' (the atoms)");
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    const YAML::Node p = points[i];
    const std::string field = name + ".points[" + std::to_string(i + 1) + "]";
    if (!p.IsMap() || !p["symbol"]) {
      throw IoError(yaml_where(path, p) + ": " + field + ": no 'symbol'");
    }
    const std::string symbol = p["symbol"].Scalar();
    const int z = element_of_label(symbol);
    if (z == 0) {
      throw IoError(yaml_where(path, p["symbol"]) + ": " + field + ".symbol: '" + symbol +
                    "' is not an element symbol");
    }
    const YAML::Node c = p["coordinates"] ? p["coordinates"] : p["position"];
    const Eigen::Vector3d f = yaml_vector3(c, path, field + ".coordinates");
    s.positions.push_back(s.lattice.transpose() * f);
    s.symbols.push_back(symbol);
    s.numbers.push_back(z);
    s.masses.push_back(p["mass"] ? yaml_number(p["mass"], path, field + ".mass") : 0.0);
    if (p["mass"] && !(s.masses.back() > 0)) {
      throw IoError(yaml_where(path, p["mass"]) + ": " + field + ".mass: " + p["mass"].Scalar() +
                    " is not a positive mass (atomic mass units)");
    }
  }
  return s;
}

// "path:line" of a yaml-cpp mark, or the path alone when the mark has no position.
std::string mark_where(const std::string& path, const YAML::Mark& m) {
  return m.line < 0 ? path : at_line(path, m.line + 1);
}

// The whole file parsed by yaml-cpp. Every failure is an IoError naming the file (and the line
// where yaml-cpp stopped): invalid YAML, nesting deeper than yaml-cpp's limit (its DepthGuard,
// 500 levels in Debian's 0.7, which keeps a damaged file from overflowing the stack), or a file
// too large for the memory.
YAML::Node load_yaml(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open '" + path + "' for reading");
  try {
    return YAML::Load(in);
  } catch (const YAML::DeepRecursion& e) {
    throw IoError(mark_where(path, e.mark) + ": not valid phonopy YAML: nested more than " +
                  std::to_string(e.depth() - 1) +
                  " levels deep (phonopy writes at most 4; is the file damaged?)");
  } catch (const YAML::Exception& e) {
    throw IoError(mark_where(path, e.mark) + ": not valid YAML: " + e.msg);
  } catch (const std::bad_alloc&) {
    in.clear();
    in.seekg(0, std::ios::end);
    throw IoError(path + ": the YAML file (" + std::to_string(static_cast<long long>(in.tellg())) +
                  " bytes) does not fit in memory once parsed; split the data set or use a "
                  "node with more memory");
  }
}

bool same_site(const Structure& a, int i, const Structure& b, int j, double tol) {
  Eigen::Vector3d d = b.lattice.transpose().partialPivLu().solve(a.positions[i] - b.positions[j]);
  for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
  return (b.lattice.transpose() * d).norm() < tol;
}

// True if b is a with the same atoms in the same order (positions modulo b's lattice).
bool same_structure(const Structure& a, const Structure& b, double tol) {
  if (a.size() != b.size() || (a.lattice - b.lattice).cwiseAbs().maxCoeff() > tol) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a.numbers[i] != b.numbers[i] || a.symbol(i) != b.symbol(i) ||
        std::abs(a.masses[i] - b.masses[i]) > 1e-6 || !same_site(a, i, b, i, tol)) {
      return false;
    }
  }
  return true;
}

std::string matrix_text(const Eigen::Matrix3i& m) {
  std::ostringstream s;
  for (int r = 0; r < 3; ++r) s << (r ? "; " : "") << m(r, 0) << " " << m(r, 1) << " " << m(r, 2);
  return s.str();
}

}  // namespace

std::string format_name(StructureFormat format) {
  switch (format) {
    case StructureFormat::kHdf5:
      return "physfit HDF5";
    case StructureFormat::kPhonopyYaml:
      return "phonopy YAML";
    case StructureFormat::kExtxyz:
      return "extended XYZ";
    case StructureFormat::kAlamode:
      return "ALAMODE input";
    case StructureFormat::kPoscar:
      return "VASP POSCAR";
  }
  return "?";
}

StructureFormat detect_structure_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "' for reading");
  char magic[8] = {0};
  in.read(magic, 8);
  if (in.gcount() == 8 && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0) {
    return StructureFormat::kHdf5;
  }
  in.clear();
  in.seekg(0);
  std::vector<std::string> head;
  for (std::string l; head.size() < 4000 && std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    head.push_back(l);
  }
  // Extended XYZ: an atom count, then a comment line with Lattice=.
  std::size_t first = 0;
  while (first < head.size() && util::trim(head[first]).empty()) ++first;
  if (first + 1 < head.size()) {
    const auto t = tokens_of(head[first]);
    if (t.size() == 1 && std::all_of(t[0].begin(), t[0].end(), ::isdigit) &&
        util::to_lower(head[first + 1]).find("lattice=") != std::string::npos) {
      return StructureFormat::kExtxyz;
    }
  }
  for (const auto& l : head) {
    const std::string t = util::to_lower(util::trim(l));
    if (t.rfind("&general", 0) == 0) return StructureFormat::kAlamode;
  }
  for (const auto& l : head) {
    for (const char* key : {"unit_cell:", "supercell:", "primitive_cell:", "lattice:"}) {
      if (l.rfind(key, 0) == 0) return StructureFormat::kPhonopyYaml;
    }
  }
  return StructureFormat::kPoscar;
}

Eigen::Matrix3i supercell_matrix_from(const std::vector<double>& v, const std::string& where) {
  Eigen::Matrix3i m = Eigen::Matrix3i::Zero();
  for (double x : v) {
    if (x != std::round(x)) {
      throw UsageError(where + ": " + std::to_string(x) + " is not an integer");
    }
  }
  if (v.size() == 3) {
    for (int k = 0; k < 3; ++k) m(k, k) = static_cast<int>(v[k]);
  } else if (v.size() == 9) {
    for (int k = 0; k < 9; ++k) m(k / 3, k % 3) = static_cast<int>(v[k]);
  } else {
    throw UsageError(where + ": give 3 (diagonal) or 9 integers (rows), as phonopy's DIM; got " +
                     std::to_string(v.size()));
  }
  if (m.cast<double>().determinant() < 0.5) {
    throw UsageError(where + ": the supercell matrix must have a positive determinant");
  }
  return m;
}

std::optional<Eigen::Matrix3d> primitive_matrix_from(const std::string& text,
                                                     const std::string& where) {
  std::string t = util::trim(text);
  std::replace(t.begin(), t.end(), ',', ' ');
  const auto tokens = tokens_of(t);
  if (tokens.empty() || util::to_lower(t) == "auto") return std::nullopt;
  Eigen::Matrix3d m;
  if (tokens.size() == 1 && tokens[0].size() == 1) {
    const double h = 0.5, third = 1.0 / 3;
    switch (std::toupper(static_cast<unsigned char>(tokens[0][0]))) {
      case 'P':
        return Eigen::Matrix3d::Identity();
      case 'F':
        m << 0, h, h, h, 0, h, h, h, 0;
        return m;
      case 'I':
        m << -h, h, h, h, -h, h, h, h, -h;
        return m;
      case 'A':
        m << 1, 0, 0, 0, h, -h, 0, h, h;
        return m;
      case 'C':
        m << h, h, 0, -h, h, 0, 0, 0, 1;
        return m;
      case 'R':
        m << 2 * third, -third, -third, third, third, -2 * third, third, third, third;
        return m;
      default:
        break;
    }
  }
  if (tokens.size() != 9) {
    throw UsageError(where +
                     ": give 9 numbers (rows; fractions such as 1/2 allowed), a centring "
                     "letter (P, F, I, A, C, R) or auto; got '" +
                     text + "'");
  }
  for (int k = 0; k < 9; ++k) {
    const auto v = fraction(tokens[k]);
    if (!v) throw UsageError(where + ": '" + util::printable(tokens[k]) + "' is not a number");
    m(k / 3, k % 3) = *v;
  }
  if (std::abs(m.determinant()) < 1e-8) {
    throw UsageError(where + ": the primitive matrix is singular");
  }
  return m;
}

void assign_masses(Structure& s, const std::map<std::string, double>& masses,
                   const std::string& where) {
  s.masses.resize(s.positions.size(), 0.0);
  for (int i = 0; i < s.size(); ++i) {
    const std::string name = s.symbol(i);
    const auto it = masses.find(name);
    if (it != masses.end()) {
      s.masses[i] = it->second;
    } else if (!(s.masses[i] > 0)) {
      s.masses[i] = standard_atomic_weight(s.numbers[i]);
      if (!(s.masses[i] > 0)) {
        throw UsageError(where + ": species '" + name +
                         "' has no standard atomic weight: give its mass (--structure.masses " +
                         name + "=...)");
      }
    }
  }
  for (const auto& [name, mass] : masses) {
    bool used = false;
    for (int i = 0; i < s.size() && !used; ++i) used = s.symbol(i) == name;
    if (!used) {
      std::vector<std::string> names;
      for (int i = 0; i < s.size(); ++i) {
        if (std::find(names.begin(), names.end(), s.symbol(i)) == names.end()) {
          names.push_back(s.symbol(i));
        }
      }
      throw UsageError(where + ": --structure.masses names '" + name +
                       "', which is not a species of the " + "structure (" +
                       util::join(names, ", ") + ")");
    }
    if (!(mass > 0) || !std::isfinite(mass)) {
      throw UsageError(where + ": mass of '" + name + "' is " + std::to_string(mass) +
                       "; masses must be positive (amu)");
    }
  }
}

// ------------------------------------------------------------------------------------ POSCAR

Structure read_poscar(const std::string& path, const StructureOptions& options) {
  const auto lines = read_lines(path);
  std::size_t k = 0;
  auto next = [&](const char* field) -> std::vector<std::string> {
    while (k < lines.size()) {
      const auto t = tokens_of(lines[k++]);
      if (!t.empty()) return t;
    }
    throw IoError(path + ": the file ends before the " + field +
                  " (a POSCAR has: comment, scale, 3 lattice vectors, [species], counts, "
                  "[Selective dynamics], Direct/Cartesian, positions)");
  };
  if (lines.empty()) throw IoError(path + ": empty file (expected a VASP POSCAR)");
  const std::string comment = lines[0];
  k = 1;
  auto t = next("scale factor");
  long line = static_cast<long>(k);
  std::vector<double> scale;
  for (const auto& s : t) {
    const auto v = to_number(s);
    if (!v) break;
    scale.push_back(*v);
  }
  if (scale.size() != 1 && scale.size() != 3) {
    throw IoError(at_line(path, line) +
                  ": scale factor: expected 1 number (negative: the "
                  "volume in Angstrom^3) or 3 positive numbers, got '" +
                  util::trim(lines[line - 1]) + "' (is this a POSCAR?)");
  }
  Structure s;
  for (int r = 0; r < 3; ++r) {
    t = next("lattice vectors");
    line = static_cast<long>(k);
    if (t.size() < 3) {
      throw IoError(at_line(path, line) + ": lattice vector " + std::to_string(r + 1) +
                    ": expected 3 numbers");
    }
    for (int c = 0; c < 3; ++c) {
      s.lattice(r, c) =
          number_at(t[c], at_line(path, line), "lattice vector " + std::to_string(r + 1));
    }
  }
  double volume = std::abs(s.lattice.determinant());
  if (volume < 1e-10)
    throw IoError(at_line(path, line) + ": lattice vectors: the cell has no volume");
  Eigen::Vector3d axis_scale = Eigen::Vector3d::Ones();
  if (scale.size() == 1) {
    if (scale[0] < 0) {
      axis_scale.setConstant(std::cbrt(-scale[0] / volume));
    } else if (scale[0] > 0) {
      axis_scale.setConstant(scale[0]);
    } else {
      throw IoError(at_line(path, 2) + ": scale factor: 0");
    }
  } else {
    for (int c = 0; c < 3; ++c) {
      if (!(scale[c] > 0)) throw IoError(at_line(path, 2) + ": scale factors must be positive");
      axis_scale[c] = scale[c];
    }
  }
  // VASP scales Cartesian components (three factors: one per Cartesian direction).
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) s.lattice(r, c) *= axis_scale[c];

  t = next("species or counts");
  line = static_cast<long>(k);
  std::vector<std::string> names;
  if (!to_number(t[0])) {
    for (auto n : t) {
      if (n == "!" || n[0] == '#') break;
      const auto slash = n.find('/');  // VASP 6 writes POTCAR hashes: "Ga_d/abc123"
      if (slash != std::string::npos) n = n.substr(0, slash);
      names.push_back(n);
    }
    t = next("counts");
    line = static_cast<long>(k);
  }
  std::vector<int> counts;
  double total_atoms = 0;
  for (const auto& c : t) {
    const auto v = to_number(c);
    if (!v) break;
    if (*v != std::round(*v) || *v < 0) {
      throw IoError(at_line(path, line) + ": counts: '" + c + "' is not a count of atoms");
    }
    // Each atom needs a line: a count beyond the file's length is damaged (checked before
    // it is converted or anything is allocated for it).
    if (*v > static_cast<double>(lines.size()) ||
        total_atoms + *v > static_cast<double>(lines.size())) {
      throw IoError(at_line(path, line) + ": counts: '" + c + "' atoms, but the file has only " +
                    std::to_string(lines.size()) + " lines (one per atom is needed)");
    }
    total_atoms += *v;
    counts.push_back(static_cast<int>(*v));
  }
  if (counts.empty()) {
    throw IoError(at_line(path, line) +
                  ": counts: expected the number of atoms of each species, "
                  "got '" +
                  util::trim(lines[line - 1]) + "'");
  }
  if (!names.empty() && names.size() != counts.size()) {
    throw IoError(at_line(path, line) + ": counts: " + std::to_string(counts.size()) +
                  " numbers for the " + std::to_string(names.size()) + " species of line " +
                  std::to_string(line - 1));
  }
  if (names.empty()) {
    // VASP 4: species from the options, or from the comment line.
    if (!options.species.empty()) {
      names = options.species;
    } else {
      auto words = tokens_of(comment);
      bool all = !words.empty() && words.size() >= counts.size();
      for (std::size_t w = 0; all && w < counts.size(); ++w) {
        all = atomic_number(words[w]) > 0;
      }
      if (all) names.assign(words.begin(), words.begin() + counts.size());
    }
    if (names.size() != counts.size()) {
      throw UsageError(
          at_line(path, line) + ": this VASP 4 POSCAR has no species line and " +
          std::to_string(counts.size()) +
          " species counts: give the species in "
          "order with --structure.species (e.g. --structure.species Ga,N), or add the species line "
          "(VASP 5)" +
          (options.species.empty()
               ? std::string()
               : " (--structure.species names " + std::to_string(options.species.size()) + ")"));
    }
  } else if (!options.species.empty() && options.species != names) {
    throw UsageError(at_line(path, line - 1) + ": the file names its species (" +
                     util::join(names, " ") + "); --structure.species (" +
                     util::join(options.species, " ") + ") disagrees");
  }
  set_species(s, names, counts, at_line(path, line - (names.empty() ? 0 : 1)));
  t = next("coordinate mode (Direct or Cartesian)");
  line = static_cast<long>(k);
  char mode = static_cast<char>(std::tolower(static_cast<unsigned char>(t[0][0])));
  if (mode == 's') {  // Selective dynamics
    t = next("coordinate mode (Direct or Cartesian)");
    line = static_cast<long>(k);
    mode = static_cast<char>(std::tolower(static_cast<unsigned char>(t[0][0])));
  }
  const bool cartesian = mode == 'c' || mode == 'k';
  if (!cartesian && mode != 'd') {
    throw IoError(at_line(path, line) + ": coordinate mode: expected Direct or Cartesian, got '" +
                  util::trim(lines[line - 1]) + "'");
  }
  const int n = static_cast<int>(s.symbols.size());
  for (int i = 0; i < n; ++i) {
    t = next(("position of atom " + std::to_string(i + 1) + " of " + std::to_string(n)).c_str());
    line = static_cast<long>(k);
    if (t.size() < 3) {
      throw IoError(at_line(path, line) + ": position of atom " + std::to_string(i + 1) +
                    ": expected 3 numbers");
    }
    Eigen::Vector3d p;
    for (int c = 0; c < 3; ++c) {
      p[c] = number_at(t[c], at_line(path, line), "position of atom " + std::to_string(i + 1));
    }
    s.positions.push_back(cartesian ? Eigen::Vector3d(p.cwiseProduct(axis_scale))
                                    : Eigen::Vector3d(s.lattice.transpose() * p));
  }
  assign_masses(s, options.masses, path);
  s.validate(path);
  return s;
}

void write_poscar(const std::string& path, const Structure& s, const std::string& comment) {
  std::vector<std::string> names;
  std::vector<int> counts;
  for (int i = 0; i < s.size(); ++i) {
    if (names.empty() || names.back() != s.symbol(i)) {
      names.push_back(s.symbol(i));
      counts.push_back(0);
    }
    ++counts.back();
  }
  std::string out = comment.empty() ? std::string("physfit") : comment;
  std::replace(out.begin(), out.end(), '\n', ' ');
  out += "\n   1.0\n";
  char buffer[160];
  for (int r = 0; r < 3; ++r) {
    std::snprintf(buffer, sizeof buffer, "  %21.16f %21.16f %21.16f\n", s.lattice(r, 0),
                  s.lattice(r, 1), s.lattice(r, 2));
    out += buffer;
  }
  for (const auto& nm : names) out += " " + nm;
  out += "\n";
  for (int c : counts) out += " " + std::to_string(c);
  out += "\nDirect\n";
  for (int i = 0; i < s.size(); ++i) {
    const Eigen::Vector3d f = s.fractional(i);
    std::snprintf(buffer, sizeof buffer, "  %19.16f %19.16f %19.16f\n", f[0], f[1], f[2]);
    out += buffer;
  }
  io::write_file_atomic(path, out);
}

// ------------------------------------------------------------------------------ phonopy YAML

namespace {

// The units of a phonopy calculator interface: phonopy's get_default_physical_units (length,
// and force = its force-constant unit times length), in Angstrom and eV/Angstrom.
struct CalculatorUnits {
  const char* name;
  double length;
  double force;
};
constexpr double kHaPerBohr = units::kHartree / units::kBohr;
constexpr CalculatorUnits kCalculatorUnits[] = {
    {"vasp", 1.0, 1.0},
    {"aims", 1.0, 1.0},
    {"castep", 1.0, 1.0},
    {"crystal", 1.0, 1.0},
    {"qe", units::kBohr, units::kRyPerBohr},
    {"wien2k", units::kBohr, 1e-3 * units::kRyPerBohr},
    {"abinit", units::kBohr, 1.0},
    {"siesta", units::kBohr, 1.0},
    {"abacus", units::kBohr, 1.0},
    {"elk", units::kBohr, kHaPerBohr},
    {"dftbp", units::kBohr, kHaPerBohr},
    {"turbomole", units::kBohr, kHaPerBohr},
    {"fleur", units::kBohr, kHaPerBohr},
    {"cp2k", 1.0, kHaPerBohr},
};

// The calculator of a phonopy YAML file and its units; physical_unit.length, when present,
// must agree.
CalculatorUnits calculator_units(const YAML::Node& root, const std::string& path) {
  CalculatorUnits units = kCalculatorUnits[0];
  const YAML::Node header = root["phonopy"];
  if (header && header.IsMap() && header["calculator"]) {
    const std::string name = util::to_lower(header["calculator"].Scalar());
    const auto* found = std::find_if(std::begin(kCalculatorUnits), std::end(kCalculatorUnits),
                                     [&](const CalculatorUnits& u) { return name == u.name; });
    if (found == std::end(kCalculatorUnits)) {
      std::string known;
      for (const auto& u : kCalculatorUnits)
        known += (known.empty() ? "" : ", ") + std::string(u.name);
      throw IoError(yaml_where(path, header["calculator"]) + ": phonopy.calculator '" + name +
                    "': physfit does not know its units (it knows " + known +
                    "); convert the files to VASP units (Angstrom, eV/Angstrom)");
    }
    units = *found;
  }
  const YAML::Node unit = root["physical_unit"];
  if (unit && unit.IsMap() && unit["length"]) {
    const std::string length = util::to_lower(unit["length"].Scalar());
    const bool angstrom = length == "angstrom";
    if ((!angstrom && length != "au") || angstrom != (units.length == 1.0)) {
      throw IoError(yaml_where(path, unit["length"]) + ": physical_unit.length '" + length +
                    "' is not the unit of calculator '" + units.name + "' (" +
                    (units.length == 1.0 ? "angstrom" : "au") + ")");
    }
  }
  return units;
}

void scale_cell(std::optional<Structure>& cell, double factor) {
  if (!cell || factor == 1.0) return;
  cell->lattice *= factor;
  for (auto& r : cell->positions) r *= factor;
}

}  // namespace

PhonopyYaml read_phonopy_yaml(const std::string& path) {
  const YAML::Node root = load_yaml(path);
  if (!root.IsMap()) throw IoError(path + ": not a phonopy YAML file (no top-level mapping)");
  PhonopyYaml out;
  try {
    const CalculatorUnits units = calculator_units(root, path);
    out.calculator = units.name;
    out.angstrom_per_length = units.length;
    out.ev_per_angstrom_per_force = units.force;
    if (root["supercell_matrix"]) {
      const Eigen::Matrix3d m = yaml_matrix3(root["supercell_matrix"], path, "supercell_matrix");
      Eigen::Matrix3i mi;
      if (!integer_matrix(m, 1e-8, mi)) {
        throw IoError(yaml_where(path, root["supercell_matrix"]) +
                      ": supercell_matrix: expected integers of at most 2^20");
      }
      out.supercell_matrix = mi;
      if (out.supercell_matrix->cast<double>().determinant() < 0.5) {
        throw IoError(yaml_where(path, root["supercell_matrix"]) +
                      ": supercell_matrix: " + matrix_text(*out.supercell_matrix) +
                      " has no positive determinant; phonopy writes DIM there");
      }
    }
    if (root["primitive_matrix"] && !root["primitive_matrix"].IsNull()) {
      out.primitive_matrix = yaml_matrix3(root["primitive_matrix"], path, "primitive_matrix");
    }
    if (root["unit_cell"]) out.unit_cell = yaml_cell(root["unit_cell"], path, "unit_cell");
    if (!root["unit_cell"] && root["lattice"]) out.unit_cell = yaml_cell(root, path, "cell");
    if (root["primitive_cell"]) {
      out.primitive_cell = yaml_cell(root["primitive_cell"], path, "primitive_cell");
    }
    if (root["supercell"]) out.supercell = yaml_cell(root["supercell"], path, "supercell");
    if (out.unit_cell && out.supercell && out.supercell_matrix) {
      const long det = std::lround(out.supercell_matrix->cast<double>().determinant());
      const long expected = det * static_cast<long>(out.unit_cell->numbers.size());
      if (static_cast<long>(out.supercell->numbers.size()) != expected) {
        throw IoError(yaml_where(path, root["supercell"]) +
                      ": supercell: " + std::to_string(out.supercell->numbers.size()) +
                      " atoms, but the " + std::to_string(out.unit_cell->numbers.size()) +
                      "-atom unit_cell and supercell_matrix " + matrix_text(*out.supercell_matrix) +
                      " (determinant " + std::to_string(det) + ") make " +
                      std::to_string(expected) + "; the file is not as phonopy wrote it");
      }
    }

    if (root["born_effective_charge"] && root["dielectric_constant"]) {
      PhonopyNac nac;
      const YAML::Node b = root["born_effective_charge"];
      if (!b.IsSequence()) {
        throw IoError(yaml_where(path, b) + ": born_effective_charge: expected a list of 3x3");
      }
      for (std::size_t i = 0; i < b.size(); ++i) {
        nac.born.push_back(
            yaml_matrix3(b[i], path, "born_effective_charge[" + std::to_string(i + 1) + "]"));
      }
      nac.dielectric = yaml_matrix3(root["dielectric_constant"], path, "dielectric_constant");
      if (root["phonopy"] && root["phonopy"]["nac_unit_conversion_factor"]) {
        nac.factor = yaml_number(root["phonopy"]["nac_unit_conversion_factor"], path,
                                 "phonopy.nac_unit_conversion_factor");
      }
      out.nac = nac;
    }

    const YAML::Node ds = root["displacements"];
    if (ds && ds.IsSequence() && ds.size() > 0) {
      if (!out.supercell) {
        throw IoError(yaml_where(path, ds) + ": displacements: the file has no 'supercell'");
      }
      const int n = out.supercell->size();
      Configurations& c = out.configurations;
      c.num_atoms = n;
      if (ds[0].IsMap()) {
        out.dataset_type = 1;
        out.has_forces = static_cast<bool>(ds[0]["forces"]);
        for (std::size_t d = 0; d < ds.size(); ++d) {
          const YAML::Node e = ds[d];
          const std::string field = "displacements[" + std::to_string(d + 1) + "]";
          if (!e.IsMap() || !e["atom"] || !e["displacement"]) {
            throw IoError(yaml_where(path, e) + ": " + field +
                          ": expected 'atom' and 'displacement' (phonopy's type-1 data set)");
          }
          const double a = yaml_number(e["atom"], path, field + ".atom");
          if (a != std::round(a) || a < 1 || a > n) {
            throw IoError(yaml_where(path, e["atom"]) + ": " + field +
                          ".atom: " + e["atom"].Scalar() + " is not an atom of the " +
                          std::to_string(n) + "-atom supercell");
          }
          const int atom = static_cast<int>(a) - 1;
          std::vector<double> u(3 * n, 0.0), f;
          const Eigen::Vector3d v = yaml_vector3(e["displacement"], path, field + ".displacement");
          for (int k = 0; k < 3; ++k) u[3 * atom + k] = v[k];
          if (out.has_forces) {
            const YAML::Node fs = e["forces"];
            if (!fs || !fs.IsSequence() || static_cast<int>(fs.size()) != n) {
              throw IoError(yaml_where(path, fs ? fs : e) + ": " + field + ".forces: expected " +
                            std::to_string(n) + " force vectors (the first displacement has them)");
            }
            for (int i = 0; i < n; ++i) {
              const Eigen::Vector3d fi =
                  yaml_vector3(fs[i], path, field + ".forces[" + std::to_string(i + 1) + "]");
              f.insert(f.end(), fi.data(), fi.data() + 3);
            }
          } else {
            f.assign(3 * n, 0.0);
          }
          out.displaced_atoms.push_back(atom);
          c.add(u, f, std::numeric_limits<double>::quiet_NaN());
        }
      } else if (ds[0].IsSequence()) {
        out.dataset_type = 2;
        out.has_forces = ds[0].size() > 0 && ds[0][0].IsMap() && ds[0][0]["force"];
        for (std::size_t d = 0; d < ds.size(); ++d) {
          const YAML::Node e = ds[d];
          const std::string field = "displacements[" + std::to_string(d + 1) + "]";
          if (!e.IsSequence() || static_cast<int>(e.size()) != n) {
            throw IoError(yaml_where(path, e) + ": " + field + ": expected one entry per atom (" +
                          std::to_string(n) + ")");
          }
          std::vector<double> u, f;
          for (int i = 0; i < n; ++i) {
            const std::string fi = field + "[" + std::to_string(i + 1) + "]";
            if (!e[i].IsMap()) {
              throw IoError(yaml_where(path, e[i]) + ": " + fi +
                            ": expected 'displacement' and 'force' (phonopy's type-2 data set), "
                            "got " +
                            (e[i].IsScalar()     ? "'" + util::printable(e[i].Scalar()) + "'"
                             : e[i].IsSequence() ? std::string("a list")
                                                 : std::string("nothing")));
            }
            const Eigen::Vector3d ui =
                yaml_vector3(e[i]["displacement"], path, fi + ".displacement");
            u.insert(u.end(), ui.data(), ui.data() + 3);
            if (out.has_forces) {
              const Eigen::Vector3d v = yaml_vector3(e[i]["force"], path, fi + ".force");
              f.insert(f.end(), v.data(), v.data() + 3);
            } else {
              f.insert(f.end(), 3, 0.0);
            }
          }
          c.add(u, f, std::numeric_limits<double>::quiet_NaN());
        }
      } else {
        throw IoError(yaml_where(path, ds[0]) +
                      ": displacements: neither phonopy's type-1 nor type-2 data set");
      }
      c.energies.clear();
      if (!out.has_forces) c.forces.clear();
    }
  } catch (const YAML::Exception& e) {  // a node of another kind than phonopy writes there
    throw IoError(mark_where(path, e.mark) +
                  ": not a phonopy YAML file as phonopy writes it: " + e.msg);
  }
  if (!out.unit_cell && !out.supercell && !out.primitive_cell) {
    throw IoError(path +
                  ": no cell found (phonopy YAML has 'unit_cell', 'supercell' or "
                  "'primitive_cell' with 'lattice' and 'points')");
  }
  for (auto* cell : {&out.unit_cell, &out.primitive_cell, &out.supercell}) {
    if (*cell) assign_masses(**cell, {}, path);
    scale_cell(*cell, out.angstrom_per_length);
  }
  for (auto& u : out.configurations.displacements) u *= out.angstrom_per_length;
  for (auto& f : out.configurations.forces) f *= out.ev_per_angstrom_per_force;
  return out;
}

// ------------------------------------------------------------------------------------ ALAMODE

Structure read_alamode_input(const std::string& path) {
  auto lines = read_lines(path);
  for (auto& l : lines) {
    const auto hash = l.find('#');
    if (hash != std::string::npos) l = l.substr(0, hash);
  }
  // Blocks: "&name" up to a line "/".
  auto block = [&](const std::string& name) -> std::pair<std::size_t, std::size_t> {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (util::to_lower(util::trim(lines[i])) == "&" + name) {
        for (std::size_t j = i + 1; j < lines.size(); ++j) {
          if (util::trim(lines[j]) == "/") return {i, j};
        }
        throw IoError(at_line(path, static_cast<long>(i + 1)) + ": &" + name +
                      " is not closed by a line '/'");
      }
    }
    throw IoError(path + ": no &" + name +
                  " block (an ALAMODE input needs &general, &cell and "
                  "&position)");
  };
  // Not a structured binding: a lambda below uses g0, which C++17 lets no lambda capture.
  const auto general_block = block("general");
  const std::size_t g0 = general_block.first, g1 = general_block.second;
  std::map<std::string, std::pair<std::string, long>> general;
  for (std::size_t i = g0 + 1; i < g1; ++i) {
    for (const auto& entry : util::split(lines[i], ';')) {
      if (entry.empty()) continue;
      const auto eq = entry.find('=');
      if (eq == std::string::npos) {
        throw IoError(at_line(path, static_cast<long>(i + 1)) +
                      ": &general: expected KEY = value, "
                      "got '" +
                      entry + "'");
      }
      std::string key = util::trim(entry.substr(0, eq));
      for (auto& ch : key) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      general[key] = {util::trim(entry.substr(eq + 1)), static_cast<long>(i + 1)};
    }
  }
  auto need = [&](const std::string& key) {
    const auto it = general.find(key);
    if (it == general.end()) {
      throw IoError(at_line(path, static_cast<long>(g0 + 1)) + ": &general has no " + key);
    }
    return it->second;
  };
  auto integer = [&](const std::string& key) {
    const auto [text, line] = need(key);
    const auto v = to_number(text);
    if (!v || *v != std::round(*v) || *v < 1 || *v > std::numeric_limits<int>::max()) {
      throw IoError(at_line(path, line) + ": " + key + ": '" + text +
                    "' is not a positive integer (an int)");
    }
    return static_cast<int>(*v);
  };
  const int nat = integer("NAT");
  const int nkd = integer("NKD");
  const auto [kd_text, kd_line] = need("KD");
  const auto kd = tokens_of(kd_text);
  if (static_cast<int>(kd.size()) != nkd) {
    throw IoError(at_line(path, kd_line) + ": KD: " + std::to_string(kd.size()) +
                  " species for NKD = " + std::to_string(nkd));
  }
  std::map<std::string, double> masses;
  if (general.count("MASS")) {
    const auto [text, line] = general["MASS"];
    const auto m = tokens_of(text);
    if (static_cast<int>(m.size()) != nkd) {
      throw IoError(at_line(path, line) + ": MASS: " + std::to_string(m.size()) +
                    " masses for NKD = " + std::to_string(nkd));
    }
    for (int k = 0; k < nkd; ++k) masses[kd[k]] = number_at(m[k], at_line(path, line), "MASS");
  }
  Structure s;
  const auto [c0, c1] = block("cell");
  std::vector<std::pair<long, std::vector<std::string>>> rows;
  for (std::size_t i = c0 + 1; i < c1; ++i) {
    auto t = tokens_of(lines[i]);
    if (!t.empty()) rows.emplace_back(static_cast<long>(i + 1), t);
  }
  if (rows.size() != 4 || rows[0].second.size() != 1) {
    throw IoError(at_line(path, static_cast<long>(c0 + 1)) +
                  ": &cell: expected the lattice factor (Bohr) on one line, then 3 lattice "
                  "vectors");
  }
  const double factor = number_at(rows[0].second[0], at_line(path, rows[0].first), "&cell factor");
  for (int r = 0; r < 3; ++r) {
    const auto& [line, t] = rows[r + 1];
    if (t.size() != 3) {
      throw IoError(at_line(path, line) + ": &cell: lattice vector " + std::to_string(r + 1) +
                    ": expected 3 numbers");
    }
    for (int c = 0; c < 3; ++c) {
      s.lattice(r, c) = factor * units::kBohr * number_at(t[c], at_line(path, line), "&cell");
    }
  }
  const auto [p0, p1] = block("position");
  for (std::size_t i = p0 + 1; i < p1; ++i) {
    const auto t = tokens_of(lines[i]);
    if (t.empty()) continue;
    const std::string where = at_line(path, static_cast<long>(i + 1));
    if (t.size() != 4) {
      throw IoError(where + ": &position: expected 'kind x y z', got '" + util::trim(lines[i]) +
                    "'");
    }
    const double kind = number_at(t[0], where, "&position kind");
    if (kind != std::round(kind) || kind < 1 || kind > nkd) {
      throw IoError(where + ": &position: kind " + t[0] + " is not in 1.." + std::to_string(nkd));
    }
    const std::string name = kd[static_cast<int>(kind) - 1];
    const int z = element_of_label(name);
    if (z == 0) {
      throw IoError(at_line(path, kd_line) + ": KD: '" + name + "' is not an element symbol");
    }
    Eigen::Vector3d f;
    for (int c = 0; c < 3; ++c) f[c] = number_at(t[c + 1], where, "&position coordinates");
    s.positions.push_back(s.lattice.transpose() * f);
    s.symbols.push_back(name);
    s.numbers.push_back(z);
    s.masses.push_back(0.0);
  }
  if (s.size() != nat) {
    throw IoError(at_line(path, static_cast<long>(p0 + 1)) + ": &position has " +
                  std::to_string(s.size()) + " atoms, NAT = " + std::to_string(nat));
  }
  assign_masses(s, masses, path);
  s.validate(path);
  return s;
}

// ---------------------------------------------------------------------------------- supercell

Structure build_supercell(const Structure& unit, const Eigen::Matrix3i& smat, double symprec) {
  // phonopy's construction (Supercell, is_old_style): the unit cell repeated over the
  // surrounding diagonal frame, lattice points with the first axis fastest, atom by atom; then
  // the atoms mapped into the supercell and the first copy of each site kept.
  const Eigen::Matrix3d m = smat.cast<double>();
  const double det = m.determinant();
  if (det < 0.5) throw UsageError("the supercell matrix must have a positive determinant");
  int multi[3];
  for (int i = 0; i < 3; ++i) {
    int lo = 0, hi = 0;
    for (int corner = 1; corner < 8; ++corner) {
      int v = 0;
      for (int j = 0; j < 3; ++j) {
        if (corner & (1 << j)) v += smat(i, j);
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    multi[i] = hi - lo;
  }
  // relative_axes R: row i = smat row i / multi[i]; new fractional (column) = R^-1 frame's.
  Eigen::Matrix3d rel;
  for (int i = 0; i < 3; ++i) rel.row(i) = m.row(i) / multi[i];
  const Eigen::Matrix3d rel_inv = rel.inverse();
  Structure sc;
  sc.lattice = m.transpose() * unit.lattice;
  const Eigen::Matrix3d unit_inv_t = unit.lattice.transpose().inverse();
  std::vector<Eigen::Vector3d> kept;  // fractional in the supercell
  const int nu = unit.size();
  for (int a = 0; a < nu; ++a) {
    const Eigen::Vector3d x = unit_inv_t * unit.positions[a];
    for (int c = 0; c < multi[2]; ++c)
      for (int b = 0; b < multi[1]; ++b)
        for (int l = 0; l < multi[0]; ++l) {
          Eigen::Vector3d frame = x + Eigen::Vector3d(l, b, c);
          for (int k = 0; k < 3; ++k) frame[k] /= multi[k];
          const Eigen::Vector3d f = wrap01(rel_inv * frame);
          bool overlap = false;
          for (const auto& g : kept) {
            Eigen::Vector3d d = g - f;
            for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
            if ((sc.lattice.transpose() * d).norm() < symprec) {
              overlap = true;
              break;
            }
          }
          if (overlap) continue;
          kept.push_back(f);
          sc.positions.push_back(sc.lattice.transpose() * f);
          sc.numbers.push_back(unit.numbers[a]);
          sc.masses.push_back(unit.masses[a]);
          sc.symbols.push_back(unit.symbol(a));
        }
  }
  const long expected = std::lround(det) * nu;
  if (sc.size() != expected) {
    throw UsageError("building the supercell " + matrix_text(smat) + " gave " +
                     std::to_string(sc.size()) + " atoms, not " + std::to_string(expected) +
                     " (atoms of the unit cell overlap within " + std::to_string(symprec) +
                     " Angstrom)");
  }
  return sc;
}

// ------------------------------------------------------------------------------ read_structure

IdealStructure read_structure(const std::string& path, const StructureOptions& options) {
  const StructureFormat format = detect_structure_format(path);
  IdealStructure out;
  auto from_unit = [&](Structure unit, const Eigen::Matrix3i& smat) {
    out.unit_lattice = unit.lattice;
    out.supercell_matrix = smat;
    out.supercell = build_supercell(unit, smat, options.symprec);
  };
  auto check_matrix = [&](const std::optional<Eigen::Matrix3i>& file_matrix) {
    if (options.supercell_matrix && file_matrix && *options.supercell_matrix != *file_matrix) {
      throw UsageError(path + ": the file's supercell matrix (" + matrix_text(*file_matrix) +
                       ") differs from --structure.supercell-matrix (" +
                       matrix_text(*options.supercell_matrix) + ")");
    }
  };
  switch (format) {
    case StructureFormat::kHdf5: {
      out = read_structure_hdf5(path);
      check_matrix(out.supercell_matrix);
      if (options.supercell_matrix && !out.supercell_matrix) {
        throw UsageError(path +
                         ": an HDF5 /structure is the supercell itself; "
                         "--structure.supercell-matrix applies to unit cells (POSCAR, ...)");
      }
      if (!options.masses.empty()) assign_masses(out.supercell, options.masses, path);
      break;
    }
    case StructureFormat::kPhonopyYaml: {
      PhonopyYaml y = read_phonopy_yaml(path);
      check_matrix(y.supercell_matrix);
      if (y.unit_cell && !options.masses.empty()) assign_masses(*y.unit_cell, options.masses, path);
      if (y.supercell) {
        out.supercell = *y.supercell;
        if (!options.masses.empty()) assign_masses(out.supercell, options.masses, path);
        if (y.unit_cell) out.unit_lattice = y.unit_cell->lattice;
        out.supercell_matrix = y.supercell_matrix;
      } else if (y.unit_cell && (y.supercell_matrix || options.supercell_matrix)) {
        from_unit(*y.unit_cell,
                  y.supercell_matrix ? *y.supercell_matrix : *options.supercell_matrix);
      } else if (y.unit_cell) {
        out.supercell = *y.unit_cell;
      } else {
        throw IoError(path + ": the file has no unit_cell or supercell");
      }
      out.primitive_matrix = y.primitive_matrix;
      break;
    }
    case StructureFormat::kExtxyz:
    case StructureFormat::kAlamode:
    case StructureFormat::kPoscar: {
      Structure s = format == StructureFormat::kPoscar    ? read_poscar(path, options)
                    : format == StructureFormat::kAlamode ? read_alamode_input(path)
                                                          : read_extxyz_structure(path);
      if (format != StructureFormat::kPoscar && !options.masses.empty()) {
        assign_masses(s, options.masses, path);
      }
      if (options.supercell_matrix) {
        from_unit(s, *options.supercell_matrix);
      } else {
        out.supercell = s;
      }
      break;
    }
  }
  if (options.primitive_matrix) {
    if (!out.unit_lattice) {
      throw UsageError(
          path +
          ": --structure.primitive-matrix is relative to the unit cell (phonopy's "
          "convention): give the unit cell with --structure.supercell-matrix, or leave it "
          "to be found from the supercell");
    }
    out.primitive_matrix = options.primitive_matrix;
    out.primitive_lattice.reset();
  }
  if (out.primitive_matrix && !out.unit_lattice && !out.primitive_lattice) {
    throw IoError(path +
                  ": a primitive matrix needs the unit cell (phonopy's primitive matrix "
                  "is relative to it)");
  }
  out.supercell.fill_symbols();
  out.supercell.validate(path);
  return out;
}

// ------------------------------------------------------------------------- phonopy.yaml export

namespace {

void emit_cell(YAML::Emitter& e, const std::string& name, const Structure& s) {
  e << YAML::Key << name << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "lattice" << YAML::Value << YAML::BeginSeq;
  for (int r = 0; r < 3; ++r) {
    e << YAML::Flow << YAML::BeginSeq << s.lattice(r, 0) << s.lattice(r, 1) << s.lattice(r, 2)
      << YAML::EndSeq;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "points" << YAML::Value << YAML::BeginSeq;
  for (int i = 0; i < s.size(); ++i) {
    const Eigen::Vector3d f = s.fractional(i);
    e << YAML::BeginMap << YAML::Key << "symbol" << YAML::Value << element_symbol(s.numbers[i]);
    e << YAML::Key << "coordinates" << YAML::Value << YAML::Flow << YAML::BeginSeq << f[0] << f[1]
      << f[2] << YAML::EndSeq;
    e << YAML::Key << "mass" << YAML::Value << s.masses[i] << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
}

template <class Matrix>
void emit_matrix(YAML::Emitter& e, const std::string& name, const Matrix& m) {
  e << YAML::Key << name << YAML::Value << YAML::BeginSeq;
  for (int r = 0; r < 3; ++r) {
    e << YAML::Flow << YAML::BeginSeq << m(r, 0) << m(r, 1) << m(r, 2) << YAML::EndSeq;
  }
  e << YAML::EndSeq;
}

}  // namespace

void write_phonopy_yaml(const std::string& path, const IdealStructure& ideal,
                        const Crystal& crystal) {
  const Structure& sc = crystal.supercell();
  const double tol = std::max(crystal.symprec(), 1e-6);
  // The unit cell: the data's own when phonopy rebuilds physfit's supercell order from it.
  Structure unit = sc;
  Eigen::Matrix3i smat = Eigen::Matrix3i::Identity();
  if (ideal.unit_lattice && ideal.supercell_matrix) {
    const int cells =
        static_cast<int>(std::lround(ideal.supercell_matrix->cast<double>().determinant()));
    if (cells > 0 && sc.size() % cells == 0) {
      Structure u;
      u.lattice = *ideal.unit_lattice;
      for (int k = 0; k < sc.size() / cells; ++k) {
        const int i = k * cells;  // phonopy's u2s_map
        const Eigen::Vector3d f =
            wrap01(u.lattice.transpose().partialPivLu().solve(sc.positions[i]));
        u.positions.push_back(u.lattice.transpose() * f);
        u.numbers.push_back(sc.numbers[i]);
        u.masses.push_back(sc.masses[i]);
        u.symbols.push_back(sc.symbol(i));
      }
      try {
        if (same_structure(build_supercell(u, *ideal.supercell_matrix, tol), sc, tol * 10)) {
          unit = u;
          smat = *ideal.supercell_matrix;
        }
      } catch (const UsageError&) {
        // Not phonopy's construction: keep the supercell as the unit cell.
      }
    }
  }
  // phonopy's primitive matrix P: primitive lattice (rows) = P^T unit lattice.
  Eigen::Matrix3d pmat = (crystal.primitive().lattice * unit.lattice.inverse()).transpose();
  for (int k = 0; k < 9; ++k) {  // rationals as phonopy writes them: 1/2, not 0.4999999...
    double& x = pmat(k / 3, k % 3);
    for (int den = 1; den <= 12; ++den) {
      if (std::abs(x * den - std::round(x * den)) < 1e-9) {
        x = std::round(x * den) / den + 0.0;
        break;
      }
    }
  }
  YAML::Emitter e;
  e.SetDoublePrecision(16);
  e << YAML::Comment(
      "written by physfit; phonopy.load(\"phonopy.yaml\", "
      "force_constants_filename=\"FORCE_CONSTANTS\") reads it with physfit's FORCE_CONSTANTS");
  e << YAML::BeginMap;
  e << YAML::Key << "physical_unit" << YAML::Value << YAML::BeginMap << YAML::Key << "atomic_mass"
    << YAML::Value << "AMU" << YAML::Key << "length" << YAML::Value << "angstrom" << YAML::Key
    << "force_constants" << YAML::Value << "eV/angstrom^2" << YAML::EndMap;
  emit_matrix(e, "supercell_matrix", smat);
  emit_matrix(e, "primitive_matrix", pmat);
  emit_cell(e, "unit_cell", unit);
  emit_cell(e, "supercell", sc);
  // Species names beyond element symbols (phonopy's points carry element symbols only).
  e << YAML::Key << "physfit_species" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (int i = 0; i < sc.size(); ++i) e << sc.symbol(i);
  e << YAML::EndSeq;
  e << YAML::EndMap;
  if (!e.good()) throw Error("write_phonopy_yaml: yaml-cpp: " + e.GetLastError());
  io::write_file_atomic(path, std::string(e.c_str()) + "\n");
}

}  // namespace physfit::fc
