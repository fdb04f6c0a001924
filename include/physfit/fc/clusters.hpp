#pragma once
/// @file
/// Clusters, orbits and the independent force-constant parameters.
///
/// A cluster of order n (2, 3 or 4) is a multiset of n supercell atoms that is compact in the
/// crystal: one choice of periodic images of its atoms puts every pair within the cutoff of
/// that order (a negative cutoff means none: every cluster of the supercell). This is the
/// definition of ALAMODE (alm/cluster.cpp) and hiPhive; for pairs it is the minimum-image
/// distance. Pairwise minimum-image distances can each be within the cutoff while no single
/// choice of images is (a triangle whose three shortest vectors add up to a lattice vector of
/// the supercell, not to zero): such clusters close only around the periodic boundary and are
/// not clusters of the crystal. Its force-constant block is the supercell force constant, i.e.
/// the sum over periodic images, as phonopy and phono3py store it. Clusters are grouped into
/// orbits under the space group (primitive operations times pure translations).
///
/// The supercell represents a cutoff without ambiguity only below half its shortest lattice
/// vector L_min (the inscribed-sphere radius of its Wigner-Seitz cell, cutoff_limit()): then
/// two images of an atom are more than twice the cutoff apart, so each atom has at most one
/// image within the cutoff of another, and a compact cluster has exactly one compact
/// embedding. physfit decides compactness there exactly: with one atom at its site, each other
/// atom's image within the cutoff (found on a reduced basis of the supercell lattice, every
/// image, however skewed the cell) and the pairs of those images checked.
///
/// A positive cutoff at or above the limit is an error unless ClusterOptions::allow_wrapping
/// is set; the clusters of such an order are then ALAMODE's exactly (Cluster::
/// set_interaction_cluster): for each primitive atom p (the lowest supercell index of its
/// translation class) at its fractional position wrapped into [0, 1), every other atom whose
/// shortest image among the 27 supercells n in {-1, 0, 1}^3 of the supercell lattice as given
/// is within the cutoff of p, and the multiset is kept if some choice among those images that
/// are within the cutoff of p (one image per distinct atom) puts every pair within the cutoff.
/// Below the limit and for cutoffs shorter than the supercell's interplanar spacings the two
/// definitions agree; above it the force constant of a supercell cluster sums the physical
/// clusters of all its compact embeddings (a supercell too small for the model). The sum rule
/// of such an order is ALAMODE's periodic-image one too (Constraint::
/// get_constraint_translation_for_periodic_images, used when its periodic_image_conv, called
/// MIRROR_IMAGE_CONV in alm 1.5, is set): each cluster's constant is spread evenly over its
/// compact embeddings of smallest total distance (the sum over every pair of its atoms, with
/// repetitions), and the sum over the last atom is zero separately for each choice of images
/// of the other atoms, as the lattice constants of those embeddings require. It implies the
/// supercell sum rule, and with it the counts are ALAMODE's (Si 64 atoms: 107 third-order
/// parameters at 10.5 Bohr, 196 + 581 at 12.0 and 8.6 Bohr; with the supercell sum rule
/// alone, 108 and 197).
///
/// Parameters come in three layers:
///  - the symmetry-adapted basis of each orbit: the tensors of the orbit's representative that
///    are invariant under its stabilizer and under the permutations of equal atoms, in reduced
///    row-echelon form, so each parameter is one Cartesian component of the representative's
///    block ("x" parameters);
///  - the acoustic sum rule (translational invariance), sum over the last atom of every
///    block = 0, imposed exactly by elimination: the constraint rows of each order are reduced
///    (partial pivoting, columns in order: on-site and few-atom orbits first, so those are the
///    ones eliminated, as in ALAMODE) and x = T z;
///  - optionally, the rotational invariance of the second order (added to its elimination);
///  - the independent parameters z, which the fit determines.
///
/// The energy is V = sum_n sum_{clusters c of order n} (1 / prod_k m_k!) Phi_c . u^{(x)n},
/// with m_k the multiplicities of the atoms in c, so forces are linear in z.

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "physfit/fc/crystal.hpp"

namespace physfit::fc {

/// What a cluster space holds.
struct ClusterOptions {
  /// Cutoff (Angstrom) of orders 2, 3, 4...: cutoffs[0] is order 2. The highest order is
  /// 1 + cutoffs.size(), at most 4. A negative cutoff means every cluster of the supercell.
  std::vector<double> cutoffs = {-1.0};
  /// Impose the acoustic sum rule by elimination (on by default).
  bool acoustic_sum_rule = true;
  /// Also impose the rotational invariance of the second order at equilibrium (zero first
  /// order): sum_j Phi_ab(i,j) R_ij^c = sum_j Phi_ac(i,j) R_ij^b, with R_ij the mean of the
  /// shortest vectors from i to the images of j (phonopy's split of supercell constants).
  /// Requires acoustic_sum_rule; other orders are not constrained by it.
  bool rotational_invariance = false;
  /// Accept positive cutoffs at or above cutoff_limit() (the caller should warn): the
  /// clusters of those orders follow ALAMODE's definition (see above). Off by default: such
  /// a cutoff is a UsageError naming the order, the cutoff and the limit.
  bool allow_wrapping = false;
  /// Tolerance of the null-space and elimination steps (relative).
  double tolerance = 1e-9;
};

/// Tolerance (Angstrom) added to every cutoff when distances are compared with it.
inline constexpr double kCutoffTolerance = 1e-6;

/// Periodic images in a lattice, found on its reduced basis (Lenstra-Lenstra-Lovasz, 1982, in
/// three dimensions) with a search box that provably holds every image within a radius
/// (|n_k| <= radius |b*_k| for the dual basis b*), however skewed the given basis is.
class LatticeImages {
 public:
  /// `lattice`: lattice vectors as rows (Angstrom). Throws UsageError if it is singular.
  explicit LatticeImages(const Eigen::Matrix3d& lattice);
  /// The reduced basis (rows) of the same lattice.
  const Eigen::Matrix3d& reduced() const { return reduced_; }
  /// A shortest nonzero lattice vector (exact search).
  const Eigen::Vector3d& shortest_vector() const { return shortest_; }
  /// Every vector d + L (L a lattice vector) of length at most `radius`.
  std::vector<Eigen::Vector3d> within(const Eigen::Vector3d& d, double radius) const;
  /// The shortest of the vectors d + L (the first found among equally short ones).
  Eigen::Vector3d shortest_image(const Eigen::Vector3d& d) const;

 private:
  Eigen::Matrix3d reduced_, inverse_;  // inverse_ = reduced_^-1: fractional f = d^T inverse_
  Eigen::Vector3d dual_norms_, shortest_;
};

/// Half the length of the supercell's shortest lattice vector: cutoffs below it are
/// represented without wrapping (see above).
double cutoff_limit(const Crystal& crystal);

/// The compact embeddings of a cluster: for atoms[0] at its site, every choice of periodic
/// images of the other atoms (the same image for equal atoms) that puts every pair within
/// `cutoff` (plus kCutoffTolerance). Each embedding holds the vectors from atoms[0] to the
/// chosen image of every atom (the first is zero). Below cutoff_limit() there is at most one.
std::vector<std::vector<Eigen::Vector3d>> compact_embeddings(const Crystal& crystal,
                                                             const std::vector<int>& atoms,
                                                             double cutoff);
/// The same with the supercell's images found once (`images` of the supercell lattice).
std::vector<std::vector<Eigen::Vector3d>> compact_embeddings(const Crystal& crystal,
                                                             const LatticeImages& images,
                                                             const std::vector<int>& atoms,
                                                             double cutoff);

/// One orbit of clusters under the space group.
struct Orbit {
  int order = 0;
  std::vector<int> representative;  ///< sorted supercell atoms, first in the home cell
  Eigen::MatrixXd basis;            ///< 3^order x d: the representative's invariant tensors
  int first_parameter = 0;          ///< offset of its d symmetry-adapted (x) parameters
  int num_clusters = 0;             ///< clusters of the orbit in the supercell
  double max_distance = 0;          ///< largest pairwise distance in a cluster (Angstrom)
  int distinct_atoms = 0;
  int size() const { return static_cast<int>(basis.cols()); }
};

/// Row-major dense matrix (sensitivity rows: one force component per contiguous row).
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The cluster space of a crystal: orbits, parameters and sensitivity rows.
class ClusterSpace {
 public:
  /// Enumerates clusters, orbits, bases and the sum-rule elimination. Throws UsageError on
  /// options it cannot honour (order above 4, a supercell of 65535 atoms or more, a positive
  /// cutoff at or above cutoff_limit() without allow_wrapping).
  ClusterSpace(const Crystal& crystal, ClusterOptions options);

  const Crystal& crystal() const { return *crystal_; }
  const ClusterOptions& options() const { return options_; }
  int max_order() const { return 1 + static_cast<int>(options_.cutoffs.size()); }
  /// Half the supercell's shortest lattice vector (Angstrom): the largest cutoff represented
  /// without wrapping (exclusive).
  double cutoff_limit() const { return limit_; }
  /// Whether the cutoff of `order` is at or above cutoff_limit() (allowed by allow_wrapping;
  /// its clusters then follow ALAMODE's definition).
  bool wraps(int order) const;
  const std::vector<Orbit>& orbits() const { return orbits_; }

  /// Orbits, clusters, symmetry-adapted (x) and independent (z) parameters of one order.
  int num_orbits(int order) const;
  std::int64_t num_clusters(int order) const;
  int num_symmetry_parameters(int order) const;
  int num_parameters(int order) const;
  /// All independent parameters; z of order n occupy [parameter_offset(n), + num_parameters(n)).
  int num_parameters() const { return static_cast<int>(z_offsets_.back()); }
  int parameter_offset(int order) const { return z_offsets_[order - 2]; }
  int num_symmetry_parameters() const { return static_cast<int>(x_offsets_.back()); }
  /// x = T z (sparse, num_symmetry_parameters x num_parameters).
  const Eigen::SparseMatrix<double>& elimination() const { return t_; }

  /// Sensitivity rows of one configuration: `rows` (3 num_atoms x num_parameters, resized)
  /// such that the forces are rows z; `u` holds num_atoms x 3 displacements (Angstrom).
  void sensitivity(const double* u, RowMatrix& rows) const { sensitivity(u, 1, rows); }
  /// Rows of `count` configurations (displacements one after the other), stacked:
  /// count 3 num_atoms x num_parameters.
  void sensitivity(const double* u, int count, RowMatrix& rows) const;
  /// Same in the symmetry-adapted parameters x (count 3 num_atoms x num_symmetry_parameters).
  /// The translates of each cluster and the configurations of the batch go through one small
  /// matrix product per cluster and slot.
  void sensitivity_x(const double* u, int count, RowMatrix& rows) const;
  /// Forces predicted for displacements `u` by parameters z (3 num_atoms values).
  Eigen::VectorXd forces(const double* u, const Eigen::VectorXd& z) const;

  /// The full supercell second-order force constants (3n x 3n, eV/Angstrom^2, row 3i+a,
  /// column 3j+b) of parameters z.
  Eigen::MatrixXd fc2(const Eigen::VectorXd& z) const;
  /// Third-order force constants with the first atom in the primitive cell:
  /// [num_primitive, n, n, 3, 3, 3] flattened in C order (eV/Angstrom^3); zeros without
  /// order 3. The first index k stands for supercell atom p2s()[k].
  std::vector<double> fc3_compact(const Eigen::VectorXd& z) const;
  /// Fourth order likewise: [num_primitive, n, n, n, 3, 3, 3, 3]. Large: n^3 81 values.
  std::vector<double> fc4_compact(const Eigen::VectorXd& z) const;

  /// One cluster of the supercell: its atoms in the slot order of its member's tensor.
  struct Instance {
    std::array<int, 4> atoms{};
    int member = 0;
    double weight = 1;  ///< 1 / prod_k m_k!
  };
  /// Every cluster of one order in the supercell.
  const std::vector<Instance>& instances(int order) const { return instances_[order - 2]; }
  /// The tensors (3^n x d) of a member (an orbit's cluster, up to translation).
  const Eigen::MatrixXd& member_basis(int member) const { return members_[member].basis; }
  int member_orbit(int member) const { return members_[member].orbit; }

 private:
  struct Member {
    int orbit = 0;
    std::vector<int> atoms;  // slot order of `basis`
    Eigen::MatrixXd basis;
    RowMatrix basis_rows;  // the same, row-major (contiguous per tensor component)
    std::int64_t first_instance = 0, num_instances = 0;  // its translates in instances_
  };
  void build_order(int order, double cutoff);
  void build_sum_rule(int order, std::vector<Eigen::Triplet<double>>& t_entries);
  std::vector<int> canonical_translation(const std::vector<int>& sorted, int* translation) const;
  std::vector<int> canonical_group(const std::vector<int>& sorted) const;
  std::uint64_t key(const std::vector<int>& sorted) const;
  // Values of x (orbit tensors) from z.
  Eigen::VectorXd x_of(const Eigen::VectorXd& z) const;
  // Adds the tensor of every cluster of `order` to `out`, via `put(atoms, tensor)`.
  template <class Put>
  void for_each_block(int order, const Eigen::VectorXd& x, Put&& put) const;

  const Crystal* crystal_;
  ClusterOptions options_;
  double limit_ = 0;
  std::vector<Orbit> orbits_;
  std::vector<Member> members_;
  std::vector<std::vector<Instance>> instances_;                     // per order
  std::vector<std::unordered_map<std::uint64_t, int>> instance_of_;  // per order: key -> index
  std::vector<std::vector<int>> orbits_of_order_;
  std::vector<int> x_offsets_{0};  // per order, cumulative
  std::vector<int> z_offsets_{0};
  Eigen::SparseMatrix<double> t_;
};

/// 3^n.
inline int power3(int n) {
  int p = 1;
  for (int k = 0; k < n; ++k) p *= 3;
  return p;
}

}  // namespace physfit::fc
