#include "physfit/util/signal.hpp"

#include <csignal>

#include "physfit/error.hpp"

namespace physfit::util {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
constexpr int kSignals[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT};
struct sigaction g_previous[sizeof(kSignals) / sizeof(kSignals[0])];

extern "C" void on_stop_signal(int signal) {
  if (signal == SIGINT && g_stop_signal == SIGINT) {
    // Second Ctrl-C: the user wants out now.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop_signal = signal;
}

}  // namespace

StopHandlers::StopHandlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) {
    sigaction(kSignals[i], &action, &g_previous[i]);
  }
}

StopHandlers::~StopHandlers() {
  for (std::size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) {
    sigaction(kSignals[i], &g_previous[i], nullptr);
  }
}

int stop_signal() noexcept { return g_stop_signal; }

void clear_stop_request() noexcept { g_stop_signal = 0; }

void throw_if_stop_requested(const std::string& what) {
  const int signal = g_stop_signal;
  if (signal != 0)
    throw StoppedError(std::string("stopped by ") + signal_name(signal) + " " + what);
}

const char* signal_name(int signal) noexcept {
  switch (signal) {
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "signal";
  }
}

}  // namespace physfit::util
