#include "physfit/io/temporary.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

namespace physfit::io {
namespace {

// The registry is plain static storage so that a signal handler may read it: a slot's path is
// written before the slot is marked used, and unmarked before it is reused.
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
volatile sig_atomic_t g_used[kSlots];

const std::string& host_name() {
  static const std::string host = [] {
    char buffer[256] = {0};
    if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return std::string();
    std::string h(buffer);
    for (char& c : h) {
      if (c == '/') c = '_';
    }
    return h;
  }();
  return host;
}

extern "C" void on_fatal_signal(int signal) {
  remove_registered_temporaries();
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

std::string temporary_name(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + host_name();
}

void register_temporary(const std::string& temporary) noexcept {
  if (temporary.size() >= kPathMax) return;
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[i]) continue;
    std::memcpy(g_paths[i], temporary.c_str(), temporary.size() + 1);
    g_used[i] = 1;
    return;
  }
}

void unregister_temporary(const std::string& temporary) noexcept {
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[i] && temporary == g_paths[i]) g_used[i] = 0;
  }
}

void discard_temporary(const std::string& temporary) noexcept {
  ::unlink(temporary.c_str());
  unregister_temporary(temporary);
}

void remove_registered_temporaries() noexcept {
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[i]) {
      ::unlink(g_paths[i]);
      g_used[i] = 0;
    }
  }
}

int remove_stale_temporaries(const std::string& path) {
  if (host_name().empty()) return 0;
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
  const std::string suffix = "-" + host_name();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid()) continue;
    // Dead only if the kernel says there is no such process (EPERM: it exists, another user's).
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

void remove_temporaries_on_fatal_signals() {
  host_name();  // computed now, not in a handler
  for (const int s : {SIGTERM, SIGHUP, SIGINT}) {
    struct sigaction current {};
    if (::sigaction(s, nullptr, &current) != 0) continue;
    if (current.sa_handler != SIG_DFL) continue;  // ignored or handled by someone else: keep
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    ::sigaction(s, &action, nullptr);
  }
}

}  // namespace physfit::io
