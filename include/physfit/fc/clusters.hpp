#pragma once
/// @file
/// Clusters, orbits and the independent force-constant parameters.
///
/// A cluster of order n (2, 3 or 4) is a multiset of n supercell atoms whose pairwise
/// minimum-image distances are all within the cutoff of that order (a negative cutoff means
/// none: every cluster of the supercell). Its force-constant block is the supercell force
/// constant, i.e. the sum over periodic images, as phonopy and phono3py store it. Clusters are
/// grouped into orbits under the space group (primitive operations times pure translations).
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
  /// Tolerance of the null-space and elimination steps (relative).
  double tolerance = 1e-9;
};

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
  /// options it cannot honour (order above 4, a supercell of 65535 atoms or more).
  ClusterSpace(const Crystal& crystal, ClusterOptions options);

  const Crystal& crystal() const { return *crystal_; }
  const ClusterOptions& options() const { return options_; }
  int max_order() const { return 1 + static_cast<int>(options_.cutoffs.size()); }
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
