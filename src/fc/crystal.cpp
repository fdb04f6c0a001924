#include "physfit/fc/crystal.hpp"

#include <spglib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>
#include <tuple>

#include "physfit/error.hpp"
#include "physfit/fc/elements.hpp"

namespace physfit::fc {
namespace {

std::string vec_text(const Eigen::Vector3d& v) {
  std::ostringstream s;
  s << "(" << v[0] << ", " << v[1] << ", " << v[2] << ")";
  return s.str();
}

// Cartesian length of the fractional difference d in lattice L after wrapping to the nearest
// image.
Eigen::Vector3d wrap_fractional(Eigen::Vector3d d) {
  for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
  return d;
}

// Basis of the integer lattice spanned by `rows` (integer row reduction, Hermite-like).
Eigen::Matrix3i lattice_basis(std::vector<Eigen::Vector3i> rows) {
  std::size_t top = 0;
  for (int c = 0; c < 3; ++c) {
    while (true) {
      std::size_t pivot = rows.size();
      for (std::size_t r = top; r < rows.size(); ++r) {
        if (rows[r][c] != 0 &&
            (pivot == rows.size() || std::abs(rows[r][c]) < std::abs(rows[pivot][c]))) {
          pivot = r;
        }
      }
      if (pivot == rows.size()) break;
      std::swap(rows[top], rows[pivot]);
      bool done = true;
      for (std::size_t r = top + 1; r < rows.size(); ++r) {
        const int q = rows[r][c] / rows[top][c];
        rows[r] -= q * rows[top];
        if (rows[r][c] != 0) done = false;
      }
      if (done) break;
    }
    if (top < rows.size() && rows[top][c] != 0) ++top;
  }
  if (top != 3) throw Error("lattice_basis: the translations do not span three dimensions");
  Eigen::Matrix3i out;
  for (int r = 0; r < 3; ++r) out.row(r) = rows[r].transpose();
  return out;
}

// Shortens a lattice basis (rows) by pairwise reduction; keeps it right-handed.
Eigen::Matrix3d reduce_basis(Eigen::Matrix3d b) {
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        if (i == j) continue;
        const double q = std::round(b.row(i).dot(b.row(j)) / b.row(j).squaredNorm());
        if (q != 0) {
          const Eigen::RowVector3d shorter = b.row(i) - q * b.row(j);
          if (shorter.squaredNorm() < b.row(i).squaredNorm() - 1e-12) {
            b.row(i) = shorter;
            changed = true;
          }
        }
      }
    }
  }
  if (b.determinant() < 0) b.row(2) *= -1;
  return b;
}

}  // namespace

bool integer_matrix(const Eigen::Matrix3d& m, double tolerance, Eigen::Matrix3i& out) {
  constexpr double kLargest = 1 << 20;
  if (!m.allFinite() || m.cwiseAbs().maxCoeff() > kLargest) return false;
  const Eigen::Matrix3d rounded = m.array().round().matrix();
  if ((m - rounded).cwiseAbs().maxCoeff() > tolerance) return false;
  out = rounded.cast<int>();
  return true;
}

std::vector<int> species_types(const Structure& s) {
  std::map<std::tuple<std::string, int, double>, int> ids;
  std::vector<int> out;
  for (int i = 0; i < s.size(); ++i) {
    auto key = std::make_tuple(s.symbol(i), s.numbers[i], std::round(s.masses[i] * 1e6) / 1e6);
    auto it = ids.emplace(key, static_cast<int>(ids.size()) + 1).first;
    out.push_back(it->second);
  }
  return out;
}

std::string Structure::symbol(int i) const {
  if (i < static_cast<int>(symbols.size()) && !symbols[i].empty()) return symbols[i];
  const std::string e = element_symbol(numbers.at(i));
  return e.empty() ? "Z" + std::to_string(numbers[i]) : e;
}

void Structure::fill_symbols() {
  symbols.resize(numbers.size());
  for (int i = 0; i < static_cast<int>(numbers.size()); ++i) symbols[i] = symbol(i);
}

Eigen::Vector3d Structure::fractional(int i) const {
  return lattice.transpose().partialPivLu().solve(positions[i]);
}

void Structure::validate(const std::string& where) const {
  const int n = size();
  if (n == 0) throw IoError(where + ": the structure has no atoms");
  if (static_cast<int>(numbers.size()) != n || static_cast<int>(masses.size()) != n) {
    throw IoError(where + ": " + std::to_string(n) + " positions but " +
                  std::to_string(numbers.size()) + " atomic numbers and " +
                  std::to_string(masses.size()) + " masses");
  }
  if (!symbols.empty() && static_cast<int>(symbols.size()) != n) {
    throw IoError(where + ": " + std::to_string(n) + " positions but " +
                  std::to_string(symbols.size()) + " species names");
  }
  if (!lattice.allFinite() || std::abs(lattice.determinant()) < 1e-8) {
    throw IoError(where + ": the lattice is singular or not finite");
  }
  for (int i = 0; i < n; ++i) {
    if (!positions[i].allFinite()) {
      throw IoError(where + ": position of atom " + std::to_string(i + 1) + " is not finite");
    }
    if (element_symbol(numbers[i]).empty()) {
      throw IoError(where + ": atom " + std::to_string(i + 1) + " has atomic number " +
                    std::to_string(numbers[i]) + ", which is not an element (1 H to 118 Og)");
    }
    if (!(masses[i] > 0) || !std::isfinite(masses[i])) {
      throw IoError(where + ": mass of atom " + std::to_string(i + 1) + " is " +
                    std::to_string(masses[i]) + "; masses must be positive (amu)");
    }
  }
}

Eigen::Matrix3d Crystal::find_primitive_lattice(const Structure& s, double symprec) {
  const int n = s.size();
  const std::vector<int> types = species_types(s);
  std::vector<Eigen::Vector3d> frac(n);
  for (int i = 0; i < n; ++i) frac[i] = s.fractional(i);
  auto close = [&](const Eigen::Vector3d& df) {
    return (s.lattice.transpose() * wrap_fractional(df)).norm() < symprec;
  };
  std::vector<Eigen::Vector3d> found;
  for (int j = 0; j < n; ++j) {
    if (types[j] != types[0]) continue;
    const Eigen::Vector3d t = frac[j] - frac[0];
    bool ok = true;
    for (int i = 0; i < n && ok; ++i) {
      bool hit = false;
      // Atoms are usually translated to nearby indices: start the search there.
      for (int k = 0; k < n && !hit; ++k) {
        const int m = (i + k) % n;
        hit = types[m] == types[i] && close(frac[i] + t - frac[m]);
      }
      ok = hit;
    }
    if (ok) found.push_back(wrap_fractional(t));
  }
  const int count = static_cast<int>(found.size());
  std::vector<Eigen::Vector3i> rows;
  for (int k = 0; k < 3; ++k) rows.push_back(Eigen::Vector3i::Unit(k) * count);
  for (const auto& t : found) rows.push_back((t * count).array().round().cast<int>().matrix());
  const Eigen::Matrix3i basis = lattice_basis(rows);
  const Eigen::Matrix3d primitive = basis.cast<double>() / count * s.lattice;
  return reduce_basis(primitive);
}

Crystal::Crystal(Structure supercell, const Eigen::Matrix3d& primitive_lattice, double symprec)
    : supercell_(std::move(supercell)), symprec_(symprec) {
  supercell_.validate("supercell");
  if (!(symprec > 0)) throw UsageError("symprec must be positive (Angstrom)");
  const int n = num_atoms();
  const Eigen::Matrix3d& ls = supercell_.lattice;
  const Eigen::Matrix3d lp = primitive_lattice;
  if (!lp.allFinite() || std::abs(lp.determinant()) < 1e-8) {
    throw UsageError("the primitive lattice is singular");
  }
  const Eigen::Matrix3d m = ls * lp.inverse();
  Eigen::Matrix3i mi;
  if (!integer_matrix(m, 1e-5, mi) || std::abs(mi.cast<double>().determinant()) < 0.5) {
    std::ostringstream s;
    s << "the supercell lattice is not an integer multiple of the primitive lattice: "
         "supercell = M primitive gives M =\n"
      << m << "\n(check primitive_matrix and supercell_matrix)";
    throw UsageError(s.str());
  }
  const Eigen::Matrix3d mr = mi.cast<double>();
  supercell_matrix_ = mi;
  det_ = static_cast<int>(std::lround(mr.determinant()));
  const Eigen::Matrix3d adj = mr.inverse() * det_;
  adjugate_ = adj.array().round().matrix().cast<int>();
  num_cells_ = std::abs(det_);
  if (n % num_cells_ != 0) {
    throw UsageError("the supercell has " + std::to_string(n) + " atoms, not a multiple of its " +
                     std::to_string(num_cells_) + " primitive cells");
  }
  const std::vector<int> types = species_types(supercell_);
  const Eigen::Matrix3d lp_inv_t = lp.transpose().inverse();

  // Translation classes: atoms that differ by a primitive lattice vector.
  std::vector<Eigen::Vector3d> frac(n);  // primitive fractional coordinates
  for (int i = 0; i < n; ++i) frac[i] = lp_inv_t * supercell_.positions[i];
  s2p_.assign(n, -1);
  cells_.resize(n);
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < p2s_.size() && s2p_[i] < 0; ++k) {
      const int p = p2s_[k];
      const Eigen::Vector3d d = frac[i] - frac[p];
      const Eigen::Vector3d rounded = d.array().round().matrix();
      if (types[p] == types[i] && (lp.transpose() * (d - rounded)).norm() < symprec) {
        s2p_[i] = static_cast<int>(k);
        cells_[i] = rounded.cast<int>();
      }
    }
    if (s2p_[i] < 0) {
      s2p_[i] = static_cast<int>(p2s_.size());
      p2s_.push_back(i);
      cells_[i] = Eigen::Vector3i::Zero();
    }
  }
  const int np = num_primitive();
  if (np * num_cells_ != n) {
    throw UsageError("the supercell's " + std::to_string(n) + " atoms fall into " +
                     std::to_string(np) +
                     " classes of translations of the primitive lattice, "
                     "but the supercell holds " +
                     std::to_string(num_cells_) +
                     " primitive cells: the primitive lattice is not a lattice of pure "
                     "translations of this structure (check the primitive matrix and symprec)");
  }
  lookup_.assign(np, {});
  for (int i = 0; i < n; ++i) {
    if (!lookup_[s2p_[i]].emplace(cell_key(cells_[i]), i).second) {
      throw UsageError("atoms " + std::to_string(i + 1) +
                       " and another atom of the supercell sit on the same site");
    }
  }
  primitive_.lattice = lp;
  for (int p : p2s_) {
    primitive_.positions.push_back(supercell_.positions[p]);
    primitive_.numbers.push_back(supercell_.numbers[p]);
    primitive_.masses.push_back(supercell_.masses[p]);
    primitive_.symbols.push_back(supercell_.symbol(p));
  }

  // Pure translations: t moves primitive atom 0 to the t-th atom of its class.
  std::vector<int> members;
  for (int i = 0; i < n; ++i) {
    if (s2p_[i] == 0) members.push_back(i);
  }
  std::vector<int> index_of(n, -1);
  for (std::size_t t = 0; t < members.size(); ++t) index_of[members[t]] = static_cast<int>(t);
  translations_.resize(static_cast<std::size_t>(num_cells_) * n);
  for (int t = 0; t < num_cells_; ++t) {
    const Eigen::Vector3i shift = cells_[members[t]];
    for (int i = 0; i < n; ++i) translations_[t * n + i] = atom_at(s2p_[i], cells_[i] + shift);
  }
  home_.resize(n);
  for (int i = 0; i < n; ++i) home_[i] = index_of[atom_at(0, -cells_[i])];

  // Space group of the primitive cell (spglib), restricted to operations of the supercell.
  std::vector<double> positions(3 * np);
  std::vector<int> ptypes(np);
  for (int k = 0; k < np; ++k) {
    for (int a = 0; a < 3; ++a)
      positions[3 * k + a] = frac[p2s_[k]][a] - std::floor(frac[p2s_[k]][a]);
    ptypes[k] = types[p2s_[k]];
  }
  double lattice_cols[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) lattice_cols[a][b] = lp(b, a);
  SpglibDataset* data = spg_get_dataset(
      lattice_cols, reinterpret_cast<double(*)[3]>(positions.data()), ptypes.data(), np, symprec);
  if (data == nullptr) {
    throw UsageError(std::string("spglib found no space group for the primitive cell: ") +
                     spg_get_error_message(spg_get_error_code()) + " (try a larger symprec)");
  }
  international_ = data->international_symbol;
  spacegroup_number_ = data->spacegroup_number;
  const Eigen::Matrix3d mt = mr.transpose();
  const Eigen::Matrix3d mt_inv = mt.inverse();
  for (int o = 0; o < data->n_operations; ++o) {
    SymmetryOperation op;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) op.rotation(a, b) = data->rotations[o][a][b];
      op.translation[a] = data->translations[o][a];
    }
    const Eigen::Matrix3d r = op.rotation.cast<double>();
    const Eigen::Matrix3d k = mt_inv * r * mt;
    if ((k - k.array().round().matrix()).cwiseAbs().maxCoeff() > 1e-6) {
      ++dropped_;
      continue;
    }
    op.cartesian = lp.transpose() * r * lp.transpose().inverse();
    operations_.push_back(op);
  }
  spg_free_dataset(data);

  // Where each operation sends each supercell atom.
  const int nops = static_cast<int>(operations_.size());
  atom_maps_.resize(static_cast<std::size_t>(nops) * n);
  for (int o = 0; o < nops; ++o) {
    const auto& op = operations_[o];
    std::vector<int> target(np);
    std::vector<Eigen::Vector3i> offset(np);
    for (int p = 0; p < np; ++p) {
      const Eigen::Vector3d image = op.rotation.cast<double>() * frac[p2s_[p]] + op.translation;
      target[p] = -1;
      for (int k = 0; k < np && target[p] < 0; ++k) {
        const Eigen::Vector3d d = image - frac[p2s_[k]];
        const Eigen::Vector3d rounded = d.array().round().matrix();
        if (ptypes[k] == ptypes[p] && (lp.transpose() * (d - rounded)).norm() < symprec) {
          target[p] = k;
          offset[p] = rounded.cast<int>();
        }
      }
      if (target[p] < 0) {
        throw UsageError("spglib operation " + std::to_string(o + 1) + " moves primitive atom " +
                         std::to_string(p + 1) + " to " + vec_text(image) +
                         ", where no atom is within symprec");
      }
    }
    for (int i = 0; i < n; ++i) {
      const int p = s2p_[i];
      atom_maps_[o * n + i] = atom_at(target[p], offset[p] + op.rotation * cells_[i]);
    }
  }

  distances_.resize(static_cast<std::size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) distances_[std::size_t(i) * n + j] = shortest_vector(i, j).norm();
}

std::int64_t Crystal::cell_key(const Eigen::Vector3i& cell) const {
  // cell M^-1 is integral for supercell vectors: key on (cell adj(M)) mod det.
  const Eigen::Matrix<std::int64_t, 1, 3> k =
      cell.cast<std::int64_t>().transpose() * adjugate_.cast<std::int64_t>();
  const std::int64_t d = std::abs(det_);
  std::int64_t key = 0;
  for (int a = 0; a < 3; ++a) key = key * d + (((k[a] % d) + d) % d);
  return key;
}

int Crystal::atom_at(int p, const Eigen::Vector3i& cell) const {
  const auto it = lookup_[p].find(cell_key(cell));
  if (it == lookup_[p].end()) throw Error("Crystal::atom_at: no atom (internal)");
  return it->second;
}

Eigen::Vector3d Crystal::shortest_vector(int i, int j) const {
  const auto v = shortest_vectors(i, j, 0.0);
  return v.front();
}

std::vector<Eigen::Vector3d> Crystal::shortest_vectors(int i, int j, double tolerance) const {
  const Eigen::Matrix3d& l = supercell_.lattice;
  const Eigen::Vector3d d = wrap_fractional(supercell_.fractional(j) - supercell_.fractional(i));
  std::vector<Eigen::Vector3d> all;
  double best = 1e300;
  for (int a = -1; a <= 1; ++a)
    for (int b = -1; b <= 1; ++b)
      for (int c = -1; c <= 1; ++c) {
        const Eigen::Vector3d v = l.transpose() * (d + Eigen::Vector3d(a, b, c));
        all.push_back(v);
        best = std::min(best, v.norm());
      }
  std::vector<Eigen::Vector3d> out;
  for (const auto& v : all) {
    if (v.norm() <= best + tolerance) out.push_back(v);
  }
  if (tolerance == 0.0 && out.size() > 1) out.resize(1);
  return out;
}

}  // namespace physfit::fc
