#pragma once
/// @file
/// The reduction of distributed rows to the sufficient statistics of least squares:
/// A^T A, A^T y, y^T y (and the column sums when an intercept is fitted), per fold of rows
/// for cross-validation, with one allreduce.
///
/// **Reproducible to the bit on any number of ranks.** The global rows are cut into fixed
/// chunks of `chunk_rows` rows whose boundaries depend only on the global row index, never on
/// the rank count. Each chunk is computed whole by one rank (the rows of a chunk that straddles
/// ranks are sent to the rank that holds its first row), in floating point, in a fixed order
/// (a packed SYRK-like kernel: only the lower triangle, 8 x 8 blocks, rows summed in order).
/// Each chunk's result is then added in exact fixed-point arithmetic: entry (j, k) is scaled
/// by 2^(80 - e_j - e_k), where 2^e_j bounds column j's largest magnitude (an exact, global
/// maximum), and split into three int64 limbs of 32 bits (the top one wider). Integer addition
/// is associative, so the sum over chunks, the allreduce (MPI_SUM on int64) and the
/// subtraction of a fold from the total are exact: 1, 2, 3 or 512 ranks give the same bits,
/// and a fold's training Gram (total minus held-out rows) has no cancellation error. The
/// fixed point keeps 80 bits below the bound 2^(e_j + e_k), far below the rounding of a chunk's
/// floating-point sum. Limits: fewer than 2^31 rows; finite values whose column maxima lie in
/// [2^-500, 2^500] (or are zero).

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <vector>

#include "physfit/lasso/rows.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::lasso {

namespace detail {
class ChunkKernel;
}

/// Options of the reduction. The result depends on `chunk_rows` (the order of floating-point
/// sums within a chunk), never on the number of ranks.
struct GramOptions {
  std::int64_t chunk_rows = 1024;  ///< rows per fixed chunk (1 to 65536)
  int folds = 0;                   ///< > 0: rows carry fold ids in [0, folds), one Gram per fold
  bool column_sums = false;        ///< also reduce 1^T A, 1^T y, n (needed to fit an intercept)
};

/// Sufficient statistics of a least-squares problem, in double precision.
struct Moments {
  std::int64_t n = 0;     ///< rows
  Eigen::MatrixXd ata;    ///< A^T A, p x p, both triangles filled
  Eigen::VectorXd aty;    ///< A^T y
  double yty = 0;         ///< y^T y
  Eigen::VectorXd sum_a;  ///< 1^T A (empty unless GramOptions::column_sums)
  double sum_y = 0;       ///< 1^T y (0 unless GramOptions::column_sums)
};

/// Where the time of a reduction went (seconds on this rank).
struct GramTimings {
  double check = 0;     ///< validation, column maxima, the block list
  double exchange = 0;  ///< rows of straddling chunks sent to their owners
  double pack = 0;      ///< copying rows into the kernel's layout
  double kernel = 0;    ///< the floating-point products
  double exact = 0;     ///< fixed-point accumulation of each chunk
  double allreduce = 0;
  std::int64_t chunks = 0;  ///< chunks computed on this rank
};

/// The exactly reduced Gram of [A y] (and [1] with column sums) over all ranks, per fold.
/// Every rank holds the same bits.
class ExactGram {
 public:
  /// **Collective.** Reduces the rows that every rank holds in `blocks` (possibly none).
  /// Together the blocks of all ranks must cover global rows [0, n) exactly once, with `cols`
  /// columns. Errors (bad shapes, gaps or overlaps, NaN, fold ids out of range) are thrown
  /// on every rank as mpi::CollectiveError.
  static ExactGram reduce(const mpi::Comm& comm, const std::vector<RowBlock>& blocks,
                          std::int64_t cols, const GramOptions& options = {});

  std::int64_t rows() const { return n_; }
  int cols() const { return p_; }
  /// Number of folds (0 without folds).
  int folds() const { return options_.folds; }
  /// Rows in fold k.
  std::int64_t rows_in_fold(int k) const { return fold_rows_.at(static_cast<std::size_t>(k)); }
  const GramOptions& options() const { return options_; }

  /// Statistics of all rows.
  Moments total() const;
  /// Statistics of the rows of fold k (the held-out part).
  Moments fold(int k) const;
  /// Statistics of every row not in fold k: the total minus fold k, subtracted exactly.
  Moments without_fold(int k) const;

  /// Bytes held (the fixed-point accumulators).
  std::size_t bytes() const;
  /// Bytes a reduction of p columns needs at its peak on one rank (accumulators, the chunk's
  /// floating-point Gram, the packed rows), for the choice between Gram and residual modes.
  static std::size_t bytes_needed(std::int64_t cols, const GramOptions& options);

  const GramTimings& timings() const { return timings_; }

 private:
  friend class GramStream;
  Moments to_moments(const std::vector<std::int64_t>& limbs, std::int64_t n) const;
  std::vector<std::int64_t> sum_of_folds() const;

  std::int64_t n_ = 0;
  int p_ = 0;
  int m_ = 0;  // augmented columns: A, y, (1)
  GramOptions options_;
  std::vector<int> exponents_;                  // e_j of the m augmented columns
  std::vector<std::vector<std::int64_t>> acc_;  // per fold (or one): limbs of the blocks
  std::vector<std::int64_t> fold_rows_;
  GramTimings timings_;
};

/// The same exact reduction for rows that arrive a chunk at a time and are never all in
/// memory (force-constant sensitivity rows, built on the fly from the configurations).
///
/// Each add() is one chunk: its Gram is computed whole, in floating point in row order, and
/// added exactly, as one chunk of ExactGram::reduce. The result depends only on the chunks and
/// the column bounds, never on which rank added which chunk: callers that cut their rows into
/// chunks by a global rule (for example one configuration per chunk) get the same bits on any
/// number of ranks.
///
/// The fixed point needs each column's scale before the first chunk, which a stream cannot
/// know exactly; the caller gives bounds (estimates of the columns' largest magnitudes, the
/// same on every rank: from a sample of the rows, or exact where known). finish() checks them
/// against the observed global maxima: a column may exceed its bound by up to 2^8 (the
/// headroom of the top limb for fewer than 2^31 rows) or fall below it by up to 2^12 (at most
/// 24 of the 80 fixed-point bits lost, so at least 56 kept). Outside that window finish()
/// returns false on every rank and the caller runs the stream again with maxima() as bounds,
/// which always succeeds (and then equals ExactGram::reduce with the same chunks).
class GramStream {
 public:
  static constexpr int kHeadroomBits = 8;
  static constexpr int kSlackBits = 12;

  /// `bounds`: cols + 1 positive values (columns of A, then y); 0 for a column known to be 0.
  /// Chunks have at most options.chunk_rows rows; options.column_sums is not supported.
  GramStream(std::int64_t cols, const std::vector<double>& bounds, const GramOptions& options);

  /// Adds one chunk (rows of A and y; the chunk's global_begin and fold pointer are ignored),
  /// all in fold `fold` (in [0, folds); 0 without folds). Throws NumericalError on a
  /// non-finite value (not collective: call it inside mpi::guarded).
  void add(const RowBlock& chunk, int fold = 0);

  /// **Collective.** Sums every rank's chunks (in place) into `gram` and returns true (the
  /// stream is then spent), or returns false (on every rank, `gram` untouched) if some column
  /// left its bound's window.
  bool finish(const mpi::Comm& comm, ExactGram* gram);

  /// The largest magnitude of each column (A, then y): this rank's until finish(), then global.
  const std::vector<double>& maxima() const { return maxima_; }
  /// Rows added on this rank.
  std::int64_t rows() const { return rows_; }
  const GramTimings& timings() const { return timings_; }

 private:
  std::int64_t p_ = 0;
  int m_ = 0;
  GramOptions options_;
  std::vector<int> exponents_;
  std::vector<double> scale_;
  std::vector<double> maxima_;
  std::vector<std::vector<std::int64_t>> acc_;  // per fold: blocks x limbs x 64
  std::vector<std::int64_t> fold_rows_;
  std::int64_t rows_ = 0;
  std::shared_ptr<detail::ChunkKernel> kernel_;
  GramTimings timings_;
};

}  // namespace physfit::lasso
