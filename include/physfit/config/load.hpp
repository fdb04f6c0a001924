#pragma once
/// @file
/// Reading a configuration file once per job.

#include <string>

#include "physfit/config/ini.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::config {

/// **Collective.** Rank 0 reads the file and broadcasts its text; every rank parses it. A
/// missing or unreadable file, or malformed text, throws the same CollectiveError (exit code
/// 2) on every rank.
IniText load_ini(const mpi::Comm& comm, const std::string& path);

/// Reads a whole text file; throws UsageError naming the file if it cannot.
std::string read_text_file(const std::string& path);

}  // namespace physfit::config
