#include "chunks.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "gram_kernel.hpp"
#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::lasso::detail {
namespace {

// A block of some rank in the global list.
struct GlobalBlock {
  long long begin;
  long long rows;
  long long rank;
};

void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw ParallelError(std::string(what) + " failed in the Gram reduction");
}

std::string row_text(std::int64_t i) { return "row " + std::to_string(i); }

// Validates this rank's blocks and returns the column maxima of [A y (1)].
std::vector<double> check_blocks(const std::vector<RowBlock>& blocks, std::int64_t cols, int m,
                                 int folds, bool column_sums) {
  std::vector<double> colmax(static_cast<std::size_t>(m), 0.0);
  if (column_sums) colmax[static_cast<std::size_t>(m - 1)] = 1.0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const RowBlock& rb = blocks[b];
    const std::string where = "row block " + std::to_string(b) + " (global rows " +
                              std::to_string(rb.global_begin) + ".." +
                              std::to_string(rb.global_end()) + ")";
    if (rb.rows < 0 || rb.global_begin < 0) {
      throw UsageError(where + ": negative row count or start");
    }
    if (rb.rows == 0) continue;
    if (rb.cols != cols) {
      throw UsageError(where + " has " + std::to_string(rb.cols) + " columns, expected " +
                       std::to_string(cols));
    }
    if (!rb.a || !rb.y) throw UsageError(where + ": no data");
    if (folds > 0 && !rb.fold) throw UsageError(where + ": fold ids are required");
    double* cm = colmax.data();
    // Branch-free, vectorised scan: per-column maxima, and per-column sums of v * 0 that turn
    // NaN when a value is not finite (checked once per block).
    std::vector<double> poison(static_cast<std::size_t>(cols), 0.0);
    double* bad = poison.data();
    const std::int64_t cs = rb.col_stride;
    for (std::int64_t i = 0; i < rb.rows; ++i) {
      const double* row = rb.a + i * rb.row_stride;
      if (cs == 1) {
        for (std::int64_t j = 0; j < cols; ++j) {
          const double v = row[j];
          bad[j] += v * 0.0;
          cm[j] = std::max(cm[j], std::fabs(v));
        }
      } else {
        for (std::int64_t j = 0; j < cols; ++j) {
          const double v = row[j * cs];
          bad[j] += v * 0.0;
          cm[j] = std::max(cm[j], std::fabs(v));
        }
      }
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      if (bad[j] == 0) continue;
      for (std::int64_t i = 0; i < rb.rows; ++i) {
        const double v = rb.at(i, j);
        if (!std::isfinite(v)) {
          throw IoError("A(" + std::to_string(rb.global_begin + i) + ", " + std::to_string(j) +
                        ") = " + std::to_string(v) + " is not finite; remove or repair that row");
        }
      }
    }
    for (std::int64_t i = 0; i < rb.rows; ++i) {
      const double v = rb.y_at(i);
      if (!std::isfinite(v)) {
        throw IoError("y(" + std::to_string(rb.global_begin + i) + ") = " + std::to_string(v) +
                      " is not finite; remove or repair that row");
      }
      colmax[static_cast<std::size_t>(cols)] =
          std::max(colmax[static_cast<std::size_t>(cols)], std::fabs(v));
      if (folds > 0 && (rb.fold[i] < 0 || rb.fold[i] >= folds)) {
        throw UsageError("fold id " + std::to_string(rb.fold[i]) + " of " +
                         row_text(rb.global_begin + i) + " is not in [0, " + std::to_string(folds) +
                         ")");
      }
    }
  }
  return colmax;
}

}  // namespace

ChunkedRows distribute(const mpi::Comm& comm, const std::vector<RowBlock>& blocks_in,
                       std::int64_t cols, std::int64_t chunk_rows, int folds, bool column_sums) {
  util::Stopwatch watch;
  ChunkedRows g;
  if (cols < 1 || cols > (1 << 24)) {
    throw UsageError("the Gram reduction needs 1 to 2^24 columns, got " + std::to_string(cols));
  }
  if (chunk_rows < 1 || chunk_rows > 65536) {
    throw UsageError("chunk_rows must be in [1, 65536], got " + std::to_string(chunk_rows));
  }
  if (folds < 0 || folds > 1000) {
    throw UsageError("folds must be in [0, 1000], got " + std::to_string(folds));
  }
  g.p = static_cast<int>(cols);
  g.m = g.p + 1 + (column_sums ? 1 : 0);
  g.chunk_rows = chunk_rows;
  const int m = g.m;
  const std::int64_t b = chunk_rows;

  // This rank's blocks, sorted by their global start.
  std::vector<RowBlock> blocks;
  for (const auto& rb : blocks_in) {
    if (rb.rows != 0 || rb.global_begin < 0) blocks.push_back(rb);
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const RowBlock& x, const RowBlock& y) { return x.global_begin < y.global_begin; });

  // 1. Validation and column maxima (exact, so every rank computes the same exponents).
  std::vector<double> colmax =
      mpi::guarded(comm, [&] { return check_blocks(blocks, cols, m, folds, column_sums); });
  comm.allreduce_in_place(colmax, mpi::Op::kMax);
  g.exponents.assign(static_cast<std::size_t>(m), 0);
  for (int j = 0; j < m; ++j) {
    const double v = colmax[static_cast<std::size_t>(j)];
    if (v == 0) continue;
    int e = 0;
    std::frexp(v, &e);  // v < 2^e
    if (std::abs(e) > detail::kMaxExponent) {
      mpi::throw_on_all_ranks(
          comm,
          NumericalError((j < cols ? "column " + std::to_string(j) + " of A" : std::string("y")) +
                         " has largest magnitude " + std::to_string(v) +
                         ", outside [2^-500, 2^500]: rescale it"));
    }
    g.exponents[static_cast<std::size_t>(j)] = e;
  }

  // 2. The global list of blocks: they must tile [0, n).
  std::vector<long long> mine;
  for (const auto& rb : blocks) {
    mine.insert(mine.end(), {rb.global_begin, rb.rows, static_cast<long long>(comm.rank())});
  }
  std::vector<long long> flat = comm.gatherv(mine, 0);
  comm.broadcast(flat, 0);
  std::vector<GlobalBlock> all(flat.size() / 3);
  for (std::size_t i = 0; i < all.size(); ++i)
    all[i] = {flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]};
  std::sort(all.begin(), all.end(),
            [](const GlobalBlock& x, const GlobalBlock& y) { return x.begin < y.begin; });
  long long n = 0;
  for (const auto& gb : all) {
    if (gb.begin != n) {
      mpi::throw_on_all_ranks(
          comm, UsageError(gb.begin > n ? "no rank holds global rows " + std::to_string(n) + ".." +
                                              std::to_string(gb.begin - 1)
                                        : "global rows " + std::to_string(gb.begin) + ".." +
                                              std::to_string(std::min(n, gb.begin + gb.rows) - 1) +
                                              " are held twice (rank " + std::to_string(gb.rank) +
                                              " and another)"));
    }
    n += gb.rows;
  }
  if (n >= (1LL << 31)) {
    mpi::throw_on_all_ranks(comm, UsageError("the Gram reduction takes fewer than 2^31 rows, got " +
                                             std::to_string(n)));
  }
  g.n = n;
  // Owner of a chunk: the rank holding its first row.
  auto owner_of = [&](std::int64_t c) -> int {
    const long long row = c * b;
    auto it = std::upper_bound(all.begin(), all.end(), row,
                               [](long long r, const GlobalBlock& gb) { return r < gb.begin; });
    return static_cast<int>((it - 1)->rank);
  };
  g.check_seconds = watch.seconds();

  // 3. Rows of chunks owned elsewhere go to their owners: [A row, y, fold, global index].
  watch.restart();
  const int P = comm.size();
  const int rec = g.p + 3;
  std::vector<int> send_counts(static_cast<std::size_t>(P), 0), recv_counts(send_counts);
  // Pieces this rank receives: rows of other ranks' blocks in chunks this rank owns.
  for (const auto& gb : all) {
    if (gb.rank == comm.rank() || gb.rows == 0) continue;
    for (std::int64_t c = gb.begin / b; c * b < gb.begin + gb.rows; ++c) {
      if (owner_of(c) != comm.rank()) continue;
      const std::int64_t lo = std::max<std::int64_t>(gb.begin, c * b);
      const std::int64_t hi = std::min<std::int64_t>(gb.begin + gb.rows, (c + 1) * b);
      recv_counts[static_cast<std::size_t>(gb.rank)] += static_cast<int>(hi - lo);
    }
  }
  std::vector<std::vector<double>> outgoing(static_cast<std::size_t>(P));
  for (const auto& rb : blocks) {
    for (std::int64_t c = rb.global_begin / b; c * b < rb.global_end(); ++c) {
      const int owner = owner_of(c);
      if (owner == comm.rank()) continue;
      const std::int64_t lo = std::max<std::int64_t>(rb.global_begin, c * b);
      const std::int64_t hi = std::min<std::int64_t>(rb.global_end(), (c + 1) * b);
      auto& out = outgoing[static_cast<std::size_t>(owner)];
      for (std::int64_t r = lo; r < hi; ++r) {
        const std::int64_t i = r - rb.global_begin;
        for (std::int64_t j = 0; j < cols; ++j) out.push_back(rb.at(i, j));
        out.push_back(rb.y_at(i));
        out.push_back(rb.fold ? static_cast<double>(rb.fold[i]) : 0.0);
        out.push_back(static_cast<double>(r));
      }
      send_counts[static_cast<std::size_t>(owner)] += static_cast<int>(hi - lo);
    }
  }
  std::vector<double> send_buffer;
  std::vector<double>& recv_buffer = g.received;
  std::vector<int> send_displs(static_cast<std::size_t>(P), 0), recv_displs(send_displs);
  for (int r = 0; r < P; ++r) {
    send_displs[static_cast<std::size_t>(r)] = static_cast<int>(send_buffer.size() / rec);
    send_buffer.insert(send_buffer.end(), outgoing[static_cast<std::size_t>(r)].begin(),
                       outgoing[static_cast<std::size_t>(r)].end());
    outgoing[static_cast<std::size_t>(r)].clear();
    outgoing[static_cast<std::size_t>(r)].shrink_to_fit();
  }
  int total_recv = 0;
  for (int r = 0; r < P; ++r) {
    recv_displs[static_cast<std::size_t>(r)] = total_recv;
    total_recv += recv_counts[static_cast<std::size_t>(r)];
  }
  recv_buffer.resize(static_cast<std::size_t>(total_recv) * static_cast<std::size_t>(rec));
  if (P > 1) {
    MPI_Datatype row_type;
    check_mpi(MPI_Type_contiguous(rec, MPI_DOUBLE, &row_type), "MPI_Type_contiguous");
    check_mpi(MPI_Type_commit(&row_type), "MPI_Type_commit");
    check_mpi(MPI_Alltoallv(send_buffer.data(), send_counts.data(), send_displs.data(), row_type,
                            recv_buffer.data(), recv_counts.data(), recv_displs.data(), row_type,
                            comm.raw()),
              "MPI_Alltoallv");
    MPI_Type_free(&row_type);
  }
  send_buffer.clear();
  send_buffer.shrink_to_fit();
  // Received rows in global order.
  std::vector<std::int64_t> recv_order(static_cast<std::size_t>(total_recv));
  std::iota(recv_order.begin(), recv_order.end(), 0);
  auto recv_row = [&](std::int64_t k) { return recv_buffer.data() + k * rec; };
  std::sort(recv_order.begin(), recv_order.end(), [&](std::int64_t x, std::int64_t y) {
    return recv_row(x)[rec - 1] < recv_row(y)[rec - 1];
  });

  // The chunks this rank owns, each with all its rows in global order.
  std::size_t next_recv = 0;
  for (const auto& rb : blocks) {
    for (std::int64_t c = (rb.global_begin + b - 1) / b; c * b < rb.global_end(); ++c) {
      // c's first row is in this block: this rank owns c.
      const std::int64_t lo = c * b, hi = std::min<std::int64_t>(n, lo + b);
      std::vector<RowRef> refs;
      refs.reserve(static_cast<std::size_t>(hi - lo));
      for (const auto& other : blocks) {
        const std::int64_t from = std::max(lo, other.global_begin);
        const std::int64_t to = std::min(hi, other.global_end());
        for (std::int64_t r = from; r < to; ++r) {
          const std::int64_t i = r - other.global_begin;
          refs.push_back({other.a + i * other.row_stride, other.col_stride, other.y_at(i),
                          other.fold ? other.fold[i] : 0, r});
        }
      }
      while (next_recv < recv_order.size()) {
        const double* row = recv_row(recv_order[next_recv]);
        const auto r = static_cast<std::int64_t>(row[rec - 1]);
        if (r >= hi) break;
        refs.push_back({row, 1, row[cols], static_cast<std::int32_t>(row[cols + 1]), r});
        ++next_recv;
      }
      std::sort(refs.begin(), refs.end(),
                [](const RowRef& x, const RowRef& y) { return x.global < y.global; });
      if (static_cast<std::int64_t>(refs.size()) != hi - lo) {
        throw Error("row distribution: chunk " + std::to_string(c) + " assembled " +
                    std::to_string(refs.size()) + " rows of " + std::to_string(hi - lo));
      }
      g.chunks.push_back(std::move(refs));
    }
  }
  if (next_recv != recv_order.size()) {
    throw Error("row distribution: " + std::to_string(recv_order.size() - next_recv) +
                " received rows were not used");
  }
  g.exchange_seconds = watch.seconds();
  return g;
}

}  // namespace physfit::lasso::detail
