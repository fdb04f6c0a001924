#pragma once
// Helpers for physfit's tests: the harness communicator's sibling (the world, for the code
// under test) and per-test scratch folders.

#include <string>

#include "physfit/mpi/comm.hpp"

namespace physfit::test {

/// MPI_COMM_WORLD, for the code under test (the harness uses its own duplicate).
inline mpi::Comm world() { return mpi::Comm::world(); }

/// **Collective.** A fresh, empty folder for the current test, the same path on every rank:
/// <scratch root>/<suite>.<test>.np<ranks>.<pid of rank 0>. The root is $PHYSFIT_TEST_SCRATCH
/// (set by CTest) or /tmp/physfit-tests.
std::string scratch_dir();

/// Runs a shell command and returns its exit status (for the few tests that need a process).
int run_command(const std::string& command);

}  // namespace physfit::test
