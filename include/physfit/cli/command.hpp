#pragma once
/// @file
/// Subcommands of the `physfit` program. A command declares its options and runs with a
/// Context; the entry point (main.hpp) does the rest: MPI, parsing, the configuration file,
/// logging, `--help`, `--json`, and the mapping of errors to exit codes.

#include <functional>
#include <string>
#include <vector>

#include "physfit/config/options.hpp"
#include "physfit/io/output_paths.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/mpi/comm.hpp"
#include "physfit/util/json.hpp"

namespace physfit::cli {

/// What a running command gets.
struct Context {
  mpi::Comm comm;                             ///< MPI_COMM_WORLD
  config::Values options;                     ///< parsed command line and configuration file
  std::string command;                        ///< the subcommand name
  std::string start_time;                     ///< UTC, ISO 8601
  util::Json summary = util::Json::object();  ///< results for `--json`; filled by the command

  /// Provenance for files this run writes. **Collective** (broadcasts the host name).
  io::Provenance provenance(std::int64_t threads = 1) const;
  /// **Collective.** The peak resident memory of every rank so far (getrusage ru_maxrss):
  /// logged as "<command>: peak resident memory per rank ..." and put in the summary as
  /// `peak_rss_bytes` (the largest over the ranks) and `peak_rss_bytes_per_rank`. Returns the
  /// largest.
  double report_peak_memory();
};

/// The files a command reads and writes, each with the option that names it.
struct Files {
  std::vector<io::NamedPath> inputs;
  std::vector<io::NamedPath> outputs;
  /// Adds the path of the string option `key` (as "--key"), if it is set and not empty.
  void input(const config::Values& options, const std::string& key);
  void output(const config::Values& options, const std::string& key);
  /// Adds every path of the list option `key` (std::vector<std::string>) as "--key".
  void input_list(const config::Values& options, const std::string& key);
};

/// A subcommand.
struct Command {
  std::string name;
  std::string summary;      ///< one line, for `physfit --help`
  std::string description;  ///< paragraphs, for `physfit <name> --help`
  std::function<void(config::Options&)> declare;
  std::function<void(Context&)> run;
  /// The files the command reads and writes with these options. Before run(), the entry point
  /// checks them (and the configuration file, an input) with io::check_output_paths: an output
  /// that is an input, or that exists and is not a regular file, is a usage error (exit 2).
  std::function<Files(const config::Values&)> files;
};

/// The commands of the `physfit` program, in the order `--help` lists them.
std::vector<Command> builtin_commands();

// Built-in commands (one source file each).
Command inspect_command();
Command lasso_command();
Command selfcheck_command();
// physfit plot: figures of what an HDF5 file holds.
Command plot_command();
// physfit import: datasets (idx, csv) and structure/force data (extxyz, dfset, phonopy,
// force-sets) to HDF5.
Command import_command();
// The neural-network engine (issue 3).
Command train_command();
Command evaluate_command();
Command predict_command();
// Force constants (issue 5).
Command fc_command();
Command phonons_command();
// Data generators (issue 13): physfit generate ising.
Command generate_command();
// Phase transitions from a classifier (issue 13): physfit transition.
Command transition_command();

}  // namespace physfit::cli
