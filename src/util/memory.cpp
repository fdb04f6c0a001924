#include "physfit/util/memory.hpp"

#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "physfit/error.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::util {

namespace {

// The first number in a file ("max" and missing files give a negative value).
double read_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return -1;
  try {
    return std::stod(word);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

AvailableMemory available_memory() {
  AvailableMemory m;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    double kib = 0;
    if (fields >> kib) m = {kib * 1024, "MemAvailable in /proc/meminfo"};
  }
  // This process's cgroup (a Slurm job's, when Slurm confines jobs: "0::/path" for v2,
  // "N:memory:/path" for v1 in /proc/self/cgroup), then the roots (a container's); the
  // smallest room wins. A missing file or "max" means no limit there.
  std::vector<std::string> dirs, v1_dirs;
  std::ifstream self("/proc/self/cgroup");
  while (std::getline(self, line)) {
    const auto colon = line.find(':'), slash = line.find(":/");
    if (colon == std::string::npos || slash == std::string::npos || line.size() <= slash + 2) {
      continue;
    }
    const std::string controllers = line.substr(colon + 1, slash - colon - 1);
    const std::string path = line.substr(slash + 1);
    if (controllers.empty()) dirs.push_back("/sys/fs/cgroup" + path);
    if (controllers == "memory") v1_dirs.push_back("/sys/fs/cgroup/memory" + path);
  }
  dirs.push_back("/sys/fs/cgroup");
  v1_dirs.push_back("/sys/fs/cgroup/memory");
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& d : dirs) files.emplace_back(d + "/memory.max", d + "/memory.current");
  for (const auto& d : v1_dirs) {
    files.emplace_back(d + "/memory.limit_in_bytes", d + "/memory.usage_in_bytes");
  }
  for (const auto& [limit_file, usage_file] : files) {
    const double limit = read_number(limit_file);
    if (limit <= 0 || limit > 1e18) continue;  // none (v1 writes a huge number for none)
    const double usage = read_number(usage_file);
    const double room = limit - (usage > 0 ? usage : 0);
    if (m.bytes == 0 || room < m.bytes) {
      m = {room > 0 ? room : 1, "the cgroup's memory limit (" + limit_file + ")"};
    }
  }
  return m;
}

void require_memory(double bytes, const std::string& what, const std::string& fix) {
  const AvailableMemory m = available_memory();
  if (m.bytes <= 0 || bytes <= m.bytes) return;
  throw UsageError(what + " needs " + format_bytes(bytes) + " of memory per rank, but " +
                   format_bytes(m.bytes) + " is available (" + m.source + "); " + fix);
}

// "0", "1000000", "512M", "2G", "1.5GiB" -> bytes.
std::int64_t parse_bytes(const std::string& text, const std::string& key) {
  std::size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    v = -1;
  }
  std::string unit = util::to_lower(util::trim(text.substr(used)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  double factor = 1;
  if (unit == "k")
    factor = 1024.0;
  else if (unit == "m")
    factor = 1024.0 * 1024;
  else if (unit == "g")
    factor = 1024.0 * 1024 * 1024;
  else if (unit == "t")
    factor = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty())
    v = -1;
  if (!(v >= 0) || !std::isfinite(v)) {
    throw UsageError("bad value '" + text + "' for " + key +
                     ": expected a size in bytes such as 0 (no limit), 800M or 2G");
  }
  return static_cast<std::int64_t>(v * factor);
}

double peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return 1024.0 * static_cast<double>(usage.ru_maxrss);  // kibibytes on Linux
}

}  // namespace physfit::util
