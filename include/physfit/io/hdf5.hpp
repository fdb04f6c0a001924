#pragma once
/// @file
/// HDF5 through its C API behind small RAII handles (the C++ API is absent from parallel
/// builds). HDF5's own error-stack printing is switched off; every failure becomes an IoError
/// naming the file, the object and what HDF5 said.
///
/// Files opened with a communicator use the MPI-IO driver. On them, creating and closing
/// objects, writing attributes and (in physfit) every read and write of rows are
/// **Collective**: all ranks of the communicator call them in the same order, a rank with no
/// rows passes a count of 0.
///
/// Arrays are row-major (C order): the first dimension is the row (sample, configuration,
/// force component), and row-block reads give each rank a contiguous slab.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "physfit/error.hpp"
#include "physfit/mpi/comm.hpp"

namespace physfit::io {

/// Turns off HDF5's printing of its error stack (physfit reports errors itself). Idempotent;
/// called by every function here that opens something.
void hdf5_initialize();

/// **Collective** over the ranks that share parallel files. Closes every HDF5 object this
/// process still has open (the objects of parallel files an error left open while unwinding:
/// see Handle) and ends the HDF5 library, so that nothing is left for MPI_Finalize to close (a
/// file that cannot be flushed, on a full disk, then crashes HDF5's clean-up inside
/// MPI_Finalize). Call it where every rank knows the outcome: after a command has succeeded or
/// failed collectively. Returns the number of files it closed. Never throws.
int hdf5_finish() noexcept;

/// Owns one HDF5 identifier. During stack unwinding, identifiers of objects in parallel files
/// are not closed (closing is collective and the other ranks may not be unwinding);
/// hdf5_finish() closes them before MPI is finalised.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer, bool collective = false);
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; throws IoError if HDF5 reports a failure (flushing a file can fail).
  void close(const std::string& what = "object");

 private:
  void release() noexcept;
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
  bool collective_ = false;
  int uncaught_at_creation_ = 0;
};

/// The HDF5 memory type of T.
template <class T>
hid_t native_type() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, double>) {
    return H5T_NATIVE_DOUBLE;
  } else if constexpr (std::is_same_v<U, float>) {
    return H5T_NATIVE_FLOAT;
  } else if constexpr (std::is_same_v<U, std::int8_t>) {
    return H5T_NATIVE_INT8;
  } else if constexpr (std::is_same_v<U, std::uint8_t>) {
    return H5T_NATIVE_UINT8;
  } else if constexpr (std::is_same_v<U, std::int16_t>) {
    return H5T_NATIVE_INT16;
  } else if constexpr (std::is_same_v<U, std::int32_t>) {
    return H5T_NATIVE_INT32;
  } else if constexpr (std::is_same_v<U, std::uint32_t>) {
    return H5T_NATIVE_UINT32;
  } else if constexpr (std::is_same_v<U, std::int64_t> || std::is_same_v<U, long long>) {
    return H5T_NATIVE_INT64;
  } else if constexpr (std::is_same_v<U, std::uint64_t> || std::is_same_v<U, unsigned long long>) {
    return H5T_NATIVE_UINT64;
  } else {
    static_assert(sizeof(U) == 0, "physfit::io::native_type: unsupported element type");
    return -1;
  }
}

/// A short name of an HDF5 datatype: "float64", "int32", "uint8", "string", "compound"...
std::string dtype_name(hid_t type);

class Dataset;
class Group;

/// An HDF5 file, serial or parallel.
class File {
 public:
  enum class Mode { kRead, kReadWrite };

  /// Opens an existing file on this rank only (POSIX driver).
  static File open(const std::string& path, Mode mode = Mode::kRead);
  /// **Collective.** Opens an existing file on every rank of `comm` (MPI-IO driver).
  static File open(const mpi::Comm& comm, const std::string& path, Mode mode = Mode::kRead);
  /// Creates (truncates) a file on this rank only.
  static File create(const std::string& path);
  /// **Collective.** Creates (truncates) a file on every rank of `comm`.
  static File create(const mpi::Comm& comm, const std::string& path);

  File() = default;
  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.id(); }
  bool parallel() const { return parallel_; }
  bool is_open() const { return handle_.valid(); }

  /// True if an object exists at `path` (each component checked, so "/a/b" with no "/a" is
  /// false rather than an error).
  bool exists(const std::string& path) const;
  /// Opens an existing dataset; IoError naming the file and dataset if absent.
  Dataset dataset(const std::string& name) const;
  /// Creates a dataset of element type T and the given shape, creating missing groups, with
  /// its `unit` attribute: the unit of its values ("angstrom", "eV/angstrom^2", "THz", "s"),
  /// or "dimensionless" for counts, indices, labels, ratios and names. Every dataset physfit
  /// writes says its unit; an empty `unit` is an Error. **Collective** on parallel files.
  template <class T>
  Dataset create_dataset(const std::string& name, const std::vector<std::int64_t>& shape,
                         const std::string& unit) const;
  /// Creates a 1-D dataset of strings (fixed length: the longest, UTF-8, null-padded; h5py
  /// reads it with `.asstr()`; `unit` as for create_dataset) and writes `values`.
  /// **Collective** on parallel files: every rank passes the same values, rank 0's are written.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values,
                        const std::string& unit = "dimensionless") const;
  /// Creates a group and any missing parents. **Collective** on parallel files.
  Group create_group(const std::string& name) const;
  /// Opens an existing group ("/" for the root).
  Group group(const std::string& name) const;

  /// Closes every object still open in the file, then flushes and closes it; throws IoError
  /// on failure. Dataset and Group objects of the file are unusable afterwards.
  /// **Collective** on parallel files.
  void close();

 private:
  Dataset create_dataset_typed(const std::string& name, const std::vector<std::int64_t>& shape,
                               hid_t type, const std::string& unit) const;
  // Throws IoError when a dataset of a read-only file declares more bytes than the file stores.
  void check_stored(hid_t id, const Dataset& d, const std::string& where) const;
  Handle handle_;
  std::string path_;
  bool parallel_ = false;
  int rank_ = 0;  // rank in the file's communicator (0 for serial files)
};

/// A group; attributes can be attached to it.
class Group {
 public:
  hid_t id() const { return handle_.id(); }
  const std::string& name() const { return name_; }
  const std::string& file_path() const { return file_path_; }

 private:
  friend class File;
  Handle handle_;
  std::string name_;
  std::string file_path_;
};

/// An N-dimensional dataset. Rows are the first dimension.
class Dataset {
 public:
  hid_t id() const { return handle_.id(); }
  const std::string& name() const { return name_; }
  const std::string& file_path() const { return file_path_; }
  bool parallel() const { return parallel_; }

  /// Dimensions (empty for a scalar).
  const std::vector<std::int64_t>& shape() const { return shape_; }
  /// Size of the first dimension (1 for a scalar).
  std::int64_t rows() const { return shape_.empty() ? 1 : shape_[0]; }
  /// Elements per row: the product of all dimensions but the first.
  std::int64_t row_size() const;
  /// Total number of elements.
  std::int64_t size() const;
  /// "float64", "uint8", ...
  std::string dtype() const;

  /// Throws IoError naming the file and dataset unless the dataset has `rank` dimensions.
  void require_rank(int rank) const;
  /// Throws IoError unless the shape matches; -1 in `shape` matches any size.
  void require_shape(const std::vector<std::int64_t>& shape) const;

  /// Reads rows [begin, begin + count) into `out` (count * row_size() elements), converting
  /// to T. **Collective** on parallel files (a rank with no rows passes count = 0).
  template <class T>
  void read_rows(std::int64_t begin, std::int64_t count, T* out) const {
    transfer_rows(false, begin, count, out, native_type<T>());
  }
  template <class T>
  std::vector<T> read_rows(std::int64_t begin, std::int64_t count) const {
    std::vector<T> out(static_cast<std::size_t>(count * row_size()));
    read_rows(begin, count, out.data());
    return out;
  }
  /// Reads the whole dataset. **Collective** on parallel files.
  template <class T>
  std::vector<T> read_all() const {
    std::vector<T> out(static_cast<std::size_t>(size()));
    transfer_rows(false, 0, rows(), out.data(), native_type<T>());
    return out;
  }
  /// Reads a 1-D dataset of strings, fixed or variable length (trailing NULs and, for
  /// space-padded strings, spaces removed). IoError naming file and dataset if it is not one.
  /// **Collective** on parallel files.
  std::vector<std::string> read_strings() const;
  /// Writes rows [begin, begin + count) from `data`. **Collective** on parallel files.
  template <class T>
  void write_rows(std::int64_t begin, std::int64_t count, const T* data) const {
    transfer_rows(true, begin, count, const_cast<T*>(data), native_type<T>());
  }
  /// Writes the whole dataset. **Collective** on parallel files: every rank passes the same
  /// data, rank 0's is written.
  template <class T>
  void write_all(const std::vector<T>& data) const;

  /// The byte offset in the file of the dataset's elements when they can be read without
  /// HDF5: contiguous layout (no chunks, hence no filters), no external storage, space
  /// allocated, and elements stored exactly as T (native byte order and size). Row r is then
  /// row_size() * sizeof(T) bytes at offset + r * that. -1 otherwise.
  template <class T>
  std::int64_t raw_offset() const {
    return raw_offset_as(native_type<T>());
  }

 private:
  friend class File;
  std::int64_t raw_offset_as(hid_t type) const;
  // Reads or writes rows [begin, begin + count) through a hyperslab (collective I/O on
  // parallel files); HDF5 converts between `type` and the dataset's type.
  void transfer_rows(bool write, std::int64_t begin, std::int64_t count, void* buffer,
                     hid_t type) const;
  std::string where() const;

  Handle handle_;
  std::string name_;
  std::string file_path_;
  std::vector<std::int64_t> shape_;
  bool parallel_ = false;
  int rank_ = 0;
};

template <class T>
void Dataset::write_all(const std::vector<T>& data) const {
  if (static_cast<std::int64_t>(data.size()) != size()) {
    throw Error("write_all: " + std::to_string(data.size()) + " values for " + where() + " of " +
                std::to_string(size()) + " elements");
  }
  write_rows(0, rank_ == 0 ? rows() : 0, data.data());
}

template <class T>
Dataset File::create_dataset(const std::string& name, const std::vector<std::int64_t>& shape,
                             const std::string& unit) const {
  return create_dataset_typed(name, shape, native_type<T>(), unit);
}

/// Attributes of a file's root group, a group or a dataset (`object` is its id). Writing is
/// **Collective** on parallel files, with the same value on every rank.
void set_attribute(hid_t object, const std::string& name, const std::string& value);
void set_attribute(hid_t object, const std::string& name, const char* value);
void set_attribute(hid_t object, const std::string& name, std::int64_t value);
void set_attribute(hid_t object, const std::string& name, double value);
void set_attribute(hid_t object, const std::string& name, const std::vector<double>& values);
void set_attribute(hid_t object, const std::string& name, const std::vector<std::int64_t>& values);
bool has_attribute(hid_t object, const std::string& name);
/// Reads a string attribute (fixed or variable length); IoError if absent or not a string.
std::string get_string_attribute(hid_t object, const std::string& name);
/// Reads a numeric attribute converted to double (all elements).
std::vector<double> get_numeric_attribute(hid_t object, const std::string& name);
/// Reads a scalar integer attribute.
std::int64_t get_int_attribute(hid_t object, const std::string& name);

namespace detail {
/// The innermost messages of HDF5's current error stack, then clears it.
std::string hdf5_error_text();
/// Throws IoError("<what>: <HDF5 detail>") if `status` < 0.
void check(long long status, const std::string& what);
}  // namespace detail

}  // namespace physfit::io
