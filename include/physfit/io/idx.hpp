#pragma once
/// @file
/// IDX files (the MNIST / Fashion-MNIST format, LeCun et al.), plain or gzip-compressed: a
/// 4-byte magic number (0, 0, type, number of dimensions), the dimensions as big-endian
/// int32, then the data in C order, big-endian.

#include <cstdint>
#include <string>
#include <vector>

namespace physfit::io {

/// An IDX array. uint8 data stays in `bytes`; every other type is converted to `values`.
struct IdxArray {
  std::vector<std::int64_t> shape;
  std::string dtype;                ///< "uint8", "int8", "int16", "int32", "float32", "float64"
  std::vector<std::uint8_t> bytes;  ///< uint8 data
  std::vector<float> values;        ///< other types, converted
  std::int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
};

/// Reads an IDX file (gzip-compressed or not). Throws IoError naming the file and saying what
/// is wrong (missing, bad magic number, unknown type, truncated data, trailing bytes).
IdxArray read_idx(const std::string& path);

/// Writes an uncompressed IDX file of uint8 data (tests and examples).
void write_idx(const std::string& path, const std::vector<std::int64_t>& shape,
               const std::vector<std::uint8_t>& data);

}  // namespace physfit::io
