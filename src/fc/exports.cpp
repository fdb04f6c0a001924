#include "physfit/fc/exports.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/fc/clusters.hpp"
#include "physfit/fc/structure_io.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/temporary.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::fc {
namespace {

// Writes an HDF5 file under a temporary name, then renames it over `path`.
template <class Body>
void write_hdf5_atomic(const std::string& path, Body&& body) {
  io::remove_stale_temporaries(path);
  const std::string tmp = io::temporary_name(path);
  io::register_temporary(tmp);
  try {
    io::File f = io::File::create(tmp);
    body(f);
    f.close();
  } catch (...) {
    io::discard_temporary(tmp);
    throw;
  }
  io::publish_file(tmp, path);  // now, or with the other outputs (io::StagedOutputs)
}

std::vector<std::int64_t> p2s_of(const Crystal& c) {
  return std::vector<std::int64_t>(c.p2s().begin(), c.p2s().end());
}

}  // namespace

void write_force_constants_text(const std::string& path, const Crystal& crystal,
                                const Eigen::MatrixXd& fc2, bool compact) {
  const int n = crystal.num_atoms();
  std::vector<int> rows;
  if (compact) {
    rows = crystal.p2s();
  } else {
    for (int i = 0; i < n; ++i) rows.push_back(i);
  }
  std::string out;
  out.reserve(rows.size() * n * 80 * 4);
  char line[128];
  std::snprintf(line, sizeof line, "%4d %4d\n", static_cast<int>(rows.size()), n);
  out += line;
  for (int i : rows) {
    for (int j = 0; j < n; ++j) {
      std::snprintf(line, sizeof line, "%d %d\n", i + 1, j + 1);
      out += line;
      for (int a = 0; a < 3; ++a) {
        std::snprintf(line, sizeof line, "%22.15f%22.15f%22.15f\n", fc2(3 * i + a, 3 * j),
                      fc2(3 * i + a, 3 * j + 1), fc2(3 * i + a, 3 * j + 2));
        out += line;
      }
    }
  }
  io::write_file_atomic(path, out);
}

void write_structure_exports(const std::string& dir, const IdealStructure& ideal,
                             const Crystal& crystal) {
  write_phonopy_yaml(dir + "/phonopy.yaml", ideal, crystal);
  write_poscar(dir + "/SPOSCAR", crystal.supercell(), "supercell (physfit)");
  write_poscar(dir + "/PPOSCAR", crystal.primitive(), "primitive cell (physfit)");
}

Eigen::MatrixXd read_force_constants_text(const std::string& path, const Crystal& crystal) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open '" + path + "' for reading");
  const int n = crystal.num_atoms();
  long line_no = 0;
  std::string line;
  auto next = [&]() {
    if (!std::getline(in, line)) {
      throw IoError(path + ":" + std::to_string(line_no) + ": the file ends early");
    }
    ++line_no;
    return line;
  };
  std::istringstream head(next());
  int n1 = 0, n2 = 0;
  if (!(head >> n1)) throw IoError(path + ":1: expected the numbers of atoms");
  if (!(head >> n2)) n2 = n1;
  if (n2 != n || (n1 != n && n1 != crystal.num_primitive())) {
    throw UsageError(path + ":1: force constants of " + std::to_string(n1) + " x " +
                     std::to_string(n2) + " atoms for a supercell of " + std::to_string(n) +
                     " atoms (" + std::to_string(crystal.num_primitive()) + " primitive)");
  }
  Eigen::MatrixXd fc = Eigen::MatrixXd::Zero(3 * n, 3 * n);
  for (int b = 0; b < n1 * n2; ++b) {
    std::istringstream ij(next());
    int i = 0, j = 0;
    if (!(ij >> i >> j) || i < 1 || i > n || j < 1 || j > n) {
      throw IoError(path + ":" + std::to_string(line_no) + ": expected two atom indices 1.." +
                    std::to_string(n) + ", got '" + line + "'");
    }
    for (int a = 0; a < 3; ++a) {
      std::istringstream v(next());
      for (int c = 0; c < 3; ++c) {
        double x;
        if (!(v >> x) || !std::isfinite(x)) {
          throw IoError(path + ":" + std::to_string(line_no) +
                        ": expected 3 finite numbers, got '" + line + "'");
        }
        fc(3 * (i - 1) + a, 3 * (j - 1) + c) = x;
      }
    }
  }
  if (n1 != n) {
    // Compact: rows of the primitive atoms; the others by translation.
    for (int i = 0; i < n; ++i) {
      const int home = crystal.p2s()[crystal.s2p()[i]];
      if (home == i) continue;
      const int t = crystal.translation_home(i);
      for (int j = 0; j < n; ++j) {
        fc.block<3, 3>(3 * i, 3 * j) = fc.block<3, 3>(3 * home, 3 * crystal.translate(j, t));
      }
    }
  }
  return fc;
}

void write_force_constants_hdf5(const std::string& path, const Crystal& crystal,
                                const Eigen::MatrixXd& fc2, bool compact) {
  const int n = crystal.num_atoms();
  std::vector<int> rows;
  if (compact) {
    rows = crystal.p2s();
  } else {
    for (int i = 0; i < n; ++i) rows.push_back(i);
  }
  std::vector<double> data;
  data.reserve(rows.size() * n * 9);
  for (int i : rows)
    for (int j = 0; j < n; ++j)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) data.push_back(fc2(3 * i + a, 3 * j + b));
  write_hdf5_atomic(path, [&](io::File& f) {
    auto d = f.create_dataset<double>(
        "/force_constants", {static_cast<std::int64_t>(rows.size()), n, 3, 3}, "eV/angstrom^2");
    d.write_all(data);
    f.create_dataset<std::int64_t>("/p2s_map", {crystal.num_primitive()}, "dimensionless")
        .write_all(p2s_of(crystal));
  });
}

void write_fc3_hdf5(const std::string& path, const Crystal& crystal,
                    const std::vector<double>& fc3) {
  const std::int64_t n = crystal.num_atoms(), np = crystal.num_primitive();
  if (static_cast<std::int64_t>(fc3.size()) != np * n * n * 27) {
    throw Error("write_fc3_hdf5: wrong size of the compact array");
  }
  write_hdf5_atomic(path, [&](io::File& f) {
    auto d = f.create_dataset<double>("/fc3", {np, n, n, 3, 3, 3}, "eV/angstrom^3");
    d.write_all(fc3);
    f.create_dataset<std::int64_t>("/p2s_map", {np}, "dimensionless").write_all(p2s_of(crystal));
  });
}

std::size_t write_shengbte_fc3(const std::string& path, const Crystal& crystal,
                               const std::vector<double>& fc3, double cutoff, double tolerance) {
  const int n = crystal.num_atoms();
  const Eigen::Matrix3d ls = crystal.supercell().lattice;
  const auto& pos = crystal.supercell().positions;
  const LatticeImages images(ls);
  std::ostringstream body;
  body.precision(10);
  std::size_t blocks = 0;
  char line[160];
  for (int p = 0; p < crystal.num_primitive(); ++p) {
    const int i = crystal.p2s()[p];
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) {
        const double* t = fc3.data() + ((std::size_t(p) * n + j) * n + k) * 27;
        double big = 0;
        for (int a = 0; a < 27; ++a) big = std::max(big, std::abs(t[a]));
        if (big == 0.0) continue;
        // The triplet's embeddings: its compact ones (every pair within the cutoff; exactly
        // one below the cutoff limit) or, without a cutoff or if none is compact, the images
        // of j and k (supercell translations -1..1) of smallest total distance.
        std::vector<std::pair<Eigen::Vector3d, Eigen::Vector3d>> candidates;
        if (cutoff >= 0) {
          for (const auto& e : compact_embeddings(crystal, images, {i, j, k}, cutoff))
            candidates.emplace_back(e[1], e[2]);
        }
        if (candidates.empty()) {
          const auto vj = crystal.shortest_vectors(i, j, 1e300);
          const auto vk = crystal.shortest_vectors(i, k, 1e300);
          for (const auto& a : vj)
            for (const auto& b : vk) candidates.emplace_back(a, b);
        }
        std::vector<std::pair<Eigen::Vector3d, Eigen::Vector3d>> best;
        double best_d = 1e300;
        for (const auto& [a, b] : candidates) {
          const double d = a.norm() + b.norm() + (b - a).norm();
          if (d < best_d - tolerance) {
            best_d = d;
            best.clear();
          }
          if (d <= best_d + tolerance) best.emplace_back(a, b);
        }
        const double w = 1.0 / static_cast<double>(best.size());
        for (const auto& [a, b] : best) {
          // Cell vectors: the image's position minus its unit-cell atom's position.
          const Eigen::Vector3d r2 = pos[i] + a - pos[crystal.p2s()[crystal.s2p()[j]]];
          const Eigen::Vector3d r3 = pos[i] + b - pos[crystal.p2s()[crystal.s2p()[k]]];
          ++blocks;
          body << "\n" << blocks << "\n";
          std::snprintf(line, sizeof line, "%16.10f %16.10f %16.10f\n", r2[0], r2[1], r2[2]);
          body << line;
          std::snprintf(line, sizeof line, "%16.10f %16.10f %16.10f\n", r3[0], r3[1], r3[2]);
          body << line;
          body << p + 1 << " " << crystal.s2p()[j] + 1 << " " << crystal.s2p()[k] + 1 << "\n";
          for (int a3 = 0; a3 < 27; ++a3) {
            std::snprintf(line, sizeof line, "%d %d %d %22.12e\n", a3 / 9 + 1, a3 / 3 % 3 + 1,
                          a3 % 3 + 1, t[a3] * w);
            body << line;
          }
        }
      }
  }
  io::write_file_atomic(path, std::to_string(blocks) + "\n" + body.str());
  return blocks;
}

}  // namespace physfit::fc
