#include "physfit/fc/clusters.hpp"

#include <sys/mman.h>

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
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::fc {
namespace {

using Atoms = std::array<int, 4>;

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

// (R (x) ... (x) R) b for the columns b of `basis` (3^n rows), one slot at a time (n 3^(n+1)
// operations per column instead of 9^n).
Eigen::MatrixXd rotate_tensors(const Eigen::Matrix3d& r, const Eigen::MatrixXd& basis, int n) {
  Eigen::MatrixXd out = basis, next(basis.rows(), basis.cols());
  const int dim = static_cast<int>(basis.rows());
  int stride = dim / 3;  // slot s has stride 3^(n-1-s)
  for (int s = 0; s < n; ++s, stride /= 3) {
    for (int alpha = 0; alpha < dim; ++alpha) {
      const int a = (alpha / stride) % 3;
      const int base = alpha - a * stride;
      next.row(alpha) = r(a, 0) * out.row(base) + r(a, 1) * out.row(base + stride) +
                        r(a, 2) * out.row(base + 2 * stride);
    }
    std::swap(out, next);
  }
  return out;
}

// Index of the tensor component whose slot perm[s] holds digit s of alpha.
int permuted_index(int alpha, const int* perm, int n) {
  std::array<int, 4> d{};
  for (int s = n - 1; s >= 0; --s) {
    d[perm[s]] = alpha % 3;
    alpha /= 3;
  }
  int beta = 0;
  for (int s = 0; s < n; ++s) beta = beta * 3 + d[s];
  return beta;
}
int permuted_index(int alpha, const std::vector<int>& perm, int n) {
  return permuted_index(alpha, perm.data(), n);
}

// Slot assignment: perm[s] = slot of `to` holding atom from[s] (equal atoms matched in order).
Atoms match_slots(const int* from, const int* to, int n) {
  Atoms perm{-1, -1, -1, -1};
  std::array<bool, 4> used{};
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
// columns. Entries below `tol` are set to zero. Dense: for the small matrices of one orbit.
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

// One sparse row: sorted columns and their values.
struct SparseRow {
  std::vector<int> col;
  std::vector<double> val;
  std::size_t size() const { return col.size(); }
};

// Reduced row-echelon form of sparse rows (Gaussian elimination with partial pivoting, columns
// in order, then back substitution), the same form as rref() above: the pivot columns are the
// first columns independent of those before them, which do not depend on how the rows are
// ordered or reduced, and the reduced pivot rows are unique. Rows are bucketed by their
// leading column, so a column touches only the rows that start there; entries that cancel
// below `drop` (rounding noise, far below `tol`) are not stored. Returns the pivot columns;
// `rows` becomes the reduced pivot rows in pivot order, without their leading 1 and with
// entries below `tol` removed. `peak` receives the largest number of stored entries.
template <class Check>
std::vector<int> sparse_rref(std::vector<SparseRow>& rows, int cols, double tol, std::int64_t* peak,
                             Check&& check) {
  const double drop = tol * 1e-3;
  std::vector<std::vector<int>> bucket(static_cast<std::size_t>(cols));
  std::int64_t stored = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    stored += static_cast<std::int64_t>(rows[r].size());
    if (!rows[r].col.empty()) bucket[rows[r].col[0]].push_back(static_cast<int>(r));
  }
  *peak = stored;
  std::vector<int> pivots, pivot_rows;
  SparseRow merged;
  auto rebucket = [&](int r) {
    if (!rows[r].col.empty()) bucket[rows[r].col[0]].push_back(r);
  };
  for (int col = 0; col < cols; ++col) {
    std::vector<int> cand;
    cand.swap(bucket[col]);
    if (cand.empty()) continue;
    int best = -1;
    double big = -1;
    for (int r : cand) {
      const double v = std::abs(rows[r].val[0]);
      if (v > big || (v == big && r < best)) {
        big = v;
        best = r;
      }
    }
    if (big <= tol) {  // noise: the column is zero in the rows left
      for (int r : cand) {
        stored -= 1;
        rows[r].col.erase(rows[r].col.begin());
        rows[r].val.erase(rows[r].val.begin());
        rebucket(r);
      }
      continue;
    }
    SparseRow& p = rows[best];
    const double lead = p.val[0];
    for (double& v : p.val) v /= lead;
    for (int r : cand) {
      if (r == best) continue;
      SparseRow& k = rows[r];
      const double f = k.val[0];
      merged.col.clear();
      merged.val.clear();
      std::size_t a = 1, b = 1;  // both lead at `col`: it cancels exactly
      while (a < k.size() || b < p.size()) {
        int c;
        double v;
        if (b >= p.size() || (a < k.size() && k.col[a] < p.col[b])) {
          c = k.col[a];
          v = k.val[a++];
        } else if (a >= k.size() || p.col[b] < k.col[a]) {
          c = p.col[b];
          v = -f * p.val[b++];
        } else {
          c = k.col[a];
          v = k.val[a++] - f * p.val[b++];
        }
        if (std::abs(v) > drop) {
          merged.col.push_back(c);
          merged.val.push_back(v);
        }
      }
      stored += static_cast<std::int64_t>(merged.size()) - static_cast<std::int64_t>(k.size());
      std::swap(k.col, merged.col);
      std::swap(k.val, merged.val);
      rebucket(r);
    }
    if (stored > *peak) {
      *peak = stored;
      check(stored);
    }
    pivots.push_back(col);
    pivot_rows.push_back(best);
  }
  // Back substitution, last pivot first: a reduced row has no pivot column but its own, so
  // row i loses its entries at later pivot columns c by subtracting row_i[c] reduced(c).
  std::vector<int> pivot_of(static_cast<std::size_t>(cols), -1);
  for (std::size_t i = 0; i < pivots.size(); ++i) pivot_of[pivots[i]] = static_cast<int>(i);
  std::vector<SparseRow> reduced(pivots.size());
  std::vector<double> acc(static_cast<std::size_t>(cols), 0.0);
  std::vector<char> mark(static_cast<std::size_t>(cols), 0);
  std::vector<int> touched;
  for (std::size_t i = pivots.size(); i-- > 0;) {
    const SparseRow& row = rows[pivot_rows[i]];
    touched.clear();
    auto add = [&](int c, double v) {
      if (!mark[c]) {
        mark[c] = 1;
        touched.push_back(c);
      }
      acc[c] += v;
    };
    for (std::size_t e = 1; e < row.size(); ++e) {
      if (pivot_of[row.col[e]] < 0) add(row.col[e], row.val[e]);
    }
    for (std::size_t e = 1; e < row.size(); ++e) {
      const int j = pivot_of[row.col[e]];
      if (j < 0) continue;
      const double f = row.val[e];
      const SparseRow& later = reduced[j];
      for (std::size_t q = 0; q < later.size(); ++q) add(later.col[q], -f * later.val[q]);
    }
    std::sort(touched.begin(), touched.end());
    SparseRow& out = reduced[i];
    for (int c : touched) {
      if (std::abs(acc[c]) > drop) {
        out.col.push_back(c);
        out.val.push_back(acc[c]);
      }
      acc[c] = 0;
      mark[c] = 0;
    }
    stored += static_cast<std::int64_t>(out.size());
    *peak = std::max(*peak, stored);
  }
  for (auto& r : reduced) {  // entries below the tolerance are zero, as in rref()
    std::size_t k = 0;
    for (std::size_t e = 0; e < r.size(); ++e) {
      if (std::abs(r.val[e]) < tol) continue;
      r.col[k] = r.col[e];
      r.val[k++] = r.val[e];
    }
    r.col.resize(k);
    r.val.resize(k);
  }
  rows = std::move(reduced);
  return pivots;
}

double weight_of(const int* sorted, int n) {
  double w = 1;
  int run = 1;
  for (int k = 1; k <= n; ++k) {
    if (k < n && sorted[k] == sorted[k - 1]) {
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

inline void sort_small(int* a, int n) {
  for (int i = 1; i < n; ++i) {
    const int x = a[i];
    int j = i;
    for (; j > 0 && a[j - 1] > x; --j) a[j] = a[j - 1];
    a[j] = x;
  }
}

// Sorted atoms as one number (16 bits each, unused slots 0xFFFF): keys of one order compare
// as the atom lists do.
inline std::uint64_t pack(const int* sorted, int n) {
  std::uint64_t k = 0;
  for (int s = 0; s < 4; ++s) {
    k = (k << 16) | (s < n ? static_cast<std::uint64_t>(sorted[s]) : 0xFFFFu);
  }
  return k;
}

inline void unpack(std::uint64_t key, int n, int* atoms) {
  for (int s = 0; s < n; ++s) atoms[s] = static_cast<int>((key >> (48 - 16 * s)) & 0xFFFFu);
}

// Every rank's values, concatenated in rank order, on every rank.
template <class T>
std::vector<T> allgather(const mpi::Comm& comm, const std::vector<T>& local) {
  if (comm.size() == 1) return local;
  std::vector<T> all = comm.gatherv(local, 0);
  comm.broadcast(all, 0);
  return all;
}

// Bytes of a vector's capacity.
template <class T>
std::size_t bytes_of(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
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
    : ClusterSpace(mpi::Comm::self(), crystal, std::move(options)) {}

ClusterSpace::ClusterSpace(const mpi::Comm& comm, const Crystal& crystal, ClusterOptions options)
    : crystal_(&crystal), options_(std::move(options)) {
  // Checks every rank makes alike, before any communication.
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
          " Angstrom, or allow wrapping explicitly (physfit fc --clusters.allow-wrapping; clusters "
          "then "
          "follow ALAMODE's definition)");
    }
  }
  build(comm);
}

void ClusterSpace::build(const mpi::Comm& comm) {
  const Crystal& cr = *crystal_;
  image_index_.assign(static_cast<std::size_t>(cr.num_atoms()), -1);
  for (int t = 0; t < cr.num_cells(); ++t) image_index_[cr.translate(cr.p2s()[0], t)] = t;
  orbits_of_order_.resize(options_.cutoffs.size());
  clusters_of_order_.assign(options_.cutoffs.size(), 0);
  for (int order = 2; order <= max_order(); ++order)
    build_order(comm, order, options_.cutoffs[order - 2]);
  util::Stopwatch watch;
  std::vector<Eigen::Triplet<double>> entries;
  for (int order = 2; order <= max_order(); ++order) build_sum_rule(comm, order, entries);
  t_.resize(num_symmetry_parameters(), num_parameters());
  t_.setFromTriplets(entries.begin(), entries.end());
  report_.sum_rule_seconds = watch.seconds();
}

void ClusterSpace::check_budget(int order, const std::string& what, double bytes,
                                const std::string& sizes) const {
  if (options_.memory_budget <= 0 || bytes <= options_.memory_budget) return;
  std::ostringstream s;
  s << std::setprecision(3) << "building the cluster space needs about " << bytes / 1e9
    << " GB per rank for " << what << " of order " << order << " (" << sizes
    << "), over the memory budget of " << options_.memory_budget / 1e9
    << " GB left for it: shorten the cutoff of order " << order
    << ", or raise the budget (physfit fc --solver.memory-budget-gb)";
  throw UsageError(s.str());
}

bool ClusterSpace::wraps(int order) const {
  const double c = options_.cutoffs.at(order - 2);
  return c >= 0 && c + kCutoffTolerance >= limit_;
}

std::uint64_t ClusterSpace::canonical(const int* sorted, int n, int* translation) const {
  std::uint64_t best = ~std::uint64_t(0);
  int best_t = 0;
  int moved[4];
  for (int s = 0; s < n; ++s) {
    if (s > 0 && sorted[s] == sorted[s - 1]) continue;
    const int t = crystal_->translation_home(sorted[s]);
    for (int q = 0; q < n; ++q) moved[q] = crystal_->translate(sorted[q], t);
    sort_small(moved, n);
    const std::uint64_t k = pack(moved, n);
    if (k < best) {
      best = k;
      best_t = t;
    }
  }
  if (translation) *translation = best_t;
  return best;
}

std::uint64_t ClusterSpace::canonical_group(const int* sorted, int n) const {
  std::uint64_t best = ~std::uint64_t(0);
  int image[4];
  for (std::size_t o = 0; o < crystal_->operations().size(); ++o) {
    for (int q = 0; q < n; ++q) image[q] = crystal_->map_atom(static_cast<int>(o), sorted[q]);
    sort_small(image, n);
    best = std::min(best, canonical(image, n, nullptr));
  }
  return best;
}

bool ClusterSpace::kept(const Member& m, int t) const {
  for (int k = 0; k < m.num_periods; ++k) {
    // The translation t + h gives the same cluster; keep the smaller of the two.
    if (image_index_[crystal_->translate(periods_[m.first_period + k], t)] < t) return false;
  }
  return true;
}

template <class Visit>
void ClusterSpace::for_each_translate(const Member& m, Visit&& visit) const {
  const int n = orbits_[m.orbit].order;
  std::array<int, 4> atoms{};
  for (int t = 0; t < crystal_->num_cells(); ++t) {
    if (m.num_periods > 0 && !kept(m, t)) continue;
    for (int q = 0; q < n; ++q) atoms[q] = crystal_->translate(m.atoms[q], t);
    visit(atoms);
  }
}

void ClusterSpace::build_order(const mpi::Comm& comm, int order, double cutoff) {
  const Crystal& cr = *crystal_;
  const int n = cr.num_atoms();
  const bool every = cutoff < 0;
  const bool alamode = !every && wraps(order);
  const double rc = every ? std::numeric_limits<double>::infinity() : cutoff + kCutoffTolerance;
  util::Stopwatch watch;

  // 1. Clusters with an atom in the home cell, one per translation class (canonical form). Each
  // is found from its anchor p: the other atoms' candidate images are those within the cutoff
  // of p, and a multiset is kept if one choice of images (the same for equal atoms) puts every
  // pair within the cutoff (a depth-first search over non-decreasing neighbour indices). The
  // searches, one per anchor and first neighbour, are dealt to the ranks in turn.
  std::vector<std::uint64_t> mine = mpi::guarded(comm, [&] {
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
    std::vector<std::uint64_t> keys;
    std::int64_t item = 0;
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
                const Eigen::Vector3d x =
                    lattice_t * (frac[j] + Eigen::Vector3d(a, b, c) - frac[p]);
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
      int c[4];
      auto extend = [&](auto&& self, int level, int start, int stop) -> void {
        if (level == depth) {
          c[0] = p;
          for (int a = 0; a < depth; ++a) c[a + 1] = neighbours[idx[a]];
          sort_small(c, order);
          keys.push_back(canonical(c, order, nullptr));
          return;
        }
        for (int i = start; i < stop; ++i) {
          idx[level] = i;
          if (level > 0 && i == idx[level - 1]) {  // the same atom: the same image
            chosen[level] = chosen[level - 1];
            self(self, level + 1, i, m);
            continue;
          }
          for (const auto& v : candidates[i]) {
            bool ok = true;
            for (int q = 0; q < level && ok; ++q) ok = every || (v - *chosen[q]).norm() <= rc;
            if (!ok) continue;
            chosen[level] = &v;
            self(self, level + 1, i, m);
            if (every) break;
          }
        }
      };
      for (int i = 0; i < m; ++i, ++item) {
        if (item % comm.size() != comm.rank()) continue;
        extend(extend, 0, i, i + 1);
      }
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    }
    return keys;
  });
  std::vector<std::uint64_t> keys = allgather(comm, mine);
  mine = {};
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  report_.translation_classes += static_cast<std::int64_t>(keys.size());
  check_budget(order, "its clusters up to translation", static_cast<double>(keys.size()) * 48,
               std::to_string(keys.size()) + " of them");
  report_.enumerate_seconds += watch.seconds();
  watch.restart();

  // 2. Orbits under the point operations (translations are folded into the canonical form),
  // in the order of their smallest cluster; members in the order of the first operation that
  // gives them. The same on every rank (a few operations per translation class).
  struct Draft {
    Atoms rep{};
    std::vector<std::pair<Atoms, int>> members;  // ordered atoms, operation
    Eigen::MatrixXd basis;
    double max_distance = 0;
    int distinct = 0;
  };
  const int nops = static_cast<int>(cr.operations().size());
  const int dim = power3(order);
  std::vector<Draft> drafts = mpi::guarded(comm, [&] {
    std::vector<Draft> out;
    std::vector<char> assigned(keys.size(), 0);
    std::vector<std::uint64_t> seen;
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (assigned[k]) continue;
      Draft d;
      unpack(keys[k], order, d.rep.data());
      seen.clear();
      int image[4], sorted[4];
      Atoms ordered{};
      for (int o = 0; o < nops; ++o) {
        for (int q = 0; q < order; ++q) image[q] = cr.map_atom(o, d.rep[q]);
        std::copy(image, image + order, sorted);
        sort_small(sorted, order);
        int t = 0;
        const std::uint64_t c = canonical(sorted, order, &t);
        if (std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
        seen.push_back(c);
        for (int q = 0; q < order; ++q) ordered[q] = cr.translate(image[q], t);
        d.members.emplace_back(ordered, o);
        const auto it = std::lower_bound(keys.begin(), keys.end(), c);
        if (it != keys.end() && *it == c) assigned[static_cast<std::size_t>(it - keys.begin())] = 1;
      }
      d.distinct = static_cast<int>(std::set<int>(d.rep.begin(), d.rep.begin() + order).size());
      for (int a = 0; a < order; ++a)
        for (int b = a + 1; b < order; ++b)
          d.max_distance = std::max(d.max_distance, cr.distance(d.rep[a], d.rep[b]));
      out.push_back(std::move(d));
    }
    return out;
  });
  keys = {};

  // 3. The symmetry-adapted basis of each orbit: tensors of the representative invariant
  // under its stabilizer and the permutations of equal atoms. Orbits are dealt to the ranks in
  // turn; one allgather gives every rank every basis.
  std::vector<double> bases = mpi::guarded(comm, [&] {
    std::vector<double> out;
    for (std::size_t k = static_cast<std::size_t>(comm.rank()); k < drafts.size();
         k += static_cast<std::size_t>(comm.size())) {
      const Atoms& c0 = drafts[k].rep;
      Eigen::MatrixXd ktk = Eigen::MatrixXd::Zero(dim, dim);
      int image[4];
      // The home-cell forms of c0: t_b(c0) for each atom b of c0, ordered as c0's slots.
      std::vector<Atoms> home_forms(order), home_sorted(order);
      for (int b = 0; b < order; ++b) {
        const int t = cr.translation_home(c0[b]);
        for (int q = 0; q < order; ++q) home_forms[b][q] = cr.translate(c0[q], t);
        home_sorted[b] = home_forms[b];
        sort_small(home_sorted[b].data(), order);
      }
      const std::uint64_t key0 = pack(c0.data(), order);
      for (int o = 0; o < nops; ++o) {
        for (int q = 0; q < order; ++q) image[q] = cr.map_atom(o, c0[q]);
        int sorted[4];
        std::copy(image, image + order, sorted);
        sort_small(sorted, order);
        if (canonical(sorted, order, nullptr) != key0) continue;
        // Stabilizer: every T o g with T(g(c0)) = c0, T = t_b^-1 t_a for atoms a of g(c0) and
        // b of c0 (pure translations that swap atoms of c0 included). Phi(t_a g c0) = R
        // Phi(c0) and t_a g c0 is the slot permutation of t_b c0 found by matching atoms.
        for (int a = 0; a < order; ++a) {
          const int ta = cr.translation_home(image[a]);
          Atoms moved{}, moved_sorted{};
          for (int q = 0; q < order; ++q) moved[q] = cr.translate(image[q], ta);
          moved_sorted = moved;
          sort_small(moved_sorted.data(), order);
          for (int b = 0; b < order; ++b) {
            if (!std::equal(moved_sorted.begin(), moved_sorted.begin() + order,
                            home_sorted[b].begin()))
              continue;
            const Atoms perm = match_slots(moved.data(), home_forms[b].data(), order);
            Eigen::MatrixXd kk = -tensor_rotation(cr.operations()[o].cartesian, order);
            for (int alpha = 0; alpha < dim; ++alpha)
              kk(alpha, permuted_index(alpha, perm.data(), order)) += 1;
            ktk += kk.transpose() * kk;
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
          Eigen::MatrixXd kk = -Eigen::MatrixXd::Identity(dim, dim);
          for (int alpha = 0; alpha < dim; ++alpha)
            kk(alpha, permuted_index(alpha, perm, order)) += 1;
          ktk += kk.transpose() * kk;
        }
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(ktk);
      std::vector<int> null;
      for (int j = 0; j < dim; ++j) {
        if (eig.eigenvalues()[j] < 1e-8) null.push_back(j);
      }
      Eigen::MatrixXd rows(static_cast<Eigen::Index>(null.size()), dim);
      for (std::size_t j = 0; j < null.size(); ++j)
        rows.row(static_cast<Eigen::Index>(j)) = eig.eigenvectors().col(null[j]).transpose();
      if (!null.empty()) rref(rows, 1e-10);
      out.push_back(static_cast<double>(k));
      out.push_back(static_cast<double>(rows.rows()));
      const Eigen::MatrixXd b = rows.transpose();  // dim x d, column-major
      out.insert(out.end(), b.data(), b.data() + b.size());
    }
    return out;
  });
  bases = allgather(comm, bases);
  for (std::size_t at = 0; at < bases.size();) {
    Draft& d = drafts[static_cast<std::size_t>(bases[at])];
    const auto cols = static_cast<Eigen::Index>(bases[at + 1]);
    d.basis = Eigen::Map<const Eigen::MatrixXd>(bases.data() + at + 2, dim, cols);
    at += 2 + static_cast<std::size_t>(dim * cols);
  }
  bases = {};
  // Orbits whose every tensor symmetry forbids have no parameters (and no clusters here).
  drafts.erase(std::remove_if(drafts.begin(), drafts.end(),
                              [](const Draft& d) { return d.basis.cols() == 0; }),
               drafts.end());
  // Parameter order: on-site and few-atom orbits first, then by distance.
  std::sort(drafts.begin(), drafts.end(), [&](const Draft& a, const Draft& b) {
    return std::make_tuple(a.distinct, std::round(a.max_distance * 1e6),
                           pack(a.rep.data(), order)) <
           std::make_tuple(b.distinct, std::round(b.max_distance * 1e6), pack(b.rep.data(), order));
  });

  // 4. Orbits and members in that order. A member's translates are its clusters, except when a
  // translation maps it onto itself (its atoms, as a set): then the translates repeat, and the
  // first of each is kept.
  std::vector<int> from_home(static_cast<std::size_t>(n), 0);  // t: p2s(s2p(atom)) -> atom
  for (int t = 0; t < cr.num_cells(); ++t)
    for (int p : cr.p2s()) from_home[cr.translate(p, t)] = t;
  int offset = x_offsets_.back();
  for (Draft& d : drafts) {
    Orbit orbit;
    orbit.order = order;
    orbit.representative.assign(d.rep.begin(), d.rep.begin() + order);
    orbit.basis = std::move(d.basis);
    orbit.first_parameter = offset;
    offset += orbit.size();
    orbit.max_distance = d.max_distance;
    orbit.distinct_atoms = d.distinct;
    orbit.first_member = static_cast<int>(members_.size());
    orbit.num_members = static_cast<int>(d.members.size());
    const int orbit_index = static_cast<int>(orbits_.size());
    for (const auto& [atoms, op] : d.members) {
      Member m;
      m.orbit = orbit_index;
      m.op = op;
      m.atoms = atoms;
      Atoms sorted = atoms;
      sort_small(sorted.data(), order);
      m.weight = weight_of(sorted.data(), order);
      m.first_period = static_cast<int>(periods_.size());
      const int a0 = atoms[0];
      for (int k = 1; k < order; ++k) {
        const int ak = atoms[k];
        if (ak == a0 || cr.s2p()[ak] != cr.s2p()[a0]) continue;
        if (std::find(atoms.begin() + 1, atoms.begin() + k, ak) != atoms.begin() + k) continue;
        // h: a0 -> ak (home(a0) then from_home(ak)); a period if it maps the set onto itself.
        const int h = image_index_[cr.translate(cr.translate(cr.p2s()[0], cr.translation_home(a0)),
                                                from_home[ak])];
        Atoms moved{};
        for (int q = 0; q < order; ++q) moved[q] = cr.translate(atoms[q], h);
        sort_small(moved.data(), order);
        if (std::equal(moved.begin(), moved.begin() + order, sorted.begin()))
          periods_.push_back(cr.translate(cr.p2s()[0], h));
      }
      m.num_periods = static_cast<int>(periods_.size()) - m.first_period;
      if (m.num_periods == 0) {
        m.num_instances = cr.num_cells();
      } else {
        for (int t = 0; t < cr.num_cells(); ++t) m.num_instances += kept(m, t);
      }
      orbit.num_clusters += m.num_instances;
      members_.push_back(m);
    }
    clusters_of_order_[order - 2] += orbit.num_clusters;
    orbits_of_order_[order - 2].push_back(orbit_index);
    orbits_.push_back(std::move(orbit));
  }
  x_offsets_.push_back(offset);
  report_.orbit_seconds += watch.seconds();
}

void ClusterSpace::build_sum_rule(const mpi::Comm& comm, int order,
                                  std::vector<Eigen::Triplet<double>>& t_entries) {
  const Crystal& cr = *crystal_;
  const int x0 = x_offsets_[order - 2];
  const int px = x_offsets_[order - 1] - x0;
  const int z0 = z_offsets_.back();
  z_of_x_.resize(static_cast<std::size_t>(x_offsets_.back()), 0);
  if (!options_.acoustic_sum_rule || px == 0) {
    for (int k = 0; k < px; ++k) {
      t_entries.emplace_back(x0 + k, z0 + k, 1.0);
      z_of_x_[x0 + k] = z0 + k;
    }
    z_offsets_.push_back(z0 + px);
    return;
  }
  const int dim = power3(order);
  int m0 = static_cast<int>(members_.size()), m1 = 0;
  for (int o : orbits_of_order_[order - 2]) {
    m0 = std::min(m0, orbits_[o].first_member);
    m1 = std::max(m1, orbits_[o].first_member + orbits_[o].num_members);
  }
  m1 = std::max(m0, m1);

  // 1. Heads: representatives of the (order-1)-atom sub-cluster orbits. Members are dealt to
  // the ranks in turn; one allgather.
  std::vector<std::uint64_t> heads = mpi::guarded(comm, [&] {
    std::unordered_set<std::uint64_t> classes;
    for (int mi = m0 + comm.rank(); mi < m1; mi += comm.size()) {
      const Member& m = members_[mi];
      for (int q = 0; q < order; ++q) {
        int sub[4], k = 0;
        for (int s = 0; s < order; ++s) {
          if (s != q) sub[k++] = m.atoms[s];
        }
        sort_small(sub, order - 1);
        classes.insert(canonical(sub, order - 1, nullptr));
      }
    }
    std::vector<std::uint64_t> out;
    for (std::uint64_t c : classes) {
      int sub[4];
      unpack(c, order - 1, sub);
      out.push_back(canonical_group(sub, order - 1));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  });
  heads = allgather(comm, heads);
  std::sort(heads.begin(), heads.end());
  heads.erase(std::unique(heads.begin(), heads.end()), heads.end());

  // 2. The rows of each head: the sum over the last atom j of every cluster (head, j), for each
  // of the 3^order components. Beyond the cutoff limit, ALAMODE's periodic-image convention:
  // each cluster's constant is spread evenly over its compact embeddings of smallest total
  // distance (the sum over every pair of its atoms, with repetitions), and the sum runs
  // separately for each choice of images of the head's atoms (relative to its first): the sum
  // rule of the lattice constants these embeddings define, which implies the supercell's.
  // Below the limit each head has one image. Heads are dealt to the ranks in turn; each sends
  // its rows (sparse) in one allgather, and every rank assembles them in head order.
  const bool per_image = wraps(order);
  const bool rotational = order == 2 && options_.rotational_invariance;
  std::unordered_map<std::uint64_t, int> member_of;  // canonical form -> member
  for (int mi = m0; mi < m1; ++mi) {
    Atoms sorted = members_[mi].atoms;
    sort_small(sorted.data(), order);
    member_of.emplace(pack(sorted.data(), order), mi);
  }
  std::vector<double> packed = mpi::guarded(comm, [&] {
    const LatticeImages images(cr.supercell().lattice);
    std::vector<double> out;
    for (std::size_t h = static_cast<std::size_t>(comm.rank()); h < heads.size();
         h += static_cast<std::size_t>(comm.size())) {
      int rep[4];
      unpack(heads[h], order - 1, rep);
      struct Term {
        int block;
        double weight;
        int member;
        Atoms perm;
      };
      std::vector<Term> terms;
      std::map<std::vector<long long>, int> block_of;
      auto block = [&](const std::vector<long long>& k) {
        return block_of.emplace(k, static_cast<int>(block_of.size())).first->second;
      };
      // Rotational invariance (order 2): sum_j Phi_ab(i,j) R^c - Phi_ac(i,j) R^b = 0.
      struct Turn {
        int member;
        Atoms perm;
        Eigen::Vector3d mean;
      };
      std::vector<Turn> turns;
      for (int j = 0; j < cr.num_atoms(); ++j) {
        int target[4], sorted[4], moved[4];
        std::copy(rep, rep + order - 1, target);
        target[order - 1] = j;
        std::copy(target, target + order, sorted);
        sort_small(sorted, order);
        int t = 0;
        const auto it = member_of.find(canonical(sorted, order, &t));
        if (it == member_of.end()) continue;
        for (int s = 0; s < order; ++s) moved[s] = cr.translate(target[s], t);
        const Atoms perm = match_slots(moved, members_[it->second].atoms.data(), order);
        if (rotational) {
          const auto vectors = cr.shortest_vectors(rep[0], j, cr.symprec());
          Eigen::Vector3d mean = Eigen::Vector3d::Zero();
          for (const auto& v : vectors) mean += v / static_cast<double>(vectors.size());
          turns.push_back({it->second, perm, mean});
        }
        if (!per_image) {
          terms.push_back({block({}), 1.0, it->second, perm});
          continue;
        }
        const auto all = compact_embeddings(cr, images, std::vector<int>(target, target + order),
                                            options_.cutoffs[order - 2]);
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
          terms.push_back({block(k), 1.0 / static_cast<double>(keys.size()), it->second, perm});
      }
      // The orbits these rows touch, as local columns.
      std::vector<int> touched;
      for (const Term& t : terms) touched.push_back(members_[t.member].orbit);
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      std::vector<int> local_of(touched.size() + 1, 0);
      for (std::size_t k = 0; k < touched.size(); ++k)
        local_of[k + 1] = local_of[k] + orbits_[touched[k]].size();
      auto column = [&](int orbit) {
        const auto k = std::lower_bound(touched.begin(), touched.end(), orbit) - touched.begin();
        return local_of[static_cast<std::size_t>(k)];
      };
      const Eigen::Index blocks = static_cast<Eigen::Index>(block_of.size());
      const Eigen::Index extra = rotational ? 27 : 0;
      Eigen::MatrixXd c = Eigen::MatrixXd::Zero(blocks * dim + extra, local_of.back());
      int last = -1;
      Eigen::MatrixXd mb;
      for (const Term& t : terms) {
        if (t.member != last) mb = member_basis(t.member);
        last = t.member;
        const int col = column(members_[t.member].orbit);
        for (int alpha = 0; alpha < dim; ++alpha) {
          const int beta = permuted_index(alpha, t.perm.data(), order);
          c.row(static_cast<Eigen::Index>(t.block) * dim + alpha).segment(col, mb.cols()) +=
              t.weight * mb.row(beta);
        }
      }
      for (const Turn& t : turns) {
        if (t.member != last) mb = member_basis(t.member);
        last = t.member;
        const int col = column(members_[t.member].orbit);
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b)
            for (int g = 0; g < 3; ++g) {
              auto row = c.row(blocks * dim + 9 * a + 3 * b + g).segment(col, mb.cols());
              row += t.mean[g] * mb.row(permuted_index(3 * a + b, t.perm.data(), 2));
              row -= t.mean[b] * mb.row(permuted_index(3 * a + g, t.perm.data(), 2));
            }
      }
      // [head, rows, extra rows, then per row: entries, columns, values].
      out.push_back(static_cast<double>(h));
      out.push_back(static_cast<double>(blocks * dim));
      out.push_back(static_cast<double>(extra));
      for (Eigen::Index r = 0; r < c.rows(); ++r) {
        const std::size_t at = out.size();
        out.push_back(0);
        int count = 0;
        for (std::size_t k = 0; k < touched.size(); ++k) {
          const Orbit& orbit = orbits_[touched[k]];
          for (int q = 0; q < orbit.size(); ++q) {
            if (c(r, local_of[k] + q) == 0.0) continue;
            out.push_back(static_cast<double>(orbit.first_parameter - x0 + q));
            ++count;
          }
        }
        for (std::size_t k = 0; k < touched.size(); ++k) {
          const Orbit& orbit = orbits_[touched[k]];
          for (int q = 0; q < orbit.size(); ++q) {
            const double v = c(r, local_of[k] + q);
            if (v != 0.0) out.push_back(v);
          }
        }
        out[at] = count;
      }
    }
    return out;
  });
  // 3. Rank 0 assembles the rows (every head's sum-rule rows in head order, then the
  // rotational ones) and reduces them (sparse reduced row-echelon form); every rank gets the
  // pivots and the reduced rows (T) in one broadcast. The same computation at any rank count.
  packed = comm.gatherv(packed, 0);
  std::vector<double> result = mpi::guarded(comm, [&] {
    std::vector<double> out;
    if (!comm.is_root()) return out;
    std::vector<std::size_t> start(heads.size(), 0);
    for (std::size_t at = 0; at < packed.size();) {
      start[static_cast<std::size_t>(packed[at])] = at;
      const auto count = static_cast<std::size_t>(packed[at + 1] + packed[at + 2]);
      at += 3;
      for (std::size_t r = 0; r < count; ++r) at += 1 + 2 * static_cast<std::size_t>(packed[at]);
    }
    std::vector<SparseRow> rows;
    double scale = 0;
    std::int64_t entries = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t h = 0; h < heads.size(); ++h) {
        std::size_t at = start[h];
        const auto first = static_cast<std::size_t>(packed[at + 1]);
        const auto extra = static_cast<std::size_t>(packed[at + 2]);
        at += 3;
        for (std::size_t r = 0; r < first + extra; ++r) {
          const auto count = static_cast<std::size_t>(packed[at]);
          if ((r < first) == (pass == 0)) {
            SparseRow row;
            for (std::size_t e = 0; e < count; ++e) {
              row.col.push_back(static_cast<int>(packed[at + 1 + e]));
              row.val.push_back(packed[at + 1 + count + e]);
              scale = std::max(scale, std::abs(row.val.back()));
            }
            entries += static_cast<std::int64_t>(count);
            rows.push_back(std::move(row));
          }
          at += 1 + 2 * count;
        }
      }
    }
    const std::size_t packed_bytes = packed.size() * sizeof(double);
    packed = {};
    check_budget(order, "the sum-rule rows",
                 static_cast<double>(entries) * 12 + static_cast<double>(rows.size()) * 48,
                 std::to_string(rows.size()) + " rows, " + std::to_string(entries) + " entries");
    std::int64_t peak = 0;
    const std::size_t count = rows.size();
    const std::vector<int> pivots = sparse_rref(
        rows, px, options_.tolerance * std::max(scale, 1.0), &peak, [&](std::int64_t stored) {
          check_budget(order, "the reduction of the sum-rule rows",
                       static_cast<double>(stored) * 12,
                       std::to_string(stored) + " entries as it fills in");
        });
    // [rows, entries, peak, bytes gathered, pivots, then per pivot: column, count, columns,
    // values].
    out = {static_cast<double>(count), static_cast<double>(entries), static_cast<double>(peak),
           static_cast<double>(packed_bytes), static_cast<double>(pivots.size())};
    for (std::size_t i = 0; i < pivots.size(); ++i) {
      out.push_back(pivots[i]);
      out.push_back(static_cast<double>(rows[i].size()));
      out.insert(out.end(), rows[i].col.begin(), rows[i].col.end());
      out.insert(out.end(), rows[i].val.begin(), rows[i].val.end());
    }
    return out;
  });
  packed = {};
  comm.broadcast(result, 0);
  report_.constraint_rows += static_cast<std::int64_t>(result[0]);
  report_.constraint_nonzeros += static_cast<std::int64_t>(result[1]);
  const auto peak = static_cast<std::int64_t>(result[2]);
  report_.reduced_nonzeros = std::max(report_.reduced_nonzeros, peak);
  std::vector<int> pivots;
  std::vector<SparseRow> rows;
  for (std::size_t at = 5; at < result.size();) {
    pivots.push_back(static_cast<int>(result[at]));
    const auto count = static_cast<std::size_t>(result[at + 1]);
    SparseRow row;
    for (std::size_t e = 0; e < count; ++e) {
      row.col.push_back(static_cast<int>(result[at + 2 + e]));
      row.val.push_back(result[at + 2 + count + e]);
    }
    rows.push_back(std::move(row));
    at += 2 + 2 * count;
  }
  result = {};
  std::vector<int> z_of(static_cast<std::size_t>(px), -1);
  std::vector<char> is_pivot(static_cast<std::size_t>(px), 0);
  for (int p : pivots) is_pivot[p] = 1;
  int z = z0;
  for (int k = 0; k < px; ++k) {
    if (is_pivot[k]) continue;
    z_of[k] = z++;
    t_entries.emplace_back(x0 + k, z_of[k], 1.0);
    z_of_x_[x0 + k] = z_of[k];
  }
  for (std::size_t i = 0; i < pivots.size(); ++i) {
    z_of_x_[x0 + pivots[i]] = -1 - static_cast<int>(pivot_x_.size());
    pivot_x_.push_back(x0 + pivots[i]);
    for (std::size_t e = 0; e < rows[i].size(); ++e) {
      const int k = rows[i].col[e];
      t_entries.emplace_back(x0 + pivots[i], z_of[k], -rows[i].val[e]);
      pivot_col_.push_back(z_of[k]);
      pivot_val_.push_back(-rows[i].val[e]);
    }
    pivot_ptr_.push_back(static_cast<std::int64_t>(pivot_col_.size()));
  }
  z_offsets_.push_back(z);
}

void prefer_huge_pages(RowMatrix& m) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kPage = 4096;
  const auto begin = reinterpret_cast<std::uintptr_t>(m.data());
  const std::uintptr_t end = begin + static_cast<std::uintptr_t>(m.size()) * sizeof(double);
  const std::uintptr_t first = (begin + kPage - 1) / kPage * kPage, last = end / kPage * kPage;
  if (last > first + (std::uintptr_t(4) << 20))
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)m;
#endif
}

int ClusterSpace::num_orbits(int order) const {
  return static_cast<int>(orbits_of_order_.at(order - 2).size());
}

std::int64_t ClusterSpace::num_clusters(int order) const {
  return clusters_of_order_.at(order - 2);
}

int ClusterSpace::num_symmetry_parameters(int order) const {
  return x_offsets_.at(order - 1) - x_offsets_.at(order - 2);
}

int ClusterSpace::num_parameters(int order) const {
  return z_offsets_.at(order - 1) - z_offsets_.at(order - 2);
}

std::vector<int> ClusterSpace::member_atoms(int member) const {
  const Member& m = members_.at(member);
  return std::vector<int>(m.atoms.begin(), m.atoms.begin() + orbits_[m.orbit].order);
}

Eigen::MatrixXd ClusterSpace::member_basis(int member) const {
  const Member& m = members_.at(member);
  const Orbit& orbit = orbits_[m.orbit];
  return rotate_tensors(crystal_->operations()[m.op].cartesian, orbit.basis, orbit.order);
}

void ClusterSpace::for_each_instance(int order,
                                     const std::function<void(const Instance&)>& visit) const {
  if (order < 2 || order > max_order()) return;
  Instance in;
  for (int o : orbits_of_order_[order - 2]) {
    const Orbit& orbit = orbits_[o];
    for (int mi = orbit.first_member; mi < orbit.first_member + orbit.num_members; ++mi) {
      const Member& m = members_[mi];
      in.member = mi;
      in.weight = m.weight;
      for_each_translate(m, [&](const Atoms& atoms) {
        in.atoms = atoms;
        visit(in);
      });
    }
  }
}

std::vector<ClusterSpace::Instance> ClusterSpace::instances(int order) const {
  std::vector<Instance> out;
  if (order < 2 || order > max_order()) return out;
  out.reserve(static_cast<std::size_t>(num_clusters(order)));
  for_each_instance(order, [&](const Instance& in) { out.push_back(in); });
  return out;
}

std::size_t ClusterSpace::memory_bytes() const {
  std::size_t b = sizeof(*this) + bytes_of(orbits_) + bytes_of(members_) + bytes_of(periods_) +
                  bytes_of(image_index_) + bytes_of(clusters_of_order_) + bytes_of(x_offsets_) +
                  bytes_of(z_offsets_) + bytes_of(z_of_x_) + bytes_of(pivot_x_) +
                  bytes_of(pivot_col_) + bytes_of(pivot_ptr_) + bytes_of(pivot_val_);
  for (const Orbit& o : orbits_)
    b += static_cast<std::size_t>(o.basis.size()) * sizeof(double) + bytes_of(o.representative);
  for (const auto& v : orbits_of_order_) b += bytes_of(v);
  b += static_cast<std::size_t>(t_.nonZeros()) * (sizeof(double) + sizeof(int)) +
       static_cast<std::size_t>(t_.outerSize() + 1) * sizeof(int);
  return b;
}

std::size_t ClusterSpace::row_scratch_bytes() const {
  const std::size_t n3 = 3 * static_cast<std::size_t>(crystal_->num_atoms());
  std::size_t slots = 0, d = 0;
  for (const Orbit& o : orbits_) {
    slots = std::max(slots, static_cast<std::size_t>(o.order * power3(o.order)));
    d = std::max(d, static_cast<std::size_t>(o.size()));
  }
  const std::size_t ops = crystal_->operations().size();
  return sizeof(double) * (n3 * pivot_x_.size() + n3 * slots + slots * d + n3 * d + ops * n3);
}

std::vector<double> ClusterSpace::rotated(const double* u) const {
  const int n = crystal_->num_atoms();
  const auto& ops = crystal_->operations();
  std::vector<double> out(ops.size() * 3 * static_cast<std::size_t>(n));
  for (std::size_t g = 0; g < ops.size(); ++g) {
    const Eigen::Matrix3d& r = ops[g].cartesian;
    double* o = out.data() + g * 3 * static_cast<std::size_t>(n);
    for (int i = 0; i < n; ++i) {
      const double* v = u + 3 * i;
      for (int c = 0; c < 3; ++c) o[3 * i + c] = r(0, c) * v[0] + r(1, c) * v[1] + r(2, c) * v[2];
    }
  }
  return out;
}

void ClusterSpace::orbit_rows(int index, const double* rotated_u, RowMatrix& m, RowMatrix& b,
                              RowMatrix& x) const {
  // The force on atom i (slot p) of a member's cluster is R F'(R^T u): with the orbit's basis
  // B, row (i, a), parameter k:  sum_{c, beta} R_ac B[(c at p, beta), k] prod_{q != p}
  // (R^T u_q)[beta_q], times -w. So M[(i, a), (p, c, beta)] sums R_ac (-w) prod (R^T u_q) over
  // the orbit's clusters with atom i in slot p, and the rows are M times the basis rows
  // stacked per slot (p, c, beta).
  const Orbit& orbit = orbits_[index];
  const Crystal& cr = *crystal_;
  const int n = orbit.order, dim = power3(n), sub = dim / 3, d = orbit.size();
  const int natoms = cr.num_atoms();
  const Eigen::Index n3 = 3 * static_cast<Eigen::Index>(natoms);
  const Eigen::Index width = static_cast<Eigen::Index>(n) * dim;
  m.resize(n3, width);
  m.setZero();
  // The order is a compile-time constant in the loop over clusters (fully unrolled products).
  auto accumulate = [&](auto order_tag) {
    constexpr int N = decltype(order_tag)::value;
    constexpr int kSub = N == 2 ? 3 : N == 3 ? 9 : 27, kDim = 3 * kSub;
    double outer[kSub];
    for (int mi = orbit.first_member; mi < orbit.first_member + orbit.num_members; ++mi) {
      const Member& mem = members_[mi];
      const Eigen::Matrix3d& r = cr.operations()[mem.op].cartesian;
      const double* u = rotated_u + static_cast<std::size_t>(mem.op) * n3;
      for_each_translate(mem, [&](const Atoms& atoms) {
        for (int p = 0; p < N; ++p) {
          // outer[beta] = -w prod over the other slots q (in order) of (R^T u_q)[beta_q].
          int size = 1;
          outer[0] = -mem.weight;
          for (int q = 0; q < N; ++q) {
            if (q == p) continue;
            const double* v = u + 3 * atoms[q];
            for (int k = size - 1; k >= 0; --k) {
              const double y = outer[k];
              outer[3 * k] = y * v[0];
              outer[3 * k + 1] = y * v[1];
              outer[3 * k + 2] = y * v[2];
            }
            size *= 3;
          }
          double* row = m.data() + 3 * static_cast<Eigen::Index>(atoms[p]) * width + p * kDim;
          for (int a = 0; a < 3; ++a, row += width) {
            for (int c = 0; c < 3; ++c) {
              const double rac = r(a, c);
              double* dst = row + c * kSub;
              for (int beta = 0; beta < kSub; ++beta) dst[beta] += rac * outer[beta];
            }
          }
        }
      });
    }
  };
  if (n == 2) {
    accumulate(std::integral_constant<int, 2>());
  } else if (n == 3) {
    accumulate(std::integral_constant<int, 3>());
  } else {
    accumulate(std::integral_constant<int, 4>());
  }
  // b[(p, c, beta), k] = basis(component with digit c in slot p and beta elsewhere, k).
  b.resize(width, d);
  for (int p = 0; p < n; ++p) {
    int stride = 1;
    for (int q = n - 1; q > p; --q) stride *= 3;
    for (int c = 0; c < 3; ++c)
      for (int beta = 0; beta < sub; ++beta) {
        const int alpha = (beta / stride) * stride * 3 + c * stride + beta % stride;
        b.row(static_cast<Eigen::Index>(p) * dim + c * sub + beta) = orbit.basis.row(alpha);
      }
  }
  x.noalias() = m * b;
}

void ClusterSpace::sensitivity_into(const double* u, double* rows, std::int64_t stride) const {
  const Eigen::Index n3 = 3 * static_cast<Eigen::Index>(crystal_->num_atoms());
  const std::vector<double> ru = rotated(u);
  const Eigen::Index np = static_cast<Eigen::Index>(pivot_x_.size());
  RowMatrix m, b, x, eliminated(n3, np);
  prefer_huge_pages(eliminated);
  for (std::size_t o = 0; o < orbits_.size(); ++o) {
    const Orbit& orbit = orbits_[o];
    orbit_rows(static_cast<int>(o), ru.data(), m, b, x);
    const int d = orbit.size();
    const int* z_of = z_of_x_.data() + orbit.first_parameter;
    for (Eigen::Index r = 0; r < n3; ++r) {
      const double* src = x.data() + r * d;
      double* dst = rows + r * stride;
      double* piv = eliminated.data() + r * np;
      for (int k = 0; k < d; ++k) {
        if (z_of[k] >= 0) {
          dst[z_of[k]] = src[k];
        } else {
          piv[-1 - z_of[k]] = src[k];
        }
      }
    }
  }
  // The eliminated parameters' columns, through T's rows: z_j += x_i T_ij.
  for (Eigen::Index r = 0; r < n3; ++r) {
    double* dst = rows + r * stride;
    const double* piv = eliminated.data() + r * np;
    for (Eigen::Index i = 0; i < np; ++i) {
      const double v = piv[i];
      if (v == 0.0) continue;
      for (std::int64_t e = pivot_ptr_[i]; e < pivot_ptr_[i + 1]; ++e)
        dst[pivot_col_[e]] += v * pivot_val_[e];
    }
  }
}

void ClusterSpace::sensitivity(const double* u, int count, RowMatrix& rows) const {
  const Eigen::Index n3 = 3 * static_cast<Eigen::Index>(crystal_->num_atoms());
  const Eigen::Index p = num_parameters();
  if (rows.rows() != count * n3 || rows.cols() != p) {
    rows.resize(count * n3, p);
    prefer_huge_pages(rows);
  }
  for (int c = 0; c < count; ++c) sensitivity_into(u + c * n3, rows.data() + c * n3 * p, p);
}

void ClusterSpace::sensitivity_x(const double* u, int count, RowMatrix& rows) const {
  const Eigen::Index n3 = 3 * static_cast<Eigen::Index>(crystal_->num_atoms());
  const Eigen::Index px = num_symmetry_parameters();
  rows.setZero(count * n3, px);
  RowMatrix m, b, x;
  for (int c = 0; c < count; ++c) {
    const std::vector<double> ru = rotated(u + c * n3);
    for (std::size_t o = 0; o < orbits_.size(); ++o) {
      orbit_rows(static_cast<int>(o), ru.data(), m, b, x);
      rows.block(c * n3, orbits_[o].first_parameter, n3, x.cols()) = x;
    }
  }
}

Eigen::VectorXd ClusterSpace::x_of(const Eigen::VectorXd& z) const {
  if (z.size() != num_parameters()) {
    throw Error("ClusterSpace: " + std::to_string(z.size()) + " parameters given, " +
                std::to_string(num_parameters()) + " expected");
  }
  return t_ * z;
}

Eigen::VectorXd ClusterSpace::forces(const double* u, const Eigen::VectorXd& z) const {
  const Eigen::VectorXd xv = x_of(z);
  const std::vector<double> ru = rotated(u);
  Eigen::VectorXd f = Eigen::VectorXd::Zero(3 * crystal_->num_atoms());
  RowMatrix m, b, x;
  for (std::size_t o = 0; o < orbits_.size(); ++o) {
    orbit_rows(static_cast<int>(o), ru.data(), m, b, x);
    f.noalias() += x * xv.segment(orbits_[o].first_parameter, x.cols());
  }
  return f;
}

template <class Put>
void ClusterSpace::for_each_block(int order, const Eigen::VectorXd& x, Put&& put) const {
  if (order > max_order()) return;
  for (int o : orbits_of_order_[order - 2]) {
    const Orbit& orbit = orbits_[o];
    const Eigen::MatrixXd tensor0 = orbit.basis * x.segment(orbit.first_parameter, orbit.size());
    for (int mi = orbit.first_member; mi < orbit.first_member + orbit.num_members; ++mi) {
      const Member& m = members_[mi];
      const Eigen::VectorXd tensor =
          rotate_tensors(crystal_->operations()[m.op].cartesian, tensor0, order);
      for_each_translate(m, [&](const Atoms& atoms) { put(atoms, tensor); });
    }
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
