#pragma once
/// @file
/// Polar crystals: Born effective charges Z*, the high-frequency dielectric tensor epsilon and
/// the non-analytic correction (NAC) of the dynamical matrix, as phonopy computes it.
///
/// In a polar crystal the long-range dipole-dipole interaction makes the dynamical matrix
/// non-analytic at Gamma: approaching Gamma along q adds (4 pi e^2 / Omega)
/// (q.Z*_i)(q.Z*_j) / (q.epsilon.q) / sqrt(m_i m_j), which splits the longitudinal (LO) from the
/// transverse (TO) optical modes. Two ways of adding it to force constants from a finite
/// supercell are provided, both exactly as phonopy 2.17 does them (so physfit and phonopy give
/// the same frequencies for the same FORCE_CONSTANTS and BORN):
///  - Gonze and Lee, Phys. Rev. B 55, 10355 (1997) (phonopy's default, NAC_METHOD = gonze): the
///    dipole-dipole force constants, an Ewald sum over reciprocal lattice vectors G with a
///    Gaussian damping exp(-K.epsilon.K / 4 Lambda^2), are subtracted from the supercell force
///    constants at the supercell's commensurate q-points (giving short-range constants) and
///    added back at every q. phonopy's choices: only the reciprocal-space part; the G-vectors
///    within G_cutoff = (3 * 300 / (4 pi Omega))^(1/3) (about 300 of them), Lambda from
///    exp(-G_cutoff^2 tr(epsilon)/3 / 4 Lambda^2) = 1e-10, and the q = 0 sum over the other
///    atoms subtracted on the diagonal (the "dd_q0" term, which keeps the acoustic sum rule).
///  - Wang et al., J. Phys.: Condens. Matter 22, 202201 (2010) (mixed space): the q -> 0 term,
///    divided by the number of primitive cells in the supercell, is added to every supercell
///    force constant before the Fourier sum.
///
/// At Gamma itself the term depends on the direction of approach: given a direction, it is
/// used there (LO-TO splitting); without one, Gamma gets no non-analytic term (as phonopy).
///
/// Units: Born charges in e, epsilon relative, the unit factor e^2 / (4 pi epsilon_0) in the
/// force constants' units (eV Angstrom: 14.39965 for eV and Angstrom, phonopy's default for
/// VASP). Wave vectors in Cartesian coordinates are in 1/Angstrom without 2 pi, as phonopy's.
///
/// Convention of Z*: born[i](a, b) is phonopy's BORN entry of row a (the electric field, or
/// polarisation, direction: the index contracted with q) and column b (the displacement
/// direction), the 9 numbers of a BORN line being xx xy xz yx yy yz zx zy zz.

#include <Eigen/Dense>
#include <optional>
#include <string>
#include <vector>

#include "physfit/fc/crystal.hpp"
#include "physfit/io/hdf5.hpp"

namespace physfit::fc {

/// How the non-analytic term is added.
enum class NacMethod { kNone, kGonze, kWang };

/// "none", "gonze", "wang".
const char* nac_method_name(NacMethod method);
/// Parses "none", "gonze" or "wang"; UsageError naming `where` otherwise.
NacMethod parse_nac_method(const std::string& text, const std::string& where);

/// e^2 / (4 pi epsilon_0) in eV Angstrom, as phonopy computes it (Hartree * Bohr with its
/// CODATA constants): the unit factor of a BORN file without one (VASP units).
inline constexpr double kDefaultNacFactor = 14.39965172592227;

/// Born effective charges of the primitive atoms (in Crystal's order), the dielectric tensor,
/// the unit factor and the method.
struct NacParameters {
  Eigen::Matrix3d epsilon = Eigen::Matrix3d::Identity();
  std::vector<Eigen::Matrix3d> born;  ///< one per primitive atom, e
  double factor = kDefaultNacFactor;  ///< e^2 / (4 pi epsilon_0) in eV Angstrom
  NacMethod method = NacMethod::kGonze;
  double g_cutoff = 0;  ///< Gonze: G-vector cutoff (1/Angstrom, no 2 pi); 0: phonopy's default
  double lambda = 0;    ///< Gonze: Ewald parameter Lambda (1/Angstrom); 0: phonopy's default
  std::string source;   ///< where the data came from (for messages)
};

/// What preparing Born data found.
struct NacCheck {
  std::vector<int> independent_atoms;  ///< primitive atoms (0-based) whose Z* a BORN lists
  double born_symmetry_deviation = 0;  ///< largest |Z* - its symmetrised value| (e)
  double epsilon_symmetry_deviation = 0;
  Eigen::Matrix3d charge_sum = Eigen::Matrix3d::Zero();  ///< sum of Z* over the primitive cell
  /// A BORN file's unit factor that was not e^2 / (4 pi epsilon_0) in eV Angstrom (another
  /// calculator's units, e.g. 2 for Rydberg and Bohr); 0 when it was (or absent).
  double replaced_factor = 0;
};

/// Tolerance (e, and dielectric units) beyond which Born data that break the crystal's
/// symmetry are an error: phonopy's threshold for "largely broken" symmetry.
inline constexpr double kNacSymmetryTolerance = 0.1;

/// The symmetry-independent atoms of the primitive cell (0-based, increasing), in the order
/// of phonopy's BORN lines: the atoms spglib maps to themselves (its `equivalent_atoms`).
std::vector<int> independent_atoms(const Crystal& crystal);

/// Checks Born data against the primitive cell's space group and prepares them as phonopy
/// does before building a dynamical matrix (symmetrize_borns_and_epsilon): epsilon averaged
/// over the point group, each Z* averaged over the operations that map atoms onto it, then
/// the mean Z* subtracted from every atom (acoustic sum rule: charge neutrality). UsageError
/// naming `where` if an atom's Z* or epsilon differs from its symmetrised value by more than
/// `tolerance`, if epsilon is not positive definite, or sizes do not fit the crystal.
/// `atom_where`, if given, names the origin of each atom's Z* in messages (e.g. "BORN:3").
NacCheck prepare_nac(NacParameters& nac, const Crystal& crystal, const std::string& where,
                     double tolerance = kNacSymmetryTolerance,
                     const std::vector<std::string>* atom_where = nullptr);

/// Reads phonopy's BORN file for the crystal's primitive cell: line 1 is the unit factor
/// (optionally followed by G_cutoff and Lambda), or anything else (a comment) for the default
/// factor; line 2 the dielectric tensor (9 numbers); then one line of 9 numbers per
/// symmetry-independent atom. The charges are expanded to the other atoms by symmetry and
/// prepared with prepare_nac (whose findings go to `check`). physfit's force constants are
/// always in eV and Angstrom (imports convert other calculators' units), so the factor used is
/// always kDefaultNacFactor: a file's factor that differs by more than 0.1 % (written for a
/// calculator in other units, such as Quantum ESPRESSO's Rydberg and Bohr) is replaced, and
/// reported in `check->replaced_factor`. IoError naming file, line and field for malformed
/// text; UsageError for data that do not fit the crystal.
NacParameters read_born(const std::string& path, const Crystal& crystal, NacCheck* check = nullptr);
/// The warning for a BORN factor read_born replaced (empty when none was): says which factor
/// was found, which is used and why.
std::string replaced_factor_warning(const NacCheck& check, const std::string& path);
/// Writes phonopy's BORN (factor line, epsilon, Z* of the independent atoms), atomically.
void write_born(const std::string& path, const NacParameters& nac, const Crystal& crystal);

/// Writes /nac into a physfit file: epsilon [3, 3], born [np, 3, 3], attributes factor,
/// method, g_cutoff, lambda (0: default), source.
void write_nac_hdf5(const io::File& file, const NacParameters& nac);
/// Reads /nac of a physfit file, or nothing if it has none. IoError naming the file and the
/// dataset for bad shapes or values.
std::optional<NacParameters> read_nac_hdf5(const std::string& path);

/// phonopy's default G-vector cutoff for a primitive cell of `volume` (Angstrom^3): the
/// radius of a sphere holding about 300 reciprocal lattice points.
double default_g_cutoff(double volume);

/// The reciprocal-space dipole-dipole force constants of Gonze and Lee (1997), Eq. (71)-(72)
/// without the real-space and limiting terms, as phonopy evaluates them: for each primitive
/// pair, factor 4 pi / Omega sum_G Z*_i^T (K K^T / K.eps.K) exp(-K.eps.K / 4 Lambda^2) Z*_j
/// exp(2 pi i G.(r_i - r_j)), K = G + q, minus the q = 0 sum over the partner atoms on the
/// diagonal. Not mass-weighted (eV/Angstrom^2).
class DipoleDipole {
 public:
  /// `primitive`: lattice (rows) and Cartesian positions of the primitive atoms.
  DipoleDipole(const NacParameters& nac, const Structure& primitive);

  /// The 3np x 3np matrix at q (Cartesian, 1/Angstrom, no 2 pi). A term with |G + q| below
  /// 1e-5 is left out unless `direction` (Cartesian) is given, which then replaces G + q.
  Eigen::MatrixXcd at(const Eigen::Vector3d& q_cart,
                      const std::optional<Eigen::Vector3d>& direction = std::nullopt) const;

  double g_cutoff() const { return g_cutoff_; }
  double lambda() const { return lambda_; }
  int num_g_vectors() const { return static_cast<int>(g_.size()); }

 private:
  Eigen::MatrixXcd sum(const Eigen::Vector3d& q_cart,
                       const std::optional<Eigen::Vector3d>& direction) const;

  NacParameters nac_;
  std::vector<Eigen::Vector3d> g_;         // Cartesian G-vectors (no 2 pi)
  std::vector<Eigen::Vector3d> position_;  // Cartesian primitive positions
  std::vector<Eigen::Matrix3cd> dd_q0_;    // per atom
  double g_cutoff_ = 0, lambda_ = 0, prefactor_ = 0;
};

/// Wang et al.'s charge term at wave vector q (Cartesian): factor 4 pi / Omega
/// (q.Z*_i)^T (q.Z*_j) / (q.eps.q), 3np x 3np, eV/Angstrom^2 (not mass-weighted).
Eigen::MatrixXd wang_charge_term(const NacParameters& nac, double volume,
                                 const Eigen::Vector3d& q_cart);

}  // namespace physfit::fc
