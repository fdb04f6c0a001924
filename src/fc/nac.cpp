#include "physfit/fc/nac.hpp"

#include <spglib.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"

namespace physfit::fc {
namespace {

constexpr double kZeroTolerance = 1e-5;  // |G + q| below it is Gamma (phonopy's)
constexpr int kDefaultGPoints = 300;     // phonopy's num_G_points
constexpr double kExpCutoff = 1e-10;     // phonopy: damping at G_cutoff
constexpr int kMaxGIndex = 100;          // phonopy's grid of G-vectors: -100..100

const char* const kComponents[9] = {"xx", "xy", "xz", "yx", "yy", "yz", "zx", "zy", "zz"};

// The space group of the primitive cell: operations (fractional), Cartesian rotations, where
// each operation sends each atom, and spglib's equivalent atoms.
struct PrimitiveSymmetry {
  std::vector<Eigen::Matrix3d> cartesian;
  std::vector<std::vector<int>> image;  // [op][atom] -> atom
  std::vector<int> equivalent;
};

PrimitiveSymmetry primitive_symmetry(const Crystal& crystal) {
  const Structure& p = crystal.primitive();
  const int np = p.size();
  const Eigen::Matrix3d& lp = p.lattice;
  const Eigen::Matrix3d to_frac = lp.transpose().inverse();
  std::vector<Eigen::Vector3d> frac(np);
  std::vector<double> positions(3 * np);
  std::map<std::pair<int, double>, int> ids;
  std::vector<int> types(np);
  for (int i = 0; i < np; ++i) {
    frac[i] = to_frac * p.positions[i];
    for (int a = 0; a < 3; ++a) positions[3 * i + a] = frac[i][a] - std::floor(frac[i][a]);
    const auto key = std::make_pair(p.numbers[i], std::round(p.masses[i] * 1e6) / 1e6);
    types[i] = ids.emplace(key, static_cast<int>(ids.size()) + 1).first->second;
  }
  double lattice_cols[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) lattice_cols[a][b] = lp(b, a);
  SpglibDataset* data =
      spg_get_dataset(lattice_cols, reinterpret_cast<double(*)[3]>(positions.data()), types.data(),
                      np, crystal.symprec());
  if (data == nullptr) {
    throw UsageError(std::string("spglib found no space group for the primitive cell: ") +
                     spg_get_error_message(spg_get_error_code()));
  }
  PrimitiveSymmetry s;
  s.equivalent.assign(data->equivalent_atoms, data->equivalent_atoms + np);
  for (int o = 0; o < data->n_operations; ++o) {
    Eigen::Matrix3d r;
    Eigen::Vector3d t;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) r(a, b) = data->rotations[o][a][b];
      t[a] = data->translations[o][a];
    }
    std::vector<int> image(np, -1);
    for (int j = 0; j < np; ++j) {
      const Eigen::Vector3d f = r * frac[j] + t;
      for (int i = 0; i < np && image[j] < 0; ++i) {
        Eigen::Vector3d d = f - frac[i];
        for (int a = 0; a < 3; ++a) d[a] -= std::round(d[a]);
        if (types[i] == types[j] && (lp.transpose() * d).norm() < crystal.symprec()) image[j] = i;
      }
      if (image[j] < 0) {
        spg_free_dataset(data);
        throw Error("nac: a space-group operation maps primitive atom " + std::to_string(j + 1) +
                    " onto no atom (internal)");
      }
    }
    s.cartesian.push_back(lp.transpose() * r * to_frac);
    s.image.push_back(std::move(image));
  }
  spg_free_dataset(data);
  return s;
}

std::string format_number(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string element_label(const Crystal& c, int atom) {
  return std::to_string(atom + 1) + " (Z = " + std::to_string(c.primitive().numbers[atom]) + ")";
}

// Largest |a - b| component and its index.
double largest_difference(const Eigen::Matrix3d& a, const Eigen::Matrix3d& b, int* where) {
  double worst = -1;
  for (int k = 0; k < 9; ++k) {
    const double d = std::abs(a(k / 3, k % 3) - b(k / 3, k % 3));
    if (d > worst) {
      worst = d;
      if (where) *where = k;
    }
  }
  return worst;
}

double volume_of(const Eigen::Matrix3d& lattice) { return std::abs(lattice.determinant()); }

}  // namespace

const char* nac_method_name(NacMethod method) {
  switch (method) {
    case NacMethod::kNone:
      return "none";
    case NacMethod::kGonze:
      return "gonze";
    case NacMethod::kWang:
      return "wang";
  }
  return "none";
}

NacMethod parse_nac_method(const std::string& text, const std::string& where) {
  if (text == "none") return NacMethod::kNone;
  if (text == "gonze") return NacMethod::kGonze;
  if (text == "wang") return NacMethod::kWang;
  throw UsageError(where + ": unknown non-analytic correction method '" + text +
                   "': use gonze (Gonze and Lee, phonopy's default), wang or none");
}

double default_g_cutoff(double volume) {
  return std::cbrt(3.0 * kDefaultGPoints / (4 * M_PI) / volume);
}

std::vector<int> independent_atoms(const Crystal& crystal) {
  const PrimitiveSymmetry s = primitive_symmetry(crystal);
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(s.equivalent.size()); ++i) {
    if (s.equivalent[i] == i) out.push_back(i);
  }
  return out;
}

NacCheck prepare_nac(NacParameters& nac, const Crystal& crystal, const std::string& where,
                     double tolerance, const std::vector<std::string>* atom_where) {
  auto at = [&](int atom) { return atom_where ? (*atom_where)[atom] : where; };
  const int np = crystal.num_primitive();
  if (static_cast<int>(nac.born.size()) != np) {
    throw UsageError(where + ": Born charges of " + std::to_string(nac.born.size()) +
                     " atoms for a primitive cell of " + std::to_string(np));
  }
  if (!nac.epsilon.allFinite() || !(nac.factor > 0) || !std::isfinite(nac.factor)) {
    throw UsageError(where + ": the dielectric tensor or the unit factor is not finite");
  }
  for (const auto& z : nac.born) {
    if (!z.allFinite()) throw UsageError(where + ": a Born charge is not finite");
  }
  const PrimitiveSymmetry s = primitive_symmetry(crystal);
  NacCheck check;
  for (int i = 0; i < np; ++i) {
    if (s.equivalent[i] == i) check.independent_atoms.push_back(i);
  }
  const int nops = static_cast<int>(s.cartesian.size());

  // Dielectric tensor: average over the point group (each rotation once).
  std::vector<Eigen::Matrix3d> rotations;
  for (const auto& r : s.cartesian) {
    bool seen = false;
    for (const auto& u : rotations) seen = seen || (u - r).cwiseAbs().maxCoeff() < 1e-8;
    if (!seen) rotations.push_back(r);
  }
  Eigen::Matrix3d eps = Eigen::Matrix3d::Zero();
  for (const auto& r : rotations) eps += r * nac.epsilon * r.transpose();
  eps /= static_cast<double>(rotations.size());
  int k = 0;
  check.epsilon_symmetry_deviation = largest_difference(nac.epsilon, eps, &k);
  if (check.epsilon_symmetry_deviation > tolerance) {
    throw UsageError(where + ": the dielectric tensor breaks the crystal's symmetry (space group " +
                     crystal.international() + "): its " + kComponents[k] + " component is " +
                     format_number(nac.epsilon(k / 3, k % 3)) + " where symmetry gives " +
                     format_number(eps(k / 3, k % 3)) + " (difference " +
                     format_number(check.epsilon_symmetry_deviation) + " > " +
                     format_number(tolerance) +
                     "); check the tensor, its orientation against the structure's axes, and "
                     "symprec");
  }
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(eps);
  if (eig.eigenvalues().minCoeff() <= 0) {
    throw IoError(where + ": the dielectric tensor is not positive definite (eigenvalues " +
                  format_number(eig.eigenvalues()[0]) + ", " + format_number(eig.eigenvalues()[1]) +
                  ", " + format_number(eig.eigenvalues()[2]) + ")");
  }

  // Site symmetry of each atom: Z* must be invariant under the operations that fix it.
  for (int i = 0; i < np; ++i) {
    Eigen::Matrix3d site = Eigen::Matrix3d::Zero();
    int count = 0;
    for (int o = 0; o < nops; ++o) {
      if (s.image[o][i] != i) continue;
      site += s.cartesian[o] * nac.born[i] * s.cartesian[o].transpose();
      ++count;
    }
    site /= count;
    const double dev = largest_difference(nac.born[i], site, &k);
    check.born_symmetry_deviation = std::max(check.born_symmetry_deviation, dev);
    if (dev > tolerance) {
      throw UsageError(at(i) + ": the Born charge of atom " + element_label(crystal, i) +
                       " breaks its site symmetry in space group " + crystal.international() +
                       ": Z*" + kComponents[k] + " is " + format_number(nac.born[i](k / 3, k % 3)) +
                       " where the site symmetry gives " + format_number(site(k / 3, k % 3)) +
                       " (difference " + format_number(dev) + " > " + format_number(tolerance) +
                       "); check the tensor, the order of the atoms and the structure's axes");
    }
  }
  // Average over the operations mapping atoms onto each atom (phonopy's
  // _take_average_of_borns), then charge neutrality.
  std::vector<Eigen::Matrix3d> born(np, Eigen::Matrix3d::Zero());
  for (int o = 0; o < nops; ++o) {
    for (int j = 0; j < np; ++j) {
      born[s.image[o][j]] += s.cartesian[o] * nac.born[j] * s.cartesian[o].transpose();
    }
  }
  Eigen::Matrix3d mean = Eigen::Matrix3d::Zero();
  for (int i = 0; i < np; ++i) {
    born[i] /= nops;
    mean += born[i];
    const double dev = largest_difference(nac.born[i], born[i], &k);
    check.born_symmetry_deviation = std::max(check.born_symmetry_deviation, dev);
    if (dev > tolerance) {
      throw UsageError(at(i) + ": the Born charge of atom " + element_label(crystal, i) +
                       " does not follow from those of its symmetry-equivalent atoms in space "
                       "group " +
                       crystal.international() + ": Z*" + kComponents[k] + " is " +
                       format_number(nac.born[i](k / 3, k % 3)) + " where symmetry gives " +
                       format_number(born[i](k / 3, k % 3)) + " (difference " + format_number(dev) +
                       " > " + format_number(tolerance) + ")");
    }
  }
  check.charge_sum = mean;
  mean /= np;
  for (auto& z : born) z -= mean;
  nac.born = std::move(born);
  nac.epsilon = eps;
  return check;
}

NacParameters read_born(const std::string& path, const Crystal& crystal, NacCheck* check) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open the BORN file '" + path + "' for reading");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  while (!lines.empty() && lines.back().find_first_not_of(" \t\r") == std::string::npos) {
    lines.pop_back();
  }
  auto tokens = [](const std::string& line) {
    std::vector<std::string> out;
    std::istringstream s(line);
    for (std::string t; s >> t;) out.push_back(t);
    return out;
  };
  // A whole token as a number; nullopt if it is not one.
  auto number = [](const std::string& t) -> std::optional<double> {
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || *end != '\0') return std::nullopt;
    return v;
  };
  const std::vector<int> independent = independent_atoms(crystal);
  const int ni = static_cast<int>(independent.size());
  auto atom_list = [&] {
    std::string s;
    for (int i : independent) s += (s.empty() ? "" : ", ") + element_label(crystal, i);
    return s;
  };
  if (lines.empty()) throw IoError(path + ": the BORN file is empty");

  NacParameters nac;
  nac.source = path;
  // Line 1: unit factor [G_cutoff [Lambda]], or a comment (phonopy reads each of the first three
  // tokens as a number when it is one).
  const auto head = tokens(lines[0]);
  if (head.empty()) {
    throw IoError(path +
                  ":1: the first line is empty; it holds the unit factor (e.g. 14.399652 for "
                  "eV and Angstrom) or a comment, then the dielectric tensor on line 2");
  }
  int numeric = 0;
  for (const auto& t : head) numeric += number(t).has_value();
  if (numeric == 9 && head.size() == 9) {
    throw IoError(path +
                  ":1: the first line has 9 numbers, like a dielectric tensor; in phonopy's "
                  "BORN the first line is the unit factor (e.g. 14.399652) or a comment, and "
                  "the dielectric tensor is line 2: add a first line");
  }
  const char* head_names[3] = {"the unit factor", "G_cutoff", "Lambda"};
  double* head_values[3] = {&nac.factor, &nac.g_cutoff, &nac.lambda};
  for (std::size_t k = 0; k < 3 && k < head.size(); ++k) {
    const auto v = number(head[k]);
    if (!v) continue;
    if (!std::isfinite(*v) || *v <= 0) {
      throw IoError(path + ":1: field " + std::to_string(k + 1) + " (" + head_names[k] + ") is '" +
                    head[k] + "'; it must be a positive number");
    }
    *head_values[k] = *v;
  }
  // A line of 9 finite numbers.
  auto nine = [&](std::size_t index, const std::string& what) {
    const long line_no = static_cast<long>(index) + 1;
    const auto t = tokens(lines[index]);
    if (t.size() != 9) {
      throw IoError(path + ":" + std::to_string(line_no) + ": expected " + what +
                    ", 9 numbers (xx xy xz yx yy yz zx zy zz), found " + std::to_string(t.size()) +
                    " field" + (t.size() == 1 ? "" : "s") + ": '" + lines[index] + "'");
    }
    Eigen::Matrix3d m;
    for (int k = 0; k < 9; ++k) {
      const auto v = number(t[k]);
      if (!v || !std::isfinite(*v)) {
        throw IoError(path + ":" + std::to_string(line_no) + ": field " + std::to_string(k + 1) +
                      " (" + kComponents[k] + " of " + what + ") is '" + t[k] +
                      "', not a finite number");
      }
      m(k / 3, k % 3) = *v;
    }
    return m;
  };
  if (lines.size() < 2) {
    throw IoError(path + ": the file ends after line 1; line 2 must hold the dielectric tensor");
  }
  nac.epsilon = nine(1, "the dielectric tensor");
  std::vector<Eigen::Matrix3d> given(crystal.num_primitive(), Eigen::Matrix3d::Zero());
  for (int k = 0; k < ni; ++k) {
    const std::size_t index = 2 + k;
    if (index >= lines.size()) {
      throw IoError(path + ": the file ends after line " + std::to_string(lines.size()) +
                    ": the primitive cell has " + std::to_string(ni) +
                    " symmetry-independent atoms (" + atom_list() + "), whose Born charges are " +
                    "lines 3 to " + std::to_string(2 + ni) + ", one line of 9 numbers each");
    }
    given[independent[k]] =
        nine(index, "the Born charge of atom " + element_label(crystal, independent[k]));
  }
  if (lines.size() > static_cast<std::size_t>(2 + ni)) {
    throw IoError(path + ":" + std::to_string(3 + ni) + ": one line too many: the primitive cell " +
                  "has " + std::to_string(ni) + " symmetry-independent atoms (" + atom_list() +
                  "), so the file has " + std::to_string(2 + ni) +
                  " lines (factor or comment, dielectric tensor, one Born charge per "
                  "independent atom, in this order)");
  }
  // Expand to the other atoms: an operation taking atom i onto its representative r gives
  // Z_i = R^T Z_r R.
  const PrimitiveSymmetry s = primitive_symmetry(crystal);
  nac.born = given;
  for (int i = 0; i < crystal.num_primitive(); ++i) {
    const int r = s.equivalent[i];
    if (r == i) continue;
    for (std::size_t o = 0; o < s.image.size(); ++o) {
      if (s.image[o][i] != r) continue;
      nac.born[i] = s.cartesian[o].transpose() * given[r] * s.cartesian[o];
      break;
    }
  }
  std::vector<std::string> atom_where(crystal.num_primitive());
  for (int i = 0; i < crystal.num_primitive(); ++i) {
    for (int k = 0; k < ni; ++k) {
      if (independent[k] == s.equivalent[i]) atom_where[i] = path + ":" + std::to_string(3 + k);
    }
  }
  NacCheck c = prepare_nac(nac, crystal, path, kNacSymmetryTolerance, &atom_where);
  if (std::abs(nac.factor / kDefaultNacFactor - 1) > 1e-3) {
    c.replaced_factor = nac.factor;
    nac.factor = kDefaultNacFactor;
  }
  if (check) *check = c;
  return nac;
}

std::string replaced_factor_warning(const NacCheck& check, const std::string& path) {
  if (check.replaced_factor == 0) return {};
  std::ostringstream s;
  s.precision(10);
  s << "the unit factor " << check.replaced_factor << " on line 1 of '" << path
    << "' is for another calculator's units (2 is Rydberg-Bohr, 1 Hartree-Bohr); physfit's "
       "force constants are in eV and Angstrom, so "
    << kDefaultNacFactor << " (e^2 / 4 pi epsilon_0 in eV Angstrom) is used";
  return s.str();
}

void write_born(const std::string& path, const NacParameters& nac, const Crystal& crystal) {
  const std::vector<int> independent = independent_atoms(crystal);
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "%.16g", nac.factor);
  out += b;
  if (nac.g_cutoff > 0 || nac.lambda > 0) {
    const double g =
        nac.g_cutoff > 0 ? nac.g_cutoff : default_g_cutoff(volume_of(crystal.primitive().lattice));
    std::snprintf(b, sizeof b, " %.16g", g);
    out += b;
    if (nac.lambda > 0) {
      std::snprintf(b, sizeof b, " %.16g", nac.lambda);
      out += b;
    }
  }
  out += "  # unit factor; epsilon and Z* of atoms";
  for (int i : independent) out += " " + std::to_string(i + 1);
  out += " (physfit)\n";
  auto line = [&](const Eigen::Matrix3d& m) {
    for (int k = 0; k < 9; ++k) {
      const double v = m(k / 3, k % 3);  // rounding noise of the symmetrisation written as 0
      std::snprintf(b, sizeof b, "%s%.15f", k ? " " : "", std::abs(v) < 1e-13 ? 0.0 : v);
      out += b;
    }
    out += "\n";
  };
  line(nac.epsilon);
  for (int i : independent) line(nac.born.at(i));
  io::write_file_atomic(path, out);
}

void write_nac_hdf5(const io::File& f, const NacParameters& nac) {
  const io::Group g = f.create_group("/nac");
  io::set_attribute(g.id(), "factor", nac.factor);
  io::set_attribute(g.id(), "method", nac_method_name(nac.method));
  io::set_attribute(g.id(), "g_cutoff", nac.g_cutoff);
  io::set_attribute(g.id(), "lambda", nac.lambda);
  io::set_attribute(g.id(), "source", nac.source);
  std::vector<double> eps(9), born;
  for (int k = 0; k < 9; ++k) eps[k] = nac.epsilon(k / 3, k % 3);
  for (const auto& z : nac.born)
    for (int k = 0; k < 9; ++k) born.push_back(z(k / 3, k % 3));
  f.create_dataset<double>("/nac/epsilon", {3, 3}, "dimensionless").write_all(eps);
  const auto d = f.create_dataset<double>("/nac/born",
                                          {static_cast<std::int64_t>(nac.born.size()), 3, 3}, "e");
  d.write_all(born);
  io::set_attribute(d.id(), "unit", "e");
}

namespace {
// One number of a /nac attribute; IoError naming the file and attribute unless it holds one.
double nac_scalar(const io::Group& g, const std::string& name, const std::string& path) {
  const auto v = io::get_numeric_attribute(g.id(), name);
  if (v.size() != 1) {
    throw IoError(path + ": /nac attribute '" + name + "' holds " + std::to_string(v.size()) +
                  " values, expected one number (write the file again with physfit)");
  }
  return v[0];
}
}  // namespace

std::optional<NacParameters> read_nac_hdf5(const std::string& path) {
  const io::File f = io::File::open(path);
  if (!f.exists("/nac")) return std::nullopt;
  NacParameters nac;
  const io::Group g = f.group("/nac");
  nac.factor = nac_scalar(g, "factor", path);
  try {
    nac.method = parse_nac_method(io::get_string_attribute(g.id(), "method"), path + ": /nac");
  } catch (const UsageError& e) {
    throw IoError(e.what());  // a bad value in a file is malformed input data (exit 4)
  }
  if (io::has_attribute(g.id(), "g_cutoff")) nac.g_cutoff = nac_scalar(g, "g_cutoff", path);
  if (io::has_attribute(g.id(), "lambda")) nac.lambda = nac_scalar(g, "lambda", path);
  nac.source = path;
  if (io::has_attribute(g.id(), "source")) {
    nac.source = io::get_string_attribute(g.id(), "source") + " (via " + path + ")";
  }
  const io::Dataset e = f.dataset("/nac/epsilon");
  e.require_shape({3, 3});
  const auto ev = e.read_all<double>();
  for (int k = 0; k < 9; ++k) nac.epsilon(k / 3, k % 3) = ev[k];
  const io::Dataset b = f.dataset("/nac/born");
  b.require_shape({-1, 3, 3});
  const auto bv = b.read_all<double>();
  for (std::int64_t i = 0; i < b.rows(); ++i) {
    Eigen::Matrix3d z;
    for (int k = 0; k < 9; ++k) z(k / 3, k % 3) = bv[9 * i + k];
    nac.born.push_back(z);
  }
  bool finite = nac.epsilon.allFinite() && std::isfinite(nac.factor) && nac.factor > 0 &&
                std::isfinite(nac.g_cutoff) && nac.g_cutoff >= 0 && std::isfinite(nac.lambda) &&
                nac.lambda >= 0;
  for (const auto& z : nac.born) finite = finite && z.allFinite();
  if (!finite) {
    throw IoError(path +
                  ": /nac has a non-finite value, a factor that is not positive or a negative "
                  "g_cutoff or lambda");
  }
  return nac;
}

DipoleDipole::DipoleDipole(const NacParameters& nac, const Structure& primitive) : nac_(nac) {
  const Eigen::Matrix3d reciprocal = primitive.lattice.inverse();  // columns b_i, no 2 pi
  const double volume = volume_of(primitive.lattice);
  g_cutoff_ = nac.g_cutoff > 0 ? nac.g_cutoff : default_g_cutoff(volume);
  lambda_ =
      nac.lambda > 0
          ? nac.lambda
          : std::sqrt(-g_cutoff_ * g_cutoff_ * nac.epsilon.trace() / 3 / 4 / std::log(kExpCutoff));
  prefactor_ = nac.factor * 4 * M_PI / volume;
  position_ = primitive.positions;
  // G = n1 b1 + n2 b2 + n3 b3 with |G| < G_cutoff: |n_i| = |G . a_i| <= G_cutoff |a_i|.
  int bound[3];
  for (int a = 0; a < 3; ++a) {
    bound[a] = std::min(kMaxGIndex,
                        static_cast<int>(std::ceil(g_cutoff_ * primitive.lattice.row(a).norm())));
  }
  for (int n0 = -bound[0]; n0 <= bound[0]; ++n0)
    for (int n1 = -bound[1]; n1 <= bound[1]; ++n1)
      for (int n2 = -bound[2]; n2 <= bound[2]; ++n2) {
        const Eigen::Vector3d g = reciprocal * Eigen::Vector3d(n0, n1, n2);
        if (g.squaredNorm() < g_cutoff_ * g_cutoff_) g_.push_back(g);
      }
  // The q = 0 sum over partner atoms, Hermitian part (phonopy's dd_q0).
  const int np = static_cast<int>(position_.size());
  const Eigen::MatrixXcd d0 = sum(Eigen::Vector3d::Zero(), std::nullopt);
  dd_q0_.assign(np, Eigen::Matrix3cd::Zero());
  for (int i = 0; i < np; ++i) {
    for (int j = 0; j < np; ++j) dd_q0_[i] += d0.block<3, 3>(3 * i, 3 * j);
    dd_q0_[i] = ((dd_q0_[i] + dd_q0_[i].adjoint()) / 2.0).eval();
  }
}

Eigen::MatrixXcd DipoleDipole::sum(const Eigen::Vector3d& q_cart,
                                   const std::optional<Eigen::Vector3d>& direction) const {
  const int np = static_cast<int>(position_.size());
  Eigen::MatrixXcd dd = Eigen::MatrixXcd::Zero(3 * np, 3 * np);
  const double l2 = 4 * lambda_ * lambda_;
  const Eigen::Matrix3d& eps = nac_.epsilon;
  std::vector<std::complex<double>> phase(np);
  for (const auto& g : g_) {
    const Eigen::Vector3d k = g + q_cart;
    Eigen::Matrix3d kk;
    if (k.norm() < kZeroTolerance) {
      if (!direction) continue;
      const Eigen::Vector3d& d = *direction;
      kk = d * d.transpose() / d.dot(eps * d);
    } else {
      const double kek = k.dot(eps * k);
      kk = k * k.transpose() / kek * std::exp(-kek / l2);
    }
    for (int i = 0; i < np; ++i) phase[i] = std::polar(1.0, 2 * M_PI * position_[i].dot(g));
    for (int i = 0; i < np; ++i)
      for (int j = 0; j < np; ++j) {
        dd.block<3, 3>(3 * i, 3 * j) +=
            kk.cast<std::complex<double>>() * (phase[i] * std::conj(phase[j]));
      }
  }
  // Born charges: Z_i^T dd_ij Z_j (the field index of Z* meets K).
  for (int i = 0; i < np; ++i)
    for (int j = 0; j < np; ++j) {
      const Eigen::Matrix3cd b = dd.block<3, 3>(3 * i, 3 * j);
      dd.block<3, 3>(3 * i, 3 * j) = nac_.born[i].transpose().cast<std::complex<double>>() * b *
                                     nac_.born[j].cast<std::complex<double>>();
    }
  return dd;
}

Eigen::MatrixXcd DipoleDipole::at(const Eigen::Vector3d& q_cart,
                                  const std::optional<Eigen::Vector3d>& direction) const {
  Eigen::MatrixXcd dd = sum(q_cart, direction);
  for (std::size_t i = 0; i < dd_q0_.size(); ++i) dd.block<3, 3>(3 * i, 3 * i) -= dd_q0_[i];
  return dd * prefactor_;
}

Eigen::MatrixXd wang_charge_term(const NacParameters& nac, double volume,
                                 const Eigen::Vector3d& q_cart) {
  const int np = static_cast<int>(nac.born.size());
  const double c = nac.factor * 4 * M_PI / volume / q_cart.dot(nac.epsilon * q_cart);
  std::vector<Eigen::RowVector3d> qz(np);
  for (int i = 0; i < np; ++i) qz[i] = q_cart.transpose() * nac.born[i];
  Eigen::MatrixXd out(3 * np, 3 * np);
  for (int i = 0; i < np; ++i)
    for (int j = 0; j < np; ++j) out.block<3, 3>(3 * i, 3 * j) = c * qz[i].transpose() * qz[j];
  return out;
}

}  // namespace physfit::fc
