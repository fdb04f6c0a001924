#pragma once
/// @file
/// One writer per output (issue 11): while a command writes, rank 0 holds an advisory lock on
/// `<output>.lock` beside each of its outputs, so that a second job writing the same file fails
/// at once (exit code 4, naming the file and the holder's host and process) or, with
/// `--output-lock wait`, waits until the first has finished.
///
/// The lock is a POSIX record lock (fcntl F_SETLK) on the whole lock file: it works across the
/// hosts of NFS (v3 through the lock manager, v4 natively) and of Lustre mounted with `flock`
/// (the default of recent Lustre clients); flock(2) does not reach across hosts on older NFS
/// clients and is local-only on Lustre's `localflock`. The kernel releases it when the holder
/// dies, however it dies, so a killed job never blocks the next one; a lock file it leaves is
/// reused and removed by the next run. Where the file system refuses locks (ENOLCK,
/// EOPNOTSUPP) a warning says so and the command runs unlocked. The lock file holds the
/// holder's host and process id, which the error message quotes.

#include <string>
#include <vector>

#include "physfit/mpi/comm.hpp"

namespace physfit::io {

class OutputLocks {
 public:
  /// What to do when another process holds a lock.
  enum class Mode {
    kFail,  ///< throw IoError (exit code 4) naming the file and the holder
    kWait,  ///< wait until it is released
  };

  /// **Collective.** Rank 0 locks `<path>.lock` for each path (in the given order; paths
  /// whose folder does not exist yet are skipped: nobody else can be writing there). Errors are
  /// collective.
  OutputLocks(const mpi::Comm& comm, const std::vector<std::string>& paths, Mode mode);
  /// Removes the lock files and releases the locks.
  ~OutputLocks();
  OutputLocks(const OutputLocks&) = delete;
  OutputLocks& operator=(const OutputLocks&) = delete;

  /// The lock files held by this process.
  std::vector<std::string> files() const;

 private:
  struct Held {
    std::string path;
    int fd;
  };
  std::vector<Held> held_;           // rank 0
  std::vector<std::string> others_;  // the other ranks: rank 0's lock files
};

/// The lock file of an output: `<path>.lock`.
std::string lock_file_of(const std::string& path);

}  // namespace physfit::io
