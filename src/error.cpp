#include "physfit/error.hpp"

#include <boost/program_options/errors.hpp>
#include <new>

namespace physfit {

const char* exit_code_name(ExitCode code) noexcept {
  switch (code) {
    case ExitCode::kOk:
      return "ok";
    case ExitCode::kInternal:
      return "internal";
    case ExitCode::kUsage:
      return "usage";
    case ExitCode::kStopped:
      return "stopped";
    case ExitCode::kIo:
      return "io";
    case ExitCode::kNumerical:
      return "numerical";
    case ExitCode::kParallel:
      return "parallel";
  }
  return "internal";
}

ExitCode exit_code_of(const std::exception& e) noexcept {
  if (const auto* ours = dynamic_cast<const Error*>(&e)) return ours->code();
  if (dynamic_cast<const boost::program_options::error*>(&e)) return ExitCode::kUsage;
  return ExitCode::kInternal;
}

ExitCode exit_code_of(const std::exception_ptr& e) noexcept {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return exit_code_of(ex);
  } catch (...) {
  }
  return ExitCode::kInternal;
}

std::string message_of(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc)";
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception";
}

}  // namespace physfit
