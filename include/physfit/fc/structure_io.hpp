#pragma once
/// @file
/// Crystal structures in the files people have, read and written:
///  - VASP POSCAR / CONTCAR / SPOSCAR (VASP 5 with the species line; VASP 4 with the species
///    given separately or named on the comment line), scale factor (negative: the volume),
///    "Selective dynamics", Direct or Cartesian coordinates;
///  - phonopy's YAML files (`phonopy_disp.yaml`, `phonopy.yaml`, `phonopy_params.yaml`):
///    unit cell, primitive and supercell matrices, supercell, the displacement data set (type 1,
///    one displaced atom per supercell, or type 2, every atom displaced) with forces when
///    present, and the Born charges and dielectric tensor when present (parsed with yaml-cpp);
///  - ALAMODE's input (`&general` NAT, NKD, KD, MASS; `&cell` with its factor in Bohr;
///    `&position` with kind index and fractional coordinates);
///  - extended XYZ (its first frame);
///  - physfit's HDF5 (`/structure`, dataset.hpp).
/// read_structure() detects the format from the content, never from the file name.
///
/// Supercells are built as phonopy builds them (its default construction: the unit cell
/// repeated over a frame that holds the supercell, then trimmed to it, keeping the first copy
/// of each site), so that a POSCAR unit cell with the supercell matrix gives phonopy's atom
/// order and FORCE_SETS indices agree.
///
/// Species keep their names ("Ga", or labels such as "Fe1"); masses are the file's when it has
/// them, else the standard atomic weight of the element the name starts with (elements.hpp).

#include <Eigen/Dense>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "physfit/fc/crystal.hpp"
#include "physfit/fc/dataset.hpp"

namespace physfit::fc {

/// The structure formats read_structure() knows.
enum class StructureFormat { kHdf5, kPhonopyYaml, kExtxyz, kAlamode, kPoscar };

/// "physfit HDF5", "phonopy YAML", "extended XYZ", "ALAMODE input", "VASP POSCAR".
std::string format_name(StructureFormat format);

/// The format of a file, from its content: the HDF5 signature; YAML with phonopy's keys
/// (`unit_cell:`, `supercell:`, `primitive_cell:`, `lattice:` at the top level); an atom
/// count followed by a line with `Lattice=` (extended XYZ); an `&general` block (ALAMODE);
/// anything else is read as a POSCAR. IoError if the file cannot be read.
StructureFormat detect_structure_format(const std::string& path);

/// How to read a structure file.
struct StructureOptions {
  /// VASP 4 POSCAR: the species names, in the order of the counts line.
  std::vector<std::string> species;
  /// Masses (amu) by species name, overriding the file's and the standard weights.
  std::map<std::string, double> masses;
  /// phonopy's supercell matrix (DIM): the file holds the unit cell and the supercell is built
  /// from it in phonopy's atom order. For files that hold a supercell already (phonopy YAML,
  /// physfit HDF5) it must agree with the file's matrix.
  std::optional<Eigen::Matrix3i> supercell_matrix;
  /// phonopy's primitive matrix (primitive = unit cell times it, in columns); only with a
  /// unit cell (a supercell matrix, or a phonopy YAML file). Absent: the file's, or found from
  /// the supercell's pure translations.
  std::optional<Eigen::Matrix3d> primitive_matrix;
  /// Tolerance (Angstrom) for overlapping atoms when building a supercell.
  double symprec = 1e-5;
};

/// phonopy's supercell matrix from 3 (diagonal) or 9 integers (rows, as phonopy's DIM).
/// UsageError naming `where` otherwise.
Eigen::Matrix3i supercell_matrix_from(const std::vector<double>& values, const std::string& where);

/// phonopy's primitive matrix from text: 9 numbers (fractions such as 1/2 allowed), or one of
/// phonopy's centring letters P, F, I, A, C, R. "auto" or "" give nullopt (found from the
/// supercell). UsageError naming `where` otherwise.
std::optional<Eigen::Matrix3d> primitive_matrix_from(const std::string& text,
                                                     const std::string& where);

/// Reads a VASP POSCAR (CONTCAR, SPOSCAR) as written: the cell and its atoms, species names
/// from the file (VASP 5), from `options.species`, or from the comment line when it lists
/// exactly one name per count (VASP 4). IoError naming file, line and field otherwise.
Structure read_poscar(const std::string& path, const StructureOptions& options = {});

/// Writes a VASP 5 POSCAR (Direct coordinates, scale 1): species lines by runs of equal
/// names in atom order (a name may repeat), so that the atom order is kept. Atomic write.
void write_poscar(const std::string& path, const Structure& structure, const std::string& comment);

/// Born effective charges and dielectric tensor as phonopy's YAML files store them.
struct PhonopyNac {
  std::vector<Eigen::Matrix3d> born;  ///< one per atom of the primitive cell
  Eigen::Matrix3d dielectric = Eigen::Matrix3d::Zero();
  std::optional<double> factor;  ///< nac_unit_conversion_factor
};

/// Everything physfit reads from a phonopy YAML file.
struct PhonopyYaml {
  std::optional<Structure> unit_cell;
  std::optional<Structure> primitive_cell;
  std::optional<Structure> supercell;
  std::optional<Eigen::Matrix3i> supercell_matrix;
  std::optional<Eigen::Matrix3d> primitive_matrix;
  /// Displacement data set: 0 (none), 1 (one displaced atom per configuration) or 2.
  int dataset_type = 0;
  /// Type 1: the displaced atom (0-based) of each configuration.
  std::vector<int> displaced_atoms;
  /// The displacements of every configuration as full supercell arrays, with the forces when
  /// the file has them (`has_forces`), else forces left empty.
  Configurations configurations;
  bool has_forces = false;
  std::optional<PhonopyNac> nac;
  /// phonopy's calculator (`phonopy: calculator:`; "vasp" when absent). phonopy keeps each
  /// calculator's own units in its files (Quantum ESPRESSO: Bohr and Ry/Bohr, as its
  /// get_default_physical_units lists them); everything above is converted to Angstrom and
  /// eV/Angstrom with these factors, which also convert the FORCE_SETS of the same run.
  std::string calculator = "vasp";
  double angstrom_per_length = 1.0;        ///< Angstrom per the file's unit of length
  double ev_per_angstrom_per_force = 1.0;  ///< eV/Angstrom per the file's unit of force
};

/// Parses a phonopy YAML file (yaml-cpp). IoError naming file, line and key on a malformed or
/// inconsistent file; a missing part is simply absent from the result.
PhonopyYaml read_phonopy_yaml(const std::string& path);

/// Reads the structure of an ALAMODE input file: NAT, NKD, KD (species names) and MASS from
/// `&general`, the lattice from `&cell` (a factor in Bohr, then three lattice vectors) and the
/// atoms from `&position` (kind index, fractional coordinates). IoError naming file and line.
Structure read_alamode_input(const std::string& path);

/// The supercell phonopy builds from `unit` with supercell matrix `smat` (phonopy's
/// convention: the supercell's lattice vectors are the columns of smat in the unit cell's
/// basis), atoms in phonopy's order. UsageError if atoms overlap or the count is wrong.
Structure build_supercell(const Structure& unit, const Eigen::Matrix3i& smat,
                          double symprec = 1e-5);

/// Reads a structure in any of the formats above (detected from the content) as the ideal
/// supercell of a force-constant fit, with what the file or the options say of its unit and
/// primitive cells. POSCAR, ALAMODE input and extended XYZ hold the supercell itself unless
/// `options.supercell_matrix` is given (then they hold the unit cell). IoError / UsageError
/// naming the file, line and field.
IdealStructure read_structure(const std::string& path, const StructureOptions& options = {});

/// Sets each atom's mass from `masses` (by species name) where it names the species, else
/// keeps a positive mass, else the standard atomic weight of its element; UsageError naming
/// `where` and the species when none is known.
void assign_masses(Structure& s, const std::map<std::string, double>& masses,
                   const std::string& where);

/// Writes a phonopy YAML file that phonopy.load() reads with the FORCE_CONSTANTS physfit
/// writes for `crystal` (full, in physfit's supercell order): unit cell, primitive matrix,
/// supercell matrix, supercell and species with masses. The unit cell is the file's own when
/// phonopy rebuilds physfit's supercell order from it (data from phonopy), else the
/// supercell itself with the identity supercell matrix. Atomic write (yaml-cpp's emitter).
void write_phonopy_yaml(const std::string& path, const IdealStructure& ideal,
                        const Crystal& crystal);

}  // namespace physfit::fc
