#pragma once
/// @file
/// physfit's own force-constant file (written by `physfit fc`, read by `physfit phonons`):
///
///     /structure/...                  the ideal supercell and primitive lattice (dataset.hpp)
///     /fc/parameters        [p]       independent parameters z (eV/Angstrom^n)
///     /fc/symmetry_parameters [px]    x = T z (one Cartesian component of an orbit's block)
///     /fc/elimination/{row,col,value} T as triplets (the sum-rule elimination)
///     /fc/orbits/{order,representative[no,4],first_parameter,size,num_clusters,max_distance}
///     /fc/orbits/basis      [sum 3^n d] each orbit's basis (3^n x d, column-major), in order
///     /fc/clusters/order_<n>/{atoms [nc, n], orbit [nc]}  every cluster of the supercell
///     /fc/force_constants   [n, n, 3, 3]              full second order, eV/Angstrom^2
///     /fc/fc3               [np, n, n, 3, 3, 3]       compact third order (when fitted)
///     /fc/p2s_map           [np]
/// Counts per order are attributes of /fc (orbits_<n>, parameters_<n>, ...).

#include <Eigen/Dense>
#include <string>

#include "physfit/fc/clusters.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/io/hdf5.hpp"

namespace physfit::fc {

/// Writes the structure and the model of parameters `z` into an open (serial) file.
void write_model(const io::File& file, const IdealStructure& ideal, const ClusterSpace& space,
                 const Eigen::VectorXd& z);

/// Reads the structure and the full second-order force constants of a model file.
std::pair<IdealStructure, Eigen::MatrixXd> read_model_fc2(const std::string& path);

}  // namespace physfit::fc
