#pragma once
/// @file
/// A readable listing of any HDF5 file: its groups and datasets with shapes and types, their
/// attributes, and physfit's provenance when present (`physfit inspect FILE.h5`).

#include <iosfwd>
#include <string>

#include "physfit/util/json.hpp"

namespace physfit::io {

/// Prints the tree of `path` to `out`: provenance first (if the file has it), then every
/// object in name order with its type, shape and attributes. `max_values` caps how many
/// values of a numeric attribute are shown.
void print_tree(const std::string& path, std::ostream& out, int max_values = 8);

/// The same content as JSON: {"file", "size_bytes", "provenance"?, "objects": [{"path",
/// "kind", "dtype", "shape", "attributes"}]}.
util::Json describe_file(const std::string& path, int max_values = 8);

}  // namespace physfit::io
