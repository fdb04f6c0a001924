#pragma once
/// @file
/// Progress of long loops on rank 0: a live bar on a terminal, plain periodic lines when the
/// output is a file (a Slurm job's log), nothing when quiet.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace physfit::log {

/// How progress is shown.
enum class ProgressStyle {
  kAuto,   ///< kBar if standard error is a terminal, else kLines
  kBar,    ///< one line redrawn in place (at most 10 times per second)
  kLines,  ///< a plain line every Settings::progress_interval seconds, and one at the end
  kOff,
};

/// Shows the progress of `total` units of work. Only rank 0 shows anything, and only when
/// information messages are enabled; on other ranks every call is a cheap no-op.
class Progress {
 public:
  Progress(std::string label, std::int64_t total, ProgressStyle style = ProgressStyle::kAuto);
  /// For tests: explicit stream and interval between plain lines (seconds).
  Progress(std::string label, std::int64_t total, ProgressStyle style, std::ostream& stream,
           double interval);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Records that `done` units are complete; `status` is appended ("loss 0.31").
  void update(std::int64_t done, const std::string& status = "");
  /// Prints the final state (once).
  void finish(const std::string& status = "");

 private:
  void print(bool final_line);

  std::string label_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  std::int64_t printed_done_ = -1;
  std::string status_;
  ProgressStyle style_;
  std::ostream* stream_;
  double interval_;
  double start_;
  double last_print_;
  bool finished_ = false;
  bool printed_bar_ = false;
};

}  // namespace physfit::log
