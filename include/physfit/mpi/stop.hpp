#pragma once
/// @file
/// Agreement on stop requests, so that every rank checkpoints at the same step.

#include <string>

#include "physfit/mpi/comm.hpp"

namespace physfit::mpi {

/// **Collective.** Returns the signal number that asked any rank to stop (see
/// physfit::util::StopHandlers), or 0; the same value on every rank. One allreduce.
int stop_agreed(const Comm& comm);

/// **Collective.** A safe point between phases: if any rank was asked to stop, throws
/// physfit::StoppedError (exit code 3) "stopped by SIGxxx <what>" on every rank as a
/// CollectiveError. `what` says where the run stopped, what was kept and how to continue.
void stop_point(const Comm& comm, const std::string& what);

}  // namespace physfit::mpi
