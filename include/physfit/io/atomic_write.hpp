#pragma once
/// @file
/// Crash-safe writing of non-HDF5 files (text exports, PNG figures): the bytes go to a
/// temporary file next to the destination, are flushed to disk and renamed over it, so a
/// killed writer never leaves a half-written file under the real name.
///
/// A command that writes several files (a model and its exports) makes them one commit with a
/// StagedOutputs: while it lives, every file published by this process (write_file_atomic,
/// publish_file, io::OutputFile) stays under its temporary name; commit() renames them all at
/// the end, and without commit() (an error) they are removed, so every previous file stays as
/// it was.
///
///     io::StagedOutputs staged;
///     write_model(...);                                   // fc.h5.tmp-PID-HOST
///     io::write_file_atomic(dir + "/FORCE_CONSTANTS", s);  // FORCE_CONSTANTS.tmp-PID-HOST
///     staged.commit();                                    // both renamed, or neither exists

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace physfit::io {

/// The folder of `path` as written: "." for a bare name, "/" for a file at the root.
std::string directory_of(const std::string& path);

/// Writes `bytes` to `path` atomically. Throws IoError naming the path on failure (missing or
/// unwritable directory, full disk); the temporary file is removed then. Throws UsageError if
/// `path` exists and is not a regular file (a device, folder, socket or FIFO is never replaced).
void write_file_atomic(const std::string& path, std::string_view bytes);

/// Renames the complete, flushed file `temporary` over `path` now, or, while a StagedOutputs is
/// active in this process, at its commit(). Throws IoError (and removes `temporary`) if the
/// rename fails.
void publish_file(const std::string& temporary, const std::string& path);

/// The files one command writes, committed together (see the file comment). One at a time per
/// process; not thread-safe. Each rank has its own (the files a rank publishes).
class StagedOutputs {
 public:
  StagedOutputs();
  /// Without commit(): removes every staged temporary file; the destinations are untouched.
  ~StagedOutputs();
  StagedOutputs(const StagedOutputs&) = delete;
  StagedOutputs& operator=(const StagedOutputs&) = delete;

  /// Renames every staged file over its destination, in the order they were published, and
  /// ends the staging. Throws IoError naming the file if a rename fails (the files not yet
  /// renamed are removed).
  void commit();

  /// The (temporary, destination) pairs staged so far.
  const std::vector<std::pair<std::string, std::string>>& files() const { return files_; }

 private:
  friend void publish_file(const std::string&, const std::string&);
  std::vector<std::pair<std::string, std::string>> files_;
  bool active_ = true;
};

}  // namespace physfit::io
