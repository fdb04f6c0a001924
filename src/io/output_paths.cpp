#include "physfit/io/output_paths.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"

namespace physfit::io {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(path, ec);
  if (ec) p = std::filesystem::absolute(path, ec).lexically_normal();
  return p.string();
}

std::string named(const NamedPath& p) { return p.option.empty() ? std::string() : p.option + " "; }

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  const bool ea = ::stat(a.c_str(), &sa) == 0;
  const bool eb = ::stat(b.c_str(), &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return false;  // one exists, the other does not
  return canonical(a) == canonical(b);
}

void check_replaceable(const std::string& path, const std::string& option) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  throw UsageError("cannot write " + (option.empty() ? std::string() : option + " ") + "'" + path +
                   "': it is " + kind_of(st.st_mode) +
                   "; only a regular file is ever replaced: give the path of a file");
}

void check_output_paths(const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs) {
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const NamedPath& out = outputs[k];
    if (out.path.empty()) continue;
    check_replaceable(out.path, out.option);
    for (const NamedPath& in : inputs) {
      if (in.path.empty() || !same_file(in.path, out.path)) continue;
      throw UsageError("the output " + named(out) + "'" + out.path + "' is the input " + named(in) +
                       "'" + in.path +
                       "': writing it would destroy the input; give another output path");
    }
    for (std::size_t j = 0; j < k; ++j) {
      const NamedPath& other = outputs[j];
      if (other.path.empty() || !same_file(other.path, out.path)) continue;
      throw UsageError("the outputs " + named(other) + "'" + other.path + "' and " + named(out) +
                       "'" + out.path + "' are the same file; give different paths");
    }
  }
}

void check_output_paths(const mpi::Comm& comm, const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs) {
  mpi::guarded(comm, [&] {
    if (comm.is_root()) check_output_paths(inputs, outputs);
  });
}

}  // namespace physfit::io
