#pragma once
/// @file
/// The check every command makes before any work: no output may be one of its inputs (or
/// another of its outputs), and an existing output must be a regular file. A user who types
/// the training file as `--output.model`, or `/dev/full` as `--output.file`, gets a usage error
/// naming the options and the path, and every file stays as it was.
///
///     io::check_output_paths(comm, {{"--input.data", data}}, {{"--output.file", output}});

#include <string>
#include <vector>

#include "physfit/mpi/comm.hpp"

namespace physfit::io {

/// A path and the option that named it (as the user typed it: "--output.model").
struct NamedPath {
  std::string option;
  std::string path;
};

/// True if `a` and `b` name the same file: the same device and inode when both exist (links
/// resolved), else the same canonical path (symbolic links in the existing part resolved).
bool same_file(const std::string& a, const std::string& b);

/// Throws UsageError (exit code 2) if an existing output is not a regular file (a device such
/// as /dev/null, a folder, a socket, a FIFO), or if an output is the same file as an input or
/// as another output; the message names both options and the path. Throws IoError (exit
/// code 4) naming the option and the path if an input is missing or a folder. Empty paths are
/// skipped.
void check_output_paths(const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs);

/// Creates the missing folders above each output (as mkdir -p), appending each folder made to
/// `made`, parents first; IoError naming the option if one cannot be made.
void make_output_folders(const std::vector<NamedPath>& outputs, std::vector<std::string>& made);

/// Removes the folders of `made` that are empty, children first (after a failed run, so that
/// it leaves nothing behind); errors are ignored.
void remove_empty_folders(const std::vector<std::string>& made);

/// **Collective.** The same check made on rank 0; its error ends every rank (exit code 2).
void check_output_paths(const mpi::Comm& comm, const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs);

/// Throws UsageError if `path` exists and is not a regular file ("cannot write OPTION 'path':
/// it is a character device; only a regular file is ever replaced"). `option` may be empty.
void check_replaceable(const std::string& path, const std::string& option = "");

}  // namespace physfit::io
