#pragma once
/// @file
/// Temporary files that never outlive their writer for long (issue 11).
///
/// Every output is written under a temporary name beside its destination and renamed over it
/// when complete (io::OutputFile, io::write_file_atomic). This file makes sure those temporaries
/// go away on every exit path:
///
/// - an error or a normal exit removes them (the writers' destructors);
/// - an error that ends the job through MPI_Abort (mpi::Environment::abort) and the signals that
///   end a process (SIGTERM from a launcher after another rank aborted, SIGHUP, a second SIGINT)
///   remove this process's temporaries from a registry first (async-signal-safe: unlink only);
/// - what nothing can clean (SIGKILL, a node that dies, a rank killed by mpirun) is removed by
///   the next run that writes the same output: temporaries are named
///   `<path>.tmp-<pid>-<host>`, and one whose host is this host and whose process no longer
///   exists is provably dead. A temporary of a live process, of another host or with another
///   name is left alone.

#include <string>

namespace physfit::io {

/// The temporary name this process uses for `path`: `<path>.tmp-<pid>-<host>`.
std::string temporary_name(const std::string& path);

/// Remembers that this process has created `temporary` (a file to remove if the process dies
/// before it is renamed). At most 64 at a time; more are not remembered (the next run removes
/// them).
void register_temporary(const std::string& temporary) noexcept;

/// Forgets `temporary` (it was renamed or removed).
void unregister_temporary(const std::string& temporary) noexcept;

/// Removes `temporary` and forgets it.
void discard_temporary(const std::string& temporary) noexcept;

/// Removes every temporary this process has registered. Async-signal-safe (unlink only).
void remove_registered_temporaries() noexcept;

/// Removes the temporaries of `path` left by dead processes of this host
/// (`<path>.tmp-<pid>-<this host>` where no process `pid` exists). Returns how many it removed.
int remove_stale_temporaries(const std::string& path);

/// Makes SIGTERM, SIGHUP and SIGINT remove this process's temporaries before they end it
/// (their default action is kept otherwise). Handlers installed later for these signals (the
/// stop handlers of a long command) take over while they are installed.
void remove_temporaries_on_fatal_signals();

}  // namespace physfit::io
