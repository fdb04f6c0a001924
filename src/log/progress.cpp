#include "physfit/log/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>

#include "physfit/log/log.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::log {
namespace {

ProgressStyle resolve(ProgressStyle style) {
  if (!enabled(Level::kInfo)) return ProgressStyle::kOff;
  if (style != ProgressStyle::kAuto) return style;
  return isatty(fileno(stderr)) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

std::ostream& default_stream() { return settings().err ? *settings().err : std::cerr; }

}  // namespace

Progress::Progress(std::string label, std::int64_t total, ProgressStyle style)
    : Progress(std::move(label), total, resolve(style), default_stream(),
               settings().progress_interval) {}

Progress::Progress(std::string label, std::int64_t total, ProgressStyle style, std::ostream& stream,
                   double interval)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total, 0)),
      style_(style),
      stream_(&stream),
      interval_(interval),
      start_(util::now_seconds()),
      last_print_(start_) {}

Progress::~Progress() {
  if (std::uncaught_exceptions() == 0) {
    finish();
  } else if (printed_bar_) {
    *stream_ << '\n';  // leave the terminal on a fresh line for the error message
    stream_->flush();
  }
}

void Progress::update(std::int64_t done, const std::string& status) {
  if (style_ == ProgressStyle::kOff || finished_) return;
  done_ = std::min(done, total_);
  if (!status.empty()) status_ = status;
  const double now = util::now_seconds();
  const double wait = style_ == ProgressStyle::kBar ? 0.1 : interval_;
  if (now - last_print_ < wait) return;
  last_print_ = now;
  print(false);
}

void Progress::finish(const std::string& status) {
  if (style_ == ProgressStyle::kOff || finished_) return;
  if (!status.empty()) status_ = status;
  finished_ = true;
  // A plain line showing this very state was just printed: do not repeat it.
  if (style_ == ProgressStyle::kLines && printed_done_ == done_ && status.empty()) return;
  print(true);
}

void Progress::print(bool final_line) {
  const double elapsed = util::now_seconds() - start_;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, "%3.0f%% %lld/%lld, %.3g/s, elapsed %s", 100 * fraction,
                static_cast<long long>(done_), static_cast<long long>(total_), rate,
                util::format_duration(elapsed).c_str());
  std::string line = label_ + ": " + numbers;
  if (!final_line && rate > 0 && done_ < total_) {
    line += ", ETA " + util::format_duration((total_ - done_) / rate);
  }
  if (!status_.empty()) line += ", " + status_;

  if (style_ == ProgressStyle::kBar) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    std::string bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    *stream_ << '\r' << bar << line << "\033[K";
    if (final_line) *stream_ << '\n';
    printed_bar_ = !final_line;
  } else {
    *stream_ << line << '\n';
  }
  printed_done_ = done_;
  stream_->flush();
}

}  // namespace physfit::log
