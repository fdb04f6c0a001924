#pragma once
/// @file
/// What this process may still allocate, and the check that turns a size no machine can hold
/// into a usage error before anything is allocated (instead of std::bad_alloc, exit 1).

#include <cstdint>
#include <string>

namespace physfit::util {

/// Memory this process may still allocate, in bytes, and where the number comes from.
struct AvailableMemory {
  double bytes = 0;    ///< 0 when nothing could be read (then no check is made)
  std::string source;  ///< "MemAvailable in /proc/meminfo" or "the cgroup's memory limit"
};

/// The smallest of the kernel's MemAvailable (/proc/meminfo) and the room left under the
/// memory limits of this process's cgroup and of the cgroup root (v2 memory.max less
/// memory.current, or v1 memory.limit_in_bytes less memory.usage_in_bytes): a Slurm job's
/// limit, a container's.
AvailableMemory available_memory();

/// Throws UsageError "<what> needs <bytes> (util::format_bytes) of memory per rank, but <available>
/// (<source>); <fix>" when `bytes` exceeds what available_memory() reports. `bytes` is a double so
/// that products of large sizes cannot overflow.
void require_memory(double bytes, const std::string& what, const std::string& fix);

/// "0", "1000000", "512M", "2G", "1.5GiB" (powers of 1024) -> bytes. UsageError naming
/// option `key` for anything else.
std::int64_t parse_bytes(const std::string& text, const std::string& key);

/// The peak resident set size of this process so far, in bytes (getrusage ru_maxrss; 0 if it
/// cannot be read).
double peak_resident_bytes();

}  // namespace physfit::util
