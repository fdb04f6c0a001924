#include "physfit/io/hdf5.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::io {

void hdf5_initialize() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

int hdf5_finish() noexcept {
  int files = 0;
  const ssize_t count = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (count > 0) {
    std::vector<hid_t> ids(static_cast<std::size_t>(count));
    const ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, ids.size(), ids.data());
    ids.resize(static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    // Every rank opened the objects of a parallel file in the same order: close them in the
    // order of their identifiers, the objects before the files.
    std::sort(ids.begin(), ids.end());
    for (const hid_t id : ids) {
      switch (H5Iget_type(id)) {
        case H5I_DATASET:
          H5Dclose(id);
          break;
        case H5I_GROUP:
          H5Gclose(id);
          break;
        case H5I_DATATYPE:
          H5Tclose(id);
          break;
        case H5I_ATTR:
          H5Aclose(id);
          break;
        default:
          break;
      }
    }
    for (const hid_t id : ids) {
      if (H5Iget_type(id) == H5I_FILE) {
        H5Fclose(id);
        ++files;
      }
    }
  }
  H5Eclear2(H5E_DEFAULT);
  H5close();
  return files;
}

namespace detail {

namespace {
herr_t collect_error(unsigned /*n*/, const H5E_error2_t* e, void* data) {
  auto* messages = static_cast<std::vector<std::string>*>(data);
  if (e->desc && *e->desc) messages->push_back(e->desc);
  return 0;
}
}  // namespace

namespace {
// The system's reason in a message of an HDF5 file driver, which lists raw fields ("file write
// failed: time = ..., errno = 28, error message = 'No space left on device', ..., bytes
// actually written = 18446744073709551615, offset = 0"); the message itself otherwise.
std::string plain_reason(const std::string& message) {
  const std::string key = "error message = '";
  auto start = message.find(key);
  if (start != std::string::npos) {
    start += key.size();
    const auto end = message.find('\'', start);
    if (end != std::string::npos && end > start) return message.substr(start, end - start);
  }
  const auto at = message.find("errno = ");
  if (at != std::string::npos) {
    const int number = std::atoi(message.c_str() + at + 8);
    if (number > 0) return std::strerror(number);
  }
  // MPI-IO: "MPI_File_write_at failed (MPI error string is 'MPI_ERR_NO_SPACE: ...')".
  if (message.find("MPI_ERR_NO_SPACE") != std::string::npos) return std::strerror(ENOSPC);
  if (message.find("MPI_ERR_QUOTA") != std::string::npos) return std::strerror(EDQUOT);
  if (message.find("MPI_ERR_IO") != std::string::npos) return "input/output error (MPI-IO)";
  const auto fields = message.find(": time = ");
  if (fields != std::string::npos) return message.substr(0, fields);
  return message;
}
}  // namespace

std::string hdf5_error_text() {
  // The system's reason, when the failed call left one that matters to a user (the MPI-IO
  // driver reports "file write failed" without it).
  const int error = errno;
  const bool system =
      error == ENOSPC || error == EDQUOT || error == EIO || error == EROFS || error == EFBIG;
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  std::string text;
  if (messages.empty()) {
    text = "HDF5 reported an error";
  } else if (messages.size() == 1) {
    text = plain_reason(messages.front());
  } else {
    // The outermost message says what failed, the innermost why (the first that names a
    // reason of the system, if any does).
    std::string why = plain_reason(messages.back());
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      const std::string r = plain_reason(*it);
      if (r != *it) {
        why = r;
        break;
      }
    }
    text = messages.front() + " (" + why + ")";
  }
  const std::string reason = std::strerror(error);
  if (system && text.find(reason) == std::string::npos) text += ": " + reason;
  return text;
}

void check(long long status, const std::string& what) {
  if (status < 0) throw IoError(what + ": " + hdf5_error_text());
}

}  // namespace detail

// ---------------------------------------------------------------------------------- Handle

Handle::Handle(hid_t id, Closer closer, bool collective)
    : id_(id),
      closer_(closer),
      collective_(collective),
      uncaught_at_creation_(std::uncaught_exceptions()) {}

Handle::~Handle() { release(); }

Handle::Handle(Handle&& other) noexcept
    : id_(other.id_),
      closer_(other.closer_),
      collective_(other.collective_),
      uncaught_at_creation_(other.uncaught_at_creation_) {
  other.id_ = H5I_INVALID_HID;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    release();
    id_ = other.id_;
    closer_ = other.closer_;
    collective_ = other.collective_;
    uncaught_at_creation_ = other.uncaught_at_creation_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::release() noexcept {
  if (id_ < 0 || !closer_) return;
  // Closing an object of a parallel file is collective: while unwinding we cannot know that
  // the other ranks are closing it too, so leave it to HDF5's clean-up at MPI_Finalize.
  if (collective_ && std::uncaught_exceptions() > uncaught_at_creation_) {
    id_ = H5I_INVALID_HID;
    return;
  }
  closer_(id_);
  H5Eclear2(H5E_DEFAULT);
  id_ = H5I_INVALID_HID;
}

void Handle::close(const std::string& what) {
  if (id_ < 0 || !closer_) return;
  const herr_t status = closer_(id_);
  id_ = H5I_INVALID_HID;
  detail::check(status, "cannot close " + what);
}

// ------------------------------------------------------------------------------- helpers

std::string dtype_name(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
      return std::string(is_signed ? "int" : "uint") + std::to_string(8 * H5Tget_size(type));
    }
    case H5T_FLOAT:
      return "float" + std::to_string(8 * H5Tget_size(type));
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "vlen";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_REFERENCE:
      return "reference";
    default:
      return "unknown";
  }
}

namespace {

Handle property_list(hid_t cls) {
  const hid_t id = H5Pcreate(cls);
  detail::check(id, "cannot create an HDF5 property list");
  return Handle(id, H5Pclose);
}

Handle link_creation_list() {
  Handle lcpl = property_list(H5P_LINK_CREATE);
  detail::check(H5Pset_create_intermediate_group(lcpl.id(), 1), "cannot set HDF5 link property");
  return lcpl;
}

Handle mpio_access_list(const mpi::Comm& comm) {
  Handle fapl = property_list(H5P_FILE_ACCESS);
  detail::check(H5Pset_fapl_mpio(fapl.id(), comm.raw(), MPI_INFO_NULL),
                "cannot select the MPI-IO driver");
  detail::check(H5Pset_coll_metadata_write(fapl.id(), 1), "cannot set collective metadata");
  return fapl;
}

// Checks on one rank what makes an open fail, to give a plain message.
void precheck_readable(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    throw IoError("cannot open HDF5 file '" + path + "': " + std::strerror(errno));
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (is_hdf5 <= 0) throw IoError("'" + path + "' is not an HDF5 file");
}

std::vector<std::int64_t> shape_of(hid_t dataset, const std::string& where) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  detail::check(space.id(), "cannot read the shape of " + where);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  detail::check(rank, "cannot read the shape of " + where);
  std::vector<hsize_t> dims(rank);
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return std::vector<std::int64_t>(dims.begin(), dims.end());
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::vector<std::string> parts;
  for (auto d : shape) parts.push_back(d < 0 ? "*" : std::to_string(d));
  return "[" + util::join(parts, ", ") + "]";
}

// Why an HDF5 file that exists, is readable and starts as HDF5 does could not be opened, in a
// user's words: HDF5's own are "truncated file: eof = 1144, sblock->base_addr = 0, stored_eof =
// 2288" or "bad object header version number".
std::string open_failure_text(const std::string& path) {
  const std::string text = detail::hdf5_error_text();
  const auto at = text.find("truncated file: eof = ");
  const auto stored = text.find("stored_eof = ");
  if (at != std::string::npos && stored != std::string::npos) {
    const long long have = std::atoll(text.c_str() + at + 22);
    const long long want = std::atoll(text.c_str() + stored + 13);
    return "cannot open HDF5 file '" + path + "': the file is truncated (" + std::to_string(have) +
           " bytes of the " + std::to_string(want) +
           " its header records: an interrupted copy or write); copy or write it again";
  }
  const auto open = text.find("unable to open file (");
  if (open != std::string::npos && text.find("unable to lock") == std::string::npos) {
    return "cannot open HDF5 file '" + path +
           "': the file is damaged (HDF5: " + text.substr(open + 21, text.size() - open - 22) +
           "), or written in a format newer than this HDF5 reads; copy or write it again";
  }
  return "cannot open HDF5 file '" + path + "': " + text;
}

}  // namespace

// --------------------------------------------------------------------------------- File

File File::open(const std::string& path, Mode mode) {
  hdf5_initialize();
  precheck_readable(path);
  const hid_t id =
      H5Fopen(path.c_str(), mode == Mode::kRead ? H5F_ACC_RDONLY : H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0) throw IoError(open_failure_text(path));
  File f;
  f.handle_ = Handle(id, H5Fclose);
  f.path_ = path;
  return f;
}

File File::open(const mpi::Comm& comm, const std::string& path, Mode mode) {
  hdf5_initialize();
  mpi::guarded(comm, [&] {
    if (comm.is_root()) precheck_readable(path);
  });
  Handle fapl = mpio_access_list(comm);
  const hid_t id =
      H5Fopen(path.c_str(), mode == Mode::kRead ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.id());
  mpi::guarded(comm, [&] {
    if (id < 0) throw IoError(open_failure_text(path));
  });
  File f;
  f.handle_ = Handle(id, H5Fclose, true);
  f.path_ = path;
  f.parallel_ = true;
  f.rank_ = comm.rank();
  return f;
}

File File::create(const std::string& path) {
  hdf5_initialize();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) {
    const std::string detail = detail::hdf5_error_text();
    throw IoError("cannot create HDF5 file '" + path +
                  "': " + (errno ? std::string(std::strerror(errno)) : detail));
  }
  File f;
  f.handle_ = Handle(id, H5Fclose);
  f.path_ = path;
  return f;
}

File File::create(const mpi::Comm& comm, const std::string& path) {
  hdf5_initialize();
  Handle fapl = mpio_access_list(comm);
  errno = 0;
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  const int saved_errno = errno;
  mpi::guarded(comm, [&] {
    if (id < 0) {
      const std::string detail = detail::hdf5_error_text();
      throw IoError("cannot create HDF5 file '" + path +
                    "': " + (saved_errno ? std::string(std::strerror(saved_errno)) : detail));
    }
  });
  File f;
  f.handle_ = Handle(id, H5Fclose, true);
  f.path_ = path;
  f.parallel_ = true;
  f.rank_ = comm.rank();
  return f;
}

bool File::exists(const std::string& path) const {
  if (path.empty() || path == "/") return true;
  std::string prefix;
  for (const auto& part : util::split(path, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    const htri_t link = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
    if (link <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    const htri_t object = H5Oexists_by_name(id(), prefix.c_str(), H5P_DEFAULT);
    if (object <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

Dataset File::dataset(const std::string& name) const {
  const std::string where = "dataset '" + name + "' in '" + path_ + "'";
  if (!exists(name)) throw IoError("no " + where);
  const hid_t id = H5Dopen2(this->id(), name.c_str(), H5P_DEFAULT);
  detail::check(id, "cannot open " + where);
  Dataset d;
  d.handle_ = Handle(id, H5Dclose, parallel_);
  d.name_ = name;
  d.file_path_ = path_;
  d.parallel_ = parallel_;
  d.rank_ = rank_;
  d.shape_ = shape_of(id, where);
  check_stored(id, d, where);
  return d;
}

void File::check_stored(hid_t id, const Dataset& d, const std::string& where) const {
  // A file opened for reading whose dataset declares more data than the file stores (a huge
  // shape in a small file, chunks never written) is malformed: refuse it before anything is
  // sized from that shape. Only layouts whose stored size is exact: contiguous, or chunked
  // without filters (compression), and fixed-size types.
  unsigned intent = 0;
  if (H5Fget_intent(this->id(), &intent) < 0 || intent != H5F_ACC_RDONLY) return;
  Handle dcpl(H5Dget_create_plist(id), H5Pclose);
  Handle type(H5Dget_type(id), H5Tclose);
  if (dcpl.id() < 0 || type.id() < 0) return;
  const H5D_layout_t layout = H5Pget_layout(dcpl.id());
  const bool exact =
      layout == H5D_CONTIGUOUS || (layout == H5D_CHUNKED && H5Pget_nfilters(dcpl.id()) == 0);
  const H5T_class_t type_class = H5Tget_class(type.id());
  if (!exact || type_class == H5T_VLEN || H5Tis_variable_str(type.id()) > 0) return;
  const double declared =
      static_cast<double>(d.size()) * static_cast<double>(H5Tget_size(type.id()));
  const double stored = static_cast<double>(H5Dget_storage_size(id));
  if (stored < declared) {
    throw IoError(where + " declares shape " + shape_text(d.shape()) + " (" +
                  util::format_bytes(declared) + ") but the file stores " +
                  util::format_bytes(stored) +
                  " of it: the dataset was never written completely (a truncated copy, or "
                  "chunks never written); write every element or repair the file");
  }
}

Dataset File::create_dataset_typed(const std::string& name, const std::vector<std::int64_t>& shape,
                                   hid_t type, const std::string& unit) const {
  const std::string where = "dataset '" + name + "' in '" + path_ + "'";
  if (unit.empty()) throw Error("cannot create " + where + ": no unit given");
  for (auto d : shape) {
    if (d < 0) throw Error("cannot create " + where + ": negative dimension");
  }
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  detail::check(space.id(), "cannot create the dataspace of " + where);
  Handle lcpl = link_creation_list();
  const hid_t id =
      H5Dcreate2(this->id(), name.c_str(), type, space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  detail::check(id, "cannot create " + where);
  Dataset d;
  d.handle_ = Handle(id, H5Dclose, parallel_);
  d.name_ = name;
  d.file_path_ = path_;
  d.parallel_ = parallel_;
  d.rank_ = rank_;
  d.shape_ = shape;
  set_attribute(id, "unit", unit);
  return d;
}

Dataset File::write_strings(const std::string& name, const std::vector<std::string>& values,
                            const std::string& unit) const {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  detail::check(type.id(), "cannot create an HDF5 string type");
  detail::check(H5Tset_size(type.id(), width), "cannot size an HDF5 string type");
  H5Tset_strpad(type.id(), H5T_STR_NULLPAD);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Dataset d =
      create_dataset_typed(name, {static_cast<std::int64_t>(values.size())}, type.id(), unit);
  std::vector<char> buffer(values.size() * width, '\0');
  for (std::size_t k = 0; k < values.size(); ++k) {
    std::memcpy(buffer.data() + k * width, values[k].data(), values[k].size());
  }
  d.transfer_rows(true, 0, rank_ == 0 ? d.rows() : 0, buffer.data(), type.id());
  return d;
}

Group File::create_group(const std::string& name) const {
  Handle lcpl = link_creation_list();
  const hid_t id = H5Gcreate2(this->id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  detail::check(id, "cannot create group '" + name + "' in '" + path_ + "'");
  Group g;
  g.handle_ = Handle(id, H5Gclose, parallel_);
  g.name_ = name;
  g.file_path_ = path_;
  return g;
}

Group File::group(const std::string& name) const {
  if (!exists(name)) throw IoError("no group '" + name + "' in '" + path_ + "'");
  const hid_t id = H5Gopen2(this->id(), name.c_str(), H5P_DEFAULT);
  detail::check(id, "cannot open group '" + name + "' in '" + path_ + "'");
  Group g;
  g.handle_ = Handle(id, H5Gclose, parallel_);
  g.name_ = name;
  g.file_path_ = path_;
  return g;
}

void File::close() {
  if (!handle_.valid()) return;
  // Close what is still open in the file first, so that the file is really closed (and fully
  // written) when this returns: parallel files refuse to close otherwise, serial ones would
  // stay open behind our back. Every rank has the same objects open (creating and opening
  // them is collective), so this is collective too. HDF5 does not reuse the identifiers,
  // so the handles left in Dataset and Group objects become harmless.
  const unsigned types =
      H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;
  const ssize_t count = H5Fget_obj_count(id(), types);
  if (count > 0) {
    std::vector<hid_t> ids(static_cast<std::size_t>(count));
    H5Fget_obj_ids(id(), types, ids.size(), ids.data());
    for (const hid_t object : ids) {
      switch (H5Iget_type(object)) {
        case H5I_DATASET:
          H5Dclose(object);
          break;
        case H5I_GROUP:
          H5Gclose(object);
          break;
        case H5I_DATATYPE:
          H5Tclose(object);
          break;
        case H5I_ATTR:
          H5Aclose(object);
          break;
        default:
          break;
      }
    }
    H5Eclear2(H5E_DEFAULT);
  }
  handle_.close("HDF5 file '" + path_ + "'");
}

// ------------------------------------------------------------------------------ Dataset

std::int64_t Dataset::row_size() const {
  std::int64_t n = 1;
  for (std::size_t i = 1; i < shape_.size(); ++i) n *= shape_[i];
  return n;
}

std::int64_t Dataset::size() const {
  std::int64_t n = 1;
  for (auto d : shape_) n *= d;
  return n;
}

std::int64_t Dataset::raw_offset_as(hid_t type) const {
  Handle plist(H5Dget_create_plist(id()), H5Pclose);
  if (plist.id() < 0) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  if (H5Pget_layout(plist.id()) != H5D_CONTIGUOUS || H5Pget_external_count(plist.id()) != 0) {
    return -1;
  }
  Handle stored(H5Dget_type(id()), H5Tclose);
  if (stored.id() < 0 || H5Tequal(stored.id(), type) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  const haddr_t offset = H5Dget_offset(id());
  if (offset == HADDR_UNDEF) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  return static_cast<std::int64_t>(offset);
}

std::string Dataset::dtype() const {
  Handle type(H5Dget_type(id()), H5Tclose);
  detail::check(type.id(), "cannot read the type of " + where());
  return dtype_name(type.id());
}

std::string Dataset::where() const { return "dataset '" + name_ + "' in '" + file_path_ + "'"; }

void Dataset::require_rank(int rank) const {
  if (static_cast<int>(shape_.size()) != rank) {
    throw IoError(where() + " has shape " + shape_text(shape_) + " (" +
                  std::to_string(shape_.size()) + " dimensions), expected " + std::to_string(rank) +
                  " dimensions");
  }
}

void Dataset::require_shape(const std::vector<std::int64_t>& shape) const {
  bool ok = shape.size() == shape_.size();
  for (std::size_t i = 0; ok && i < shape.size(); ++i) {
    ok = shape[i] < 0 || shape[i] == shape_[i];
  }
  if (!ok) {
    throw IoError(where() + " has shape " + shape_text(shape_) + ", expected " + shape_text(shape));
  }
}

namespace {

// Selects rows [begin, begin + count) of `file_space` and returns a matching memory space.
Handle select_rows(hid_t file_space, const std::vector<std::int64_t>& shape, std::int64_t begin,
                   std::int64_t count, std::int64_t row_size) {
  if (shape.empty()) {
    // Scalar: all or nothing.
    if (count == 0) H5Sselect_none(file_space);
    Handle mem(H5Screate(H5S_SCALAR), H5Sclose);
    if (count == 0) H5Sselect_none(mem.id());
    return mem;
  }
  std::vector<hsize_t> start(shape.size(), 0), extent(shape.begin(), shape.end());
  start[0] = static_cast<hsize_t>(begin);
  extent[0] = static_cast<hsize_t>(count);
  const hsize_t elements = static_cast<hsize_t>(count * row_size);
  const hsize_t mem_dims[1] = {elements > 0 ? elements : 1};
  Handle mem(H5Screate_simple(1, mem_dims, nullptr), H5Sclose);
  if (count == 0 || elements == 0) {
    H5Sselect_none(file_space);
    H5Sselect_none(mem.id());
  } else {
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  }
  return mem;
}

}  // namespace

std::vector<std::string> Dataset::read_strings() const {
  require_rank(1);
  Handle type(H5Dget_type(id()), H5Tclose);
  detail::check(type.id(), "cannot read the type of " + where());
  if (H5Tget_class(type.id()) != H5T_STRING) {
    throw IoError(where() + " is " + dtype_name(type.id()) + ", expected strings");
  }
  const std::size_t n = static_cast<std::size_t>(rows());
  std::vector<std::string> out(n);
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id(), H5T_VARIABLE);
    H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
    std::vector<char*> text(n, nullptr);
    transfer_rows(false, 0, rows(), text.data(), mem.id());
    for (std::size_t k = 0; k < n; ++k) {
      out[k] = text[k] ? text[k] : "";
      H5free_memory(text[k]);
    }
    return out;
  }
  const std::size_t width = H5Tget_size(type.id());
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.id(), width);
  H5Tset_strpad(mem.id(), H5T_STR_NULLPAD);
  H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
  std::vector<char> buffer(n * width + 1, '\0');
  transfer_rows(false, 0, rows(), buffer.data(), mem.id());
  for (std::size_t k = 0; k < n; ++k) {
    std::string v(buffer.data() + k * width, width);
    v.resize(std::strlen(v.c_str()));
    while (!v.empty() && v.back() == ' ') v.pop_back();
    out[k] = v;
  }
  return out;
}

void Dataset::transfer_rows(bool write, std::int64_t begin, std::int64_t count, void* buffer,
                            hid_t type) const {
  const std::string what = std::string(write ? "write" : "read") + " rows " +
                           std::to_string(begin) + " to " + std::to_string(begin + count) +
                           " (exclusive) of " + where();
  if (begin < 0 || count < 0 || begin + count > rows()) {
    throw IoError("cannot " + what + ": it has " + std::to_string(rows()) + " rows");
  }
  // An empty dataset (on every rank alike) has no storage: HDF5 would fail on its address.
  if (rows() == 0) return;
  Handle file_space(H5Dget_space(id()), H5Sclose);
  detail::check(file_space.id(), "cannot " + what);
  Handle mem_space = select_rows(file_space.id(), shape_, begin, count, row_size());
  Handle dxpl = property_list(H5P_DATASET_XFER);
  if (parallel_) H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE);
  const herr_t status =
      write ? H5Dwrite(id(), type, mem_space.id(), file_space.id(), dxpl.id(), buffer)
            : H5Dread(id(), type, mem_space.id(), file_space.id(), dxpl.id(), buffer);
  detail::check(status, "cannot " + what);
}

// --------------------------------------------------------------------------- attributes

namespace {

std::string object_name(hid_t object) {
  char buffer[512] = {0};
  const ssize_t n = H5Iget_name(object, buffer, sizeof buffer);
  std::string name = n > 0 ? std::string(buffer) : std::string("?");
  char file[1024] = {0};
  if (H5Fget_name(object, file, sizeof file) > 0) name += "' in '" + std::string(file);
  H5Eclear2(H5E_DEFAULT);
  return name;
}

Handle string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  detail::check(type.id(), "cannot create an HDF5 string type");
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  return type;
}

void write_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type,
                     const std::vector<hsize_t>& dims, const void* data) {
  const std::string what = "attribute '" + name + "' of '" + object_name(object) + "'";
  if (H5Aexists(object, name.c_str()) > 0) {
    detail::check(H5Adelete(object, name.c_str()), "cannot replace " + what);
  }
  H5Eclear2(H5E_DEFAULT);
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  Handle attribute(
      H5Acreate2(object, name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  detail::check(attribute.id(), "cannot create " + what);
  detail::check(H5Awrite(attribute.id(), mem_type, data), "cannot write " + what);
  attribute.close(what);
}

Handle open_attribute(hid_t object, const std::string& name) {
  const std::string what = "attribute '" + name + "' of '" + object_name(object) + "'";
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw IoError("no " + what);
  }
  Handle attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  detail::check(attribute.id(), "cannot open " + what);
  return attribute;
}

}  // namespace

void set_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type = string_type();
  const char* text = value.c_str();
  write_attribute(object, name, type.id(), type.id(), {}, &text);
}

void set_attribute(hid_t object, const std::string& name, const char* value) {
  set_attribute(object, name, std::string(value));
}

void set_attribute(hid_t object, const std::string& name, std::int64_t value) {
  write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void set_attribute(hid_t object, const std::string& name, double value) {
  write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value);
}

void set_attribute(hid_t object, const std::string& name, const std::vector<double>& values) {
  write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {values.size()}, values.data());
}

void set_attribute(hid_t object, const std::string& name, const std::vector<std::int64_t>& values) {
  write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {values.size()}, values.data());
}

bool has_attribute(hid_t object, const std::string& name) {
  const htri_t exists = H5Aexists(object, name.c_str());
  H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

std::string get_string_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  const std::string what = "attribute '" + name + "' of '" + object_name(object) + "'";
  Handle type(H5Aget_type(attribute.id()), H5Tclose);
  detail::check(type.id(), "cannot read the type of " + what);
  if (H5Tget_class(type.id()) != H5T_STRING) {
    throw IoError(what + " is " + dtype_name(type.id()) + ", expected a string");
  }
  // One string, not an array of them: HDF5 would write every element into the one buffer.
  Handle space(H5Aget_space(attribute.id()), H5Sclose);
  detail::check(space.id(), "cannot read the shape of " + what);
  const hssize_t count = H5Sget_simple_extent_npoints(space.id());
  if (count != 1) {
    throw IoError(what + " holds " + std::to_string(count) + " strings, expected one");
  }
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle mem = string_type();
    char* text = nullptr;
    detail::check(H5Aread(attribute.id(), mem.id(), &text), "cannot read " + what);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.id());
  std::string value(size, '\0');
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.id(), size);
  detail::check(H5Aread(attribute.id(), mem.id(), value.data()), "cannot read " + what);
  value.resize(std::strlen(value.c_str()));
  return value;
}

std::vector<double> get_numeric_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  const std::string what = "attribute '" + name + "' of '" + object_name(object) + "'";
  Handle type(H5Aget_type(attribute.id()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.id());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
    throw IoError(what + " is " + dtype_name(type.id()) + ", expected a number");
  }
  Handle space(H5Aget_space(attribute.id()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.id());
  std::vector<double> values(n > 0 ? n : 0);
  if (!values.empty()) {
    detail::check(H5Aread(attribute.id(), H5T_NATIVE_DOUBLE, values.data()), "cannot read " + what);
  }
  return values;
}

std::int64_t get_int_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  const std::string what = "attribute '" + name + "' of '" + object_name(object) + "'";
  Handle type(H5Aget_type(attribute.id()), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_INTEGER) {
    throw IoError(what + " is " + dtype_name(type.id()) + ", expected an integer");
  }
  Handle space(H5Aget_space(attribute.id()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id()) != 1) throw IoError(what + " is not a scalar");
  std::int64_t value = 0;
  detail::check(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value), "cannot read " + what);
  return value;
}

}  // namespace physfit::io
