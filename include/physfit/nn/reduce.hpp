#pragma once
/// @file
/// Reproducible gradient reduction: the sum of the per-micro-shard gradients of a global
/// batch, bitwise independent of how the shards are spread over ranks.
///
/// Floating-point addition is not associative, so an MPI_Allreduce of float gradients gives
/// bits that depend on the number of ranks (and on the reduction algorithm). Integer addition
/// is associative. Each shard's gradient is rounded once to a fixed-point grid, g * 2^k
/// rounded to an int64, with one exponent k per parameter tensor; the int64 sums are reduced
/// with MPI_Allreduce, which is then exact, and converted back. Every rank count adds the
/// same integers, so every rank count gets the same bits. (ReproBLAS, Demmel and Nguyen 2015,
/// uses the same pre-rounding idea with several bins.)
///
/// The exponents adapt from one step to the next using counters that are reduced with the
/// gradients (so every rank takes the same decision): a tensor whose largest scaled value
/// comes within 2^-5 of the limit 2^50 gets a smaller exponent, one whose values all stay
/// below 2^37 a larger one. A value at or above 2^50 is an overflow: reduce() reports it and
/// the caller recomputes the step with exponents 12 smaller. The resolution is therefore at
/// least 2^-37 of each tensor's largest value, far finer than float's 2^-24.
///
/// The per-shard loss sums travel in the same buffer as exact bit patterns (every slot has
/// one non-zero contributor), and are added in shard order by every rank.

#include <cstdint>
#include <vector>

#include "physfit/mpi/comm.hpp"
#include "physfit/nn/loss.hpp"
#include "physfit/nn/optimizer.hpp"

namespace physfit::nn {

class FixedPointReducer {
 public:
  /// `tensors`: the parameter ranges that get one exponent each; `max_shards`: the most
  /// micro-shards of one global batch (at most 4096).
  FixedPointReducer(const std::vector<ParameterRange>& tensors, std::int64_t parameters,
                    int max_shards);

  /// Adds one shard's gradient (overwrites the accumulator when `first`).
  void accumulate(const float* gradient, bool first);
  /// Zeroes the accumulator (a rank without shards in this batch).
  void zero();
  /// **Collective.** Reduces the accumulators and the n shard sums (this rank's shards filled,
  /// the others zero) over `comm`. Returns false on overflow (the exponents are lowered: redo
  /// the step); otherwise fills `shards` with every shard's sums and adapts the exponents.
  bool reduce(const mpi::Comm& comm, std::vector<LossSums>& shards, int n);
  /// **Collective.** The same, but the parameter sums are only reduce-scattered: rank r gets
  /// elements [bounds[r], bounds[r + 1]) (for an optimiser step sharded over the ranks). The
  /// counters and shard sums are all-reduced first, so an overflow costs no large message.
  bool reduce_scatter(const mpi::Comm& comm, std::vector<LossSums>& shards, int n,
                      const std::vector<std::int64_t>& bounds);
  /// Writes the reduced sum as floats: all of it after reduce(), this rank's slice after
  /// reduce_scatter().
  void to_float(float* gradient) const;

  /// One exponent per tensor (saved in checkpoints: they are part of the state).
  std::vector<std::int64_t>& exponents() { return exponents_; }
  /// Steps redone after an overflow (for the log).
  std::int64_t redone() const { return redone_; }

 private:
  std::vector<ParameterRange> tensors_;
  std::int64_t parameters_;
  int max_shards_;
  std::vector<std::int64_t> exponents_;
  std::vector<std::int64_t> used_exponents_;
  void put_shards(const std::vector<LossSums>& shards, int n);
  bool settle(std::vector<LossSums>& shards, int n);
  std::vector<std::int64_t> buffer_;  // parameters, 3 counters per tensor, 5 per shard
  std::vector<std::int64_t> slice_;   // reduce_scatter's result
  std::int64_t slice_begin_ = 0, slice_end_ = 0;
  bool scattered_ = false;
  std::int64_t redone_ = 0;
};

}  // namespace physfit::nn
