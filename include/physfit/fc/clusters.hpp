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
///    block = 0, imposed exactly by elimination: the constraint rows of each order are brought
///    to reduced row-echelon form (partial pivoting, columns in order: on-site and few-atom
///    orbits first, so those are the ones eliminated, as in ALAMODE) and x = T z. The rows of
///    a head (an orbit of sub-clusters) touch only the orbits that contain it, so they are
///    kept sparse and reduced by sparse Gaussian elimination with back substitution: the
///    reduced form is unique, so T is the dense reduction's to rounding (512-atom silicon,
///    23317 x-parameters: 4302 rows, 1.05 million entries, 1 s and a few MB, where the dense
///    reduction took 27 s and 0.96 GB);
///  - optionally, the rotational invariance of the second order (added to its elimination);
///  - the independent parameters z, which the fit determines.
///
/// The energy is V = sum_n sum_{clusters c of order n} (1 / prod_k m_k!) Phi_c . u^{(x)n},
/// with m_k the multiplicities of the atoms in c, so forces are linear in z.

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "physfit/fc/crystal.hpp"
#include "physfit/mpi/comm.hpp"

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
  /// Bytes the construction may use per rank beyond what the space keeps (0: no limit). The
  /// list of clusters up to translation and the sum-rule rows, and the entries of their
  /// reduction as it fills in, are checked against it: over it, a UsageError (on every rank)
  /// names the stage and the sizes.
  double memory_budget = 0;
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
  std::int64_t num_clusters = 0;    ///< clusters of the orbit in the supercell
  double max_distance = 0;          ///< largest pairwise distance in a cluster (Angstrom)
  int distinct_atoms = 0;
  int first_member = 0;  ///< its members (clusters up to translation): [first, first + count)
  int num_members = 0;
  int size() const { return static_cast<int>(basis.cols()); }
};

/// Row-major dense matrix (sensitivity rows: one force component per contiguous row).
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Asks for transparent huge pages (madvise) on the storage of `m` before it is first
/// written: a fresh 4 KiB page costs about 20 microseconds to touch on the virtual machines
/// physfit was measured on, 100 times more per byte than a 2 MiB page (HPC-NOTES). A no-op
/// for small matrices and where the kernel does not support it.
void prefer_huge_pages(RowMatrix& m);

/// Where the time and memory of building a cluster space went (this rank).
struct ClusterBuildReport {
  double enumerate_seconds = 0;          ///< compact clusters, one per translation class
  double orbit_seconds = 0;              ///< orbits, members and symmetry-adapted bases
  double sum_rule_seconds = 0;           ///< constraint rows and their sparse reduction
  std::int64_t translation_classes = 0;  ///< clusters up to translation, all orders
  std::int64_t constraint_rows = 0;      ///< sum-rule (and rotational) rows, all orders
  std::int64_t constraint_nonzeros = 0;  ///< their non-zero entries
  std::int64_t reduced_nonzeros = 0;     ///< largest fill of the sparse reduction (entries)
};

/// The cluster space of a crystal: orbits, parameters and sensitivity rows.
///
/// **What it holds** (on every rank, the same bits): the orbits with their bases (3^n x d
/// each), the members of each orbit (an orbit's clusters up to translation: their atoms, in
/// the slot order of the orbit's basis, and the space-group operation that maps the
/// representative onto them; a few dozen bytes each, no rotated copy of the basis) and the
/// sum-rule elimination T (sparse). The clusters of the supercell themselves are never
/// stored: a member's translates come from the crystal's translation table (those that
/// repeat it, when a translation maps the member onto itself, are skipped), so memory grows
/// with the number of orbits and members, not with the number of clusters (512-atom silicon,
/// 21154 parameters: 20 MB, mostly the bases and T, for 6 million clusters). memory_bytes() says
/// how much.
///
/// **How it is built** (Collective over a communicator): the candidate clusters are
/// enumerated by anchor atom and first neighbour, split over the ranks, and merged as
/// canonical translation classes (one allgather); the orbits' bases are computed by the ranks
/// in turn (one allgather); the sum-rule rows of each head (a sub-cluster orbit) are built by
/// the ranks in turn, gathered on rank 0, reduced there sparsely and broadcast. The parameter
/// order, the bases and T are the same bits whatever the number of ranks.
///
/// **Rows**: the force on atom i of a member's cluster is R (the member's rotation) times the
/// force of the orbit's basis on displacements rotated by R^T. So each orbit's rows are one
/// matrix product, M B, where M (3 n x order 3^order) sums over every cluster of the orbit the
/// rotated outer products of the other atoms' displacements, and B stacks the basis rows per
/// slot. The x columns go straight into the z rows (x = T z: a parameter that is not
/// eliminated is one z column; the eliminated ones are gathered, 3 n x pivots, and added
/// through T's sparse rows), so building the rows of a configuration needs no dense
/// 3 n x num_symmetry_parameters() buffer.
class ClusterSpace {
 public:
  /// Enumerates clusters, orbits, bases and the sum-rule elimination in one process. Throws
  /// UsageError on options it cannot honour (order above 4, a supercell of 65535 atoms or
  /// more, a positive cutoff at or above cutoff_limit() without allow_wrapping).
  ClusterSpace(const Crystal& crystal, ClusterOptions options);
  /// **Collective.** The same, the work split over the ranks of `comm` (see above): every
  /// rank ends with the same cluster space, bitwise. Errors are thrown on every rank.
  ClusterSpace(const mpi::Comm& comm, const Crystal& crystal, ClusterOptions options);

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
  /// Parameters x eliminated by the sum rule (T's rows with more than a single 1).
  int num_eliminated() const { return static_cast<int>(pivot_x_.size()); }

  /// Sensitivity rows of one configuration: `rows` (3 num_atoms x num_parameters, resized)
  /// such that the forces are rows z; `u` holds num_atoms x 3 displacements (Angstrom).
  void sensitivity(const double* u, RowMatrix& rows) const { sensitivity(u, 1, rows); }
  /// Rows of `count` configurations (displacements one after the other), stacked:
  /// count 3 num_atoms x num_parameters. Built one configuration at a time (so a row's bits do
  /// not depend on `count`) with the working memory of row_scratch_bytes().
  void sensitivity(const double* u, int count, RowMatrix& rows) const;
  /// The rows of one configuration into `rows`, which must point to 3 num_atoms x
  /// num_parameters() doubles, row-major with row stride `stride` (>= num_parameters()).
  void sensitivity_into(const double* u, double* rows, std::int64_t stride) const;
  /// Same in the symmetry-adapted parameters x (count 3 num_atoms x num_symmetry_parameters).
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
  /// Every cluster of one order in the supercell, generated (orbit by orbit, member by
  /// member, translations in order): num_clusters(order) of them.
  std::vector<Instance> instances(int order) const;
  /// Calls `visit(instance)` for every cluster of `order`, in the order of instances().
  void for_each_instance(int order, const std::function<void(const Instance&)>& visit) const;
  /// Members (clusters up to translation) of all orders.
  int num_members() const { return static_cast<int>(members_.size()); }
  int member_orbit(int member) const { return members_[member].orbit; }
  /// The space-group operation that maps the orbit's representative onto the member.
  int member_operation(int member) const { return members_[member].op; }
  /// The member's atoms in the slot order of its tensor.
  std::vector<int> member_atoms(int member) const;
  /// The tensors (3^n x d) of a member: the orbit's basis rotated by its operation.
  Eigen::MatrixXd member_basis(int member) const;

  /// Bytes this object holds (orbits, bases, members, T).
  std::size_t memory_bytes() const;
  /// Working memory of sensitivity() beyond its output, per call (bytes).
  std::size_t row_scratch_bytes() const;
  /// How the build went on this rank.
  const ClusterBuildReport& build_report() const { return report_; }

 private:
  struct Member {
    int orbit = 0;
    int op = 0;
    std::array<int, 4> atoms{};  // slot order of the orbit basis rotated by `op`
    double weight = 1;
    int first_period = 0, num_periods = 0;  // translations mapping it onto itself: periods_
    std::int64_t num_instances = 0;
  };
  void build(const mpi::Comm& comm);
  // Throws UsageError if `bytes` exceed options_.memory_budget.
  void check_budget(int order, const std::string& what, double bytes,
                    const std::string& sizes) const;
  void build_order(const mpi::Comm& comm, int order, double cutoff);
  void build_sum_rule(const mpi::Comm& comm, int order,
                      std::vector<Eigen::Triplet<double>>& t_entries);
  // Canonical translation form of `n` sorted atoms: its key, and the translation to it.
  std::uint64_t canonical(const int* sorted, int n, int* translation) const;
  // The smallest canonical form over the point operations (the orbit representative's key).
  std::uint64_t canonical_group(const int* sorted, int n) const;
  // Whether translation t gives a new cluster of the member (not one of a smaller t).
  bool kept(const Member& m, int t) const;
  template <class Visit>
  void for_each_translate(const Member& m, Visit&& visit) const;
  // The rows of one orbit for one configuration: x(3 n x d) from rotated displacements.
  void orbit_rows(int orbit, const double* rotated_u, RowMatrix& m, RowMatrix& b,
                  RowMatrix& x) const;
  // Rotated displacements R_g^T u for every operation g (nops x n x 3).
  std::vector<double> rotated(const double* u) const;
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
  std::vector<int> periods_;      // translations (other than 0) fixing a member
  std::vector<int> image_index_;  // t with translate(p2s()[0], t) == atom (-1 off its class)
  std::vector<std::vector<int>> orbits_of_order_;
  std::vector<std::int64_t> clusters_of_order_;
  std::vector<int> x_offsets_{0};  // per order, cumulative
  std::vector<int> z_offsets_{0};
  Eigen::SparseMatrix<double> t_;
  // T by rows: z_of_x_[k] = z column of a kept x, or -1 - i for the i-th eliminated x, whose
  // row is (pivot_col_, pivot_val_)[pivot_ptr_[i], pivot_ptr_[i + 1]).
  std::vector<int> z_of_x_, pivot_x_, pivot_col_;
  std::vector<std::int64_t> pivot_ptr_{0};
  std::vector<double> pivot_val_;
  ClusterBuildReport report_;
};

/// 3^n.
inline int power3(int n) {
  int p = 1;
  for (int k = 0; k < n; ++k) p *= 3;
  return p;
}

}  // namespace physfit::fc
