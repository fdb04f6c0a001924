#include "physfit/fc/phonons.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>

#include "physfit/error.hpp"
#include "physfit/fc/units.hpp"

namespace physfit::fc {

DynamicalMatrix::DynamicalMatrix(const Crystal& crystal, const Eigen::MatrixXd& fc2,
                                 double tolerance)
    : num_primitive_(crystal.num_primitive()) {
  const int n = crystal.num_atoms();
  if (fc2.rows() != 3 * n || fc2.cols() != 3 * n) {
    throw UsageError("force constants of " + std::to_string(fc2.rows() / 3) +
                     " atoms for a supercell of " + std::to_string(n));
  }
  const Eigen::Matrix3d to_fractional = crystal.primitive().lattice.transpose().inverse();
  const auto& masses = crystal.supercell().masses;
  for (int p = 0; p < num_primitive_; ++p) {
    const int i = crystal.p2s()[p];
    for (int j = 0; j < n; ++j) {
      Term t;
      t.p = p;
      t.q = crystal.s2p()[j];
      const auto vectors = crystal.shortest_vectors(i, j, tolerance);
      t.block = fc2.block<3, 3>(3 * i, 3 * j) / std::sqrt(masses[i] * masses[j]) /
                static_cast<double>(vectors.size());
      if (t.block.cwiseAbs().maxCoeff() == 0.0) continue;
      for (const auto& v : vectors) t.shifts.push_back(to_fractional * v);
      terms_.push_back(std::move(t));
    }
  }
}

Eigen::MatrixXcd DynamicalMatrix::at(const Eigen::Vector3d& q) const {
  const int m = 3 * num_primitive_;
  Eigen::MatrixXcd d = Eigen::MatrixXcd::Zero(m, m);
  for (const auto& t : terms_) {
    std::complex<double> phase = 0;
    for (const auto& s : t.shifts) phase += std::polar(1.0, 2 * M_PI * q.dot(s));
    d.block<3, 3>(3 * t.p, 3 * t.q) += t.block.cast<std::complex<double>>() * phase;
  }
  return (d + d.adjoint()) / 2.0;
}

Eigen::VectorXd DynamicalMatrix::frequencies(const Eigen::Vector3d& q) const {
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(at(q), Eigen::EigenvaluesOnly);
  Eigen::VectorXd f = eig.eigenvalues();
  for (Eigen::Index k = 0; k < f.size(); ++k) {
    f[k] = (f[k] < 0 ? -1 : 1) * std::sqrt(std::abs(f[k])) * units::kEigenvalueToTHz;
  }
  return f;
}

Bands band_structure(const DynamicalMatrix& d, const Crystal& crystal, const BandPath& path) {
  if (path.points.size() < 2 || path.points.size() != path.labels.size()) {
    throw UsageError("a band path needs at least two points, each with a label");
  }
  if (path.segment_points < 2) throw UsageError("a band path needs 2 or more points per segment");
  const Eigen::Matrix3d reciprocal = crystal.primitive().lattice.inverse();  // columns, no 2 pi
  Bands b;
  std::vector<Eigen::VectorXd> rows;
  double s = 0;
  int branch = 0;
  bool open = false;  // the last q-point added ends a segment that the next one continues
  for (std::size_t seg = 0; seg + 1 < path.points.size(); ++seg) {
    if (!path.joined(seg)) {
      if (!b.labels.empty()) b.labels.back() += "|" + path.labels[seg + 1];
      if (open) ++branch;
      open = false;
      continue;
    }
    if (b.labels.empty()) {
      b.labels.push_back(path.labels[seg]);
      b.label_distance.push_back(s);
    }
    const Eigen::Vector3d a = path.points[seg], c = path.points[seg + 1];
    const double length = (reciprocal * (c - a)).norm();
    for (int k = open ? 1 : 0; k < path.segment_points; ++k) {
      const double t = k / double(path.segment_points - 1);
      const Eigen::Vector3d q = a + t * (c - a);
      b.qpoints.push_back(q);
      b.distance.push_back(s + t * length);
      b.branch.push_back(branch);
      rows.push_back(d.frequencies(q));
    }
    open = true;
    s += length;
    b.labels.push_back(path.labels[seg + 1]);
    b.label_distance.push_back(s);
  }
  if (rows.empty()) throw UsageError("the band path has no segment (only breaks)");
  b.frequencies.resize(static_cast<Eigen::Index>(rows.size()), d.num_bands());
  for (std::size_t k = 0; k < rows.size(); ++k) b.frequencies.row(k) = rows[k].transpose();
  return b;
}

Dos density_of_states(const DynamicalMatrix& d, int mesh, double sigma, int bins) {
  return density_of_states(d, Eigen::Vector3i::Constant(mesh), sigma, bins);
}

Dos density_of_states(const DynamicalMatrix& d, const Eigen::Vector3i& mesh, double sigma,
                      int bins) {
  if ((mesh.array() < 1).any()) throw UsageError("a DOS mesh needs 1 or more points per axis");
  std::vector<double> all;
  for (int a = 0; a < mesh[0]; ++a)
    for (int b = 0; b < mesh[1]; ++b)
      for (int c = 0; c < mesh[2]; ++c) {
        const Eigen::VectorXd f =
            d.frequencies(Eigen::Vector3d(a, b, c).cwiseQuotient(mesh.cast<double>()));
        all.insert(all.end(), f.data(), f.data() + f.size());
      }
  double lo = 0, hi = 0;
  for (double f : all) {
    lo = std::min(lo, f);
    hi = std::max(hi, f);
  }
  lo -= 3 * sigma;
  hi += 3 * sigma;
  Dos out;
  const double weight = 1.0 / mesh.cast<double>().prod() / (sigma * std::sqrt(2 * M_PI));
  for (int k = 0; k < bins; ++k) {
    const double f = lo + (hi - lo) * k / (bins - 1);
    double g = 0;
    for (double v : all) g += std::exp(-0.5 * std::pow((f - v) / sigma, 2));
    out.frequency.push_back(f);
    out.density.push_back(g * weight);
  }
  return out;
}

}  // namespace physfit::fc
