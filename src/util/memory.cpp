#include "physfit/util/memory.hpp"

#include <fstream>
#include <sstream>

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
  // cgroup v2, then v1: a limit far above the machine's memory means "none".
  const struct {
    const char* limit;
    const char* usage;
  } groups[] = {{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
                {"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
  for (const auto& g : groups) {
    const double limit = read_number(g.limit);
    if (limit <= 0 || limit > 1e18) continue;
    const double usage = read_number(g.usage);
    const double room = limit - (usage > 0 ? usage : 0);
    if (m.bytes == 0 || room < m.bytes) {
      m = {room > 0 ? room : 1, std::string("the cgroup's memory limit (") + g.limit + ")"};
    }
    break;
  }
  return m;
}

void require_memory(double bytes, const std::string& what, const std::string& fix) {
  const AvailableMemory m = available_memory();
  if (m.bytes <= 0 || bytes <= m.bytes) return;
  throw UsageError(what + " needs " + format_bytes(bytes) + " of memory per rank, but " +
                   format_bytes(m.bytes) + " is available (" + m.source + "); " + fix);
}

}  // namespace physfit::util
