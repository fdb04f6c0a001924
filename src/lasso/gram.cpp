#include "physfit/lasso/gram.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "chunks.hpp"
#include "gram_kernel.hpp"
#include "physfit/error.hpp"
#include "physfit/util/clock.hpp"

namespace physfit::lasso {

using detail::kBlockSize;
using detail::kLimbs;

ExactGram ExactGram::reduce(const mpi::Comm& comm, const std::vector<RowBlock>& blocks,
                            std::int64_t cols, const GramOptions& options) {
  ExactGram g;
  g.options_ = options;
  const detail::ChunkedRows rows = detail::distribute(comm, blocks, cols, options.chunk_rows,
                                                      options.folds, options.column_sums);
  g.timings_.check = rows.check_seconds;
  g.timings_.exchange = rows.exchange_seconds;
  g.n_ = rows.n;
  g.p_ = rows.p;
  g.m_ = rows.m;
  g.exponents_ = rows.exponents;
  const int m = g.m_;

  // The chunks this rank owns, each computed whole and added exactly.
  const int nacc = std::max(1, options.folds);
  const std::int64_t per_acc = detail::blocks_of(m) * kLimbs * kBlockSize;
  std::vector<std::int64_t> acc(static_cast<std::size_t>(nacc * per_acc), 0);
  util::Stopwatch watch;
  std::vector<std::int64_t> fold_rows(static_cast<std::size_t>(nacc), 0);
  std::vector<double> scale(static_cast<std::size_t>(detail::strips_of(m) * detail::kStrip), 1.0);
  for (int j = 0; j < m; ++j) {
    scale[static_cast<std::size_t>(j)] =
        std::ldexp(1.0, detail::kFixedBits / 2 - g.exponents_[static_cast<std::size_t>(j)]);
  }
  detail::ChunkKernel kernel(
      m, std::min<std::int64_t>(rows.chunk_rows, std::max<std::int64_t>(rows.n, 1)));
  util::Stopwatch part;
  // Jobs: the rows of one fold in one chunk (all the chunk's rows without folds).
  struct Job {
    int fold;
    std::vector<detail::PackRow> rows;
  };
  std::vector<Job> jobs;
  for (const auto& refs : rows.chunks) {
    ++g.timings_.chunks;
    for (int f = 0; f < nacc; ++f) {
      Job job{f, {}};
      for (const auto& ref : refs) {
        if (options.folds == 0 || ref.fold == f)
          job.rows.push_back({ref.a, ref.col_stride, {ref.y, 1.0}});
      }
      if (!job.rows.empty()) jobs.push_back(std::move(job));
    }
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    const auto count = static_cast<std::int64_t>(job.rows.size());
    fold_rows[static_cast<std::size_t>(job.fold)] += count;
    part.restart();
    kernel.pack(job.rows.data(), count, g.p_, m - g.p_);
    g.timings_.pack += part.seconds();
    part.restart();
    const Job* next = i + 1 < jobs.size() ? &jobs[i + 1] : nullptr;
    kernel.compute(count, next ? next->rows.data() : nullptr,
                   next ? static_cast<std::int64_t>(next->rows.size()) : 0);
    g.timings_.kernel += part.seconds();
    part.restart();
    kernel.accumulate(scale.data(), acc.data() + job.fold * per_acc);
    g.timings_.exact += part.seconds();
  }

  // One exact allreduce of every accumulator and the fold sizes.
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

namespace physfit::lasso {

GramStream::GramStream(std::int64_t cols, const std::vector<double>& bounds,
                       const GramOptions& options)
    : p_(cols), m_(static_cast<int>(cols + 1)), options_(options) {
  if (cols < 1 || cols > (std::int64_t(1) << 30)) {
    throw Error("GramStream: " + std::to_string(cols) + " columns");
  }
  if (options.column_sums) throw Error("GramStream: column sums are not supported");
  if (options.chunk_rows < 1 || options.chunk_rows > 65536) {
    throw Error("GramStream: chunk_rows " + std::to_string(options.chunk_rows) +
                " is outside [1, 65536]");
  }
  if (static_cast<std::int64_t>(bounds.size()) != cols + 1) {
    throw Error("GramStream: " + std::to_string(bounds.size()) + " bounds for " +
                std::to_string(cols) + " columns and y");
  }
  exponents_.assign(static_cast<std::size_t>(m_), 0);
  scale_.assign(static_cast<std::size_t>(detail::strips_of(m_) * detail::kStrip), 1.0);
  for (int j = 0; j < m_; ++j) {
    const double b = bounds[static_cast<std::size_t>(j)];
    if (!(b >= 0) || !std::isfinite(b)) {
      throw Error("GramStream: bound " + std::to_string(b) + " of column " + std::to_string(j));
    }
    int e = 0;
    if (b > 0) std::frexp(b, &e);
    if (std::abs(e) > detail::kMaxExponent) {
      throw NumericalError("column " + std::to_string(j) + " has magnitude " + std::to_string(b) +
                           ", outside [2^-500, 2^500]: rescale it");
    }
    exponents_[static_cast<std::size_t>(j)] = e;
    scale_[static_cast<std::size_t>(j)] = std::ldexp(1.0, detail::kFixedBits / 2 - e);
  }
  maxima_.assign(static_cast<std::size_t>(m_), 0.0);
  const int nacc = std::max(1, options.folds);
  acc_.assign(static_cast<std::size_t>(nacc),
              std::vector<std::int64_t>(
                  static_cast<std::size_t>(detail::blocks_of(m_) * kLimbs * kBlockSize), 0));
  fold_rows_.assign(static_cast<std::size_t>(nacc), 0);
  kernel_ = std::make_shared<detail::ChunkKernel>(m_, options.chunk_rows);
}

void GramStream::add(const RowBlock& chunk, int fold) {
  if (acc_.empty()) throw Error("GramStream::add: the stream was already reduced");
  if (chunk.rows == 0) return;
  if (chunk.cols != p_ || chunk.rows < 0 || chunk.rows > options_.chunk_rows) {
    throw Error("GramStream::add: a chunk of " + std::to_string(chunk.rows) + " x " +
                std::to_string(chunk.cols) + " (at most " + std::to_string(options_.chunk_rows) +
                " x " + std::to_string(p_) + ")");
  }
  if (fold < 0 || fold >= std::max(1, options_.folds)) {
    throw Error("GramStream::add: fold " + std::to_string(fold) + " with " +
                std::to_string(options_.folds) + " folds");
  }
  util::Stopwatch part;
  std::vector<detail::PackRow> rows(static_cast<std::size_t>(chunk.rows));
  for (std::int64_t i = 0; i < chunk.rows; ++i) {
    const double* a = chunk.a + i * chunk.row_stride;
    const double y = chunk.y_at(i);
    bool finite = std::isfinite(y);
    auto& top = maxima_[static_cast<std::size_t>(p_)];
    top = std::max(top, std::abs(y));
    for (std::int64_t j = 0; j < p_; ++j) {
      const double v = a[j * chunk.col_stride];
      finite = finite && std::isfinite(v);
      auto& mx = maxima_[static_cast<std::size_t>(j)];
      mx = std::max(mx, std::abs(v));
    }
    if (!finite) {
      throw NumericalError("a non-finite value in row " + std::to_string(rows_ + i) +
                           " of the rows added on this rank");
    }
    rows[static_cast<std::size_t>(i)] = {a, chunk.col_stride, {y, 1.0}};
  }
  timings_.check += part.seconds();
  part.restart();
  kernel_->pack(rows.data(), chunk.rows, static_cast<int>(p_), 1);
  timings_.pack += part.seconds();
  part.restart();
  kernel_->compute(chunk.rows);
  timings_.kernel += part.seconds();
  part.restart();
  kernel_->accumulate(scale_.data(), acc_[static_cast<std::size_t>(fold)].data());
  timings_.exact += part.seconds();
  fold_rows_[static_cast<std::size_t>(fold)] += chunk.rows;
  rows_ += chunk.rows;
  ++timings_.chunks;
}

bool GramStream::finish(const mpi::Comm& comm, ExactGram* gram) {
  if (acc_.empty()) throw Error("GramStream::finish: the stream was already reduced");
  util::Stopwatch watch;
  comm.allreduce_in_place(maxima_.data(), maxima_.size(), mpi::Op::kMax);
  bool ok = true;
  for (int j = 0; j < m_; ++j) {
    const double v = maxima_[static_cast<std::size_t>(j)];
    if (v == 0) continue;
    int e = 0;
    std::frexp(v, &e);
    const int bound = exponents_[static_cast<std::size_t>(j)];
    if (e > bound + kHeadroomBits || e < bound - kSlackBits) ok = false;
  }
  if (!ok) {
    timings_.allreduce += watch.seconds();
    return false;
  }
  // In place: a second copy of the accumulators would double the peak memory.
  for (auto& a : acc_) comm.allreduce_in_place(a.data(), a.size(), mpi::Op::kSum);
  comm.allreduce_in_place(fold_rows_.data(), fold_rows_.size(), mpi::Op::kSum);
  ExactGram g;
  g.options_ = options_;
  g.p_ = static_cast<int>(p_);
  g.m_ = m_;
  g.exponents_ = exponents_;
  g.fold_rows_ = std::move(fold_rows_);
  g.n_ = 0;
  for (auto r : g.fold_rows_) g.n_ += r;
  g.acc_ = std::move(acc_);
  acc_.clear();
  fold_rows_.clear();
  if (options_.folds == 0) g.fold_rows_.clear();
  timings_.allreduce += watch.seconds();
  g.timings_ = timings_;
  *gram = std::move(g);
  return true;
}

}  // namespace physfit::lasso
