#pragma once
// The floating-point kernel of the Gram reduction and its exact fixed-point accumulation
// (implementation detail of gram.cpp; see include/physfit/lasso/gram.hpp for the design).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace physfit::lasso::detail {

constexpr int kStrip = 8;       // columns per packed strip (one 512-bit vector of doubles)
constexpr int kBlockSize = 64;  // an 8 x 8 block of the Gram
constexpr int kLimbs = 3;       // int64 limbs per fixed-point entry
constexpr int kFixedBits = 80;  // bits below 2^(e_j + e_k) kept by the fixed point
constexpr int kMaxExponent = 500;

/// Index of block (s, t), s >= t, of the lower triangle in 8 x 8 blocks.
inline std::int64_t block_index(std::int64_t s, std::int64_t t) { return s * (s + 1) / 2 + t; }
inline std::int64_t strips_of(std::int64_t m) { return (m + kStrip - 1) / kStrip; }
inline std::int64_t blocks_of(std::int64_t m) {
  const std::int64_t s = strips_of(m);
  return s * (s + 1) / 2;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Buffer = std::unique_ptr<T[], FreeDeleter>;
/// A zeroed, 64-byte aligned array; large ones on transparent huge pages (a first touch of
/// 4 KiB pages costs ~20 us each on these virtual machines, 100x more than with huge pages).
void* zeroed_bytes(std::size_t bytes);
inline Buffer<double> aligned_doubles(std::size_t count) {
  return Buffer<double>(static_cast<double*>(zeroed_bytes(count * sizeof(double))));
}
inline Buffer<std::int64_t> aligned_int64(std::size_t count) {
  return Buffer<std::int64_t>(
      static_cast<std::int64_t*>(zeroed_bytes(count * sizeof(std::int64_t))));
}

/// A row to pack: A values a[j * col_stride], then up to two extra values (y, 1).
struct PackRow {
  const double* a;
  std::int64_t col_stride;
  double extra[2];
};

/// Packs rows into strips of 8 columns (strip s of row k at dst[s * stride + k * 8]): `cols`
/// values of A and `n_extra` extra values per row; columns beyond them are left untouched.
void pack_strips(const PackRow* rows, std::int64_t count, int cols, int n_extra, double* dst,
                 std::int64_t stride);

/// Packs up to `max_rows` rows of m columns into strips of 8 columns and computes the lower
/// triangle of their Gram in 8 x 8 blocks. The sum over rows runs in row order for every
/// entry, whatever the cache blocking, so a chunk's result depends only on its rows.
class ChunkKernel {
 public:
  ChunkKernel(int m, std::int64_t max_rows);

  int columns() const { return m_; }
  std::int64_t strips() const { return strips_; }
  std::int64_t blocks() const { return blocks_of(m_); }
  std::int64_t max_rows() const { return max_rows_; }

  /// Packs `count` rows (cols values of A and n_extra extra values each) as rows 0..count-1.
  void pack(const PackRow* rows, std::int64_t count, int cols, int n_extra);
  /// The Gram of packed rows [0, rows) into gram() (overwritten). Meanwhile the A values of
  /// `next` (the rows packed next) are prefetched, a few cache lines between micro-kernels, so
  /// that packing them reads from cache: the kernel is compute-bound, packing memory-bound.
  void compute(std::int64_t rows, const PackRow* next = nullptr, std::int64_t next_count = 0);
  /// Adds gram() to `limbs` (blocks() * 3 * 64 int64) in fixed point: entry (j, k) is
  /// multiplied by scale[j] * scale[k] (powers of two, 2^(40 - e_j)), then split into limbs.
  void accumulate(const double* scale, std::int64_t* limbs) const;
  const double* gram() const { return gram_.get(); }

 private:
  int m_;
  std::int64_t strips_;
  std::int64_t max_rows_;
  Buffer<double> packed_;  // strips x max_rows x 8
  Buffer<double> gram_;    // blocks x 64
};

/// The cross products of the rows of a chunk: C = A^T A[:, J] (p x |J|), for the Gram columns
/// of the residual mode, with the micro-kernel of ChunkKernel; every entry summed over the rows
/// in order. C is held in 8 x 8 blocks: block (s, t) = rows 8s.. of A^T, columns 8t.. of J.
class CrossKernel {
 public:
  CrossKernel(int p, int columns, std::int64_t max_rows);
  /// Packs `count` rows of A (all p values); reused by every set of columns of the chunk.
  void pack_rows(const PackRow* rows, std::int64_t count);
  /// Packs the values of the |J| columns `cols` of the same rows.
  void pack_columns(const PackRow* rows, std::int64_t count, const int* cols);
  /// C from the packed rows of `rows_of` (this kernel, or another of the same p and chunk
  /// whose pack_rows was called) and this kernel's packed columns.
  void compute(std::int64_t rows, const CrossKernel& rows_of);
  /// Adds C to `limbs` in fixed point, entry (k, q) multiplied by row_scale[k] * col_scale[q]
  /// (row_scale padded to a multiple of 8): limb l of entry (k, q) at (l |J| + q) P + k, where
  /// P = padded_rows().
  void accumulate(const double* row_scale, const double* col_scale, std::int64_t* limbs) const;
  std::int64_t padded_rows() const { return strips_ * kStrip; }

 private:
  int p_, columns_;
  std::int64_t strips_, col_strips_, max_rows_;
  Buffer<double> packed_;  // allocated by pack_rows
  Buffer<double> packed_cols_, c_;
};

/// Splits w into limbs: w = h2 2^64 + h1 2^32 + h0 + (fraction dropped), exactly.
void split_limbs(double w, std::int64_t* h0, std::int64_t* h1, std::int64_t* h2);
/// The integer h2 2^64 + h1 2^32 + h0 times 2^exponent, rounded to double (and the rounding
/// remainder in `low` if not null).
double limbs_to_double(std::int64_t h0, std::int64_t h1, std::int64_t h2, int exponent,
                       double* low = nullptr);

}  // namespace physfit::lasso::detail
