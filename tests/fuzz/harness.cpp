#include "harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>

namespace physfit::fuzz {
namespace {

struct Scratch {
  std::string folder;
  std::set<std::string> files;
  Scratch() {
    const char* base = std::getenv("PHYSFIT_FUZZ_TMP");
    std::string root = base ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    folder = root + "/physfit-fuzz-" + std::to_string(getpid());
    if (mkdir(folder.c_str(), 0700) != 0) throw std::runtime_error("fuzz: cannot create " + folder);
  }
  ~Scratch() {
    for (const auto& f : files) std::remove(f.c_str());
    rmdir(folder.c_str());
  }
};

Scratch& scratch() {
  static Scratch s;
  return s;
}

}  // namespace

std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  Scratch& s = scratch();
  std::string path = s.folder + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz: cannot write " + path);
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    std::fclose(f);
    throw std::runtime_error("fuzz: cannot write " + path);
  }
  std::fclose(f);
  s.files.insert(path);
  return path;
}

void expected(const physfit::Error& error) {
  static const bool verbose = std::getenv("PHYSFIT_FUZZ_VERBOSE") != nullptr;
  const int code = static_cast<int>(error.code());
  if (verbose) std::fprintf(stderr, "  error (exit %d): %s\n", code, error.what());
  if (error.code() == ExitCode::kInternal) {
    std::fprintf(stderr, "fuzz: a parser ended with an internal error (exit 1): %s\n",
                 error.what());
    std::abort();
  }
}

const fc::Structure& silicon_cell() {
  static const fc::Structure cell = [] {
    fc::Structure s;
    const double a = 5.43;
    s.lattice = a * Eigen::Matrix3d::Identity();
    const double f[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                            {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                            {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
    for (const auto& r : f) {
      s.positions.push_back(a * Eigen::Vector3d(r[0], r[1], r[2]));
      s.numbers.push_back(14);
      s.masses.push_back(28.0855);
    }
    s.fill_symbols();
    return s;
  }();
  return cell;
}

const fc::Crystal& silicon_crystal() {
  static const fc::Crystal crystal = [] {
    Eigen::Matrix3d primitive;
    primitive << 0, 0.5, 0.5, 0.5, 0, 0.5, 0.5, 0.5, 0;
    return fc::Crystal(silicon_cell(), 5.43 * primitive, 1e-5);
  }();
  return crystal;
}

}  // namespace physfit::fuzz
