#include "physfit/io/output_paths.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
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
  // An input that is missing or a folder: the error names the option it came from.
  for (const NamedPath& in : inputs) {
    struct stat st {};
    if (in.path.empty()) continue;
    if (::stat(in.path.c_str(), &st) != 0) {
      const int err = errno;
      throw IoError(named(in) + "'" + in.path + "': " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      throw IoError(named(in) + "'" + in.path + "' is a folder, not a file");
    }
  }
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

void make_output_folders(const std::vector<NamedPath>& outputs, std::vector<std::string>& made) {
  for (const NamedPath& out : outputs) {
    if (out.path.empty()) continue;
    const std::filesystem::path folder = std::filesystem::path(out.path).parent_path();
    if (folder.empty()) continue;
    std::vector<std::filesystem::path> missing;
    for (std::filesystem::path p = folder; !p.empty(); p = p.parent_path()) {
      std::error_code ec;
      if (std::filesystem::exists(p, ec)) break;
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      std::error_code ec;
      if (!std::filesystem::create_directory(*it, ec) || ec) {
        throw IoError(named(out) + "'" + out.path + "': cannot create the folder '" + it->string() +
                      "' (" + (ec ? ec.message() : std::string("a file of that name exists")) +
                      ")");
      }
      made.push_back(it->string());
    }
  }
}

void remove_empty_folders(const std::vector<std::string>& made) {
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    std::error_code ec;
    if (std::filesystem::is_empty(*it, ec) && !ec) std::filesystem::remove(*it, ec);
  }
}

void check_output_paths(const mpi::Comm& comm, const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs) {
  mpi::guarded(comm, [&] {
    if (comm.is_root()) check_output_paths(inputs, outputs);
  });
}

}  // namespace physfit::io
