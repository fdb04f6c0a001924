#pragma once
/// @file
/// Datasets for training, in the layout `physfit import` writes:
///
/// | dataset     | type            | shape        | attributes                              |
/// |-------------|-----------------|--------------|-----------------------------------------|
/// | `/features` | uint8 or float32 | [N, ...]    | `scale`, `offset` (float64): the model's input
/// is stored * scale + offset | | `/labels`   | int32           | [N]          | `classes` (int64):
/// classification      | | `/targets`  | float32         | [N, T]       | regression (instead of
/// /labels)         |
///
/// [N, H, W] features are H x W x 1 images, [N, H, W, C] are H x W x C (channels last), [N, F]
/// are vectors of F features.
///
/// Bit-packed features (what `physfit generate ising` writes): `/features` uint8 [N, B] with the
/// string attribute `packing = "bits"` and `sample_shape` (int64 [F], [H, W] or [H, W, C]):
/// value k of a sample (row-major in sample_shape) is bit k % 8 (least significant first) of
/// byte k / 8, B = ceil(size / 8), and the model's input is bit * scale + offset (scale 2,
/// offset -1: spins +-1). Rows stay packed in memory and are unpacked per micro-batch.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/mpi/comm.hpp"
#include "physfit/nn/layer.hpp"

namespace physfit::nn {

/// Records (see DataInfo::record_bytes()) of the rows [first, first + count) of a dataset, held
/// in memory instead of read from a file: the Python module's arrays (python/nn.cpp).
struct MemoryRows {
  std::int64_t first = 0;
  std::int64_t count = 0;
  std::vector<unsigned char> records;
};

/// The layout of a dataset file.
struct DataInfo {
  std::string path;
  std::int64_t rows = 0;
  Shape sample;        ///< shape of one sample
  bool uint8 = false;  ///< features stored as uint8 (else read as float32)
  bool bits = false;   ///< features packed one bit per value (uint8 [N, feature_bytes()])
  double scale = 1.0;  ///< input = stored * scale + offset
  double offset = 0.0;
  bool classification = true;
  int classes = 0;          ///< classification: number of classes
  int targets = 0;          ///< regression: targets per sample
  bool has_outputs = true;  ///< false: features only (data to predict)
  /// Set: the rows this rank reads are these, in memory (RecordReader opens no file, and a
  /// row outside them is an internal error); `path` then only names the data in messages.
  std::shared_ptr<const MemoryRows> memory;
  /// Bytes of the stored features of one sample.
  std::int64_t feature_bytes() const {
    return bits ? (sample.size() + 7) / 8 : sample.size() * (uint8 ? 1 : 4);
  }
  /// Bytes of one record in memory: the stored features, then the label (int32) or targets.
  std::int64_t record_bytes() const {
    return feature_bytes() + (has_outputs ? (classification ? 4 : 4 * targets) : 0);
  }
};

/// Opens `path` on this rank and checks its layout; IoError naming the file and dataset if
/// something is missing or malformed. Without `require_outputs`, a file with /features only is
/// accepted (has_outputs false: data to predict).
DataInfo inspect_data(const std::string& path, bool require_outputs = true);

/// Reads rows of a dataset as records (see DataInfo::record_bytes()), checking labels and
/// targets. Each rank opens the file itself (read-only, POSIX driver), so this is not
/// collective.
///
/// When /features and /labels (or /targets) are contiguous datasets stored exactly in their
/// memory types (what `physfit import` and `physfit generate` write), rows are read with
/// pread() at the datasets' offsets in the file (direct()): no HDF5 call, so a reader may run
/// on a thread of its own while the main thread uses HDF5 (which is not thread-safe here), and
/// scattered rows cost one system call per span instead of an HDF5 selection each.
class RecordReader {
 public:
  explicit RecordReader(const DataInfo& info);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;
  const DataInfo& info() const { return info_; }
  /// True when rows are read with pread() and no HDF5 call (see the class).
  bool direct() const { return fd_ >= 0; }
  /// Reads `count` records starting at row `begin` into `out` (count * record_bytes()).
  void read(std::int64_t begin, std::int64_t count, unsigned char* out);
  /// Reads the records of rows `ids[0..n)` (sorted, distinct) into `out`, in that order.
  /// Wanted rows less than kGapBytes of features apart are read as one span (at most
  /// kSpanBytes), so a random subset of a large file costs a read per cluster, not per row.
  void read_ids(const std::int64_t* ids, std::size_t n, unsigned char* out);

  static constexpr std::int64_t kGapBytes = 4096;      ///< a page: about one system call
  static constexpr std::int64_t kSpanBytes = 1 << 20;  ///< largest span read at once

 private:
  // Reads rows [begin, begin + count) into features_tmp_ and outputs_tmp_.
  void fetch(std::int64_t begin, std::int64_t count);
  // Copies row `r` of the fetched rows (file row `row`) into the record `out` and checks it.
  void assemble(std::int64_t r, std::int64_t row, unsigned char* out) const;
  void pread_all(std::int64_t offset, std::int64_t bytes, unsigned char* out) const;
  // The record of row `row` in DataInfo::memory (Error if this rank does not hold it).
  const unsigned char* memory_row(std::int64_t row) const;

  DataInfo info_;
  io::File file_;
  io::Dataset features_;
  io::Dataset outputs_;
  int fd_ = -1;
  std::int64_t features_offset_ = -1;
  std::int64_t outputs_offset_ = -1;
  std::vector<unsigned char> features_tmp_;
  std::vector<unsigned char> outputs_tmp_;
};

/// **Collective.** Moves records between ranks: this rank holds the records of rows
/// [held_first, held_first + held_count) of a dataset (`held`: held_count * record_bytes
/// bytes) and gets those of rows [want_first, want_first + want_count), which the ranks
/// together must hold (each row on one rank). One MPI_Alltoallv; IoError if a wanted row is
/// held by no rank.
MemoryRows exchange_rows(const mpi::Comm& comm, std::int64_t record_bytes,
                         const unsigned char* held, std::int64_t held_first,
                         std::int64_t held_count, std::int64_t want_first, std::int64_t want_count);

/// Turns records into a model input batch (features x n, column per sample), and labels or
/// targets (left alone for data without outputs). Never allocates.
void unpack_records(const DataInfo& info, const unsigned char* const* records, int n, float* x,
                    std::int32_t* labels, float* targets);

}  // namespace physfit::nn
