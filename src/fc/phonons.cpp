#include "physfit/fc/phonons.hpp"

#include <Eigen/Eigenvalues>
#include <array>
#include <cmath>
#include <set>

#include "physfit/error.hpp"
#include "physfit/fc/units.hpp"
#include "physfit/util/signal.hpp"

namespace physfit::fc {

namespace {

constexpr double kGammaTolerance = 1e-5;  // |q| (1/Angstrom, no 2 pi) below which q is Gamma

// The commensurate points of the supercell: reduced q (primitive reciprocal basis) with
// M q integral, M the supercell matrix (rows: supercell vectors in the primitive basis).
std::vector<Eigen::Vector3d> commensurate_points(const Eigen::Matrix3i& m) {
  const Eigen::Matrix3d md = m.cast<double>();
  const long det = std::lround(std::abs(md.determinant()));
  const Eigen::Matrix3d adj = md.inverse() * md.determinant();  // integral
  const Eigen::Matrix3i adj_i = adj.array().round().matrix().cast<int>();
  const long sign = md.determinant() > 0 ? 1 : -1;
  // z = M f, f in [0, 1)^3, covers every class of Z^3 / M Z^3.
  Eigen::Vector3i lo, hi;
  for (int a = 0; a < 3; ++a) {
    lo[a] = hi[a] = 0;
    for (int b = 0; b < 3; ++b) (m(a, b) < 0 ? lo[a] : hi[a]) += m(a, b);
  }
  std::set<std::array<long, 3>> seen;
  std::vector<Eigen::Vector3d> out;
  for (int z0 = lo[0]; z0 <= hi[0]; ++z0)
    for (int z1 = lo[1]; z1 <= hi[1]; ++z1)
      for (int z2 = lo[2]; z2 <= hi[2]; ++z2) {
        const Eigen::Vector3i n = adj_i * Eigen::Vector3i(z0, z1, z2);  // det * q
        std::array<long, 3> key;
        for (int a = 0; a < 3; ++a) key[a] = (((sign * n[a]) % det) + det) % det;
        if (!seen.insert(key).second) continue;
        out.emplace_back(double(key[0]) / det, double(key[1]) / det, double(key[2]) / det);
      }
  return out;
}

}  // namespace

DynamicalMatrix::DynamicalMatrix(const Crystal& crystal, const Eigen::MatrixXd& fc2,
                                 double tolerance, const NacParameters* nac)
    : num_primitive_(crystal.num_primitive()), num_cells_(crystal.num_cells()) {
  const int n = crystal.num_atoms();
  if (fc2.rows() != 3 * n || fc2.cols() != 3 * n) {
    throw UsageError("force constants of " + std::to_string(fc2.rows() / 3) +
                     " atoms for a supercell of " + std::to_string(n));
  }
  const Eigen::Matrix3d to_fractional = crystal.primitive().lattice.transpose().inverse();
  reciprocal_ = crystal.primitive().lattice.inverse();
  volume_ = std::abs(crystal.primitive().lattice.determinant());
  const auto& masses = crystal.supercell().masses;
  inv_sqrt_mass_.resize(num_primitive_);
  for (int p = 0; p < num_primitive_; ++p) {
    inv_sqrt_mass_[p] = 1.0 / std::sqrt(masses[crystal.p2s()[p]]);
  }
  const bool all_pairs = nac != nullptr && nac->method != NacMethod::kNone;
  for (int p = 0; p < num_primitive_; ++p) {
    const int i = crystal.p2s()[p];
    for (int j = 0; j < n; ++j) {
      Term t;
      t.p = p;
      t.q = crystal.s2p()[j];
      const auto vectors = crystal.shortest_vectors(i, j, tolerance);
      t.block = fc2.block<3, 3>(3 * i, 3 * j) / std::sqrt(masses[i] * masses[j]) /
                static_cast<double>(vectors.size());
      t.short_range = t.block;
      // Without a correction, pairs without force constants add nothing; with one, every
      // pair carries its share of the long-range term.
      if (!all_pairs && t.block.cwiseAbs().maxCoeff() == 0.0) continue;
      for (const auto& v : vectors) t.shifts.push_back(to_fractional * v);
      terms_.push_back(std::move(t));
    }
  }
  if (all_pairs) {
    if (static_cast<int>(nac->born.size()) != num_primitive_) {
      throw UsageError("Born charges of " + std::to_string(nac->born.size()) +
                       " atoms for a primitive cell of " + std::to_string(num_primitive_));
    }
    nac_ = *nac;
    method_ = nac->method;
    if (method_ == NacMethod::kGonze) {
      dipole_ = std::make_shared<DipoleDipole>(*nac, crystal.primitive());
      subtract_dipole_dipole(crystal);
    }
  }
}

// Gonze-Lee: the short-range constants are the supercell's minus the dipole-dipole constants,
// the latter from the dipole-dipole dynamical matrices at the commensurate points (each
// brought into the first Brillouin zone) by the inverse Fourier transform, as phonopy's
// make_Gonze_nac_dataset does. At a commensurate point both sums are exact, so the short-range
// plus the dipole-dipole matrix gives back the supercell's dynamical matrix there.
void DynamicalMatrix::subtract_dipole_dipole(const Crystal& crystal) {
  const std::vector<Eigen::Vector3d> points = commensurate_points(crystal.supercell_matrix());
  if (static_cast<int>(points.size()) != num_cells_) {
    throw Error("DynamicalMatrix: " + std::to_string(points.size()) + " commensurate points for " +
                std::to_string(num_cells_) + " cells (internal)");
  }
  std::vector<Eigen::MatrixXcd> dd;
  std::vector<Eigen::Vector3d> shortest;
  for (const auto& q : points) {
    Eigen::Vector3d best = q;
    double best_norm = (reciprocal_ * q).norm();
    for (int a = -2; a <= 2; ++a)
      for (int b = -2; b <= 2; ++b)
        for (int c = -2; c <= 2; ++c) {
          const Eigen::Vector3d v = q + Eigen::Vector3d(a, b, c);
          const double norm = (reciprocal_ * v).norm();
          if (norm < best_norm - 1e-12) {
            best = v;
            best_norm = norm;
          }
        }
    shortest.push_back(best);
    Eigen::MatrixXcd m = dipole_->at(reciprocal_ * best);
    for (int p = 0; p < num_primitive_; ++p)
      for (int r = 0; r < num_primitive_; ++r)
        m.block<3, 3>(3 * p, 3 * r) *= inv_sqrt_mass_[p] * inv_sqrt_mass_[r];
    dd.push_back(std::move(m));
  }
  for (auto& t : terms_) {
    Eigen::Matrix3d sum = Eigen::Matrix3d::Zero();
    const double m = static_cast<double>(t.shifts.size());
    for (std::size_t k = 0; k < shortest.size(); ++k) {
      std::complex<double> phase = 0;
      for (const auto& s : t.shifts) phase += std::polar(1.0, -2 * M_PI * shortest[k].dot(s));
      phase /= m;
      sum += (dd[k].block<3, 3>(3 * t.p, 3 * t.q) * phase).real();
    }
    t.short_range = t.block - sum / static_cast<double>(num_cells_) / m;
  }
}

Eigen::MatrixXcd DynamicalMatrix::at(const Eigen::Vector3d& q,
                                     const std::optional<Eigen::Vector3d>& q_direction) const {
  const int m = 3 * num_primitive_;
  const Eigen::Vector3d q_cart = reciprocal_ * q;
  const bool gamma = q_cart.norm() < kGammaTolerance;
  // The direction of approach matters at Gamma only (phonopy's callers pass it there alone).
  std::optional<Eigen::Vector3d> direction;
  if (gamma && q_direction && (reciprocal_ * *q_direction).norm() >= kGammaTolerance) {
    direction = reciprocal_ * *q_direction;
  }
  // phonopy: no correction at Gamma without a direction of approach.
  const NacMethod method = (gamma && !direction) ? NacMethod::kNone : method_;
  const bool short_range = method == NacMethod::kGonze;
  Eigen::MatrixXcd d = Eigen::MatrixXcd::Zero(m, m);
  Eigen::MatrixXcd phases;  // Wang: sum over the supercell atoms of each primitive pair
  if (method == NacMethod::kWang) phases = Eigen::MatrixXcd::Zero(num_primitive_, num_primitive_);
  for (const auto& t : terms_) {
    std::complex<double> phase = 0;
    for (const auto& s : t.shifts) phase += std::polar(1.0, 2 * M_PI * q.dot(s));
    d.block<3, 3>(3 * t.p, 3 * t.q) +=
        (short_range ? t.short_range : t.block).cast<std::complex<double>>() * phase;
    if (method == NacMethod::kWang) phases(t.p, t.q) += phase / double(t.shifts.size());
  }
  if (method == NacMethod::kGonze) {
    Eigen::MatrixXcd dd = dipole_->at(q_cart, direction);
    for (int p = 0; p < num_primitive_; ++p)
      for (int r = 0; r < num_primitive_; ++r)
        d.block<3, 3>(3 * p, 3 * r) +=
            dd.block<3, 3>(3 * p, 3 * r) * (inv_sqrt_mass_[p] * inv_sqrt_mass_[r]);
  } else if (method == NacMethod::kWang) {
    // The q -> 0 term over the number of cells, added to every supercell constant.
    const Eigen::MatrixXd c = wang_charge_term(*nac_, volume_, gamma ? *direction : q_cart);
    for (int p = 0; p < num_primitive_; ++p)
      for (int r = 0; r < num_primitive_; ++r)
        d.block<3, 3>(3 * p, 3 * r) += c.block<3, 3>(3 * p, 3 * r).cast<std::complex<double>>() *
                                       (phases(p, r) * inv_sqrt_mass_[p] * inv_sqrt_mass_[r] /
                                        static_cast<double>(num_cells_));
  }
  return (d + d.adjoint()) / 2.0;
}

Eigen::VectorXd DynamicalMatrix::frequencies(
    const Eigen::Vector3d& q, const std::optional<Eigen::Vector3d>& q_direction) const {
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(at(q, q_direction),
                                                            Eigen::EigenvaluesOnly);
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
    // A safe point per segment (the caller makes a stop collective).
    util::throw_if_stop_requested("while computing the band structure");
    const Eigen::Vector3d a = path.points[seg], c = path.points[seg + 1];
    const double length = (reciprocal * (c - a)).norm();
    for (int k = open ? 1 : 0; k < path.segment_points; ++k) {
      const double t = k / double(path.segment_points - 1);
      const Eigen::Vector3d q = a + t * (c - a);
      b.qpoints.push_back(q);
      b.distance.push_back(s + t * length);
      b.branch.push_back(branch);
      rows.push_back(d.frequencies(q, Eigen::Vector3d(c - a)));  // direction used at Gamma
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
    for (int b = 0; b < mesh[1]; ++b) {
      // A safe point per row of mesh[2] q-points (the caller makes a stop collective).
      util::throw_if_stop_requested("while computing the density of states");
      for (int c = 0; c < mesh[2]; ++c) {
        const Eigen::VectorXd f =
            d.frequencies(Eigen::Vector3d(a, b, c).cwiseQuotient(mesh.cast<double>()));
        all.insert(all.end(), f.data(), f.data() + f.size());
      }
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
    util::throw_if_stop_requested("while smearing the density of states");
    const double f = lo + (hi - lo) * k / (bins - 1);
    double g = 0;
    for (double v : all) g += std::exp(-0.5 * std::pow((f - v) / sigma, 2));
    out.frequency.push_back(f);
    out.density.push_back(g * weight);
  }
  return out;
}

}  // namespace physfit::fc
