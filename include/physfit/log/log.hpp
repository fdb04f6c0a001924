#pragma once
/// @file
/// Logging for parallel jobs: information from rank 0 only; warnings and errors from any rank,
/// tagged `[rank R]` when the job has more than one rank; debug messages from every rank.
///
/// Information goes to the output stream (standard output, or standard error when a command
/// prints a JSON summary), everything else to the error stream. Each message is written in
/// one piece, so lines from different threads do not interleave.

#include <iosfwd>
#include <sstream>
#include <string>

namespace physfit::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

/// Parses "debug", "info", "warning", "error" or "off"; throws UsageError otherwise.
Level parse_level(const std::string& name);
const char* level_name(Level level);

struct Settings {
  int rank = 0;
  int size = 1;
  Level level = Level::kInfo;
  std::ostream* out = nullptr;      ///< information; null means std::cout
  std::ostream* err = nullptr;      ///< warnings, errors, debug, progress; null means std::cerr
  double progress_interval = 30.0;  ///< seconds between plain progress lines (not a terminal)
};

/// Replaces the process-wide settings.
void configure(const Settings& settings);
const Settings& settings();

/// True if a message of `level` would be printed by this rank.
bool enabled(Level level);

/// Writes one message (used by the helpers below).
void write(Level level, const std::string& message);

template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}

/// Rank 0 only.
template <class... Args>
void info(const Args&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, concat(args...));
}
/// Every rank, tagged.
template <class... Args>
void debug(const Args&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, concat(args...));
}
/// Any rank, tagged.
template <class... Args>
void warning(const Args&... args) {
  if (enabled(Level::kWarning)) write(Level::kWarning, concat(args...));
}
/// Any rank, tagged.
template <class... Args>
void error(const Args&... args) {
  if (enabled(Level::kError)) write(Level::kError, concat(args...));
}

/// The tag of a message from `rank`: "[rank 3] " when the job has several ranks, else "".
std::string rank_tag(int rank);

}  // namespace physfit::log
