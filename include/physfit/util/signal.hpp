#pragma once
/// @file
/// Stop requests from signals, for jobs that checkpoint before their time limit.
///
/// Slurm sends a signal before the time limit (`--signal=USR1@T` with srun, or
/// `--signal=B:USR1@T` with a shell trap that forwards it to mpirun). While a StopHandlers
/// object exists, SIGUSR1, SIGUSR2 and SIGTERM only set a flag; a long loop polls it (through
/// physfit::mpi::stop_agreed, so that every rank stops at the same step), writes a checkpoint
/// and ends with exit code 3. SIGINT sets the flag the first time and ends the process the
/// second time. Outside such a scope signals keep their default action.

#include <string>

namespace physfit::util {

/// Installs the stop handlers for its lifetime and restores the previous ones afterwards.
class StopHandlers {
 public:
  StopHandlers();
  ~StopHandlers();
  StopHandlers(const StopHandlers&) = delete;
  StopHandlers& operator=(const StopHandlers&) = delete;
};

/// The signal number that asked this process to stop, or 0. Async-signal-safe to set.
int stop_signal() noexcept;

/// Forgets a stop request (after it has been handled, and in tests).
void clear_stop_request() noexcept;

/// Name of a signal ("SIGUSR1").
const char* signal_name(int signal) noexcept;

/// Local safe point: throws physfit::StoppedError (exit code 3) "stopped by SIGxxx <what>" if
/// a stop was requested on this rank. Call it only where a local error is already made
/// collective (inside physfit::mpi::guarded, whose agreement ends every rank with code 3), or
/// on one rank while the others wait in such an agreement. Cheap: one load of a flag.
void throw_if_stop_requested(const std::string& what);

}  // namespace physfit::util
