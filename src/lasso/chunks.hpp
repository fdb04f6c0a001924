#pragma once
// Fixed chunks of global rows, each made whole on one rank (implementation detail shared by
// the Gram reduction and the residual mode).

#include <cstdint>
#include <vector>

#include "physfit/lasso/rows.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::lasso::detail {

/// One row of a chunk: where its A values are, its y value, fold and global index.
struct RowRef {
  const double* a;
  std::int64_t col_stride;
  double y;
  std::int32_t fold;
  std::int64_t global;
};

/// The chunks this rank owns (those whose first row it holds), each with all its rows in
/// global order: its own rows (pointing into the caller's blocks) and rows received from the
/// ranks holding the rest of a straddling chunk (stored here).
struct ChunkedRows {
  std::int64_t n = 0;  // global rows
  int p = 0;
  int m = 0;  // augmented columns [A y (1)]
  std::int64_t chunk_rows = 0;
  std::vector<int> exponents;  // 2^e_j bounds column j of [A y (1)] (global maxima)
  std::vector<std::vector<RowRef>> chunks;
  std::vector<double> received;
  double check_seconds = 0;
  double exchange_seconds = 0;
};

/// **Collective.** Validates every rank's blocks (shapes, finite values, fold ids, that they
/// tile [0, n) exactly once), finds the column exponents, and sends the rows of straddling
/// chunks to their owners. Errors are thrown on every rank as mpi::CollectiveError.
ChunkedRows distribute(const mpi::Comm& comm, const std::vector<RowBlock>& blocks,
                       std::int64_t cols, std::int64_t chunk_rows, int folds, bool column_sums);

}  // namespace physfit::lasso::detail
