#pragma once
/// @file
/// The ideal crystal of a force-constant fit: a supercell, the primitive cell it is built
/// from, the map between their atoms, and the space group of the primitive cell (spglib)
/// acting on the supercell.
///
/// The symmetry group of the supercell is the primitive cell's space-group operations times
/// the pure translations of the primitive lattice inside the supercell. physfit never lists
/// the product (5184 operations for a 216-atom diamond supercell, where ALAMODE spends 60 % of
/// its time): translations act through a table, and clusters are brought to a canonical
/// translation before the point operations are applied (see clusters.hpp).
///
/// Conventions: lattice vectors are the rows of a 3x3 matrix (Angstrom); a Cartesian position
/// r (row) has fractional coordinates f = r L^-1; spglib's operations act on fractional column
/// vectors, f' = R f + t. Atom order is the supercell's (phonopy's for phonopy data).

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace physfit::fc {

/// Atoms in a periodic cell (eV, Angstrom, amu).
///
/// Each atom has a species: a name (`symbols`: an element symbol such as "Ga", or a label
/// that starts with one, such as "Fe1" and "Fe2" for two kinds of iron), an atomic number and
/// a mass. Atoms are of the same species, for symmetry, only when all three agree.
struct Structure {
  Eigen::Matrix3d lattice = Eigen::Matrix3d::Identity();  ///< rows are lattice vectors
  std::vector<Eigen::Vector3d> positions;                 ///< Cartesian, Angstrom
  std::vector<int> numbers;                               ///< atomic numbers
  std::vector<double> masses;                             ///< amu
  /// Species names, one per atom; empty means the element symbols of `numbers`.
  std::vector<std::string> symbols;

  int size() const { return static_cast<int>(positions.size()); }
  /// The species name of atom i: symbols[i], or the element symbol of numbers[i].
  std::string symbol(int i) const;
  /// Fills `symbols` from `numbers` where it is empty.
  void fill_symbols();
  /// Fractional coordinates of atom i in this lattice.
  Eigen::Vector3d fractional(int i) const;
  /// Throws IoError (malformed data, exit 4) naming `where` if sizes differ, the lattice is
  /// singular, a Z is not an element, a mass is not positive or a value is not finite.
  void validate(const std::string& where) const;
};

/// spglib type ids (1, 2, ...) of the atoms of `s`, in order of first appearance: atoms share
/// an id only when their species name, atomic number and mass (to 1e-6 amu) agree.
std::vector<int> species_types(const Structure& s);

/// The integer matrix `m` holds, if every entry is finite, within `tolerance` of an integer
/// and at most 2^20 in size (a cell matrix past that is corrupt data, and its cast would
/// overflow int); otherwise false, and `out` is untouched.
bool integer_matrix(const Eigen::Matrix3d& m, double tolerance, Eigen::Matrix3i& out);

/// One space-group operation of the primitive cell: f' = rotation f + translation
/// (fractional coordinates of the primitive lattice), and the same rotation in Cartesian
/// coordinates.
struct SymmetryOperation {
  Eigen::Matrix3i rotation;
  Eigen::Vector3d translation;
  Eigen::Matrix3d cartesian;
};

/// The supercell, its primitive cell and their symmetry.
class Crystal {
 public:
  /// Builds the maps. `primitive_lattice` (rows, Angstrom) must generate the supercell
  /// lattice with an integer matrix, and every supercell atom must sit on a translate of a
  /// primitive atom; `symprec` (Angstrom) is the tolerance of both checks and of spglib.
  /// Throws UsageError saying what does not fit.
  Crystal(Structure supercell, const Eigen::Matrix3d& primitive_lattice, double symprec);

  /// The smallest lattice of pure translations that maps the structure onto itself within
  /// `symprec` (the primitive lattice when none is given), as rows.
  static Eigen::Matrix3d find_primitive_lattice(const Structure& supercell, double symprec);

  const Structure& supercell() const { return supercell_; }
  /// The primitive cell: its lattice and the supercell atoms p2s() with their positions.
  const Structure& primitive() const { return primitive_; }
  double symprec() const { return symprec_; }

  int num_atoms() const { return supercell_.size(); }
  int num_primitive() const { return static_cast<int>(p2s_.size()); }
  /// Primitive cells in the supercell (pure translations).
  int num_cells() const { return num_cells_; }
  /// Supercell index of each primitive atom (the lowest index of its translation class).
  const std::vector<int>& p2s() const { return p2s_; }
  /// Primitive atom of each supercell atom.
  const std::vector<int>& s2p() const { return s2p_; }
  /// The supercell lattice vectors in the primitive basis (rows, integers).
  const Eigen::Matrix3i& supercell_matrix() const { return supercell_matrix_; }
  /// Lattice vector (primitive basis) from atom p2s(s2p(atom)) to `atom`.
  const Eigen::Vector3i& cell_of(int atom) const { return cells_[atom]; }

  /// The atom that pure translation `t` (0 <= t < num_cells(), 0 is the identity) moves
  /// `atom` to.
  int translate(int atom, int t) const { return translations_[t * num_atoms() + atom]; }
  /// The translation that moves `atom` to its primitive atom p2s(s2p(atom)).
  int translation_home(int atom) const { return home_[atom]; }
  /// The supercell atom of primitive atom `p` in cell `cell` (modulo the supercell).
  int atom_at(int p, const Eigen::Vector3i& cell) const;

  /// Space-group operations of the primitive cell that are also symmetries of the supercell.
  const std::vector<SymmetryOperation>& operations() const { return operations_; }
  /// The atom operation `op` moves `atom` to (modulo the supercell).
  int map_atom(int op, int atom) const { return atom_maps_[op * num_atoms() + atom]; }
  /// spglib's international symbol and number of the space group ("Fd-3m", 227).
  const std::string& international() const { return international_; }
  int spacegroup_number() const { return spacegroup_number_; }
  /// Operations of the primitive space group that the supercell shape breaks (dropped).
  int dropped_operations() const { return dropped_; }

  /// Shortest vector (Cartesian) from atom i to any periodic image of atom j.
  Eigen::Vector3d shortest_vector(int i, int j) const;
  /// Minimum-image distance between atoms i and j.
  double distance(int i, int j) const { return distances_[std::size_t(i) * num_atoms() + j]; }
  /// Every vector from atom i to an image of atom j whose length is within `tolerance` of
  /// the shortest (phonopy's rule for distributing supercell force constants over images).
  std::vector<Eigen::Vector3d> shortest_vectors(int i, int j, double tolerance) const;

 private:
  std::int64_t cell_key(const Eigen::Vector3i& cell) const;

  Structure supercell_;
  Structure primitive_;
  double symprec_;
  int num_cells_ = 1;
  Eigen::Matrix3i supercell_matrix_;
  Eigen::Matrix3i adjugate_;  // det(M) M^-1 (integers): cells equal modulo M share a key
  int det_ = 1;
  std::vector<int> p2s_, s2p_, home_, translations_, atom_maps_;
  std::vector<Eigen::Vector3i> cells_;
  std::vector<std::unordered_map<std::int64_t, int>> lookup_;  // per primitive atom
  std::vector<SymmetryOperation> operations_;
  std::vector<double> distances_;
  std::string international_;
  int spacegroup_number_ = 0;
  int dropped_ = 0;
};

}  // namespace physfit::fc
