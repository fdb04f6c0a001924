#pragma once
/// @file
/// Collective exceptions: when one rank fails inside a guarded phase, every rank learns of it
/// and unwinds, so no rank waits forever in a collective for a partner that has gone.
///
/// The model is GROMACS's coordinated exception handling. A *guarded phase* is a piece of
/// local work (parsing, reading this rank's rows, computing) followed by one agreement: an
/// allreduce of "did anyone fail". On success that costs one small allreduce. On failure every
/// rank throws the same CollectiveError, carrying the exit code and message of the lowest
/// failing rank, and the job ends cleanly with that exit code on all ranks.
///
/// The body of a guarded phase must not itself call collectives that a failing rank would
/// skip. Errors thrown outside any guarded phase cannot be made collective: the entry point
/// ends the job with MPI_Abort and names the rank (see physfit::cli::main).

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "physfit/error.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::mpi {

/// Thrown on every rank when a guarded phase failed on at least one rank.
class CollectiveError : public Error {
 public:
  CollectiveError(ExitCode code, int origin_rank, int failed_ranks, const std::string& message,
                  bool local)
      : Error(message, code),
        origin_rank_(origin_rank),
        failed_ranks_(failed_ranks),
        local_(local) {}
  /// The lowest rank that failed; its message is what() on every rank.
  int origin_rank() const noexcept { return origin_rank_; }
  /// How many ranks failed in the phase (1 for an error every rank found together).
  int failed_ranks() const noexcept { return failed_ranks_; }
  /// True on the rank(s) whose own code threw.
  bool local() const noexcept { return local_; }

 private:
  int origin_rank_;
  int failed_ranks_;
  bool local_;
};

/// **Collective.** Agrees on the outcome of a phase: `local_error` is this rank's exception
/// (null if it succeeded). Returns normally only if no rank failed; otherwise throws the same
/// CollectiveError on every rank. Costs one allreduce of an int when nothing failed.
void agree(const Comm& comm, const std::exception_ptr& local_error);

/// **Collective.** Runs `body()` on every rank as a guarded phase and returns its result.
/// If `body` throws on any rank, every rank throws CollectiveError (see agree()).
template <class F>
auto guarded(const Comm& comm, F&& body) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(body)();
    } catch (...) {
      error = std::current_exception();
    }
    agree(comm, error);
  } else {
    static_assert(std::is_default_constructible_v<R>,
                  "guarded(): the body's result type must be default-constructible");
    R result{};
    try {
      result = std::forward<F>(body)();
    } catch (...) {
      error = std::current_exception();
    }
    agree(comm, error);
    return result;
  }
}

/// **Collective** (without communication). For an error every rank detects at the same point
/// from the same values (an agreed stop request, a reduced count of bad rows): throws it on
/// every rank as a CollectiveError, with rank 0 as the origin.
[[noreturn]] void throw_on_all_ranks(const Comm& comm, const Error& error);

/// **Collective.** Throws CollectiveError (exit code 6) on every rank if `value` differs between
/// ranks; `what` names the value in the message (for example "number of rows of /x in data.h5").
void require_same(const Comm& comm, long long value, const std::string& what);

}  // namespace physfit::mpi
