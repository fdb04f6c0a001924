#pragma once
/// @file
/// Harmonic phonons from supercell second-order force constants: the dynamical matrix at any
/// wave vector, frequencies (THz) at q-points, along a band path and on a mesh (density of
/// states).
///
/// Supercell force constants are spread over periodic images as phonopy does: the constant
/// between primitive atom i and supercell atom j goes, with weight 1/M, to each of the M
/// images of j at the shortest distance from i (within a tolerance). So physfit and phonopy
/// give the same frequencies for the same FORCE_CONSTANTS.

#include <Eigen/Dense>
#include <complex>
#include <string>
#include <vector>

#include "physfit/fc/bandpath.hpp"
#include "physfit/fc/crystal.hpp"

namespace physfit::fc {

class DynamicalMatrix {
 public:
  /// `fc2`: full supercell force constants (3n x 3n, eV/Angstrom^2, row 3i+a, column 3j+b).
  /// `tolerance` (Angstrom): images within it of the shortest distance share the constant.
  DynamicalMatrix(const Crystal& crystal, const Eigen::MatrixXd& fc2, double tolerance = 1e-5);

  /// The dynamical matrix (3 np x 3 np, eV/(Angstrom^2 amu)) at q in reduced coordinates of the
  /// primitive reciprocal lattice.
  Eigen::MatrixXcd at(const Eigen::Vector3d& q) const;
  /// Frequencies in THz, ascending; an imaginary mode is given as a negative frequency.
  Eigen::VectorXd frequencies(const Eigen::Vector3d& q) const;
  int num_bands() const { return 3 * num_primitive_; }

 private:
  struct Term {
    int p, q;                             // primitive atoms
    Eigen::Matrix3d block;                // Phi / sqrt(m m) / multiplicity
    std::vector<Eigen::Vector3d> shifts;  // primitive fractional vectors of the images
  };
  int num_primitive_ = 0;
  std::vector<Term> terms_;
};

/// Frequencies along a path. At a break of the path the distance does not advance: the next
/// branch starts where the previous one ended, and the two labels share a tick ("K|U").
struct Bands {
  std::vector<double> distance;          ///< cumulative |dq| (1/Angstrom, without 2 pi)
  std::vector<Eigen::Vector3d> qpoints;  ///< reduced
  std::vector<int> branch;               ///< the connected branch of each q-point (0, 1, ...)
  Eigen::MatrixXd frequencies;           ///< points x bands, THz
  std::vector<double> label_distance;    ///< where the labelled points are (ticks)
  std::vector<std::string> labels;       ///< tick labels; "K|U" at a break
};
Bands band_structure(const DynamicalMatrix& d, const Crystal& crystal, const BandPath& path);

/// Density of states on a Gamma-centred mesh (mesh^3 points), Gaussian smearing `sigma` (THz),
/// normalised to 3 np states; `bins` frequencies from the lowest to the highest mode.
struct Dos {
  std::vector<double> frequency, density;
};
Dos density_of_states(const DynamicalMatrix& d, int mesh, double sigma, int bins = 201);
/// The same on a mesh[0] x mesh[1] x mesh[2] mesh (divisions of the primitive reciprocal
/// vectors: anisotropic cells need different numbers along each).
Dos density_of_states(const DynamicalMatrix& d, const Eigen::Vector3i& mesh, double sigma,
                      int bins = 201);

}  // namespace physfit::fc
