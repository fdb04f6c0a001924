#pragma once
/// @file
/// Crash-safe writing of non-HDF5 files (text exports, PNG figures): the bytes go to a
/// temporary file next to the destination, are flushed to disk and renamed over it, so a
/// killed writer never leaves a half-written file under the real name.

#include <string>
#include <string_view>

namespace physfit::io {

/// Writes `bytes` to `path` atomically. Throws IoError naming the path on failure (missing or
/// unwritable directory, full disk); the temporary file is removed then.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace physfit::io
