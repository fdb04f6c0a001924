#include "physfit/fc/clusters.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>

#include "physfit/error.hpp"

namespace physfit::fc {
namespace {

// R (x) R (x) ... (n factors): acts on tensors indexed alpha = a1 3^(n-1) + ... + an.
Eigen::MatrixXd tensor_rotation(const Eigen::Matrix3d& r, int n) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Ones(1, 1);
  for (int k = 0; k < n; ++k) {
    Eigen::MatrixXd next(m.rows() * 3, m.cols() * 3);
    for (int i = 0; i < m.rows(); ++i)
      for (int j = 0; j < m.cols(); ++j) next.block<3, 3>(3 * i, 3 * j) = m(i, j) * r;
    m = std::move(next);
  }
  return m;
}

// Digits of alpha (slot 0 most significant).
inline int digit(int alpha, int slot, int n) {
  for (int k = n - 1; k > slot; --k) alpha /= 3;
  return alpha % 3;
}

// Index of the tensor component whose slot perm[s] holds digit s of alpha.
int permuted_index(int alpha, const std::vector<int>& perm, int n) {
  std::array<int, 4> d{};
  for (int s = n - 1; s >= 0; --s) {
    d[perm[s]] = alpha % 3;
    alpha /= 3;
  }
  int beta = 0;
  for (int s = 0; s < n; ++s) beta = beta * 3 + d[s];
  return beta;
}

// Slot assignment: perm[s] = slot of `to` holding atom from[s] (equal atoms matched in order).
std::vector<int> match_slots(const std::vector<int>& from, const std::vector<int>& to) {
  const int n = static_cast<int>(from.size());
  std::vector<int> perm(n, -1);
  std::vector<bool> used(n, false);
  for (int s = 0; s < n; ++s) {
    for (int q = 0; q < n; ++q) {
      if (!used[q] && to[q] == from[s]) {
        perm[s] = q;
        used[q] = true;
        break;
      }
    }
    if (perm[s] < 0) throw Error("match_slots: the clusters differ (internal)");
  }
  return perm;
}

// Reduced row-echelon form in place (partial pivoting, columns in order); returns the pivot
// columns. Entries below `tol` are set to zero.
std::vector<int> rref(Eigen::MatrixXd& out, double tol) {
  // Row operations on contiguous rows, and only from the pivot column on: left of it the pivot
  // row is exactly zero (earlier pivot columns were eliminated from it, the other columns were
  // zeroed below the pivot rows), so the result is the same as updating whole rows.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m = out;
  std::vector<int> pivots;
  Eigen::Index row = 0;
  const Eigen::Index cols = m.cols();
  for (Eigen::Index col = 0; col < cols && row < m.rows(); ++col) {
    Eigen::Index best;
    const double big = m.col(col).segment(row, m.rows() - row).cwiseAbs().maxCoeff(&best);
    if (big <= tol) {
      m.col(col).segment(row, m.rows() - row).setZero();
      continue;
    }
    best += row;
    m.row(row).swap(m.row(best));
    m.row(row).tail(cols - col) /= m(row, col);
    const auto pivot = m.row(row).tail(cols - col);
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      if (r != row && m(r, col) != 0.0) m.row(r).tail(cols - col) -= m(r, col) * pivot;
    }
    pivots.push_back(static_cast<int>(col));
    ++row;
  }
  m.conservativeResize(row, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) {
    if (std::abs(m.data()[i]) < tol) m.data()[i] = 0.0;
  }
  out = m;
  return pivots;
}

double weight_of(const std::vector<int>& sorted) {
  double w = 1;
  int run = 1;
  for (std::size_t k = 1; k <= sorted.size(); ++k) {
    if (k < sorted.size() && sorted[k] == sorted[k - 1]) {
      ++run;
      w /= run;
    } else {
      run = 1;
    }
  }
  return w;
}

std::string text(double v) {
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

// Lenstra-Lenstra-Lovasz reduction (delta = 3/4) of a basis given as rows.
Eigen::Matrix3d lll_reduce(Eigen::Matrix3d b) {
  Eigen::Matrix3d star, mu = Eigen::Matrix3d::Zero();
  auto orthogonalise = [&] {
    for (int i = 0; i < 3; ++i) {
      star.row(i) = b.row(i);
      for (int j = 0; j < i; ++j) {
        mu(i, j) = b.row(i).dot(star.row(j)) / star.row(j).squaredNorm();
        star.row(i) -= mu(i, j) * star.row(j);
      }
    }
  };
  orthogonalise();
  int k = 1;
  for (int step = 0; k < 3 && step < 100000; ++step) {
    for (int j = k - 1; j >= 0; --j) {
      const double q = std::round(mu(k, j));
      if (q != 0.0) {
        b.row(k) -= q * b.row(j);
        orthogonalise();
      }
    }
    if (star.row(k).squaredNorm() >=
        (0.75 - mu(k, k - 1) * mu(k, k - 1)) * star.row(k - 1).squaredNorm()) {
      ++k;
    } else {
      b.row(k).swap(b.row(k - 1));
      orthogonalise();
      k = std::max(k - 1, 1);
    }
  }
  return b;
}

}  // namespace

LatticeImages::LatticeImages(const Eigen::Matrix3d& lattice) {
  if (!lattice.allFinite() || std::abs(lattice.determinant()) < 1e-12) {
    throw UsageError("periodic images: the lattice is singular or not finite");
  }
  reduced_ = lll_reduce(lattice);
  inverse_ = reduced_.inverse();
  for (int k = 0; k < 3; ++k) dual_norms_[k] = inverse_.col(k).norm();
  // Every lattice vector no longer than the shortest basis vector has |n_k| <= r |b*_k|.
  const double r = reduced_.rowwise().norm().minCoeff();
  Eigen::Vector3i box;
  for (int k = 0; k < 3; ++k) box[k] = static_cast<int>(std::floor(r * dual_norms_[k] + 1e-9));
  double best = std::numeric_limits<double>::infinity();
  for (int a = -box[0]; a <= box[0]; ++a)
    for (int b = -box[1]; b <= box[1]; ++b)
      for (int c = -box[2]; c <= box[2]; ++c) {
        if (a == 0 && b == 0 && c == 0) continue;
        const Eigen::Vector3d v =
            (a * reduced_.row(0) + b * reduced_.row(1) + c * reduced_.row(2)).transpose();
        if (v.norm() < best - 1e-12) {
          best = v.norm();
          shortest_ = v;
        }
      }
}

std::vector<Eigen::Vector3d> LatticeImages::within(const Eigen::Vector3d& d, double radius) const {
  std::vector<Eigen::Vector3d> out;
  if (!(radius >= 0)) return out;
  const Eigen::RowVector3d f = d.transpose() * inverse_;
  Eigen::Vector3i lo, hi;
  for (int k = 0; k < 3; ++k) {
    lo[k] = static_cast<int>(std::ceil(-radius * dual_norms_[k] - f[k] - 1e-9));
    hi[k] = static_cast<int>(std::floor(radius * dual_norms_[k] - f[k] + 1e-9));
  }
  for (int a = lo[0]; a <= hi[0]; ++a)
    for (int b = lo[1]; b <= hi[1]; ++b)
      for (int c = lo[2]; c <= hi[2]; ++c) {
        const Eigen::Vector3d v =
            d + (a * reduced_.row(0) + b * reduced_.row(1) + c * reduced_.row(2)).transpose();
        if (v.norm() <= radius) out.push_back(v);
      }
  return out;
}

Eigen::Vector3d LatticeImages::shortest_image(const Eigen::Vector3d& d) const {
  Eigen::RowVector3d f = d.transpose() * inverse_;
  f = f.array().round();
  const Eigen::Vector3d wrapped = d - (f * reduced_).transpose();
  const auto all = within(wrapped, wrapped.norm() + 1e-9);
  Eigen::Vector3d best = wrapped;
  for (const auto& v : all) {
    if (v.norm() < best.norm() - 1e-12) best = v;
  }
  return best;
}

double cutoff_limit(const Crystal& crystal) {
  return 0.5 * LatticeImages(crystal.supercell().lattice).shortest_vector().norm();
}

std::vector<std::vector<Eigen::Vector3d>> compact_embeddings(const Crystal& crystal,
                                                             const std::vector<int>& atoms,
                                                             double cutoff) {
  return compact_embeddings(crystal, LatticeImages(crystal.supercell().lattice), atoms, cutoff);
}

std::vector<std::vector<Eigen::Vector3d>> compact_embeddings(const Crystal& crystal,
                                                             const LatticeImages& images,
                                                             const std::vector<int>& atoms,
                                                             double cutoff) {
  const auto& pos = crystal.supercell().positions;
  const double rc = cutoff + kCutoffTolerance;
  const int n = static_cast<int>(atoms.size());
  // Candidate images of each slot: those within the cutoff of atoms[0]; equal atoms share one.
  std::vector<std::vector<Eigen::Vector3d>> candidates(n);
  std::vector<int> same(n, -1);  // earlier slot holding the same atom
  for (int s = 0; s < n; ++s) {
    for (int q = 0; q < s && same[s] < 0; ++q) {
      if (atoms[q] == atoms[s]) same[s] = q;
    }
    if (same[s] >= 0) continue;
    candidates[s] = s == 0 ? std::vector<Eigen::Vector3d>{Eigen::Vector3d::Zero()}
                           : images.within(pos[atoms[s]] - pos[atoms[0]], rc);
  }
  std::vector<std::vector<Eigen::Vector3d>> out;
  std::vector<Eigen::Vector3d> chosen(n);
  auto extend = [&](auto&& self, int s) -> void {
    if (s == n) {
      out.push_back(chosen);
      return;
    }
    if (same[s] >= 0) {
      chosen[s] = chosen[same[s]];
      self(self, s + 1);
      return;
    }
    for (const auto& v : candidates[s]) {
      bool ok = true;
      for (int q = 0; q < s && ok; ++q) ok = (v - chosen[q]).norm() <= rc;
      if (!ok) continue;
      chosen[s] = v;
      self(self, s + 1);
    }
  };
  extend(extend, 0);
  return out;
}

ClusterSpace::ClusterSpace(const Crystal& crystal, ClusterOptions options)
    : crystal_(&crystal), options_(std::move(options)) {
  if (options_.cutoffs.empty() || options_.cutoffs.size() > 3) {
    throw UsageError("force constants of orders 2 to 4 are supported: give 1 to 3 cutoffs, got " +
                     std::to_string(options_.cutoffs.size()));
  }
  if (crystal.num_atoms() >= 65535) {
    throw UsageError("supercells of 65535 atoms or more are not supported");
  }
  limit_ = fc::cutoff_limit(crystal);
  for (int order = 2; order <= max_order(); ++order) {
    const double c = options_.cutoffs[order - 2];
    if (!std::isfinite(c)) {
      throw UsageError("the cutoff of order " + std::to_string(order) + " is not finite");
    }
    if (wraps(order) && !options_.allow_wrapping) {
      throw UsageError(
          "the cutoff of order " + std::to_string(order) + ", " + text(c) +
          " Angstrom, is at or above " + text(limit_) +
          " Angstrom, the largest cutoff this supercell represents without wrapping (half its "
          "shortest lattice vector, " +
          text(2 * limit_) +
          " Angstrom): clusters that long close around the periodic boundary and are "
          "ambiguous. Use a larger supercell, a cutoff below " +
          text(limit_) +
          " Angstrom, or allow wrapping explicitly (physfit fc --allow-wrapping; clusters then "
          "follow ALAMODE's definition)");
    }
  }
  instances_.resize(options_.cutoffs.size());
  instance_of_.resize(options_.cutoffs.size());
  orbits_of_order_.resize(options_.cutoffs.size());
  for (int order = 2; order <= max_order(); ++order)
    build_order(order, options_.cutoffs[order - 2]);
  std::vector<Eigen::Triplet<double>> entries;
  for (int order = 2; order <= max_order(); ++order) build_sum_rule(order, entries);
  t_.resize(num_symmetry_parameters(), num_parameters());
  t_.setFromTriplets(entries.begin(), entries.end());
}

bool ClusterSpace::wraps(int order) const {
  const double c = options_.cutoffs.at(order - 2);
  return c >= 0 && c + kCutoffTolerance >= limit_;
}

std::uint64_t ClusterSpace::key(const std::vector<int>& sorted) const {
  std::uint64_t k = 0;
  for (std::size_t s = 0; s < 4; ++s) {
    k = (k << 16) | (s < sorted.size() ? static_cast<std::uint64_t>(sorted[s]) : 0xFFFFu);
  }
  return k;
}

std::vector<int> ClusterSpace::canonical_translation(const std::vector<int>& sorted,
                                                     int* translation) const {
  std::vector<int> best;
  int best_t = 0;
  std::vector<int> moved(sorted.size());
  for (std::size_t s = 0; s < sorted.size(); ++s) {
    if (s > 0 && sorted[s] == sorted[s - 1]) continue;
    const int t = crystal_->translation_home(sorted[s]);
    for (std::size_t q = 0; q < sorted.size(); ++q) moved[q] = crystal_->translate(sorted[q], t);
    std::sort(moved.begin(), moved.end());
    if (best.empty() || moved < best) {
      best = moved;
      best_t = t;
    }
  }
  if (translation) *translation = best_t;
  return best;
}

std::vector<int> ClusterSpace::canonical_group(const std::vector<int>& sorted) const {
  std::vector<int> best;
  std::vector<int> image(sorted.size());
  for (std::size_t o = 0; o < crystal_->operations().size(); ++o) {
    for (std::size_t q = 0; q < sorted.size(); ++q) {
      image[q] = crystal_->map_atom(static_cast<int>(o), sorted[q]);
    }
    std::sort(image.begin(), image.end());
    const auto c = canonical_translation(image, nullptr);
    if (best.empty() || c < best) best = c;
  }
  return best;
}

void ClusterSpace::build_order(int order, double cutoff) {
  const Crystal& cr = *crystal_;
  const int n = cr.num_atoms();
  const bool every = cutoff < 0;
  const bool alamode = !every && wraps(order);
  const double rc = every ? std::numeric_limits<double>::infinity() : cutoff + kCutoffTolerance;
  const LatticeImages images(cr.supercell().lattice);
  const auto& pos = cr.supercell().positions;
  // ALAMODE's images: fractional positions wrapped into [0, 1), shifted by n in {-1, 0, 1}^3
  // of the supercell lattice as given.
  std::vector<Eigen::Vector3d> frac;
  if (alamode) {
    for (int j = 0; j < n; ++j) {
      Eigen::Vector3d f = cr.supercell().fractional(j);
      for (int k = 0; k < 3; ++k) f[k] -= std::floor(f[k] + 1e-10);
      frac.push_back(f);
    }
  }
  const Eigen::Matrix3d lattice_t = cr.supercell().lattice.transpose();
  // Clusters with an atom in the home cell, in canonical translation form. Each is found from
  // its anchor p: the other atoms' candidate images are those within the cutoff of p, and a
  // multiset is kept if one choice of images (the same for equal atoms) puts every pair
  // within the cutoff (a depth-first search over non-decreasing neighbour indices).
  std::set<std::vector<int>> clusters;
  for (int p : cr.p2s()) {
    std::vector<int> neighbours;
    std::vector<std::vector<Eigen::Vector3d>> candidates;
    for (int j = 0; j < n; ++j) {
      std::vector<Eigen::Vector3d> v;
      if (every) {
        v.push_back(Eigen::Vector3d::Zero());  // geometry unused
      } else if (alamode) {
        for (int a = -1; a <= 1; ++a)
          for (int b = -1; b <= 1; ++b)
            for (int c = -1; c <= 1; ++c) {
              const Eigen::Vector3d x = lattice_t * (frac[j] + Eigen::Vector3d(a, b, c) - frac[p]);
              if (x.norm() <= rc) v.push_back(x);
            }
      } else {
        v = images.within(pos[j] - pos[p], rc);
      }
      if (v.empty()) continue;
      neighbours.push_back(j);
      candidates.push_back(std::move(v));
    }
    const int m = static_cast<int>(neighbours.size());
    const int depth = order - 1;
    std::vector<int> idx(depth);
    std::vector<const Eigen::Vector3d*> chosen(depth);
    std::vector<int> c(order);
    auto extend = [&](auto&& self, int level, int start) -> void {
      if (level == depth) {
        c[0] = p;
        for (int a = 0; a < depth; ++a) c[a + 1] = neighbours[idx[a]];
        std::sort(c.begin(), c.end());
        clusters.insert(canonical_translation(c, nullptr));
        return;
      }
      for (int i = start; i < m; ++i) {
        idx[level] = i;
        if (level > 0 && i == idx[level - 1]) {  // the same atom: the same image
          chosen[level] = chosen[level - 1];
          self(self, level + 1, i);
          continue;
        }
        for (const auto& v : candidates[i]) {
          bool ok = true;
          for (int q = 0; q < level && ok; ++q) ok = every || (v - *chosen[q]).norm() <= rc;
          if (!ok) continue;
          chosen[level] = &v;
          self(self, level + 1, i);
          if (every) break;
        }
      }
    };
    extend(extend, 0, 0);
  }

  // Orbits under the point operations (translations are folded into the canonical form).
  struct Found {
    Orbit orbit;
    std::vector<std::pair<std::vector<int>, int>> members;  // ordered atoms, operation
  };
  std::vector<Found> found;
  std::set<std::vector<int>> assigned;
  const int nops = static_cast<int>(cr.operations().size());
  const int dim = power3(order);
  for (const auto& c0 : clusters) {
    if (assigned.count(c0)) continue;
    Found f;
    f.orbit.order = order;
    f.orbit.representative = c0;
    Eigen::MatrixXd ktk = Eigen::MatrixXd::Zero(dim, dim);
    std::set<std::vector<int>> seen;
    std::vector<int> ordered(order), sorted(order), image(order);
    // The home-cell forms of c0: t_b(c0) for each atom b of c0, ordered as c0's slots.
    std::vector<std::vector<int>> home_forms, home_sorted;
    for (int b = 0; b < order; ++b) {
      const int t = cr.translation_home(c0[b]);
      std::vector<int> form(order);
      for (int q = 0; q < order; ++q) form[q] = cr.translate(c0[q], t);
      home_forms.push_back(form);
      std::sort(form.begin(), form.end());
      home_sorted.push_back(form);
    }
    for (int o = 0; o < nops; ++o) {
      for (int q = 0; q < order; ++q) image[q] = cr.map_atom(o, c0[q]);
      sorted = image;
      std::sort(sorted.begin(), sorted.end());
      int t = 0;
      const auto c = canonical_translation(sorted, &t);
      for (int q = 0; q < order; ++q) ordered[q] = cr.translate(image[q], t);
      if (seen.insert(c).second) {
        f.members.emplace_back(ordered, o);
        assigned.insert(c);
      }
      if (c != c0) continue;
      // Stabilizer: every T o g with T(g(c0)) = c0, T = t_b^-1 t_a for atoms a of g(c0) and b
      // of c0 (pure translations that swap atoms of c0 included). Phi(t_a g c0) = R Phi(c0)
      // and t_a g c0 is the slot permutation of t_b c0 found by matching atoms.
      for (int a = 0; a < order; ++a) {
        const int ta = cr.translation_home(image[a]);
        std::vector<int> moved(order);
        for (int q = 0; q < order; ++q) moved[q] = cr.translate(image[q], ta);
        std::vector<int> moved_sorted = moved;
        std::sort(moved_sorted.begin(), moved_sorted.end());
        for (int b = 0; b < order; ++b) {
          if (moved_sorted != home_sorted[b]) continue;
          const auto perm = match_slots(moved, home_forms[b]);
          Eigen::MatrixXd k = -tensor_rotation(cr.operations()[o].cartesian, order);
          for (int alpha = 0; alpha < dim; ++alpha)
            k(alpha, permuted_index(alpha, perm, order)) += 1;
          ktk += k.transpose() * k;
        }
      }
    }
    // Permutations of equal atoms.
    for (int a = 0; a < order; ++a)
      for (int b = a + 1; b < order; ++b) {
        if (c0[a] != c0[b]) continue;
        std::vector<int> perm(order);
        std::iota(perm.begin(), perm.end(), 0);
        std::swap(perm[a], perm[b]);
        Eigen::MatrixXd k = -Eigen::MatrixXd::Identity(dim, dim);
        for (int alpha = 0; alpha < dim; ++alpha) k(alpha, permuted_index(alpha, perm, order)) += 1;
        ktk += k.transpose() * k;
      }
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(ktk);
    std::vector<int> null;
    for (int k = 0; k < dim; ++k) {
      if (eig.eigenvalues()[k] < 1e-8) null.push_back(k);
    }
    if (null.empty()) continue;  // symmetry forbids every tensor of this orbit
    Eigen::MatrixXd rows(null.size(), dim);
    for (std::size_t k = 0; k < null.size(); ++k)
      rows.row(k) = eig.eigenvectors().col(null[k]).transpose();
    rref(rows, 1e-10);
    f.orbit.basis = rows.transpose();
    f.orbit.distinct_atoms = static_cast<int>(std::set<int>(c0.begin(), c0.end()).size());
    for (int a = 0; a < order; ++a)
      for (int b = a + 1; b < order; ++b) {
        f.orbit.max_distance = std::max(f.orbit.max_distance, cr.distance(c0[a], c0[b]));
      }
    found.push_back(std::move(f));
  }
  // Parameter order: on-site and few-atom orbits first, then by distance.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::make_tuple(a.orbit.distinct_atoms, std::round(a.orbit.max_distance * 1e6),
                           a.orbit.representative) <
           std::make_tuple(b.orbit.distinct_atoms, std::round(b.orbit.max_distance * 1e6),
                           b.orbit.representative);
  });
  auto& instances = instances_[order - 2];
  auto& instance_of = instance_of_[order - 2];
  int offset = x_offsets_.back();
  for (auto& f : found) {
    const int orbit_index = static_cast<int>(orbits_.size());
    f.orbit.first_parameter = offset;
    offset += f.orbit.size();
    for (const auto& [atoms, op] : f.members) {
      Member m;
      m.orbit = orbit_index;
      m.atoms = atoms;
      m.basis = tensor_rotation(cr.operations()[op].cartesian, order) * f.orbit.basis;
      m.basis_rows = m.basis;
      const int member_index = static_cast<int>(members_.size());
      m.first_instance = static_cast<std::int64_t>(instances.size());
      members_.push_back(std::move(m));
      std::vector<int> moved(order), sorted(order);
      for (int t = 0; t < cr.num_cells(); ++t) {
        for (int q = 0; q < order; ++q) moved[q] = cr.translate(atoms[q], t);
        sorted = moved;
        std::sort(sorted.begin(), sorted.end());
        if (!instance_of.emplace(key(sorted), static_cast<int>(instances.size())).second) continue;
        Instance in;
        std::copy(moved.begin(), moved.end(), in.atoms.begin());
        in.member = member_index;
        in.weight = weight_of(sorted);
        instances.push_back(in);
        ++f.orbit.num_clusters;
        ++members_[member_index].num_instances;
      }
    }
    orbits_of_order_[order - 2].push_back(orbit_index);
    orbits_.push_back(std::move(f.orbit));
  }
  x_offsets_.push_back(offset);
}

void ClusterSpace::build_sum_rule(int order, std::vector<Eigen::Triplet<double>>& t_entries) {
  const Crystal& cr = *crystal_;
  const int x0 = x_offsets_[order - 2];
  const int px = x_offsets_[order - 1] - x0;
  const int z0 = z_offsets_.back();
  if (!options_.acoustic_sum_rule || px == 0) {
    for (int k = 0; k < px; ++k) t_entries.emplace_back(x0 + k, z0 + k, 1.0);
    z_offsets_.push_back(z0 + px);
    return;
  }
  // Representatives of the (order-1)-atom sub-clusters, one per orbit.
  std::set<std::vector<int>> reps;
  for (const auto& m : members_) {
    if (orbits_[m.orbit].order != order) continue;
    for (int q = 0; q < order; ++q) {
      std::vector<int> sub;
      for (int s = 0; s < order; ++s) {
        if (s != q) sub.push_back(m.atoms[s]);
      }
      std::sort(sub.begin(), sub.end());
      reps.insert(canonical_group(canonical_translation(sub, nullptr)));
    }
  }
  const int dim = power3(order);
  const auto& instances = instances_[order - 2];
  const auto& instance_of = instance_of_[order - 2];
  // The sum over the last atom j of every head (a representative of the sub-cluster orbits).
  // Beyond the cutoff limit, ALAMODE's periodic-image convention: each cluster's constant is
  // spread evenly over its compact embeddings of smallest total distance (the sum over every
  // pair of its atoms, with repetitions), and the sum runs separately for each choice of images
  // of the head's atoms (relative to its first): the sum rule of the lattice constants these
  // embeddings define, which implies the supercell's. Below the limit each head has one image.
  const bool per_image = wraps(order);
  const LatticeImages images(cr.supercell().lattice);
  struct Term {
    int block;
    double weight;
    int instance;
    std::vector<int> target;  // head atoms, then j
  };
  std::vector<Term> terms;
  int blocks = 0;
  for (const auto& rep : reps) {
    std::map<std::vector<long long>, int> block_of;
    auto block = [&](const std::vector<long long>& k) {
      return block_of.emplace(k, blocks + static_cast<int>(block_of.size())).first->second;
    };
    for (int j = 0; j < cr.num_atoms(); ++j) {
      std::vector<int> target = rep;
      target.push_back(j);
      std::vector<int> sorted = target;
      std::sort(sorted.begin(), sorted.end());
      const auto it = instance_of.find(key(sorted));
      if (it == instance_of.end()) continue;
      if (!per_image) {
        terms.push_back({block({}), 1.0, it->second, target});
        continue;
      }
      const auto all = compact_embeddings(cr, images, target, options_.cutoffs[order - 2]);
      std::vector<double> total(all.size(), 0.0);
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t e = 0; e < all.size(); ++e) {
        for (int a = 0; a < order; ++a)
          for (int b = a + 1; b < order; ++b) total[e] += (all[e][a] - all[e][b]).norm();
        best = std::min(best, total[e]);
      }
      std::vector<std::vector<long long>> keys;
      for (std::size_t e = 0; e < all.size(); ++e) {
        if (total[e] > best + 1e-6) continue;
        std::vector<long long> k;
        for (int a = 1; a + 1 < order; ++a)
          for (int x = 0; x < 3; ++x) k.push_back(std::llround(all[e][a][x] * 1e4));
        keys.push_back(std::move(k));
      }
      if (keys.empty()) keys.emplace_back();  // no compact embedding (not expected)
      for (const auto& k : keys)
        terms.push_back({block(k), 1.0 / static_cast<double>(keys.size()), it->second, target});
    }
    blocks += static_cast<int>(block_of.size());
  }
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(blocks) * dim, px);
  for (const Term& t : terms) {
    const Instance& in = instances[t.instance];
    const Member& m = members_[in.member];
    const Orbit& orbit = orbits_[m.orbit];
    const std::vector<int> atoms(in.atoms.begin(), in.atoms.begin() + order);
    const auto perm = match_slots(t.target, atoms);
    for (int alpha = 0; alpha < dim; ++alpha) {
      const int beta = permuted_index(alpha, perm, order);
      c.row(static_cast<Eigen::Index>(t.block) * dim + alpha)
          .segment(orbit.first_parameter - x0, orbit.size()) += t.weight * m.basis.row(beta);
    }
  }
  if (order == 2 && options_.rotational_invariance) {
    // Rows sum_j Phi_ab(i,j) R^c - Phi_ac(i,j) R^b for each representative atom i.
    const Eigen::Index base = c.rows();
    c.conservativeResize(base + static_cast<Eigen::Index>(reps.size()) * 27, Eigen::NoChange);
    c.bottomRows(static_cast<Eigen::Index>(reps.size()) * 27).setZero();
    int k = 0;
    for (const auto& rep : reps) {
      for (int j = 0; j < cr.num_atoms(); ++j) {
        std::vector<int> target{rep[0], j}, sorted = target;
        std::sort(sorted.begin(), sorted.end());
        const auto it = instance_of.find(key(sorted));
        if (it == instance_of.end()) continue;
        const Instance& in = instances[it->second];
        const Member& m = members_[in.member];
        const Orbit& orbit = orbits_[m.orbit];
        const auto perm = match_slots(target, {in.atoms[0], in.atoms[1]});
        const auto vectors = cr.shortest_vectors(rep[0], j, crystal_->symprec());
        Eigen::Vector3d mean = Eigen::Vector3d::Zero();
        for (const auto& v : vectors) mean += v / static_cast<double>(vectors.size());
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b)
            for (int g = 0; g < 3; ++g) {
              auto row = c.row(base + k * 27 + 9 * a + 3 * b + g)
                             .segment(orbit.first_parameter - x0, orbit.size());
              row += mean[g] * m.basis.row(permuted_index(3 * a + b, perm, 2));
              row -= mean[b] * m.basis.row(permuted_index(3 * a + g, perm, 2));
            }
      }
      ++k;
    }
  }
  const double scale = c.size() ? c.cwiseAbs().maxCoeff() : 0.0;
  std::vector<int> pivots = rref(c, options_.tolerance * std::max(scale, 1.0));
  std::vector<int> z_of(px, -1);
  int z = z0;
  std::vector<bool> is_pivot(px, false);
  for (int p : pivots) is_pivot[p] = true;
  for (int k = 0; k < px; ++k) {
    if (!is_pivot[k]) {
      z_of[k] = z++;
      t_entries.emplace_back(x0 + k, z_of[k], 1.0);
    }
  }
  for (std::size_t i = 0; i < pivots.size(); ++i) {
    for (int k = 0; k < px; ++k) {
      if (!is_pivot[k] && c(static_cast<Eigen::Index>(i), k) != 0.0) {
        t_entries.emplace_back(x0 + pivots[i], z_of[k], -c(static_cast<Eigen::Index>(i), k));
      }
    }
  }
  z_offsets_.push_back(z);
}

int ClusterSpace::num_orbits(int order) const {
  return static_cast<int>(orbits_of_order_.at(order - 2).size());
}

std::int64_t ClusterSpace::num_clusters(int order) const {
  return static_cast<std::int64_t>(instances_.at(order - 2).size());
}

int ClusterSpace::num_symmetry_parameters(int order) const {
  return x_offsets_.at(order - 1) - x_offsets_.at(order - 2);
}

int ClusterSpace::num_parameters(int order) const {
  return z_offsets_.at(order - 1) - z_offsets_.at(order - 2);
}

Eigen::VectorXd ClusterSpace::x_of(const Eigen::VectorXd& z) const {
  if (z.size() != num_parameters()) {
    throw Error("ClusterSpace: " + std::to_string(z.size()) + " parameters given, " +
                std::to_string(num_parameters()) + " expected");
  }
  return t_ * z;
}

void ClusterSpace::sensitivity_x(const double* u, int count, RowMatrix& rows) const {
  const int n = crystal_->num_atoms();
  const Eigen::Index px = num_symmetry_parameters();
  const std::size_t per_config = 3 * std::size_t(n);
  rows.setZero(static_cast<Eigen::Index>(count * per_config), px);
  double* out = rows.data();
  RowMatrix outer, bp, product;
  for (int order = 2; order <= max_order(); ++order) {
    const int dim = power3(order), sub = dim / 3;
    // index[p][a][beta]: the component with digit a in slot p and the digits of beta (the
    // other slots, in order) elsewhere.
    std::vector<int> index(static_cast<std::size_t>(order) * dim);
    for (int p = 0; p < order; ++p)
      for (int alpha = 0; alpha < dim; ++alpha) {
        int stride = 1;
        for (int q = order - 1; q > p; --q) stride *= 3;
        const int a = (alpha / stride) % 3;
        const int beta = (alpha / (stride * 3)) * stride + alpha % stride;
        index[(std::size_t(p) * 3 + a) * sub + beta] = alpha;
      }
    for (const Member& m : members_) {
      const Orbit& orbit = orbits_[m.orbit];
      if (orbit.order != order || m.num_instances == 0) continue;
      const int d = orbit.size();
      const Eigen::Index t_count = m.num_instances;
      const Instance* first = instances_[order - 2].data() + m.first_instance;
      for (int p = 0; p < order; ++p) {
        // outer(t c, beta) = -w (x) over the other slots of u_c[atom q of translate t].
        outer.resize(t_count * count, sub);
        for (int c = 0; c < count; ++c) {
          const double* uc = u + c * per_config;
          for (Eigen::Index t = 0; t < t_count; ++t) {
            const Instance& in = first[t];
            double* o = outer.data() + (c * t_count + t) * sub;
            int size = 1;
            o[0] = -in.weight;
            for (int q = 0; q < order; ++q) {
              if (q == p) continue;
              const double* v = uc + 3 * in.atoms[q];
              for (int k = size - 1; k >= 0; --k) {
                const double x = o[k];
                o[3 * k] = x * v[0];
                o[3 * k + 1] = x * v[1];
                o[3 * k + 2] = x * v[2];
              }
              size *= 3;
            }
          }
        }
        // bp(beta, a d + k) = basis(component (a in slot p, beta elsewhere), k).
        bp.resize(sub, 3 * d);
        for (int a = 0; a < 3; ++a)
          for (int beta = 0; beta < sub; ++beta) {
            bp.row(beta).segment(a * d, d) =
                m.basis_rows.row(index[(std::size_t(p) * 3 + a) * sub + beta]);
          }
        product.noalias() = outer * bp;
        for (int c = 0; c < count; ++c)
          for (Eigen::Index t = 0; t < t_count; ++t) {
            const double* src = product.data() + (c * t_count + t) * 3 * d;
            double* row0 = out + (c * per_config + 3 * std::size_t(first[t].atoms[p])) * px +
                           orbit.first_parameter;
            for (int a = 0; a < 3; ++a) {
              double* dst = row0 + a * px;
              for (int k = 0; k < d; ++k) dst[k] += src[a * d + k];
            }
          }
      }
    }
  }
}

void ClusterSpace::sensitivity(const double* u, int count, RowMatrix& rows) const {
  RowMatrix x_rows;
  sensitivity_x(u, count, x_rows);
  rows = x_rows * t_;
}

Eigen::VectorXd ClusterSpace::forces(const double* u, const Eigen::VectorXd& z) const {
  RowMatrix x_rows;
  sensitivity_x(u, 1, x_rows);
  return x_rows * x_of(z);
}

template <class Put>
void ClusterSpace::for_each_block(int order, const Eigen::VectorXd& x, Put&& put) const {
  if (order > max_order()) return;
  for (const Instance& in : instances_[order - 2]) {
    const Member& m = members_[in.member];
    const Orbit& orbit = orbits_[m.orbit];
    const Eigen::VectorXd tensor = m.basis * x.segment(orbit.first_parameter, orbit.size());
    put(in.atoms, tensor);
  }
}

Eigen::MatrixXd ClusterSpace::fc2(const Eigen::VectorXd& z) const {
  const int n = crystal_->num_atoms();
  Eigen::MatrixXd phi = Eigen::MatrixXd::Zero(3 * n, 3 * n);
  for_each_block(2, x_of(z), [&](const std::array<int, 4>& atoms, const Eigen::VectorXd& t) {
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        phi(3 * atoms[0] + a, 3 * atoms[1] + b) = t[3 * a + b];
        phi(3 * atoms[1] + b, 3 * atoms[0] + a) = t[3 * a + b];
      }
  });
  return phi;
}

namespace {

// Writes a cluster tensor into a compact array [np, n^(order-1), 3^order] under every
// permutation of its slots whose first atom is a primitive atom.
void put_compact(const Crystal& cr, int order, const std::array<int, 4>& atoms,
                 const Eigen::VectorXd& tensor, std::vector<double>& out) {
  const int n = cr.num_atoms();
  const int dim = power3(order);
  std::vector<int> perm(order);
  std::iota(perm.begin(), perm.end(), 0);
  do {
    const int first = atoms[perm[0]];
    const int p = cr.s2p()[first];
    if (cr.p2s()[p] != first) continue;
    std::size_t index = static_cast<std::size_t>(p);
    for (int s = 1; s < order; ++s) index = index * n + atoms[perm[s]];
    double* block = out.data() + index * dim;
    // Component alpha of the permuted tensor: slot s carries digit alpha_s of original slot
    // perm[s].
    for (int alpha = 0; alpha < dim; ++alpha)
      block[alpha] = tensor[permuted_index(alpha, perm, order)];
  } while (std::next_permutation(perm.begin(), perm.end()));
}

}  // namespace

std::vector<double> ClusterSpace::fc3_compact(const Eigen::VectorXd& z) const {
  const std::size_t n = crystal_->num_atoms();
  std::vector<double> out(crystal_->num_primitive() * n * n * 27, 0.0);
  for_each_block(3, x_of(z), [&](const std::array<int, 4>& atoms, const Eigen::VectorXd& t) {
    put_compact(*crystal_, 3, atoms, t, out);
  });
  return out;
}

std::vector<double> ClusterSpace::fc4_compact(const Eigen::VectorXd& z) const {
  const std::size_t n = crystal_->num_atoms();
  std::vector<double> out(crystal_->num_primitive() * n * n * n * 81, 0.0);
  for_each_block(4, x_of(z), [&](const std::array<int, 4>& atoms, const Eigen::VectorXd& t) {
    put_compact(*crystal_, 4, atoms, t, out);
  });
  return out;
}

}  // namespace physfit::fc
