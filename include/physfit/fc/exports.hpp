#pragma once
/// @file
/// Force constants in the files other programs read, in their units and layouts:
///  - phonopy `FORCE_CONSTANTS` (text, full or compact, eV/Angstrom^2), also ShengBTE's
///    `FORCE_CONSTANTS_2ND`;
///  - phonopy `force_constants.hdf5` / phono3py `fc2.hdf5` (full or compact with `p2s_map`);
///  - phono3py `fc3.hdf5` (compact, [n_patom, n_satom, n_satom, 3, 3, 3], eV/Angstrom^3);
///  - ShengBTE `FORCE_CONSTANTS_3RD` (blocks of three atoms with the cell vectors of atoms 2
///    and 3, Angstrom, eV/Angstrom^3): the constant of each supercell triplet at its compact
///    embedding (the images that put every pair within the third-order cutoff, as the cluster
///    space defines its clusters; one below the cutoff limit, where it is also the embedding of
///    smallest total distance), spread evenly over the compact embeddings of smallest total
///    distance beyond it; without a cutoff, over its images of smallest total distance, as
///    thirdorder.py does.
/// Text files are written atomically (io::write_file_atomic).

#include <Eigen/Dense>
#include <string>
#include <vector>

#include "physfit/fc/crystal.hpp"
#include "physfit/fc/dataset.hpp"

namespace physfit::fc {

/// Writes phonopy's FORCE_CONSTANTS text: full (all n x n blocks) or compact (rows of the
/// primitive atoms p2s only).
void write_force_constants_text(const std::string& path, const Crystal& crystal,
                                const Eigen::MatrixXd& fc2, bool compact = false);
/// Reads phonopy's FORCE_CONSTANTS text (full or compact) into a full 3n x 3n matrix; the
/// compact form is expanded with the crystal's translations. IoError names file and line.
Eigen::MatrixXd read_force_constants_text(const std::string& path, const Crystal& crystal);

/// Writes the structure files that go with FORCE_CONSTANTS, in folder `dir`: `phonopy.yaml`
/// (unit cell, primitive and supercell matrices, supercell, species and masses: phonopy.load
/// reads it with FORCE_CONSTANTS, structure_io.hpp), `SPOSCAR` (the supercell in physfit's atom
/// order) and `PPOSCAR` (the primitive cell), VASP 5 POSCARs with the species names.
void write_structure_exports(const std::string& dir, const IdealStructure& ideal,
                             const Crystal& crystal);
/// Writes phonopy's force_constants.hdf5 (dataset force_constants, p2s_map, physical_unit).
void write_force_constants_hdf5(const std::string& path, const Crystal& crystal,
                                const Eigen::MatrixXd& fc2, bool compact);
/// Writes phono3py's fc3.hdf5 from compact third-order constants (ClusterSpace::fc3_compact).
void write_fc3_hdf5(const std::string& path, const Crystal& crystal,
                    const std::vector<double>& fc3_compact);
/// Writes ShengBTE's FORCE_CONSTANTS_3RD; returns the number of blocks written. `cutoff` is the
/// third-order cutoff of the clusters (Angstrom; negative: none); `tolerance` (Angstrom) decides
/// ties of total distance.
std::size_t write_shengbte_fc3(const std::string& path, const Crystal& crystal,
                               const std::vector<double>& fc3_compact, double cutoff = -1.0,
                               double tolerance = 1e-5);

}  // namespace physfit::fc
