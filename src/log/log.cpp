#include "physfit/log/log.hpp"

#include <iostream>
#include <mutex>

#include "physfit/error.hpp"

namespace physfit::log {
namespace {

Settings g_settings;
std::mutex g_mutex;

std::ostream& out_stream() { return g_settings.out ? *g_settings.out : std::cout; }
std::ostream& err_stream() { return g_settings.err ? *g_settings.err : std::cerr; }

}  // namespace

Level parse_level(const std::string& name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warning") return Level::kWarning;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  throw UsageError("bad log level '" + name + "': expected debug, info, warning, error or off");
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

void configure(const Settings& settings) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_settings = settings;
}

const Settings& settings() { return g_settings; }

bool enabled(Level level) {
  if (level < g_settings.level || level == Level::kOff) return false;
  if (level == Level::kInfo) return g_settings.rank == 0;
  return true;
}

std::string rank_tag(int rank) {
  return g_settings.size > 1 ? "[rank " + std::to_string(rank) + "] " : std::string();
}

void write(Level level, const std::string& message) {
  std::string line;
  if (level == Level::kInfo) {
    line = message + "\n";
  } else {
    line = rank_tag(g_settings.rank) + level_name(level) + ": " + message + "\n";
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  std::ostream& s = level == Level::kInfo ? out_stream() : err_stream();
  s << line;
  s.flush();
}

}  // namespace physfit::log
