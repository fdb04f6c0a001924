#pragma once
/// @file
/// Reproducible gradient reduction: the sum of the per-micro-shard gradients of a global
/// batch, bitwise independent of how the shards are spread over ranks.
///
/// Floating-point addition is not associative, so an MPI_Allreduce of float gradients gives
/// bits that depend on the number of ranks (and on the reduction algorithm). Integer addition
/// is associative. Each shard's gradient is rounded once to a fixed-point grid, q = g * 2^k
/// rounded to an int32, with one exponent k per parameter tensor; the int32 sums are reduced
/// (a pairwise reduce-scatter, MPI_Reduce_scatter or MPI_Allreduce, exact) and converted back.
/// Every rank count adds the same integers, so every rank count gets the same bits. (ReproBLAS,
/// Demmel and Nguyen 2015, uses the same pre-rounding idea with several bins.) A step therefore
/// sends 4 bytes per parameter, as many as a float32 reduce-scatter; with the sharded optimiser's
/// float allgather, 8 bytes per parameter, the same as a float32 ring allreduce.
///
/// No overflow by construction. With S the most shards of a global batch (fixed by the
/// batch and micro-batch sizes, not by the rank count) and c = ceil(log2 S), every shard's
/// values must satisfy |q| <= 2^(31 - c) - 1: then every rank's partial sum and the total
/// are below 2^31 in magnitude, whatever the grouping. A larger value is an overflow: it is
/// not added, and reduce() reports it after the small collective below, so no rank sends or
/// adds a wrong limb.
///
/// The exponents come from earlier steps: a shard must be quantised before the sums are known
/// (quantising a rank's partial sum instead would depend on the rank count). Every step
/// measures M, the largest |g| of each tensor over all shards (float, exact: a maximum does
/// not depend on the grouping), and sets the next step's exponent to
///     k = min(30 - c - kHeadroom - ilogb(M), k + 1),
/// so that this step's largest value would lie in [2^(30-c-h), 2^(31-c-h)) with h = kHeadroom
/// = 3 bits: the next step overflows only if its largest value grows by 8x to 16x. The exponent
/// falls at once but rises by at most one bit per step, so a step whose gradient dips does not
/// leave the next, ordinary one without headroom. (Measured on the Ising MLP and CNN at batch 32
/// in 4 micro-batches, 1024 steps each, mostly near zero loss where the gradient is spiky:
/// 24 / 41 overflows with 2 bits of headroom and no limit on the rise, 7 / 28 with the limit,
/// 1 / 4 with 3 bits and the limit, besides the first step.) An overflow is the checked
/// fallback: every rank sees it (the maxima are reduced first, before the gradients), the
/// exponents are set by the same rule from this step's measured maxima, and the caller
/// recomputes the step, which then cannot overflow: a redo happens at most once per
/// overflowing step. (A non-finite maximum lowers the exponent by 12 instead and finite() says
/// so; the caller stops.) A tensor whose gradient is all zero keeps its exponent. The first
/// step starts from exponents so large that any non-zero gradient overflows: it is computed
/// twice and then uses fitted exponents. A checkpoint stores the exponents, and a resumed run
/// continues bit for bit; one written by the former int64 reduction (largest values near
/// 2^37..2^50) resumes correctly: its exponents are too large, the first step overflows and is
/// redone once with fitted exponents.
///
/// Resolution. The grid step 2^-k is 2^-(30-c-h) .. 2^-(31-c-h) of the tensor's largest
/// shard value when the gradient's scale is steady (coarser for a few steps after its largest
/// value falls sharply, as the exponent rises a bit per step). At the default micro-batch of
/// 64 samples: batch 32 is one shard (no rounding at all: the single-shard path sums floats,
/// exact with one non-zero contributor); batch 128 is S = 2 (c = 1): 2^-26..2^-27 of the
/// largest value; batch 512 is S = 8 (c = 3): 2^-24..2^-25; at the limit of 4096 shards,
/// 2^-15..2^-16. Each shard's value is rounded by at most half a grid step. Float32 resolves
/// each value to 2^-24 of itself: values near the tensor's largest are resolved as finely as
/// float addition would or more, values far below it (under 2^-1 of it at batch 512) more
/// coarsely.
///
/// The small collective is one MPI_Allreduce(MPI_MAX) of unsigned 64-bit words: the maxima
/// (float bit patterns of non-negative values order as their values) and the per-shard loss
/// sums as exact double bit patterns (each shard's slot has one writer, the other ranks
/// leave +0.0 = 0, the unsigned minimum); every rank adds the shard sums in shard order.

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "physfit/mpi/comm.hpp"
#include "physfit/nn/loss.hpp"
#include "physfit/nn/optimizer.hpp"

namespace physfit::nn {

class FixedPointReducer {
 public:
  /// Bits kept below the limit after adapting the exponents (see the file comment).
  static constexpr int kHeadroom = 3;

  /// `tensors`: the parameter ranges that get one exponent each; `max_shards`: the most
  /// micro-shards of one global batch (at most 4096).
  FixedPointReducer(const std::vector<ParameterRange>& tensors, std::int64_t parameters,
                    int max_shards);

  /// Adds one shard's gradient (overwrites the accumulator when `first`).
  void accumulate(const float* gradient, bool first);
  /// Zeroes the accumulator (a rank without shards in this batch).
  void zero();
  /// **Collective.** Reduces the accumulators and the n shard sums (this rank's shards filled,
  /// the others zero) over `comm`. Returns false on overflow (the exponents are refitted: redo
  /// the step); otherwise fills `shards` with every shard's sums and adapts the exponents.
  bool reduce(const mpi::Comm& comm, std::vector<LossSums>& shards, int n);
  /// **Collective.** The same, but the parameter sums are only reduce-scattered: rank r gets
  /// elements [bounds[r], bounds[r + 1]) (for an optimiser step sharded over the ranks). The
  /// maxima and shard sums are all-reduced first, so an overflow costs no large message.
  /// Up to kPairwiseRanks ranks the slices travel pairwise (each rank sends each other rank
  /// its slice and adds what it receives); above, by MPI_Reduce_scatter (whose recursive
  /// halving needs log2 P messages instead of P - 1). The same bits either way.
  bool reduce_scatter(const mpi::Comm& comm, std::vector<LossSums>& shards, int n,
                      const std::vector<std::int64_t>& bounds);
  static constexpr int kPairwiseRanks = 8;
  /// The most ranks for the pairwise exchange (tests set 1 to exercise MPI_Reduce_scatter).
  void set_pairwise_ranks(int ranks) { pairwise_ranks_ = ranks; }
  /// Writes the reduced sum as floats: all of it after reduce(), this rank's slice after
  /// reduce_scatter().
  void to_float(float* gradient) const;

  /// One exponent per tensor (saved in checkpoints: they are part of the state).
  std::vector<std::int64_t>& exponents() { return exponents_; }
  /// The largest |q| a shard may hold: 2^(31 - ceil(log2 max_shards)) - 1.
  std::int64_t limit() const { return limit_; }
  /// False when the last reduction found an infinite gradient (redoing cannot help).
  bool finite() const { return finite_; }
  /// Steps redone after an overflow (for the log).
  std::int64_t redone() const { return redone_; }

 private:
  std::vector<ParameterRange> tensors_;
  std::int64_t parameters_;
  int log2_shards_;     // c = ceil(log2 max_shards)
  std::int64_t limit_;  // 2^(31 - c) - 1
  std::vector<std::int64_t> exponents_;
  std::vector<std::int64_t> used_exponents_;
  void put_shards(const std::vector<LossSums>& shards, int n);
  bool reduce_small(const mpi::Comm& comm, std::vector<LossSums>& shards, int n);
  std::vector<std::int32_t> buffer_;    // the parameters' limbs
  std::vector<std::uint64_t> small_;    // the tensors' max |g| (float bits), 5 per shard
  std::vector<std::int32_t> slice_;     // reduce_scatter's result
  std::vector<std::int32_t> received_;  // the other ranks' limbs of this rank's slice
  std::vector<MPI_Request> requests_;
  int pairwise_ranks_ = kPairwiseRanks;
  std::int64_t slice_begin_ = 0, slice_end_ = 0;
  bool scattered_ = false;
  bool finite_ = true;
  std::int64_t redone_ = 0;
};

}  // namespace physfit::nn
