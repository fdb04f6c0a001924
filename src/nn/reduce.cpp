#include "physfit/nn/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <mpi.h>

#include "physfit/error.hpp"

namespace physfit::nn {

namespace {
constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: (d + kRound) - kRound rounds d
constexpr int kShardSlots = 5;
// The tag of the pairwise reduce-scatter's messages (no other message of physfit uses it).
constexpr int kPairTag = 7301;
// The most an exponent rises per step (it falls at once; see reduce.hpp).
constexpr std::int64_t kRise = 1;
// Larger than any fitted exponent (at most 30 + 149): any non-zero gradient overflows, so the
// first step measures the maxima and is redone with fitted exponents.
constexpr std::int64_t kInitialExponent = 1000;

std::uint64_t bits_of(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

float float_of(std::uint64_t b) {
  const auto b32 = static_cast<std::uint32_t>(b);
  float v;
  std::memcpy(&v, &b32, sizeof v);
  return v;
}
}  // namespace

FixedPointReducer::FixedPointReducer(const std::vector<ParameterRange>& tensors,
                                     std::int64_t parameters, int max_shards)
    : tensors_(tensors), parameters_(parameters), exponents_(tensors.size(), kInitialExponent) {
  if (max_shards > 4096) {
    throw UsageError("a global batch may hold at most 4096 micro-batches (batch / micro-batch)");
  }
  log2_shards_ = 0;
  while ((1 << log2_shards_) < max_shards) ++log2_shards_;
  limit_ = (std::int64_t{1} << (31 - log2_shards_)) - 1;
  buffer_.assign(static_cast<std::size_t>(parameters), 0);
  small_.assign(tensors.size() + kShardSlots * static_cast<std::size_t>(std::max(max_shards, 1)),
                0);
}

void FixedPointReducer::zero() {
  std::fill(buffer_.begin(), buffer_.end(), 0);
  std::fill(small_.begin(), small_.end(), 0);
}

void FixedPointReducer::accumulate(const float* g, bool first) {
  if (first) std::fill(small_.begin(), small_.end(), 0);
  std::int32_t* acc = buffer_.data();
  const double limit = static_cast<double>(limit_);
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    const double scale = std::ldexp(1.0, static_cast<int>(exponents_[t]));
    const std::int64_t begin = tensors_[t].offset, end = begin + tensors_[t].count;
    float largest = float_of(small_[t]);
    // |d| <= limit rounds to at most limit_; a larger value (or NaN: the loss check reports
    // it) is left out, and the reduced maximum tells every rank to redo the step.
    if (first) {
      for (std::int64_t i = begin; i < end; ++i) {
        const float a = std::fabs(g[i]);
        largest = a > largest ? a : largest;
        double d = static_cast<double>(g[i]) * scale;
        d = std::fabs(d) <= limit ? d : 0.0;
        acc[i] = static_cast<std::int32_t>((d + kRound) - kRound);
      }
    } else {
      for (std::int64_t i = begin; i < end; ++i) {
        const float a = std::fabs(g[i]);
        largest = a > largest ? a : largest;
        double d = static_cast<double>(g[i]) * scale;
        d = std::fabs(d) <= limit ? d : 0.0;
        acc[i] += static_cast<std::int32_t>((d + kRound) - kRound);
      }
    }
    small_[t] = bits_of(largest);
  }
}

void FixedPointReducer::put_shards(const std::vector<LossSums>& shards, int n) {
  std::uint64_t* slots = small_.data() + tensors_.size();
  for (int j = 0; j < n; ++j) {
    const double v[kShardSlots] = {shards[j].loss, shards[j].correct, shards[j].abs_err,
                                   shards[j].sq_err, shards[j].samples};
    std::memcpy(slots + kShardSlots * j, v, sizeof v);
  }
}

// The small all-reduce (maxima and shard sums), then the overflow check and the exponents'
// update; the same decision on every rank.
bool FixedPointReducer::reduce_small(const mpi::Comm& comm, std::vector<LossSums>& shards, int n) {
  put_shards(shards, n);
  const std::size_t used = tensors_.size() + kShardSlots * static_cast<std::size_t>(n);
  if (comm.size() > 1) comm.allreduce_in_place(small_.data(), used, mpi::Op::kMax);
  bool overflow = false;
  finite_ = true;
  std::vector<std::int64_t> fitted = exponents_;
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    const float largest = float_of(small_[t]);
    if (!std::isfinite(largest)) {
      finite_ = false;
      overflow = true;
      fitted[t] = exponents_[t] - 12;
      continue;
    }
    if (largest == 0.0f) continue;  // nothing measured: keep the exponent
    overflow |= std::ldexp(static_cast<double>(largest), static_cast<int>(exponents_[t])) >
                static_cast<double>(limit_);
    fitted[t] = std::min<std::int64_t>(30 - log2_shards_ - kHeadroom - std::ilogb(largest),
                                       exponents_[t] + kRise);
  }
  if (overflow) {
    exponents_ = fitted;
    ++redone_;
    return false;
  }
  used_exponents_ = exponents_;  // to_float() needs the exponents of this step
  exponents_ = fitted;
  const std::uint64_t* slots = small_.data() + tensors_.size();
  for (int j = 0; j < n; ++j) {
    double v[kShardSlots];
    std::memcpy(v, slots + kShardSlots * j, sizeof v);
    shards[j] = {v[0], v[1], v[2], v[3], v[4]};
  }
  return true;
}

bool FixedPointReducer::reduce(const mpi::Comm& comm, std::vector<LossSums>& shards, int n) {
  if (!reduce_small(comm, shards, n)) return false;
  if (comm.size() > 1) {
    comm.allreduce_in_place(buffer_.data(), buffer_.size(), mpi::Op::kSum);
  }
  slice_begin_ = 0;
  slice_end_ = parameters_;
  scattered_ = false;
  return true;
}

bool FixedPointReducer::reduce_scatter(const mpi::Comm& comm, std::vector<LossSums>& shards, int n,
                                       const std::vector<std::int64_t>& bounds) {
  if (!reduce_small(comm, shards, n)) return false;  // every rank agrees: nothing else to send
  std::vector<int> counts(static_cast<std::size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    counts[static_cast<std::size_t>(r)] = static_cast<int>(bounds[r + 1] - bounds[r]);
  }
  slice_begin_ = bounds[comm.rank()];
  slice_end_ = bounds[comm.rank() + 1];
  const std::int64_t mine = slice_end_ - slice_begin_;
  slice_.resize(static_cast<std::size_t>(mine));
  const int ranks = comm.size(), me = comm.rank();
  if (ranks > pairwise_ranks_) {
    MPI_Reduce_scatter(buffer_.data(), slice_.data(), counts.data(), MPI_INT32_T, MPI_SUM,
                       comm.raw());
    scattered_ = true;
    return true;
  }
  // Pairwise: every rank sends each other rank that rank's slice of its limbs and adds the
  // slices it receives to its own (integer sums: any order gives the same bits). The same
  // bytes as MPI_Reduce_scatter's, into a buffer kept from step to step ((P - 1) / P of the
  // limbs' size; Open MPI allocates its temporaries at every call) and added by one vectorised
  // pass; with Open MPI's, the whole exact step took 1.4-3.3x as long at 2 ranks on shared
  // memory here (bench/nn/README.md).
  received_.resize(static_cast<std::size_t>(mine) * static_cast<std::size_t>(ranks - 1));
  requests_.assign(2 * static_cast<std::size_t>(ranks - 1), MPI_REQUEST_NULL);
  for (int k = 1; k < ranks; ++k) {
    const int from = (me - k + ranks) % ranks;
    MPI_Irecv(received_.data() + static_cast<std::size_t>(mine) * static_cast<std::size_t>(k - 1),
              static_cast<int>(mine), MPI_INT32_T, from, kPairTag, comm.raw(),
              &requests_[static_cast<std::size_t>(k - 1)]);
  }
  for (int k = 1; k < ranks; ++k) {
    const int to = (me + k) % ranks;
    MPI_Isend(buffer_.data() + bounds[to], counts[static_cast<std::size_t>(to)], MPI_INT32_T, to,
              kPairTag, comm.raw(), &requests_[static_cast<std::size_t>(ranks - 2 + k)]);
  }
  MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  // One pass per received slice; the running sum starts at this rank's own limbs.
  std::int32_t* out = slice_.data();
  const std::int32_t* sum = buffer_.data() + slice_begin_;
  if (ranks == 1) std::copy(sum, sum + mine, out);
  for (int k = 1; k < ranks; ++k) {
    const std::int32_t* in =
        received_.data() + static_cast<std::size_t>(mine) * static_cast<std::size_t>(k - 1);
    for (std::int64_t i = 0; i < mine; ++i) out[i] = sum[i] + in[i];
    sum = out;
  }
  scattered_ = true;
  return true;
}

void FixedPointReducer::to_float(float* g) const {
  const std::int32_t* acc = scattered_ ? slice_.data() : buffer_.data();
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
