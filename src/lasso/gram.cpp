#include "physfit/lasso/gram.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "gram_kernel.hpp"
#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::lasso {
namespace {

using detail::kBlockSize;
using detail::kLimbs;

// One row as the kernel reads it.
struct RowRef {
  const double* a;
  std::int64_t col_stride;
  double y;
  std::int32_t fold;
  std::int64_t global;
};

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
                                 const GramOptions& o) {
  std::vector<double> colmax(static_cast<std::size_t>(m), 0.0);
  if (o.column_sums) colmax[static_cast<std::size_t>(m - 1)] = 1.0;
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
    if (o.folds > 0 && !rb.fold) throw UsageError(where + ": fold ids are required");
    for (std::int64_t i = 0; i < rb.rows; ++i) {
      for (std::int64_t j = 0; j < cols; ++j) {
        const double v = rb.at(i, j);
        if (!std::isfinite(v)) {
          throw NumericalError("A(" + std::to_string(rb.global_begin + i) + ", " +
                               std::to_string(j) + ") = " + std::to_string(v) +
                               " is not finite; remove or repair that row");
        }
        colmax[static_cast<std::size_t>(j)] =
            std::max(colmax[static_cast<std::size_t>(j)], std::fabs(v));
      }
      const double v = rb.y_at(i);
      if (!std::isfinite(v)) {
        throw NumericalError("y(" + std::to_string(rb.global_begin + i) + ") = " +
                             std::to_string(v) + " is not finite; remove or repair that row");
      }
      colmax[static_cast<std::size_t>(cols)] =
          std::max(colmax[static_cast<std::size_t>(cols)], std::fabs(v));
      if (o.folds > 0 && (rb.fold[i] < 0 || rb.fold[i] >= o.folds)) {
        throw UsageError("fold id " + std::to_string(rb.fold[i]) + " of " +
                         row_text(rb.global_begin + i) + " is not in [0, " +
                         std::to_string(o.folds) + ")");
      }
    }
  }
  return colmax;
}

}  // namespace

ExactGram ExactGram::reduce(const mpi::Comm& comm, const std::vector<RowBlock>& blocks_in,
                            std::int64_t cols, const GramOptions& options) {
  util::Stopwatch watch;
  ExactGram g;
  g.options_ = options;
  if (cols < 1 || cols > (1 << 24)) {
    throw UsageError("the Gram reduction needs 1 to 2^24 columns, got " + std::to_string(cols));
  }
  if (options.chunk_rows < 1 || options.chunk_rows > 65536) {
    throw UsageError("chunk_rows must be in [1, 65536], got " + std::to_string(options.chunk_rows));
  }
  if (options.folds < 0 || options.folds > 1000) {
    throw UsageError("folds must be in [0, 1000], got " + std::to_string(options.folds));
  }
  g.p_ = static_cast<int>(cols);
  g.m_ = g.p_ + 1 + (options.column_sums ? 1 : 0);
  const int m = g.m_;
  const std::int64_t b = options.chunk_rows;

  // This rank's blocks, sorted by their global start.
  std::vector<RowBlock> blocks;
  for (const auto& rb : blocks_in) {
    if (rb.rows != 0 || rb.global_begin < 0) blocks.push_back(rb);
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const RowBlock& x, const RowBlock& y) { return x.global_begin < y.global_begin; });

  // 1. Validation and column maxima (exact, so every rank computes the same exponents).
  std::vector<double> colmax =
      mpi::guarded(comm, [&] { return check_blocks(blocks, cols, m, options); });
  comm.allreduce_in_place(colmax, mpi::Op::kMax);
  g.exponents_.assign(static_cast<std::size_t>(m), 0);
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
    g.exponents_[static_cast<std::size_t>(j)] = e;
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
  g.n_ = n;
  // Owner of a chunk: the rank holding its first row.
  auto owner_of = [&](std::int64_t c) -> int {
    const long long row = c * b;
    auto it = std::upper_bound(all.begin(), all.end(), row,
                               [](long long r, const GlobalBlock& gb) { return r < gb.begin; });
    return static_cast<int>((it - 1)->rank);
  };
  g.timings_.check = watch.seconds();

  // 3. Rows of chunks owned elsewhere go to their owners: [A row, y, fold, global index].
  watch.restart();
  const int P = comm.size();
  const int rec = g.p_ + 3;
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
  std::vector<double> send_buffer, recv_buffer;
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
  g.timings_.exchange = watch.seconds();

  // 4. The chunks this rank owns, each computed whole and added exactly.
  const int nacc = std::max(1, options.folds);
  const std::int64_t per_acc = detail::blocks_of(m) * kLimbs * kBlockSize;
  std::vector<std::int64_t> acc(static_cast<std::size_t>(nacc * per_acc), 0);
  std::vector<std::int64_t> fold_rows(static_cast<std::size_t>(nacc), 0);
  std::vector<double> scale(static_cast<std::size_t>(detail::strips_of(m) * detail::kStrip), 1.0);
  for (int j = 0; j < m; ++j) {
    scale[static_cast<std::size_t>(j)] =
        std::ldexp(1.0, detail::kFixedBits / 2 - g.exponents_[static_cast<std::size_t>(j)]);
  }
  detail::ChunkKernel kernel(m, std::min<std::int64_t>(b, std::max<std::int64_t>(n, 1)));
  std::vector<RowRef> refs, sub;
  refs.reserve(static_cast<std::size_t>(b));
  std::size_t next_recv = 0;
  const double one = 1.0;
  util::Stopwatch part;
  for (const auto& rb : blocks) {
    for (std::int64_t c = (rb.global_begin + b - 1) / b; c * b < rb.global_end(); ++c) {
      // c's first row is in this block: this rank owns c.
      const std::int64_t lo = c * b, hi = std::min<std::int64_t>(n, lo + b);
      refs.clear();
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
        throw Error("Gram reduction: chunk " + std::to_string(c) + " assembled " +
                    std::to_string(refs.size()) + " rows of " + std::to_string(hi - lo));
      }
      ++g.timings_.chunks;
      for (int f = 0; f < nacc; ++f) {
        sub.clear();
        for (const auto& ref : refs) {
          if (options.folds == 0 || ref.fold == f) sub.push_back(ref);
        }
        if (sub.empty()) continue;
        fold_rows[static_cast<std::size_t>(f)] += static_cast<std::int64_t>(sub.size());
        part.restart();
        for (std::size_t k = 0; k < sub.size(); ++k) {
          const double extra[2] = {sub[k].y, one};
          kernel.pack_row(static_cast<std::int64_t>(k), sub[k].a, sub[k].col_stride, g.p_, extra,
                          m - g.p_);
        }
        g.timings_.pack += part.seconds();
        part.restart();
        kernel.compute(static_cast<std::int64_t>(sub.size()));
        g.timings_.kernel += part.seconds();
        part.restart();
        kernel.accumulate(scale.data(), acc.data() + f * per_acc);
        g.timings_.exact += part.seconds();
      }
    }
  }
  if (next_recv != recv_order.size()) {
    throw Error("Gram reduction: " + std::to_string(recv_order.size() - next_recv) +
                " received rows were not used");
  }

  // 5. One exact allreduce of every accumulator and the fold sizes.
  watch.restart();
  acc.insert(acc.end(), fold_rows.begin(), fold_rows.end());
  comm.allreduce_in_place(acc.data(), acc.size(), mpi::Op::kSum);
  g.fold_rows_.assign(acc.end() - nacc, acc.end());
  acc.resize(acc.size() - static_cast<std::size_t>(nacc));
  g.acc_.resize(static_cast<std::size_t>(nacc));
  for (int f = 0; f < nacc; ++f) {
    g.acc_[static_cast<std::size_t>(f)].assign(acc.begin() + f * per_acc,
                                               acc.begin() + (f + 1) * per_acc);
  }
  if (options.folds == 0) g.fold_rows_.clear();
  g.timings_.allreduce = watch.seconds();
  return g;
}

std::vector<std::int64_t> ExactGram::sum_of_folds() const {
  std::vector<std::int64_t> s = acc_.front();
  for (std::size_t f = 1; f < acc_.size(); ++f) {
    for (std::size_t i = 0; i < s.size(); ++i) s[i] += acc_[f][i];
  }
  return s;
}

Moments ExactGram::to_moments(const std::vector<std::int64_t>& limbs, std::int64_t n) const {
  auto entry = [&](int j, int k) {
    if (j < k) std::swap(j, k);
    const std::int64_t base =
        detail::block_index(j / detail::kStrip, k / detail::kStrip) * kLimbs * kBlockSize;
    const std::int64_t off = (k % detail::kStrip) * detail::kStrip + j % detail::kStrip;
    const std::int64_t* l = limbs.data() + base + off;
    return detail::limbs_to_double(l[0], l[kBlockSize], l[2 * kBlockSize],
                                   exponents_[static_cast<std::size_t>(j)] +
                                       exponents_[static_cast<std::size_t>(k)] -
                                       detail::kFixedBits);
  };
  Moments mo;
  mo.n = n;
  const int p = p_;
  mo.ata.resize(p, p);
  for (int k = 0; k < p; ++k) {
    for (int j = k; j < p; ++j) {
      const double v = entry(j, k);
      mo.ata(j, k) = v;
      mo.ata(k, j) = v;
    }
  }
  mo.aty.resize(p);
  for (int j = 0; j < p; ++j) mo.aty(j) = entry(p, j);
  mo.yty = entry(p, p);
  if (options_.column_sums) {
    mo.sum_a.resize(p);
    for (int j = 0; j < p; ++j) mo.sum_a(j) = entry(p + 1, j);
    mo.sum_y = entry(p + 1, p);
  }
  return mo;
}

Moments ExactGram::total() const { return to_moments(sum_of_folds(), n_); }

Moments ExactGram::fold(int k) const {
  if (k < 0 || k >= options_.folds) {
    throw Error("ExactGram::fold(" + std::to_string(k) + "): there are " +
                std::to_string(options_.folds) + " folds");
  }
  return to_moments(acc_[static_cast<std::size_t>(k)], fold_rows_[static_cast<std::size_t>(k)]);
}

Moments ExactGram::without_fold(int k) const {
  if (k < 0 || k >= options_.folds) {
    throw Error("ExactGram::without_fold(" + std::to_string(k) + "): there are " +
                std::to_string(options_.folds) + " folds");
  }
  std::vector<std::int64_t> s = sum_of_folds();
  const auto& f = acc_[static_cast<std::size_t>(k)];
  for (std::size_t i = 0; i < s.size(); ++i) s[i] -= f[i];
  return to_moments(s, n_ - fold_rows_[static_cast<std::size_t>(k)]);
}

std::size_t ExactGram::bytes() const {
  std::size_t s = 0;
  for (const auto& a : acc_) s += a.size() * sizeof(std::int64_t);
  return s;
}

std::size_t ExactGram::bytes_needed(std::int64_t cols, const GramOptions& options) {
  const std::int64_t m = cols + 2;
  const auto blocks = static_cast<std::size_t>(detail::blocks_of(m));
  const std::size_t accumulators = static_cast<std::size_t>(std::max(1, options.folds) + 1) *
                                   blocks * kLimbs * kBlockSize * sizeof(std::int64_t);
  const std::size_t chunk_gram = blocks * kBlockSize * sizeof(double);
  const std::size_t packed =
      static_cast<std::size_t>(detail::strips_of(m) * detail::kStrip * options.chunk_rows) *
      sizeof(double);
  const std::size_t dense = static_cast<std::size_t>(cols * cols) * sizeof(double);
  return accumulators + chunk_gram + packed + dense;
}

}  // namespace physfit::lasso
