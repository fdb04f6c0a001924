#pragma once
/// @file
/// Wall-clock helpers.

#include <chrono>
#include <string>

namespace physfit::util {

/// Seconds since an arbitrary fixed point (steady clock).
double now_seconds();

/// The current UTC time as ISO 8601, "2026-11-25T14:17:24Z".
std::string utc_timestamp();

/// This machine's host name.
std::string host_name();

/// Measures elapsed wall time from construction or the last restart().
class Stopwatch {
 public:
  Stopwatch() : start_(now_seconds()) {}
  double seconds() const { return now_seconds() - start_; }
  void restart() { start_ = now_seconds(); }

 private:
  double start_;
};

}  // namespace physfit::util
