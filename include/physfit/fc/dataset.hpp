#pragma once
/// @file
/// Training data of a force-constant fit: the ideal supercell and configurations (every atom
/// displaced by u, forces F), read from physfit's HDF5 layout or converted from the formats
/// users have (extended XYZ as ASE writes it, ALAMODE's DFSET, phonopy's phonopy_params.yaml
/// and FORCE_SETS).
///
/// physfit's HDF5 layout (eV, Angstrom, amu; atoms in the supercell's order):
///
///     /structure/lattice           [3, 3]   supercell lattice vectors as rows
///     /structure/positions         [n, 3]   ideal Cartesian positions
///     /structure/numbers           [n]      atomic numbers
///     /structure/masses            [n]      amu
///     /structure/symbols           [n]      species names (strings; optional: absent in
///                                           older files, then the element symbols)
///     /structure/primitive_lattice [3, 3]   optional: primitive lattice vectors as rows, or
///     /structure/unit_lattice      [3, 3]   optional: with primitive_matrix as phonopy's
///     /structure/primitive_matrix  [3, 3]     primitive = primitive_matrix^T unit cell
///     /structure/supercell_matrix  [3, 3]   optional (phonopy's; informative)
///     /configs/displacements       [N, n, 3] Angstrom
///     /configs/forces              [N, n, 3] eV/Angstrom
///     /configs/energies            [N]      eV (optional)
///
/// Without a primitive lattice, the primitive cell is found from the pure translations of
/// the supercell.

#include <Eigen/Dense>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "physfit/fc/crystal.hpp"
#include "physfit/fc/elements.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::fc {

/// The ideal structure and what is known about its primitive cell.
struct IdealStructure {
  Structure supercell;
  std::optional<Eigen::Matrix3d> primitive_lattice;  ///< rows, Angstrom
  std::optional<Eigen::Matrix3d> unit_lattice;       ///< phonopy's unit cell (rows)
  std::optional<Eigen::Matrix3d> primitive_matrix;   ///< phonopy's primitive_matrix
  std::optional<Eigen::Matrix3i> supercell_matrix;   ///< phonopy's supercell_matrix

  /// The primitive lattice: given, or from unit_lattice and primitive_matrix, or found from
  /// the pure translations of the supercell.
  Eigen::Matrix3d resolve_primitive_lattice(double symprec) const;
};

/// A block of configurations: rows [first, first + count) of a data set of `total`.
struct Configurations {
  int num_atoms = 0;
  std::int64_t first = 0;
  std::int64_t total = 0;
  std::vector<double> displacements;  ///< [count, num_atoms, 3], Angstrom
  std::vector<double> forces;         ///< [count, num_atoms, 3], eV/Angstrom
  std::vector<double> energies;       ///< [count] eV, or empty when unknown

  std::int64_t count() const {
    return num_atoms == 0 ? 0 : static_cast<std::int64_t>(displacements.size()) / (3 * num_atoms);
  }
  /// Appends one configuration (energy NaN when unknown).
  void add(const std::vector<double>& u, const std::vector<double>& f, double energy);
  /// Throws IoError (exit 4) naming `where`, the configuration and the atom on a non-finite value.
  void validate(const std::string& where) const;
};

/// Reads /structure of an HDF5 file (on this rank alone). IoError names file and dataset.
IdealStructure read_structure_hdf5(const std::string& path);

/// **Collective.** Reads this rank's block of configurations [begin, end) of `path` (end < 0:
/// all; the range split over the ranks as util::block_of, so each rank gets its share of the
/// configurations it will use), checking shapes against the structure (`num_atoms`).
Configurations read_configurations_hdf5(const mpi::Comm& comm, const std::string& path,
                                        int num_atoms, std::int64_t begin = 0,
                                        std::int64_t end = -1);

/// Writes /structure (and /configs if `configs` has any) into an open file (serial).
void write_dataset_hdf5(const io::File& file, const IdealStructure& ideal,
                        const Configurations& configs);

/// Units of a DFSET file.
enum class DfsetUnits { kRydbergBohr, kEvAngstrom };

/// Maps the atoms of one configuration (absolute Cartesian positions) to the sites of the
/// ideal supercell: each atom to the site of the same atomic number within `tolerance`
/// (Angstrom, minimum image), one atom per site. Returns the displacement of each site's
/// atom and the permutation site -> atom. IoError (4) naming `where` and an unmapped atom.
std::vector<int> map_to_ideal(const Structure& ideal, const std::vector<Eigen::Vector3d>& positions,
                              const std::vector<int>& numbers, double tolerance,
                              const std::string& where, std::vector<double>& displacements);

/// Extended XYZ as ASE writes it (Lattice="...", Properties=species:S:1:pos:R:3:forces:R:3,
/// energy=...): absolute positions in Angstrom, forces in eV/Angstrom. Atoms are mapped to
/// the ideal supercell within `tolerance`; with `skip_first` the first frame (the ideal
/// structure itself) is not a configuration.
Configurations read_extxyz(const std::string& path, const Structure& ideal, double tolerance,
                           bool skip_first = false);

/// The first frame of an extended XYZ file as a structure (species from its species column,
/// masses from a masses column or the standard atomic weights).
Structure read_extxyz_structure(const std::string& path);

/// ALAMODE's DFSET: per configuration, num_atoms lines "ux uy uz fx fy fz" in the order of
/// the ideal structure (Bohr and Ry/Bohr by default); lines starting with '#' are comments.
Configurations read_dfset(const std::string& path, const Structure& ideal, DfsetUnits units);

/// phonopy's FORCE_SETS (type 1: one displaced atom per supercell; type 2: every atom's
/// displacement and force), in eV and Angstrom, atoms in the ideal structure's order.
Configurations read_force_sets(const std::string& path, const Structure& ideal);

/// phonopy's phonopy_params.yaml: the supercell, unit cell and primitive matrix, and the
/// displacement data set (type 1 or 2) with forces (structure_io.hpp reads the file).
std::pair<IdealStructure, Configurations> read_phonopy_params(const std::string& path);

}  // namespace physfit::fc
