#include "physfit/io/atomic_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "physfit/error.hpp"
#include "physfit/io/output_paths.hpp"
#include "physfit/io/temporary.hpp"

namespace physfit::io {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

namespace {

StagedOutputs* g_staged = nullptr;  // the active staging of this process, if any

void rename_now(const std::string& temporary, const std::string& path) {
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    discard_temporary(temporary);
    throw IoError("cannot rename '" + temporary + "' to '" + path + "': " + why);
  }
  unregister_temporary(temporary);
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
  for (const auto& f : files_) discard_temporary(f.first);
}

void StagedOutputs::commit() {
  if (g_staged == this) g_staged = nullptr;
  std::vector<std::pair<std::string, std::string>> files;
  files.swap(files_);
  for (std::size_t k = 0; k < files.size(); ++k) {
    try {
      rename_now(files[k].first, files[k].second);
    } catch (...) {
      for (std::size_t j = k + 1; j < files.size(); ++j) discard_temporary(files[j].first);
      throw;
    }
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  check_replaceable(path);  // a device, folder, socket or FIFO is never replaced
  remove_stale_temporaries(path);
  const std::string temporary = temporary_name(path);
  register_temporary(temporary);  // before it exists: removed even if a signal comes now
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    unregister_temporary(temporary);
    throw IoError("cannot write '" + path + "': " + why);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      discard_temporary(temporary);
      throw IoError("cannot write '" + path + "': " + reason);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = synced ? "" : std::strerror(errno);
  if (::close(fd) != 0 || !synced) {
    discard_temporary(temporary);
    throw IoError("cannot write '" + path + "': " + (synced ? std::strerror(errno) : reason));
  }
  publish_file(temporary, path);
}

}  // namespace physfit::io
