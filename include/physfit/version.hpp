#pragma once
/// @file
/// Version of the physfit library and the source it was built from.

namespace physfit {

/// "0.1.0"
const char* version();
/// The git commit the library was built from ("3f2a9c1d0b7e", "+dirty" appended when the
/// work tree had changes, "unknown" outside a git checkout).
const char* git_hash();

}  // namespace physfit
