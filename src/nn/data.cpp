#include "physfit/nn/data.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"

namespace physfit::nn {

namespace {

// The most classes a label attribute may declare (scores are one int-indexed row per class).
constexpr std::int64_t kMaxClasses = std::numeric_limits<std::int32_t>::max();

// The attribute `name` of the features (`scale` or `offset`), `fallback` when it is absent: one
// finite number, else IoError naming the file and the value.
double scaling_attribute(const io::Dataset& x, const char* name, double fallback,
                         const std::string& where) {
  if (!io::has_attribute(x.id(), name)) return fallback;
  const std::vector<double> v = io::get_numeric_attribute(x.id(), name);
  if (v.size() != 1) {
    throw IoError("attribute '" + std::string(name) + "' of " + where + " has " +
                  std::to_string(v.size()) + " values; it must be one number");
  }
  if (!std::isfinite(v[0])) {
    std::ostringstream text;
    text << v[0];
    throw IoError("attribute '" + std::string(name) + "' of " + where + " is " + text.str() +
                  "; it scales every input and must be a finite number (the model's input is "
                  "features * scale + offset)");
  }
  return v[0];
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// The sample of bit-packed features: the attribute `packing` must be "bits" and
// `sample_shape` 1 to 3 positive integers whose product P fits /features' [N, ceil(P / 8)].
Shape packed_sample_shape(const io::Dataset& x, const std::vector<std::int64_t>& shape,
                          const std::string& where) {
  const std::string packing = io::get_string_attribute(x.id(), "packing");
  if (packing != "bits") {
    throw IoError("attribute 'packing' of " + where + " is '" + packing +
                  "'; the only packing physfit reads is 'bits' (one bit per value)");
  }
  if (shape.size() != 2) {
    throw IoError(where + " is packed bits and must be [N, bytes per sample], not " +
                  shape_text(shape));
  }
  if (!io::has_attribute(x.id(), "sample_shape")) {
    throw IoError(where +
                  " is packed bits but has no attribute 'sample_shape' (the shape of "
                  "one sample, e.g. [L, L])");
  }
  const std::vector<double> dims = io::get_numeric_attribute(x.id(), "sample_shape");
  std::vector<std::int64_t> d;
  std::int64_t size = 1;
  for (const double v : dims) {
    if (!(v >= 1 && v <= 65536 && v == std::floor(v))) {
      std::ostringstream text;
      text << v;
      throw IoError("attribute 'sample_shape' of " + where + " holds " + text.str() +
                    "; every dimension must be a positive integer (at most 65536)");
    }
    d.push_back(static_cast<std::int64_t>(v));
    size *= d.back();
  }
  if (d.empty() || d.size() > 3) {
    throw IoError("attribute 'sample_shape' of " + where + " has " + std::to_string(d.size()) +
                  " dimensions; give [F], [H, W] or [H, W, C]");
  }
  if (size > std::numeric_limits<int>::max() || (size + 7) / 8 != shape[1]) {
    throw IoError("attribute 'sample_shape' of " + where + " is " + shape_text(d) + " (" +
                  std::to_string(size) + " bits) but a row holds " + std::to_string(shape[1]) +
                  " bytes; a sample of P values takes ceil(P / 8) bytes");
  }
  if (d.size() == 1) return {1, 1, static_cast<int>(d[0])};
  if (d.size() == 2) return {static_cast<int>(d[0]), static_cast<int>(d[1]), 1};
  return {static_cast<int>(d[0]), static_cast<int>(d[1]), static_cast<int>(d[2])};
}

}  // namespace

DataInfo inspect_data(const std::string& path, bool require_outputs) {
  DataInfo info;
  info.path = path;
  const io::File f = io::File::open(path);
  const io::Dataset x = f.dataset("/features");
  const auto& shape = x.shape();
  const std::string where = "'/features' in '" + path + "'";
  if (shape.size() < 2 || shape.size() > 4) {
    throw IoError(where + " must be [N, F], [N, H, W] or [N, H, W, C], not rank " +
                  std::to_string(shape.size()));
  }
  info.rows = shape[0];
  if (info.rows <= 0) throw IoError(where + " has no rows");
  // Every dimension of a sample is positive and fits the int the layers use: a zero
  // dimension would be an empty sample, a huge one overflows.
  for (std::size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] <= 0 || shape[d] > std::numeric_limits<int>::max()) {
      throw IoError(where + " has shape " + shape_text(shape) + ": dimension " + std::to_string(d) +
                    " is " + std::to_string(shape[d]) +
                    "; every dimension of a sample must be positive (at most " +
                    std::to_string(std::numeric_limits<int>::max()) + ")");
    }
  }
  const bool packed = io::has_attribute(x.id(), "packing");
  if (packed) {
    info.sample = packed_sample_shape(x, shape, where);
  } else if (shape.size() == 2) {
    info.sample = {1, 1, static_cast<int>(shape[1])};
  }
  if (!packed && shape.size() == 3) {
    info.sample = {static_cast<int>(shape[1]), static_cast<int>(shape[2]), 1};
  }
  if (!packed && shape.size() == 4) {
    info.sample = {static_cast<int>(shape[1]), static_cast<int>(shape[2]),
                   static_cast<int>(shape[3])};
  }
  if (info.sample.size() > std::numeric_limits<int>::max()) {
    throw IoError(where + " has shape " + shape_text(shape) + ": " +
                  std::to_string(info.sample.size()) + " values per sample, more than " +
                  std::to_string(std::numeric_limits<int>::max()));
  }
  const std::string dtype = x.dtype();
  if (packed) {
    if (dtype != "uint8") {
      throw IoError(where + " is packed (attribute 'packing') but has type " + dtype +
                    "; packed bits are stored as uint8");
    }
    info.bits = true;
  } else if (dtype == "uint8") {
    info.uint8 = true;
  } else if (dtype != "float32" && dtype != "float64") {
    throw IoError(where + " has type " + dtype + "; expected uint8 or float32");
  }
  info.scale = scaling_attribute(x, "scale", 1.0, where);
  info.offset = scaling_attribute(x, "offset", 0.0, where);
  if (f.exists("/labels")) {
    const io::Dataset l = f.dataset("/labels");
    l.require_shape({info.rows});
    const std::string ltype = l.dtype();
    if (ltype.rfind("int", 0) != 0 && ltype.rfind("uint", 0) != 0) {
      throw IoError("'/labels' in '" + path + "' has type " + ltype +
                    "; labels are class indices and must be integers (int32): convert them "
                    "(e.g. numpy's astype('int32') after checking they are whole numbers) or "
                    "write the file with 'physfit import'");
    }
    info.classification = true;
    if (!io::has_attribute(l.id(), "classes")) {
      throw IoError("'/labels' in '" + path + "' has no attribute 'classes'");
    }
    const std::int64_t classes = io::get_int_attribute(l.id(), "classes");
    if (classes < 1 || classes > kMaxClasses) {
      throw IoError("attribute 'classes' of '/labels' in '" + path + "' is " +
                    std::to_string(classes) + "; it must be the number of classes, 1 to " +
                    std::to_string(kMaxClasses));
    }
    info.classes = static_cast<int>(classes);
  } else if (f.exists("/targets")) {
    const io::Dataset t = f.dataset("/targets");
    t.require_rank(2);
    t.require_shape({info.rows, -1});
    info.classification = false;
    info.targets = static_cast<int>(t.shape()[1]);
  } else if (require_outputs) {
    throw IoError("'" + path + "' has neither /labels (classification) nor /targets " +
                  "(regression); write it with 'physfit import'");
  } else {
    info.has_outputs = false;
  }
  return info;
}

RecordReader::RecordReader(const DataInfo& info)
    : info_(info),
      file_(info.memory ? io::File() : io::File::open(info.path)),
      features_(info.memory ? io::Dataset() : file_.dataset("/features")),
      outputs_(info.memory || !info.has_outputs
                   ? io::Dataset()
                   : file_.dataset(info.classification ? "/labels" : "/targets")) {
  if (info_.memory) return;  // rows from memory: nothing to open
  features_offset_ = info_.uint8 || info_.bits ? features_.raw_offset<std::uint8_t>()
                                               : features_.raw_offset<float>();
  outputs_offset_ = !info_.has_outputs     ? 0
                    : info_.classification ? outputs_.raw_offset<std::int32_t>()
                                           : outputs_.raw_offset<float>();
  if (features_offset_ >= 0 && outputs_offset_ >= 0) {
    fd_ = ::open(info_.path.c_str(), O_RDONLY | O_CLOEXEC);
  }
}

RecordReader::~RecordReader() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordReader::pread_all(std::int64_t offset, std::int64_t bytes, unsigned char* out) const {
  while (bytes > 0) {
    const ssize_t got = ::pread(fd_, out, static_cast<std::size_t>(bytes), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw IoError("cannot read " + std::to_string(bytes) + " bytes at offset " +
                    std::to_string(offset) + " of '" + info_.path + "': " +
                    (got < 0 ? std::string(std::strerror(errno)) : "the file is truncated"));
    }
    out += got;
    offset += got;
    bytes -= got;
  }
}

void RecordReader::fetch(std::int64_t begin, std::int64_t count) {
  const std::int64_t fbytes = info_.feature_bytes();
  const std::int64_t obytes = info_.record_bytes() - fbytes;
  features_tmp_.resize(static_cast<std::size_t>(count * fbytes));
  outputs_tmp_.resize(static_cast<std::size_t>(count * obytes));
  if (begin < 0 || begin + count > info_.rows) {
    throw IoError("rows " + std::to_string(begin) + " to " + std::to_string(begin + count) +
                  " (exclusive) of '" + info_.path + "': it has " + std::to_string(info_.rows));
  }
  if (direct()) {
    pread_all(features_offset_ + begin * fbytes, count * fbytes, features_tmp_.data());
    if (obytes > 0)
      pread_all(outputs_offset_ + begin * obytes, count * obytes, outputs_tmp_.data());
    return;
  }
  if (info_.uint8 || info_.bits) {
    features_.read_rows(begin, count, reinterpret_cast<std::uint8_t*>(features_tmp_.data()));
  } else {
    features_.read_rows(begin, count, reinterpret_cast<float*>(features_tmp_.data()));
  }
  if (!info_.has_outputs) {
    // features only
  } else if (info_.classification) {
    outputs_.read_rows(begin, count, reinterpret_cast<std::int32_t*>(outputs_tmp_.data()));
  } else {
    outputs_.read_rows(begin, count, reinterpret_cast<float*>(outputs_tmp_.data()));
  }
}

void RecordReader::assemble(std::int64_t r, std::int64_t row, unsigned char* out) const {
  const std::int64_t fbytes = info_.feature_bytes();
  const std::int64_t obytes = info_.record_bytes() - fbytes;
  std::memcpy(out, features_tmp_.data() + r * fbytes, static_cast<std::size_t>(fbytes));
  if (info_.has_outputs) {
    std::memcpy(out + fbytes, outputs_tmp_.data() + r * obytes, static_cast<std::size_t>(obytes));
    if (info_.classification) {
      std::int32_t label;
      std::memcpy(&label, out + fbytes, 4);
      if (label < 0 || label >= info_.classes) {
        throw IoError("'/labels' in '" + info_.path + "', row " + std::to_string(row) + ": label " +
                      std::to_string(label) + " is outside [0, " + std::to_string(info_.classes) +
                      ")");
      }
    } else {
      for (int t = 0; t < info_.targets; ++t) {
        float v;
        std::memcpy(&v, out + fbytes + 4 * t, 4);
        if (!std::isfinite(v)) {
          throw IoError("'/targets' in '" + info_.path + "', row " + std::to_string(row) +
                        ": target " + std::to_string(t) + " is not finite");
        }
      }
    }
  }
  if (!info_.uint8 && !info_.bits) {
    for (std::int64_t i = 0; i < info_.sample.size(); ++i) {
      float x;
      std::memcpy(&x, out + 4 * i, 4);
      if (!std::isfinite(x)) {
        throw IoError("'/features' in '" + info_.path + "', row " + std::to_string(row) +
                      ", element " + std::to_string(i) + ": value is not finite");
      }
    }
  }
}

const unsigned char* RecordReader::memory_row(std::int64_t row) const {
  const MemoryRows& m = *info_.memory;
  if (row < m.first || row >= m.first + m.count) {
    throw Error("row " + std::to_string(row) + " of " + info_.path +
                " is not held by this rank (it holds rows " + std::to_string(m.first) + " to " +
                std::to_string(m.first + m.count) + ", exclusive)");
  }
  return m.records.data() + (row - m.first) * info_.record_bytes();
}

void RecordReader::read(std::int64_t begin, std::int64_t count, unsigned char* out) {
  const std::int64_t rb = info_.record_bytes();
  if (info_.memory) {
    if (count > 0) {
      memory_row(begin + count - 1);
      std::memcpy(out, memory_row(begin), static_cast<std::size_t>(count * rb));
    }
    return;
  }
  // In spans of at most kSpanBytes of features: the staging buffers stay small when a rank
  // reads all of its rows into the training cache.
  const std::int64_t span = std::max<std::int64_t>(1, kSpanBytes / info_.feature_bytes());
  for (std::int64_t b = begin; b < begin + count; b += span) {
    const std::int64_t m = std::min(span, begin + count - b);
    fetch(b, m);
    for (std::int64_t r = 0; r < m; ++r) assemble(r, b + r, out + (b - begin + r) * rb);
  }
}

void RecordReader::read_ids(const std::int64_t* ids, std::size_t n, unsigned char* out) {
  const std::int64_t rb = info_.record_bytes();
  if (info_.memory) {
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(out + k * rb, memory_row(ids[k]), static_cast<std::size_t>(rb));
    }
    return;
  }
  const std::int64_t fbytes = std::max<std::int64_t>(1, info_.feature_bytes());
  const std::int64_t gap_rows = std::max<std::int64_t>(1, kGapBytes / fbytes);
  const std::int64_t span_rows = std::max<std::int64_t>(1, kSpanBytes / fbytes);
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i + 1;
    while (j < n && ids[j] - ids[j - 1] <= gap_rows && ids[j] - ids[i] < span_rows) ++j;
    const std::int64_t begin = ids[i];
    fetch(begin, ids[j - 1] - begin + 1);
    for (std::size_t k = i; k < j; ++k) assemble(ids[k] - begin, ids[k], out + k * rb);
    i = j;
  }
}

MemoryRows exchange_rows(const mpi::Comm& comm, std::int64_t record_bytes,
                         const unsigned char* held, std::int64_t held_first,
                         std::int64_t held_count, std::int64_t want_first,
                         std::int64_t want_count) {
  const int ranks = comm.size();
  const std::vector<std::int64_t> hf = comm.allgather(held_first);
  const std::vector<std::int64_t> hc = comm.allgather(held_count);
  const std::vector<std::int64_t> wf = comm.allgather(want_first);
  const std::vector<std::int64_t> wc = comm.allgather(want_count);
  // Counts in records (an MPI type of one record), so that up to 2^31 - 1 records per pair of
  // ranks move in one call.
  auto overlap = [](std::int64_t a, std::int64_t na, std::int64_t b, std::int64_t nb) {
    const std::int64_t lo = std::max(a, b), hi = std::min(a + na, b + nb);
    return std::make_pair(lo, std::max<std::int64_t>(0, hi - lo));
  };
  std::vector<int> send_counts(ranks), send_displs(ranks), recv_counts(ranks), recv_displs(ranks);
  MemoryRows out;
  out.first = want_first;
  out.count = want_count;
  out.records.resize(static_cast<std::size_t>(want_count * record_bytes));
  std::int64_t received = 0;
  bool too_many = record_bytes > INT_MAX;
  for (int r = 0; r < ranks; ++r) {
    const auto q = static_cast<std::size_t>(r);
    const auto [s0, sn] = overlap(held_first, held_count, wf[q], wc[q]);
    const auto [r0, rn] = overlap(hf[q], hc[q], want_first, want_count);
    if (sn > INT_MAX || rn > INT_MAX || s0 - held_first > INT_MAX || r0 - want_first > INT_MAX) {
      too_many = true;
      continue;
    }
    send_counts[q] = static_cast<int>(sn);
    send_displs[q] = static_cast<int>(sn > 0 ? s0 - held_first : 0);
    recv_counts[q] = static_cast<int>(rn);
    recv_displs[q] = static_cast<int>(rn > 0 ? r0 - want_first : 0);
    received += rn;
  }
  // Errors of one rank are every rank's (the others would wait in the exchange).
  mpi::guarded(comm, [&] {
    if (too_many) {
      throw UsageError(
          "more than 2^31 - 1 rows (or bytes of a record) move between two ranks in "
          "one exchange: give fewer rows per rank");
    }
    if (received != want_count) {
      throw IoError("rows " + std::to_string(want_first) + " to " +
                    std::to_string(want_first + want_count) +
                    " (exclusive) are not all held by some rank, or some are held twice");
    }
  });
  MPI_Datatype record;
  MPI_Type_contiguous(static_cast<int>(record_bytes), MPI_BYTE, &record);
  MPI_Type_commit(&record);
  const int rc =
      MPI_Alltoallv(held, send_counts.data(), send_displs.data(), record, out.records.data(),
                    recv_counts.data(), recv_displs.data(), record, comm.raw());
  MPI_Type_free(&record);
  if (rc != MPI_SUCCESS) throw Error("MPI_Alltoallv failed while exchanging rows");
  return out;
}

void unpack_records(const DataInfo& info, const unsigned char* const* records, int n, float* x,
                    std::int32_t* labels, float* targets) {
  const std::int64_t f = info.sample.size();
  const auto scale = static_cast<float>(info.scale);
  const auto offset = static_cast<float>(info.offset);
  const std::int64_t fbytes = info.feature_bytes();
  // Packed bits: the 8 values of every byte value, from a table (a copy of 32 bytes per byte).
  float table[256][8];
  if (info.bits) {
    for (int b = 0; b < 256; ++b) {
      for (int k = 0; k < 8; ++k) table[b][k] = static_cast<float>((b >> k) & 1) * scale + offset;
    }
  }
  for (int s = 0; s < n; ++s) {
    const unsigned char* r = records[s];
    float* xs = x + s * f;
    if (info.bits) {
      const std::int64_t whole = f / 8;
      for (std::int64_t i = 0; i < whole; ++i)
        std::memcpy(xs + 8 * i, table[r[i]], sizeof table[0]);
      for (std::int64_t k = 8 * whole; k < f; ++k) xs[k] = table[r[whole]][k - 8 * whole];
    } else if (info.uint8) {
      for (std::int64_t i = 0; i < f; ++i) xs[i] = static_cast<float>(r[i]) * scale + offset;
    } else {
      std::memcpy(xs, r, static_cast<std::size_t>(fbytes));
      if (scale != 1.0f || offset != 0.0f) {
        for (std::int64_t i = 0; i < f; ++i) xs[i] = xs[i] * scale + offset;
      }
    }
    if (!info.has_outputs) {
      // data to predict: no labels or targets
    } else if (info.classification) {
      std::memcpy(labels + s, r + fbytes, 4);
    } else {
      std::memcpy(targets + static_cast<std::int64_t>(s) * info.targets, r + fbytes,
                  4 * static_cast<std::size_t>(info.targets));
    }
  }
}

}  // namespace physfit::nn
