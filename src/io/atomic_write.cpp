#include "physfit/io/atomic_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "physfit/error.hpp"
#include "physfit/io/output_paths.hpp"

namespace physfit::io {
namespace {

StagedOutputs* g_staged = nullptr;  // the active staging of this process, if any

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void rename_now(const std::string& temporary, const std::string& path) {
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temporary.c_str());
    throw IoError("cannot rename '" + temporary + "' to '" + path + "': " + why);
  }
  // Durability of the new name (best effort: correctness does not depend on it).
  const int fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void publish_file(const std::string& temporary, const std::string& path) {
  if (g_staged != nullptr) {
    for (const auto& f : g_staged->files_) {
      if (f.first == temporary) return;  // written again under the same name: staged once
    }
    g_staged->files_.emplace_back(temporary, path);
    return;
  }
  rename_now(temporary, path);
}

StagedOutputs::StagedOutputs() {
  if (g_staged != nullptr) throw Error("io::StagedOutputs: another staging is active");
  g_staged = this;
}

StagedOutputs::~StagedOutputs() {
  if (g_staged == this) g_staged = nullptr;
  for (const auto& f : files_) std::remove(f.first.c_str());
}

void StagedOutputs::commit() {
  if (g_staged == this) g_staged = nullptr;
  std::vector<std::pair<std::string, std::string>> files;
  files.swap(files_);
  for (std::size_t k = 0; k < files.size(); ++k) {
    try {
      rename_now(files[k].first, files[k].second);
    } catch (...) {
      for (std::size_t j = k + 1; j < files.size(); ++j) std::remove(files[j].first.c_str());
      throw;
    }
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  check_replaceable(path);  // a device, folder, socket or FIFO is never replaced
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      std::remove(temporary.c_str());
      throw IoError("cannot write '" + path + "': " + reason);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = synced ? "" : std::strerror(errno);
  if (::close(fd) != 0 || !synced) {
    std::remove(temporary.c_str());
    throw IoError("cannot write '" + path + "': " + (synced ? std::strerror(errno) : reason));
  }
  publish_file(temporary, path);
}

}  // namespace physfit::io
