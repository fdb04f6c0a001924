#pragma once
/// @file
/// Harmonic phonons from supercell second-order force constants: the dynamical matrix at any
/// wave vector, frequencies (THz) at q-points, along a band path and on a mesh (density of
/// states).
///
/// Supercell force constants are spread over periodic images as phonopy does: the constant
/// between primitive atom i and supercell atom j goes, with weight 1/M, to each of the M
/// images of j at the shortest distance from i (within a tolerance). So physfit and phonopy
/// give the same frequencies for the same FORCE_CONSTANTS (and BORN: the non-analytic
/// correction of polar crystals, nac.hpp).

#include <Eigen/Dense>
#include <complex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "physfit/fc/bandpath.hpp"
#include "physfit/fc/crystal.hpp"
#include "physfit/fc/nac.hpp"

namespace physfit::fc {

class DynamicalMatrix {
 public:
  /// `fc2`: full supercell force constants (3n x 3n, eV/Angstrom^2, row 3i+a, column 3j+b).
  /// `tolerance` (Angstrom): images within it of the shortest distance share the constant.
  /// `nac`: Born charges and dielectric tensor of a polar crystal (prepared with
  /// prepare_nac), whose non-analytic term is added with nac->method (nac.hpp); none: no term.
  DynamicalMatrix(const Crystal& crystal, const Eigen::MatrixXd& fc2, double tolerance = 1e-5,
                  const NacParameters* nac = nullptr);

  /// The dynamical matrix (3 np x 3 np, eV/(Angstrom^2 amu)) at q in reduced coordinates of the
  /// primitive reciprocal lattice. With a non-analytic correction, `q_direction` (reduced, as
  /// phonopy's q_direction; only its direction matters) is the direction of approach used
  /// where q is Gamma (|q| < 1e-5 1/Angstrom); elsewhere it is ignored. At Gamma without a
  /// direction no non-analytic term is added, as phonopy.
  Eigen::MatrixXcd at(const Eigen::Vector3d& q,
                      const std::optional<Eigen::Vector3d>& q_direction = std::nullopt) const;
  /// Frequencies in THz, ascending; an imaginary mode is given as a negative frequency.
  Eigen::VectorXd frequencies(
      const Eigen::Vector3d& q,
      const std::optional<Eigen::Vector3d>& q_direction = std::nullopt) const;
  int num_bands() const { return 3 * num_primitive_; }
  /// The non-analytic correction applied (kNone without Born data).
  NacMethod nac_method() const { return method_; }
  /// The Gonze-Lee dipole-dipole sum, when that method is used (its G cutoff, Lambda, ...).
  const DipoleDipole* dipole_dipole() const { return dipole_.get(); }

 private:
  struct Term {
    int p, q;                             // primitive atoms
    Eigen::Matrix3d block;                // Phi / sqrt(m m) / multiplicity
    Eigen::Matrix3d short_range;          // the same without the dipole-dipole part (Gonze)
    std::vector<Eigen::Vector3d> shifts;  // primitive fractional vectors of the images
  };
  void subtract_dipole_dipole(const Crystal& crystal);

  int num_primitive_ = 0;
  int num_cells_ = 1;
  std::vector<Term> terms_;
  NacMethod method_ = NacMethod::kNone;
  std::optional<NacParameters> nac_;
  std::shared_ptr<const DipoleDipole> dipole_;
  Eigen::Matrix3d reciprocal_;  // columns: primitive reciprocal vectors (no 2 pi)
  Eigen::VectorXd inv_sqrt_mass_;
  double volume_ = 0;
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
/// Frequencies along a path. A point of a segment at Gamma takes the segment's direction as its
/// direction of approach (phonopy's band structure does the same), so the LO-TO splitting of a
/// polar crystal shows; a Gamma shared by two segments ends the first one. Throws StoppedError
/// between segments after a stop signal (physfit::util::throw_if_stop_requested).
Bands band_structure(const DynamicalMatrix& d, const Crystal& crystal, const BandPath& path);

/// Density of states on a Gamma-centred mesh (mesh^3 points), Gaussian smearing `sigma` (THz),
/// normalised to 3 np states; `bins` frequencies from the lowest to the highest mode.
struct Dos {
  std::vector<double> frequency, density;
};
Dos density_of_states(const DynamicalMatrix& d, int mesh, double sigma, int bins = 201);
/// The same on a mesh[0] x mesh[1] x mesh[2] mesh (divisions of the primitive reciprocal
/// vectors: anisotropic cells need different numbers along each). Throws StoppedError between
/// rows of q-points after a stop signal (physfit::util::throw_if_stop_requested).
Dos density_of_states(const DynamicalMatrix& d, const Eigen::Vector3i& mesh, double sigma,
                      int bins = 201);

}  // namespace physfit::fc
