#pragma once
/// @file
/// Crash-safe output: results are written under a temporary name next to the destination
/// (`<path>.tmp-<pid>-<host>`) and renamed over it only when complete, so a job killed while
/// writing (time limit, node failure, `kill -9`) leaves the previous file intact and readable, and
/// never a half-written one under the real name. A run that fails removes its temporary file;
/// a killed one leaves it behind, under a name that says what it is.
///
///     io::OutputFile out(comm, "result.h5", provenance, io::OutputFile::Writers::kAllRanks);
///     auto d = out.file().create_dataset<double>("/x", {rows, cols}, "angstrom");
///     d.write_rows(block.begin, block.count, local.data());
///     out.commit();

#include <string>

#include "physfit/io/hdf5.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::io {

class OutputFile {
 public:
  enum class Writers {
    kRank0,     ///< rank 0 writes the file alone (POSIX driver); other ranks have no file
    kAllRanks,  ///< every rank opens the file with MPI-IO and writes its own rows
  };

  /// **Collective.** Checks that the destination can be written, creates the temporary file
  /// and writes the `/physfit` provenance group. Errors are collective (exit code 4; 2 if the
  /// destination exists and is not a regular file: a device, folder, socket or FIFO).
  OutputFile(const mpi::Comm& comm, const std::string& path, const Provenance& provenance,
             Writers writers);
  /// Without commit(): closes and removes the temporary file.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// True on the ranks that have the file open (all, or rank 0 only).
  bool writes_here() const { return file_.is_open(); }
  /// The open temporary file (only where writes_here()).
  const File& file() const { return file_; }
  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_; }

  /// **Collective.** Closes the file, flushes it to disk and renames it over the destination.
  /// Errors are collective.
  void commit();

 private:
  mpi::Comm comm_;
  std::string path_;
  std::string temporary_;
  Writers writers_;
  File file_;
  bool committed_ = false;
};

}  // namespace physfit::io
