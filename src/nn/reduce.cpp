#include "physfit/nn/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <mpi.h>

#include "physfit/error.hpp"

namespace physfit::nn {

namespace {
constexpr double kOverflow = 1125899906842624.0;  // 2^50
constexpr double kHigh = 35184372088832.0;        // 2^45
constexpr double kUsed = 137438953472.0;          // 2^37
constexpr double kRound = 6755399441055744.0;     // 1.5 * 2^52: (d + kRound) - kRound rounds d
constexpr int kCounters = 3;
constexpr int kShardSlots = 5;
constexpr std::int64_t kInitialExponent = 40;
}  // namespace

FixedPointReducer::FixedPointReducer(const std::vector<ParameterRange>& tensors,
                                     std::int64_t parameters, int max_shards)
    : tensors_(tensors),
      parameters_(parameters),
      max_shards_(max_shards),
      exponents_(tensors.size(), kInitialExponent) {
  if (max_shards > 4096) {
    throw UsageError("a global batch may hold at most 4096 micro-batches (batch / micro-batch)");
  }
  buffer_.assign(
      static_cast<std::size_t>(parameters + kCounters * static_cast<std::int64_t>(tensors.size()) +
                               kShardSlots * static_cast<std::int64_t>(max_shards)),
      0);
}

void FixedPointReducer::zero() { std::fill(buffer_.begin(), buffer_.end(), 0); }

void FixedPointReducer::accumulate(const float* g, bool first) {
  if (first) std::fill(buffer_.begin() + parameters_, buffer_.end(), 0);
  std::int64_t* acc = buffer_.data();
  std::int64_t* counters = buffer_.data() + parameters_;
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    const double scale = std::ldexp(1.0, static_cast<int>(exponents_[t]));
    const std::int64_t begin = tensors_[t].offset, end = begin + tensors_[t].count;
    std::int64_t over = 0, high = 0, used = 0;
    if (first) {
      for (std::int64_t i = begin; i < end; ++i) {
        double d = static_cast<double>(g[i]) * scale;
        const double a = std::fabs(d);
        over += a >= kOverflow;
        high += a >= kHigh;
        used += a >= kUsed;
        d = a < kOverflow ? d : 0.0;  // also NaN: the loss check reports it
        acc[i] = static_cast<std::int64_t>((d + kRound) - kRound);
      }
    } else {
      for (std::int64_t i = begin; i < end; ++i) {
        double d = static_cast<double>(g[i]) * scale;
        const double a = std::fabs(d);
        over += a >= kOverflow;
        high += a >= kHigh;
        used += a >= kUsed;
        d = a < kOverflow ? d : 0.0;  // also NaN: the loss check reports it
        acc[i] += static_cast<std::int64_t>((d + kRound) - kRound);
      }
    }
    counters[kCounters * t] += over;
    counters[kCounters * t + 1] += high;
    counters[kCounters * t + 2] += used;
  }
}

void FixedPointReducer::put_shards(const std::vector<LossSums>& shards, int n) {
  std::int64_t* slots =
      buffer_.data() + parameters_ + kCounters * static_cast<std::int64_t>(tensors_.size());
  for (int j = 0; j < n; ++j) {
    const double v[kShardSlots] = {shards[j].loss, shards[j].correct, shards[j].abs_err,
                                   shards[j].sq_err, shards[j].samples};
    std::memcpy(slots + kShardSlots * j, v, sizeof v);
  }
}

bool FixedPointReducer::settle(std::vector<LossSums>& shards, int n) {
  const std::int64_t* counters = buffer_.data() + parameters_;
  bool overflow = false;
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    if (counters[kCounters * t] > 0) {
      exponents_[t] -= 12;
      overflow = true;
    }
  }
  if (overflow) {
    ++redone_;
    return false;
  }
  used_exponents_ = exponents_;  // to_float() needs the exponents of this step
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    if (counters[kCounters * t + 1] > 0) {
      exponents_[t] -= 2;
    } else if (counters[kCounters * t + 2] == 0) {
      exponents_[t] = std::min<std::int64_t>(exponents_[t] + 4, 900);
    }
  }
  const std::int64_t* slots = counters + kCounters * static_cast<std::int64_t>(tensors_.size());
  for (int j = 0; j < n; ++j) {
    double v[kShardSlots];
    std::memcpy(v, slots + kShardSlots * j, sizeof v);
    shards[j] = {v[0], v[1], v[2], v[3], v[4]};
  }
  return true;
}

bool FixedPointReducer::reduce(const mpi::Comm& comm, std::vector<LossSums>& shards, int n) {
  put_shards(shards, n);
  const std::size_t used_size = static_cast<std::size_t>(
      parameters_ + kCounters * static_cast<std::int64_t>(tensors_.size()) + kShardSlots * n);
  if (comm.size() > 1) comm.allreduce_in_place(buffer_.data(), used_size, mpi::Op::kSum);
  slice_begin_ = 0;
  slice_end_ = parameters_;
  scattered_ = false;
  return settle(shards, n);
}

bool FixedPointReducer::reduce_scatter(const mpi::Comm& comm, std::vector<LossSums>& shards, int n,
                                       const std::vector<std::int64_t>& bounds) {
  put_shards(shards, n);
  const std::size_t tail = static_cast<std::size_t>(
      kCounters * static_cast<std::int64_t>(tensors_.size()) + kShardSlots * n);
  comm.allreduce_in_place(buffer_.data() + parameters_, tail, mpi::Op::kSum);
  if (!settle(shards, n)) return false;  // every rank agrees: nothing else to reduce
  std::vector<int> counts(static_cast<std::size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    counts[static_cast<std::size_t>(r)] = static_cast<int>(bounds[r + 1] - bounds[r]);
  }
  slice_begin_ = bounds[comm.rank()];
  slice_end_ = bounds[comm.rank() + 1];
  slice_.resize(static_cast<std::size_t>(slice_end_ - slice_begin_));
  MPI_Reduce_scatter(buffer_.data(), slice_.data(), counts.data(), MPI_INT64_T, MPI_SUM,
                     comm.raw());
  scattered_ = true;
  return true;
}

void FixedPointReducer::to_float(float* g) const {
  const std::int64_t* acc = scattered_ ? slice_.data() : buffer_.data();
  const std::int64_t base = scattered_ ? slice_begin_ : 0;
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    const double inverse = std::ldexp(1.0, -static_cast<int>(used_exponents_[t]));
    const std::int64_t begin = std::max(tensors_[t].offset, slice_begin_);
    const std::int64_t end = std::min(tensors_[t].offset + tensors_[t].count, slice_end_);
    for (std::int64_t i = begin; i < end; ++i) {
      g[i] = static_cast<float>(static_cast<double>(acc[i - base]) * inverse);
    }
  }
}

}  // namespace physfit::nn
