#pragma once
/// @file
/// The error types physfit throws and the exit codes they map to.
///
/// Library code never calls exit(): it throws a physfit::Error subclass whose message says
/// what went wrong, where (file, dataset, line, option) and, when it can, how to fix it. The
/// entry point (physfit::cli::main) maps the error to the process exit code.

#include <exception>
#include <stdexcept>
#include <string>

namespace physfit {

/// Process exit codes, shared by every subcommand. Scripts and Slurm job chains rely on them.
enum class ExitCode : int {
  kOk = 0,         ///< success
  kInternal = 1,   ///< a bug or an unexpected condition (std::exception that is not ours)
  kUsage = 2,      ///< bad command line, bad configuration file or bad option value
  kStopped = 3,    ///< stopped on a signal after writing a checkpoint: resubmit to continue
  kIo = 4,         ///< input data missing, unreadable or malformed; or a file cannot be written
  kNumerical = 5,  ///< numerical failure during the computation: NaN, divergence, singular
  kParallel = 6,   ///< ranks disagree, or another rank failed
};

/// Returns a short lower-case name of the exit code ("usage", "io", ...).
const char* exit_code_name(ExitCode code) noexcept;

/// Base of every error physfit throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::kInternal)
      : std::runtime_error(message), code_(code) {}
  /// The exit code the program ends with when this error reaches the entry point.
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Bad command line, configuration file or option value (exit code 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message, ExitCode::kUsage) {}
};

/// A file cannot be read, parsed or written, or its data are malformed (exit code 4).
class IoError : public Error {
 public:
  explicit IoError(const std::string& message) : Error(message, ExitCode::kIo) {}
};

/// Numerical failure during the computation: NaN, divergence, singular system (exit code 5).
class NumericalError : public Error {
 public:
  explicit NumericalError(const std::string& message) : Error(message, ExitCode::kNumerical) {}
};

/// Ranks disagree about something that must be the same everywhere (exit code 6).
class ParallelError : public Error {
 public:
  explicit ParallelError(const std::string& message) : Error(message, ExitCode::kParallel) {}
};

/// The run stopped on a signal after writing a checkpoint (exit code 3).
class StoppedError : public Error {
 public:
  explicit StoppedError(const std::string& message) : Error(message, ExitCode::kStopped) {}
};

/// Maps any exception to the exit code it ends the program with: physfit errors carry their
/// own, boost::program_options errors are usage errors, anything else is internal.
ExitCode exit_code_of(const std::exception& e) noexcept;

/// Same for an exception pointer; a non-standard exception is internal.
ExitCode exit_code_of(const std::exception_ptr& e) noexcept;

/// The message of an exception pointer ("unknown exception" for non-standard ones).
std::string message_of(const std::exception_ptr& e);

}  // namespace physfit
