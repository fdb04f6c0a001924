#pragma once
/// @file
/// Special points and band paths of any crystal: the Brillouin zone of its Bravais lattice in
/// the convention of Setyawan and Curtarolo, Comput. Mater. Sci. 49, 299 (2010) ("SC", the
/// AFLOW convention, also ASE's `Cell.bandpath()`), expressed in the crystal's own primitive
/// reciprocal basis.
///
/// How the zone is found (brillouin_zone()):
///  1. spglib (`spg_get_dataset` on the primitive cell, atoms included) gives the space group,
///     hence the crystal system and the centring (the first letter of the international
///     symbol), and the standardised conventional cell: its vectors are integer combinations
///     of the primitive ones (rows: conventional = P^-T primitive, P spglib's
///     transformation_matrix) and `std_lattice` gives their idealised metric.
///  2. The conventional cell is brought to SC's setting by an integer change of basis, using
///     the idealised metric only (so the input's orientation never matters):
///     - cubic, tetragonal, hexagonal: spglib's setting is SC's (c is the unique axis);
///     - orthorhombic: axes sorted so that a < b < c (ORC, ORCF, ORCI); for ORCC a and b span
///       the centred face (spglib's C, or A for space groups 38-41) with a < b;
///     - rhombohedral: the primitive rhombohedral vectors (2A+B+C)/3, (-A+B+C)/3, (-A-2B+C)/3
///       of spglib's hexagonal (obverse) cell, all of length a with angles alpha;
///     - monoclinic (SC use unique axis a, spglib b): a = spglib's b; b, c span the plane
///       normal to it, with b <= c and alpha < 90 degrees. MCL takes the Lagrange-reduced basis
///       of that plane; MCLC takes, among the settings whose centring vector is (a+b)/2, the one
///       whose primitive cell is the most orthogonal (smallest |a1| |a2| |a3| / V), the rule
///       ASE applies when it identifies a lattice;
///     - triclinic: the reciprocal lattice Niggli-reduced (spglib's `spg_niggli_reduce`), so
///       its angles are all acute or all non-acute, then ordered cyclically so that k_gamma is
///       the largest (all acute: TRI1b) or the smallest (all obtuse: TRI1a) angle, or equals
///       90 degrees (TRI2a; a TRI2b lattice is a TRI2a lattice with b3 reversed and is
///       reported as TRI2a). ASE picks the triclinic cell differently (its own Niggli table),
///       so for TRI its labels may name other cosets than physfit's; the set of points (the
///       seven half reciprocal vectors and Gamma) is the same.
///  3. SC's primitive cell of the case is built from that conventional cell (SC's Table of
///     primitive vectors); it is an integer unimodular combination T of the crystal's own
///     primitive vectors, standard = T primitive, so a point with reduced coordinates q_sc in
///     SC's reciprocal basis has q = T^-1 q_sc in the crystal's (exact: T is integer). This is
///     what makes the points right for any primitive basis (phonopy's, a reduced one found
///     from a supercell, a rotated or permuted one). A cell given as primitive that is not
///     (phonopy's conventional unit cell without a primitive matrix) works too: T^-1 is still
///     integer, the points are the same wave vectors and the bands fold (cells > 1).
///  4. The case (one of 25: CUB, FCC, BCC, TET, BCT1/2, ORC, ORCF1/2/3, ORCI, ORCC, HEX,
///     RHL1/2, MCL, MCLC1-5, TRI1a/1b/2a/2b), its special points and SC's default path come
///     from SC's tables with the lattice parameters of the idealised metric. Equalities that
///     decide a case (ORCF3, MCLC2, MCLC4, TRI2) hold within a relative 1e-5.
///
/// Labels are ASCII as in ASE: G is Gamma (Gamma and Γ are accepted too), subscripts are
/// digits (X1 is X_1), and BCT2's Sigma and Sigma_1 are S and S1.
///
/// When several equivalent choices exist (lattice symmetry), the points physfit gives and those
/// of another program can differ by an operation of the lattice's point group: the
/// frequencies are the same.

#include <Eigen/Dense>
#include <string>
#include <utility>
#include <vector>

#include "physfit/fc/crystal.hpp"

namespace physfit::fc {

/// A labelled point of the Brillouin zone.
struct SpecialPoint {
  std::string label;           ///< SC's label in ASCII (G, X, X1, S1...)
  Eigen::Vector3d q;           ///< reduced coordinates, the crystal's primitive reciprocal basis
  Eigen::Vector3d q_standard;  ///< reduced coordinates in SC's primitive reciprocal basis
};

/// The Brillouin zone of a crystal: Bravais lattice, Setyawan-Curtarolo case, special points
/// and default path.
struct BrillouinZone {
  std::string lattice;        ///< CUB FCC BCC TET BCT ORC ORCF ORCI ORCC HEX RHL MCL MCLC TRI
  std::string variant;        ///< SC's case: FCC, BCT2, ORCF3, MCLC4, TRI1a...
  int spacegroup_number = 0;  ///< spglib's space group of the primitive cell
  std::string international;  ///< its international symbol
  /// Lattice parameters of SC's conventional cell (a, b, c in Angstrom; alpha, beta, gamma in
  /// degrees), as SC's tables name them for this lattice.
  std::vector<std::pair<std::string, double>> parameters;
  /// SC's standard primitive vectors (rows, Angstrom) in the crystal's Cartesian frame.
  Eigen::Matrix3d standard_primitive;
  /// standard_primitive = to_standard * the crystal's primitive lattice: integer with
  /// determinant +-1 when the cell is primitive (its inverse is integer in every case).
  Eigen::Matrix3d to_standard;
  /// Primitive cells of the lattice in the cell given as primitive: 1, unless that cell is a
  /// supercell (phonopy's unit cell without a primitive matrix, say): the points are then
  /// still the right wave vectors, in that cell's reciprocal basis, and the bands fold.
  int cells = 1;
  std::vector<SpecialPoint> points;  ///< in SC's order, G first
  /// SC's default path as branches: each a run of labels joined by segments; the path jumps
  /// from the end of one branch to the start of the next ('|').
  std::vector<std::vector<std::string>> path;

  /// The point of a label or alias (G, Gamma, Γ; S, Sigma, Σ for BCT2), or nullptr.
  const SpecialPoint* find(const std::string& label) const;
  /// The point's reduced coordinates (crystal basis); UsageError naming the lattice, the case
  /// and the valid labels when this zone has no such point.
  Eigen::Vector3d point(const std::string& label) const;
  /// "G, X, W, ..." (for messages).
  std::string label_list() const;
  /// The default path as text: "G-X-W-K-G-L-U-W-L-K|U-X".
  std::string path_text() const;
  /// "FCC lattice (SC case FCC), space group Fd-3m (227)".
  std::string description() const;
};

/// The Brillouin zone of the crystal whose primitive cell is `primitive` (lattice rows and
/// atoms, Cartesian Angstrom; any primitive basis), found with spglib at tolerance `symprec`
/// (Angstrom). Throws UsageError if spglib finds no space group.
BrillouinZone brillouin_zone(const Structure& primitive, double symprec);

/// A band path through labelled points, possibly in several disconnected branches.
struct BandPath {
  std::vector<std::string> labels;
  std::vector<Eigen::Vector3d> points;  ///< reduced coordinates of the labelled points
  /// breaks[k]: the path jumps from point k to point k + 1 (no segment between them, '|' in
  /// the path text). Missing entries mean connected.
  std::vector<bool> breaks;
  int segment_points = 51;  ///< q-points per segment, ends included

  /// True when points k and k + 1 are joined by a segment.
  bool joined(std::size_t k) const { return k >= breaks.size() || !breaks[k]; }
  /// The path as text: "G-X-W-K|L-G".
  std::string text() const;
};

/// Splits a path text into branches of labels: labels are separated by ',' or '-', branches
/// by '|' ("G-X-W|L-K", "G,X,W,|,L,K" and "G,X,W|L,K" are the same). UsageError names
/// `option` when a branch is empty.
std::vector<std::vector<std::string>> parse_path_text(const std::string& text,
                                                      const std::string& option);

/// The band path through the given branches of labels: the zone's special points, or with
/// `coordinates` (3 reduced coordinates per label, the crystal's primitive reciprocal basis)
/// any labels. UsageError names `points_option` when the count does not match, and lists the
/// zone's labels for an unknown one.
BandPath make_band_path(const BrillouinZone& zone,
                        const std::vector<std::vector<std::string>>& branches,
                        const std::vector<double>& coordinates, const std::string& points_option,
                        int segment_points);

}  // namespace physfit::fc
