/// @file
/// libFuzzer harness: physfit's HDF5 readers of force-constant data (fc::read_structure_hdf5,
/// fc::read_configurations_hdf5, fc::read_nac_hdf5), by structured mutation of a valid file.
///
/// Raw bytes are not fed to HDF5: almost every mutation of an HDF5 file's bytes breaks a
/// checksum or a B-tree, so the fuzzer would explore HDF5's own metadata decoder (whose
/// crashes on corrupt bytes are the library's, reported upstream as CVEs) and never reach
/// physfit's checks. Instead the input is a list of edits to a valid silicon data file, 4
/// bytes each (object, edit, a, b): remove or add a dataset or attribute, change its type
/// (float64, float32, int32, int64, string) or shape, set values to NaN, infinities, huge,
/// negative or zero numbers, or strings to odd text. The file is written with HDF5's C API and
/// read with physfit's readers, which must answer every such file with a physfit::Error.

#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "harness.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/mpi/comm.hpp"

namespace {

enum Type { kF64, kF32, kI32, kI64, kString, kNumTypes };

struct Object {
  std::string path;  // dataset path, or "/group@attribute"
  bool present = true;
  Type type = kF64;
  std::vector<hsize_t> dims;
  std::vector<double> values;
  std::vector<std::string> strings;
  std::size_t count() const {
    std::size_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
  void resize() {
    values.resize(count(), 1.0);
    strings.resize(count(), "Si");
  }
};

const double kInf = std::numeric_limits<double>::infinity();
const double kValues[] = {0,      1,       -1,    0.25,   0.5, 2.715,        5.43,
                          14,     28.0855, 1e300, -1e300, NAN, kInf,         -kInf,
                          1e-300, 3,       13,    119,    -14, 2147483648.0, -2147483649.0,
                          1e19,   0.75,    1e6,   8};
const char* kStrings[] = {"Si",
                          "",
                          "Xx",
                          "gonze",
                          "wang",
                          "none",
                          "Si1",
                          "H",
                          "\xff\xfe",
                          "Og",
                          "a very long species name that is not an element at all"};

std::vector<Object> valid_file() {
  const double a = 5.43;
  const double f[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                          {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                          {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  auto matrix = [](const std::string& p, std::vector<double> v) {
    Object o;
    o.path = p;
    o.dims = {3, 3};
    o.values = std::move(v);
    return o;
  };
  std::vector<Object> objs;
  objs.push_back(matrix("/structure/lattice", {a, 0, 0, 0, a, 0, 0, 0, a}));
  Object pos;
  pos.path = "/structure/positions";
  pos.dims = {8, 3};
  for (const auto& r : f)
    for (double x : r) pos.values.push_back(a * x);
  objs.push_back(pos);
  Object num;
  num.path = "/structure/numbers";
  num.type = kI32;
  num.dims = {8};
  num.values.assign(8, 14);
  objs.push_back(num);
  Object mass = num;
  mass.path = "/structure/masses";
  mass.type = kF64;
  mass.values.assign(8, 28.0855);
  objs.push_back(mass);
  Object sym = num;
  sym.path = "/structure/symbols";
  sym.type = kString;
  sym.strings.assign(8, "Si");
  objs.push_back(sym);
  objs.push_back(
      matrix("/structure/primitive_lattice", {0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0}));
  objs.push_back(matrix("/structure/unit_lattice", {a, 0, 0, 0, a, 0, 0, 0, a}));
  objs.back().present = false;
  objs.push_back(matrix("/structure/primitive_matrix", {0, 0.5, 0.5, 0.5, 0, 0.5, 0.5, 0.5, 0}));
  objs.back().present = false;
  objs.push_back(matrix("/structure/supercell_matrix", {1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Object u;
  u.path = "/configs/displacements";
  u.dims = {2, 8, 3};
  u.values.assign(48, 0.0);
  u.values[0] = 0.01;
  u.values[24 + 5] = -0.01;
  objs.push_back(u);
  Object force = u;
  force.path = "/configs/forces";
  for (std::size_t k = 0; k < force.values.size(); ++k)
    force.values[k] = 0.01 * ((k * 7) % 11) - 0.05;
  objs.push_back(force);
  Object e;
  e.path = "/configs/energies";
  e.dims = {2};
  e.values = {-43.0, -42.99};
  objs.push_back(e);
  objs.push_back(matrix("/nac/epsilon", {13, 0, 0, 0, 13, 0, 0, 0, 13}));
  Object born;
  born.path = "/nac/born";
  born.dims = {2, 3, 3};
  born.values.assign(18, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k) born.values[9 * i + 4 * k] = 0.01;
  objs.push_back(born);
  auto attr = [](const std::string& p, double v) {
    Object o;
    o.path = p;
    o.dims = {1};
    o.values = {v};
    return o;
  };
  objs.push_back(attr("/nac@factor", physfit::fc::kDefaultNacFactor));
  objs.push_back(attr("/nac@g_cutoff", 0));
  objs.push_back(attr("/nac@lambda", 0));
  Object method;
  method.path = "/nac@method";
  method.type = kString;
  method.dims = {};
  method.strings = {"gonze"};
  objs.push_back(method);
  Object source = method;
  source.path = "/nac@source";
  source.strings = {"BORN"};
  objs.push_back(source);
  return objs;
}

void apply(std::vector<Object>& objs, const std::uint8_t* e) {
  Object& o = objs[e[0] % objs.size()];
  const unsigned a = e[2], b = e[3];
  switch (e[1] % 8) {
    case 0:
      o.present = !o.present;
      break;
    case 1:
      o.type = static_cast<Type>(a % kNumTypes);
      break;
    case 2:  // rank
      o.dims.resize(a % 4, 3);
      o.resize();
      break;
    case 3:  // one dimension
      if (!o.dims.empty()) {
        o.dims[a % o.dims.size()] = b % 12;
        o.resize();
      }
      break;
    case 4:  // one value
      if (!o.values.empty()) o.values[a % o.values.size()] = kValues[b % std::size(kValues)];
      break;
    case 5:  // every value
      for (auto& v : o.values) v = kValues[b % std::size(kValues)];
      break;
    case 6:  // one string
      if (!o.strings.empty()) o.strings[a % o.strings.size()] = kStrings[b % std::size(kStrings)];
      break;
    case 7:  // a value scaled: nearby numbers (positions off their sites, masses, charges)
      if (!o.values.empty())
        o.values[a % o.values.size()] *= 1.0 + (static_cast<int>(b) - 128) / 64.0;
      break;
  }
}

hid_t file_type(Type t) {
  switch (t) {
    case kF64:
      return H5T_NATIVE_DOUBLE;
    case kF32:
      return H5T_NATIVE_FLOAT;
    case kI32:
      return H5T_NATIVE_INT32;
    case kI64:
      return H5T_NATIVE_INT64;
    default:
      return -1;
  }
}

// Writes one object; HDF5's own refusals (an attribute on a missing group) skip the object.
void write(hid_t file, const Object& o) {
  const auto at = o.path.find('@');
  const std::string node = o.path.substr(0, at);
  hid_t space = o.dims.empty()
                    ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(o.dims.size()), o.dims.data(), nullptr);
  hid_t type = o.type == kString ? H5Tcopy(H5T_C_S1) : H5Tcopy(file_type(o.type));
  if (o.type == kString) {  // as physfit and h5py write strings
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
  }
  std::vector<const char*> text;
  for (const auto& s : o.strings) text.push_back(s.c_str());
  // Values as the file's type: doubles converted by HDF5 (out of range: clipped).
  const void* buffer = o.type == kString ? static_cast<const void*>(text.data())
                                         : static_cast<const void*>(o.values.data());
  const hid_t mem = o.type == kString ? type : H5T_NATIVE_DOUBLE;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (at == std::string::npos) {
    hid_t d = H5Dcreate2(file, node.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
      if (o.count() > 0) H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
      H5Dclose(d);
    }
  } else {
    if (H5Lexists(file, node.c_str(), H5P_DEFAULT) <= 0)
      H5Gclose(H5Gcreate2(file, node.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT));
    hid_t g = H5Oopen(file, node.c_str(), H5P_DEFAULT);
    if (g >= 0) {
      hid_t attr =
          H5Acreate2(g, o.path.substr(at + 1).c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
      if (attr >= 0) {
        if (o.count() > 0) H5Awrite(attr, mem, buffer);
        H5Aclose(attr);
      }
      H5Oclose(g);
    }
  }
  H5Pclose(lcpl);
  H5Tclose(type);
  H5Sclose(space);
}

void write_file(const std::string& path, const std::vector<Object>& objs) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) std::abort();
  for (const auto& o : objs)
    if (o.present) write(file, o);
  H5Fclose(file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool mpi = [] {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      MPI_Init(nullptr, nullptr);
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // the writer's refusals are expected
    return true;
  }();
  (void)mpi;
  std::vector<Object> objs = valid_file();
  for (std::size_t k = 0; k + 4 <= size && k < 4 * 64; k += 4) apply(objs, data + k);
  const std::string path = physfit::fuzz::write_input(nullptr, 0, "data.h5");
  write_file(path, objs);
  try {
    const auto ideal = physfit::fc::read_structure_hdf5(path);
    physfit::fc::read_configurations_hdf5(physfit::mpi::Comm::self(), path, ideal.supercell.size());
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  try {
    physfit::fc::read_nac_hdf5(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
