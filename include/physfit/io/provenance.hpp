#pragma once
/// @file
/// Provenance: every HDF5 file physfit writes carries a `/physfit` group whose attributes say
/// which program, source and configuration made it, on how many ranks and threads, and when.
///
/// | attribute         | type   | meaning                                             |
/// |-------------------|--------|-----------------------------------------------------|
/// | format_version    | int64  | version of physfit's file layout (this is 1)        |
/// | program_version   | string | physfit version ("0.1.0")                           |
/// | git_hash          | string | commit of the source that was built                 |
/// | command           | string | subcommand that wrote the file ("selfcheck")        |
/// | config            | string | effective configuration as INI text (all options)   |
/// | ranks             | int64  | MPI ranks of the job                                |
/// | threads           | int64  | threads per rank                                    |
/// | start_time        | string | UTC start of the run, ISO 8601                      |
/// | host              | string | host name of rank 0                                 |

#include <cstdint>
#include <string>

#include "physfit/io/hdf5.hpp"

namespace physfit::io {

struct Provenance {
  static constexpr std::int64_t kFormatVersion = 1;
  std::int64_t format_version = kFormatVersion;
  std::string program_version;
  std::string git_hash;
  std::string command;
  std::string config;
  std::int64_t ranks = 1;
  std::int64_t threads = 1;
  std::string start_time;
  std::string host;
};

/// Provenance of the current run: version and hash of this build, rank count of `comm`, the
/// host name, and what the caller passes.
Provenance current_provenance(const mpi::Comm& comm, const std::string& command,
                              const std::string& config, const std::string& start_time,
                              std::int64_t threads = 1);

/// Writes `/physfit` and its attributes. **Collective** on parallel files.
void write_provenance(const File& file, const Provenance& provenance);

/// Reads `/physfit`; IoError naming the file if it was not written by physfit.
Provenance read_provenance(const File& file);

}  // namespace physfit::io
