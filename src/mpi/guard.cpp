#include "physfit/mpi/guard.hpp"

#include <climits>
#include <string>

namespace physfit::mpi {

void agree(const Comm& comm, const std::exception_ptr& local_error) {
  // One int: the lowest failing rank, or size() if none failed.
  const int candidate = local_error ? comm.rank() : comm.size();
  const int origin = comm.allreduce(candidate, Op::kMin);
  if (origin == comm.size()) return;

  // Failure path: count the failures, then the origin broadcasts its code and message.
  const int failed = comm.allreduce(local_error ? 1 : 0, Op::kSum);
  int code = static_cast<int>(ExitCode::kInternal);
  int origin_rank = origin;
  std::string message;
  if (comm.rank() == origin) {
    code = static_cast<int>(exit_code_of(local_error));
    message = message_of(local_error);
    try {
      std::rethrow_exception(local_error);
    } catch (const CollectiveError& nested) {
      origin_rank = nested.origin_rank();  // keep where a nested phase first failed
    } catch (...) {
    }
  }
  comm.broadcast(code, origin);
  comm.broadcast(origin_rank, origin);
  comm.broadcast(message, origin);
  throw CollectiveError(static_cast<ExitCode>(code), origin_rank, failed, message,
                        static_cast<bool>(local_error));
}

void throw_on_all_ranks(const Comm& comm, const Error& error) {
  // One error that every rank found together: counted once, not as comm.size() failures.
  (void)comm;
  throw CollectiveError(error.code(), 0, 1, error.what(), true);
}

void require_same(const Comm& comm, long long value, const std::string& what) {
  const long long lo = comm.allreduce(value, Op::kMin);
  const long long hi = comm.allreduce(value, Op::kMax);
  if (lo != hi) {
    // Every rank sees the same lo and hi, so the error is collective by construction.
    throw CollectiveError(ExitCode::kParallel, 0, 1,
                          "ranks disagree on the " + what + ": values range from " +
                              std::to_string(lo) + " to " + std::to_string(hi) + " over " +
                              std::to_string(comm.size()) + " ranks",
                          true);
  }
}

}  // namespace physfit::mpi
