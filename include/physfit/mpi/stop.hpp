#pragma once
/// @file
/// Agreement on stop requests, so that every rank checkpoints at the same step.

#include "physfit/mpi/comm.hpp"

namespace physfit::mpi {

/// **Collective.** Returns the signal number that asked any rank to stop (see
/// physfit::util::StopHandlers), or 0; the same value on every rank. One allreduce.
int stop_agreed(const Comm& comm);

}  // namespace physfit::mpi
