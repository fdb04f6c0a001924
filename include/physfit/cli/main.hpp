#pragma once
/// @file
/// The entry point of the `physfit` program.

#include <string>
#include <vector>

#include "physfit/cli/command.hpp"

namespace physfit::cli {

/// Runs `physfit <command> [options]` with the built-in commands and returns the process exit
/// code (see physfit::ExitCode). Owns MPI for the duration (unless the caller initialised it).
///
/// Errors: an error made collective by a guarded phase (mpi::CollectiveError) ends every rank
/// with its exit code after rank 0 prints it, tagged with the rank it came from. Any other
/// error escaping a command on a multi-rank job cannot be known to the other ranks, which may
/// be waiting in a collective: it is printed, tagged, and the job is ended with MPI_Abort and
/// that exit code. With `--json`, rank 0 prints one JSON object as the last line of standard
/// output, also on collective errors.
int main(int argc, char** argv);

/// Same with a given set of commands (tests and downstream programs).
int main(int argc, char** argv, const std::vector<Command>& commands);

/// Runs one command, `args` being the command line without the program name (`{"train",
/// "run.ini", "--quiet"}`), inside an MPI environment and HDF5 library that the caller has
/// set up and keeps (main above does that, then calls this once). Returns the exit code, with
/// the same error handling as main: the in-process entry point of the soak test
/// (tests/mpi/cli/test_soak.cpp), which runs commands many times in one process.
/// **Collective** over `world`.
int run_command(const mpi::Comm& world, const std::vector<std::string>& args,
                const std::vector<Command>& commands = builtin_commands());

}  // namespace physfit::cli
