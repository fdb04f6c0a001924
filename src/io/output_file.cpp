#include "physfit/io/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/output_paths.hpp"
#include "physfit/io/temporary.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"

namespace physfit::io {
namespace {

void check_writable_destination(const std::string& path) {
  const std::string dir = directory_of(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    throw IoError("cannot write '" + path + "': directory '" + dir + "' " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw IoError("cannot write '" + path + "': '" + dir + "' is not a directory");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw IoError("cannot write '" + path + "': directory '" + dir + "' is not writable");
  }
  check_replaceable(path);  // a device, folder, socket or FIFO is never replaced
}

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return;  // best effort: durability, not correctness
  ::fsync(fd);
  ::close(fd);
}

// HDF5 1.10 cannot close a parallel (MPI-IO) file whose metadata it fails to flush: the failed
// H5Fclose frees the file but keeps its identifier, and the library's clean-up then crashes
// (a segfault inside MPI_Finalize on a full disk). So a parallel file keeps room for its
// metadata beside it, released just before it is closed; a disk without that room is an error
// before the file is made.
constexpr off_t kMetadataRoom = 1 << 20;

void reserve_room(const std::string& path, const std::string& reserve) {
  register_temporary(reserve);
  const int fd = ::open(reserve.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int error = fd < 0 ? errno : ::posix_fallocate(fd, 0, kMetadataRoom);
  if (fd >= 0 && ::close(fd) != 0 && error == 0) error = errno;
  if (error == EOPNOTSUPP || error == EINVAL) error = 0;  // no fallocate here: no guarantee
  if (error != 0) {
    discard_temporary(reserve);
    throw IoError("cannot write '" + path + "': " + std::strerror(error) +
                  " (no room for a parallel HDF5 file's metadata in '" + directory_of(path) +
                  "'); free space there or write elsewhere");
  }
}

// Flushes the temporary file to disk and renames it over the destination (rank 0), now or at
// the commit of the active io::StagedOutputs.
void publish(const std::string& temporary, const std::string& path) {
  sync_path(temporary, O_RDONLY);
  publish_file(temporary, path);
}

}  // namespace

OutputFile::OutputFile(const mpi::Comm& comm, const std::string& path, const Provenance& provenance,
                       Writers writers)
    : comm_(comm), path_(path), writers_(writers) {
  mpi::guarded(comm_, [&] {
    if (!comm_.is_root()) return;
    check_writable_destination(path_);
    remove_stale_temporaries(path_);
    temporary_ = temporary_name(path_);
    if (writers_ == Writers::kAllRanks) reserve_room(path_, temporary_ + ".reserve");
    register_temporary(temporary_);
  });
  comm_.broadcast(temporary_, 0);
  // Every rank of a parallel file knows its name: whichever rank aborts the job removes it.
  if (writers_ == Writers::kAllRanks && !comm_.is_root()) {
    register_temporary(temporary_);
    register_temporary(temporary_ + ".reserve");
  }

  try {
    if (writers_ == Writers::kAllRanks) {
      file_ = File::create(comm_, temporary_);
      // Attribute writes on a parallel file are collective; their errors are the same on
      // every rank, and an HDF5 failure here is rare enough to end the job if it is not.
      mpi::guarded(comm_, [&] { write_provenance(file_, provenance); });
    } else {
      mpi::guarded(comm_, [&] {
        if (!comm_.is_root()) return;
        file_ = File::create(temporary_);
        write_provenance(file_, provenance);
      });
    }
  } catch (...) {
    // The destructor does not run for an object whose constructor failed.
    file_ = File();
    if (comm_.is_root()) {
      discard_temporary(temporary_ + ".reserve");
      discard_temporary(temporary_);
    }
    unregister_temporary(temporary_);
    unregister_temporary(temporary_ + ".reserve");
    throw;
  }
  log::debug("writing '", temporary_, "'");
}

void OutputFile::commit() {
  if (committed_) return;
  if (writers_ == Writers::kAllRanks) {
    if (comm_.is_root()) discard_temporary(temporary_ + ".reserve");
    comm_.barrier();
    mpi::guarded(comm_, [&] { file_.close(); });  // H5Fclose is collective: every rank calls it
    mpi::guarded(comm_, [&] {
      if (comm_.is_root()) publish(temporary_, path_);
    });
  } else {
    mpi::guarded(comm_, [&] {
      if (!comm_.is_root()) return;
      file_.close();
      publish(temporary_, path_);
    });
  }
  unregister_temporary(temporary_);
  unregister_temporary(temporary_ + ".reserve");
  committed_ = true;
}

OutputFile::~OutputFile() {
  if (committed_) return;
  // Handle decides whether closing is safe: objects of a parallel file are not closed while
  // unwinding (closing is collective; io::hdf5_finish closes them before MPI_Finalize).
  file_ = File();
  if (temporary_.empty()) return;
  if (comm_.is_root()) {
    // Room for the metadata HDF5 flushes when it closes the file (io::hdf5_finish).
    if (writers_ == Writers::kAllRanks) discard_temporary(temporary_ + ".reserve");
    discard_temporary(temporary_);
  } else if (std::uncaught_exceptions() == 0) {
    // While an error unwinds, the name stays registered: if this rank's error ends the job
    // through MPI_Abort, it removes the file rank 0 cannot (rank 0 is killed).
    unregister_temporary(temporary_);
    unregister_temporary(temporary_ + ".reserve");
  }
}

}  // namespace physfit::io
