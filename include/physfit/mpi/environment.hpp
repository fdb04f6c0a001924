#pragma once
/// @file
/// RAII ownership of the MPI library for one process.

#include <string>

#include "physfit/mpi/comm.hpp"

namespace physfit::mpi {

/// Initialises MPI (MPI_Init_thread, MPI_THREAD_FUNNELED) on construction and finalises it on
/// destruction. If MPI is already initialised (physfit embedded in a host program) it does
/// neither and leaves MPI to its owner.
///
/// MPI's error handler stays MPI_ERRORS_ARE_FATAL: a failing MPI call ends the whole job
/// rather than leaving other ranks waiting.
class Environment {
 public:
  /// **Collective** over MPI_COMM_WORLD.
  Environment(int& argc, char**& argv);
  /// **Collective**: calls MPI_Finalize when this object initialised MPI.
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// A view of MPI_COMM_WORLD.
  Comm world() const { return Comm::world(); }
  /// The thread support level MPI granted (MPI_THREAD_*).
  int thread_level() const { return provided_; }

  /// True between MPI_Init and MPI_Finalize.
  static bool active();

  /// Ends every rank of the job now: runs the abort cleanup (set_abort_cleanup), prints
  /// `[rank R] fatal: message` on standard error and calls MPI_Abort(MPI_COMM_WORLD, code). For
  /// errors that cannot be made collective. Works (as exit) when MPI is not active.
  [[noreturn]] static void abort(int code, const std::string& message);

  /// A function abort() calls before it ends the job (to remove this process's temporary
  /// files: io::remove_registered_temporaries). Must not throw; nullptr for none.
  static void set_abort_cleanup(void (*cleanup)() noexcept);

 private:
  bool owns_ = false;
  int provided_ = 0;
};

}  // namespace physfit::mpi
