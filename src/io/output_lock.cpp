#include "physfit/io/output_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/temporary.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::io {
namespace {

// "process 123 on host node7", from the lock file's text and the kernel's idea of the holder.
std::string holder_of(int fd) {
  char buffer[512] = {0};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  std::string text = n > 0 ? util::trim(std::string(buffer, static_cast<std::size_t>(n))) : "";
  const auto space = text.find(' ');
  if (!text.empty() && space != std::string::npos && text.find('\n') == std::string::npos) {
    return "process " + text.substr(space + 1) + " on host " + text.substr(0, space);
  }
  struct flock query {};
  query.l_type = F_WRLCK;
  query.l_whence = SEEK_SET;
  if (::fcntl(fd, F_GETLK, &query) == 0 && query.l_type != F_UNLCK && query.l_pid > 0) {
    return "process " + std::to_string(query.l_pid) + " (on this host or, over NFS, another)";
  }
  return "another process";
}

// Locks `lock` (kept open in `fd`); false if the file system cannot lock or the lock file
// cannot be made (the output's own writing will say why, if it matters).
bool lock_one(const std::string& output, const std::string& lock, OutputLocks::Mode mode,
              int& fd_out) {
  for (;;) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      log::debug("not locking '", output, "': cannot open '", lock, "': ", std::strerror(errno));
      return false;
    }
    struct flock request {};
    request.l_type = F_WRLCK;
    request.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &request) != 0) {
      const int error = errno;
      if (error != EACCES && error != EAGAIN) {
        ::close(fd);
        log::warning("cannot lock '", lock, "' (", std::strerror(error), "): another job writing '",
                     output, "' at the same time would not be seen");
        return false;
      }
      const std::string holder = holder_of(fd);
      if (mode == OutputLocks::Mode::kFail) {
        ::close(fd);
        throw IoError("cannot write '" + output + "': another job is writing it (" + holder +
                      " holds '" + lock +
                      "'); wait until it ends, or pass --output-lock wait "
                      "to wait for it");
      }
      log::info("waiting for ", holder, " to finish writing '", output, "' (it holds '", lock,
                "')");
      while (::fcntl(fd, F_SETLKW, &request) != 0) {
        if (errno == EINTR) continue;
        const int e = errno;
        ::close(fd);
        throw IoError("cannot wait for the lock '" + lock + "' of '" + output +
                      "': " + std::strerror(e));
      }
    }
    // The previous holder removes the file as it releases it: a lock on a file that no longer
    // has this name locks nothing; start again.
    struct stat mine {
    }, named{};
    if (::fstat(fd, &mine) == 0 && ::stat(lock.c_str(), &named) == 0 &&
        mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
      const std::string text = util::host_name() + " " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] const ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
      }
      fd_out = fd;
      return true;
    }
    ::close(fd);
  }
}

}  // namespace

std::string lock_file_of(const std::string& path) { return path + ".lock"; }

OutputLocks::OutputLocks(const mpi::Comm& comm, const std::vector<std::string>& paths, Mode mode) {
  mpi::guarded(comm, [&] {
    if (!comm.is_root()) return;
    try {
      for (const auto& path : paths) {
        if (path.empty()) continue;
        struct stat st {};
        if (::stat(directory_of(path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        const std::string lock = lock_file_of(path);
        bool seen = false;
        for (const auto& h : held_) seen = seen || h.path == lock;
        if (seen) continue;
        int fd = -1;
        if (lock_one(path, lock, mode, fd)) {
          held_.push_back({lock, fd});
          register_temporary(lock);  // removed by an abort or a fatal signal too
        }
      }
    } catch (...) {
      for (const auto& h : held_) {
        discard_temporary(h.path);
        ::close(h.fd);
      }
      held_.clear();
      throw;
    }
  });
  // Every rank knows the lock files: whichever rank aborts the job removes them.
  std::string names;
  for (const auto& h : held_) names += h.path + '\n';
  comm.broadcast(names, 0);
  if (comm.is_root()) return;
  for (std::size_t start = 0, end; (end = names.find('\n', start)) != std::string::npos;
       start = end + 1) {
    others_.push_back(names.substr(start, end - start));
    register_temporary(others_.back());
  }
}

OutputLocks::~OutputLocks() {
  // While an error unwinds, the names stay registered: if this rank's error ends the job
  // through MPI_Abort, it removes the lock files of rank 0 (which is killed).
  if (std::uncaught_exceptions() == 0) {
    for (const auto& name : others_) unregister_temporary(name);
  }
  // Removed while still held, so that nobody locks the old file after we let it go.
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    discard_temporary(it->path);
    ::close(it->fd);
  }
}

std::vector<std::string> OutputLocks::files() const {
  std::vector<std::string> out;
  for (const auto& h : held_) out.push_back(h.path);
  return out;
}

}  // namespace physfit::io
