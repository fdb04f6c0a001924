#include "physfit/fc/bandpath.hpp"

#include <spglib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <tuple>

#include "physfit/error.hpp"

namespace physfit::fc {
namespace {

// Relative tolerance of the equalities that decide a case (ORCF3, MCLC2, MCLC4, TRI2).
constexpr double kCaseTolerance = 1e-5;
constexpr double kDegree = M_PI / 180.0;

using Points = std::vector<std::pair<std::string, Eigen::Vector3d>>;

// One case of Setyawan and Curtarolo's tables: its special points (reduced coordinates in
// SC's primitive reciprocal basis) and its default path.
struct Case {
  std::string variant;
  Points points;
  std::string path;
};

// Parameters of SC's conventional cell: lengths (Angstrom) and alpha (radians).
struct Cell {
  double a = 0, b = 0, c = 0, alpha = 0;
};

Eigen::Vector3d v(double x, double y, double z) { return {x, y, z}; }

// Setyawan and Curtarolo 2010, Tables 2-16 (coordinates) and their default paths, for the
// cases with the conventional cell `p` (SC's setting). The triclinic cases take no parameter.
Case sc_case(const std::string& variant, const Cell& p) {
  const double a = p.a, b = p.b, c = p.c, a2 = a * a, b2 = b * b, c2 = c * c;
  const double cosa = std::cos(p.alpha), sina = std::sin(p.alpha), sin2 = sina * sina;
  if (variant == "CUB") {
    return {variant,
            {{"G", v(0, 0, 0)}, {"M", v(.5, .5, 0)}, {"R", v(.5, .5, .5)}, {"X", v(0, .5, 0)}},
            "G-X-M-G-R-X|M-R"};
  }
  if (variant == "FCC") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"K", v(3. / 8, 3. / 8, 3. / 4)},
             {"L", v(.5, .5, .5)},
             {"U", v(5. / 8, 1. / 4, 5. / 8)},
             {"W", v(.5, .25, .75)},
             {"X", v(.5, 0, .5)}},
            "G-X-W-K-G-L-U-W-L-K|U-X"};
  }
  if (variant == "BCC") {
    return {variant,
            {{"G", v(0, 0, 0)}, {"H", v(.5, -.5, .5)}, {"P", v(.25, .25, .25)}, {"N", v(0, 0, .5)}},
            "G-H-N-G-P-H|P-N"};
  }
  if (variant == "TET") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"A", v(.5, .5, .5)},
             {"M", v(.5, .5, 0)},
             {"R", v(0, .5, .5)},
             {"X", v(0, .5, 0)},
             {"Z", v(0, 0, .5)}},
            "G-X-M-G-Z-R-A-Z|X-R|M-A"};
  }
  if (variant == "BCT1") {
    const double eta = (1 + c2 / a2) / 4;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"M", v(-.5, .5, .5)},
             {"N", v(0, .5, 0)},
             {"P", v(.25, .25, .25)},
             {"X", v(0, 0, .5)},
             {"Z", v(eta, eta, -eta)},
             {"Z1", v(-eta, 1 - eta, eta)}},
            "G-X-M-G-Z-P-N-Z1-M|X-P"};
  }
  if (variant == "BCT2") {
    const double eta = (1 + a2 / c2) / 4, zeta = a2 / (2 * c2);
    return {variant,
            {{"G", v(0, 0, 0)},
             {"N", v(0, .5, 0)},
             {"P", v(.25, .25, .25)},
             {"S", v(-eta, eta, eta)},
             {"S1", v(eta, 1 - eta, -eta)},
             {"X", v(0, 0, .5)},
             {"Y", v(-zeta, zeta, .5)},
             {"Y1", v(.5, .5, -zeta)},
             {"Z", v(.5, .5, -.5)}},
            "G-X-Y-S-G-Z-S1-N-P-Y1-Z|X-P"};
  }
  if (variant == "ORC") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"R", v(.5, .5, .5)},
             {"S", v(.5, .5, 0)},
             {"T", v(0, .5, .5)},
             {"U", v(.5, 0, .5)},
             {"X", v(.5, 0, 0)},
             {"Y", v(0, .5, 0)},
             {"Z", v(0, 0, .5)}},
            "G-X-S-Y-G-Z-U-R-T-Z|Y-T|U-X|S-R"};
  }
  if (variant == "ORCF1" || variant == "ORCF3") {
    const double zeta = (1 + a2 / b2 - a2 / c2) / 4, eta = (1 + a2 / b2 + a2 / c2) / 4;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"A", v(.5, .5 + zeta, zeta)},
             {"A1", v(.5, .5 - zeta, 1 - zeta)},
             {"L", v(.5, .5, .5)},
             {"T", v(1, .5, .5)},
             {"X", v(0, eta, eta)},
             {"X1", v(1, 1 - eta, 1 - eta)},
             {"Y", v(.5, 0, .5)},
             {"Z", v(.5, .5, 0)}},
            variant == "ORCF1" ? "G-Y-T-Z-G-X-A1-Y|T-X1|X-A-Z|L-G" : "G-Y-T-Z-G-X-A1-Y|X-A-Z|L-G"};
  }
  if (variant == "ORCF2") {
    const double eta = (1 + a2 / b2 - a2 / c2) / 4, phi = (1 + c2 / b2 - c2 / a2) / 4,
                 delta = (1 + b2 / a2 - b2 / c2) / 4;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"C", v(.5, .5 - eta, 1 - eta)},
             {"C1", v(.5, .5 + eta, eta)},
             {"D", v(.5 - delta, .5, 1 - delta)},
             {"D1", v(.5 + delta, .5, delta)},
             {"L", v(.5, .5, .5)},
             {"H", v(1 - phi, .5 - phi, .5)},
             {"H1", v(phi, .5 + phi, .5)},
             {"X", v(0, .5, .5)},
             {"Y", v(.5, 0, .5)},
             {"Z", v(.5, .5, 0)}},
            "G-Y-C-D-X-G-Z-D1-H-C|C1-Z|X-H1|H-Y|L-G"};
  }
  if (variant == "ORCI") {
    const double zeta = (1 + a2 / c2) / 4, eta = (1 + b2 / c2) / 4, delta = (b2 - a2) / (4 * c2),
                 mu = (a2 + b2) / (4 * c2);
    return {variant,
            {{"G", v(0, 0, 0)},
             {"L", v(-mu, mu, .5 - delta)},
             {"L1", v(mu, -mu, .5 + delta)},
             {"L2", v(.5 - delta, .5 + delta, -mu)},
             {"R", v(0, .5, 0)},
             {"S", v(.5, 0, 0)},
             {"T", v(0, 0, .5)},
             {"W", v(.25, .25, .25)},
             {"X", v(-zeta, zeta, zeta)},
             {"X1", v(zeta, 1 - zeta, -zeta)},
             {"Y", v(eta, -eta, eta)},
             {"Y1", v(1 - eta, eta, -eta)},
             {"Z", v(.5, .5, -.5)}},
            "G-X-L-T-W-R-X1-Z-G-Y-S-W|L1-Y|Y1-Z"};
  }
  if (variant == "ORCC") {
    const double zeta = (1 + a2 / b2) / 4;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"A", v(zeta, zeta, .5)},
             {"A1", v(-zeta, 1 - zeta, .5)},
             {"R", v(0, .5, .5)},
             {"S", v(0, .5, 0)},
             {"T", v(-.5, .5, .5)},
             {"X", v(zeta, zeta, 0)},
             {"X1", v(-zeta, 1 - zeta, 0)},
             {"Y", v(-.5, .5, 0)},
             {"Z", v(0, 0, .5)}},
            "G-X-S-R-A-Z-G-Y-X1-A1-T-Y|Z-T"};
  }
  if (variant == "HEX") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"A", v(0, 0, .5)},
             {"H", v(1. / 3, 1. / 3, .5)},
             {"K", v(1. / 3, 1. / 3, 0)},
             {"L", v(.5, 0, .5)},
             {"M", v(.5, 0, 0)}},
            "G-M-K-G-A-L-H-A|L-M|K-H"};
  }
  if (variant == "RHL1") {
    const double eta = (1 + 4 * cosa) / (2 + 4 * cosa), nu = .75 - eta / 2;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"B", v(eta, .5, 1 - eta)},
             {"B1", v(.5, 1 - eta, eta - 1)},
             {"F", v(.5, .5, 0)},
             {"L", v(.5, 0, 0)},
             {"L1", v(0, 0, -.5)},
             {"P", v(eta, nu, nu)},
             {"P1", v(1 - nu, 1 - nu, 1 - eta)},
             {"P2", v(nu, nu, eta - 1)},
             {"Q", v(1 - nu, nu, 0)},
             {"X", v(nu, 0, -nu)},
             {"Z", v(.5, .5, .5)}},
            "G-L-B1|B-Z-G-X|Q-F-P1-Z|L-P"};
  }
  if (variant == "RHL2") {
    const double t = std::tan(p.alpha / 2), eta = 1 / (2 * t * t), nu = .75 - eta / 2;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"F", v(.5, -.5, 0)},
             {"L", v(.5, 0, 0)},
             {"P", v(1 - nu, -nu, 1 - nu)},
             {"P1", v(nu, nu - 1, nu - 1)},
             {"Q", v(eta, eta, eta)},
             {"Q1", v(1 - eta, -eta, -eta)},
             {"Z", v(.5, -.5, .5)}},
            "G-P-Z-Q-G-F-P1-Q1-L-Z"};
  }
  if (variant == "MCL") {
    const double eta = (1 - b * cosa / c) / (2 * sin2), nu = .5 - eta * c * cosa / b;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"A", v(.5, .5, 0)},
             {"C", v(0, .5, .5)},
             {"D", v(.5, 0, .5)},
             {"D1", v(.5, 0, -.5)},
             {"E", v(.5, .5, .5)},
             {"H", v(0, eta, 1 - nu)},
             {"H1", v(0, 1 - eta, nu)},
             {"H2", v(0, eta, -nu)},
             {"M", v(.5, eta, 1 - nu)},
             {"M1", v(.5, 1 - eta, nu)},
             {"M2", v(.5, eta, -nu)},
             {"X", v(0, .5, 0)},
             {"Y", v(0, 0, .5)},
             {"Y1", v(0, 0, -.5)},
             {"Z", v(.5, 0, 0)}},
            "G-Y-H-C-E-M1-A-X-H1|M-D-Z|Y-D"};
  }
  if (variant == "MCLC1" || variant == "MCLC2") {
    const double zeta = (2 - b * cosa / c) / (4 * sin2), eta = .5 + 2 * zeta * c * cosa / b,
                 psi = .75 - a2 / (4 * b2 * sin2), phi = psi + (.75 - psi) * b * cosa / c;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"N", v(.5, 0, 0)},
             {"N1", v(0, -.5, 0)},
             {"F", v(1 - zeta, 1 - zeta, 1 - eta)},
             {"F1", v(zeta, zeta, eta)},
             {"F2", v(-zeta, -zeta, 1 - eta)},
             {"F3", v(1 - zeta, -zeta, 1 - eta)},
             {"I", v(phi, 1 - phi, .5)},
             {"I1", v(1 - phi, phi - 1, .5)},
             {"L", v(.5, .5, .5)},
             {"M", v(.5, 0, .5)},
             {"X", v(1 - psi, psi - 1, 0)},
             {"X1", v(psi, 1 - psi, 0)},
             {"X2", v(psi - 1, -psi, 0)},
             {"Y", v(.5, .5, 0)},
             {"Y1", v(-.5, -.5, 0)},
             {"Z", v(0, 0, .5)}},
            variant == "MCLC1" ? "G-Y-F-L-I|I1-Z-F1|Y-X1|X-G-N|M-G" : "G-Y-F-L-I|I1-Z-F1|N-G-M"};
  }
  if (variant == "MCLC3" || variant == "MCLC4") {
    const double mu = (1 + b2 / a2) / 4, delta = b * c * cosa / (2 * a2),
                 zeta = mu - .25 + (1 - b * cosa / c) / (4 * sin2),
                 eta = .5 + 2 * zeta * c * cosa / b, phi = 1 + zeta - 2 * mu, psi = eta - 2 * delta;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"F", v(1 - phi, 1 - phi, 1 - psi)},
             {"F1", v(phi, phi - 1, psi)},
             {"F2", v(1 - phi, -phi, 1 - psi)},
             {"H", v(zeta, zeta, eta)},
             {"H1", v(1 - zeta, -zeta, 1 - eta)},
             {"H2", v(-zeta, -zeta, 1 - eta)},
             {"I", v(.5, -.5, .5)},
             {"M", v(.5, 0, .5)},
             {"N", v(.5, 0, 0)},
             {"N1", v(0, -.5, 0)},
             {"X", v(.5, -.5, 0)},
             {"Y", v(mu, mu, delta)},
             {"Y1", v(1 - mu, -mu, -delta)},
             {"Y2", v(-mu, -mu, -delta)},
             {"Y3", v(mu, mu - 1, delta)},
             {"Z", v(0, 0, .5)}},
            variant == "MCLC3" ? "G-Y-F-H-Z-I-F1|H1-Y1-X-G-N|M-G" : "G-Y-F-H-Z-I|H1-Y1-X-G-N|M-G"};
  }
  if (variant == "MCLC5") {
    const double zeta = (b2 / a2 + (1 - b * cosa / c) / sin2) / 4,
                 eta = .5 + 2 * zeta * c * cosa / b,
                 mu = eta / 2 + b2 / (4 * a2) - b * c * cosa / (2 * a2), nu = 2 * mu - zeta,
                 omega = (4 * nu - 1 - b2 * sin2 / a2) * c / (2 * b * cosa),
                 delta = zeta * c * cosa / b + omega / 2 - .25, rho = 1 - zeta * a2 / b2;
    return {variant,
            {{"G", v(0, 0, 0)},
             {"F", v(nu, nu, omega)},
             {"F1", v(1 - nu, 1 - nu, 1 - omega)},
             {"F2", v(nu, nu - 1, omega)},
             {"H", v(zeta, zeta, eta)},
             {"H1", v(1 - zeta, -zeta, 1 - eta)},
             {"H2", v(-zeta, -zeta, 1 - eta)},
             {"I", v(rho, 1 - rho, .5)},
             {"I1", v(1 - rho, rho - 1, .5)},
             {"L", v(.5, .5, .5)},
             {"M", v(.5, 0, .5)},
             {"N", v(.5, 0, 0)},
             {"N1", v(0, -.5, 0)},
             {"X", v(.5, -.5, 0)},
             {"Y", v(mu, mu, delta)},
             {"Y1", v(1 - mu, -mu, -delta)},
             {"Y2", v(-mu, -mu, -delta)},
             {"Y3", v(mu, mu - 1, delta)},
             {"Z", v(0, 0, .5)}},
            "G-Y-F-L-I|I1-Z-H-F1|H1-Y1-X-G-N|M-G"};
  }
  const std::string tri_path = "X-G-Y|L-G-Z|N-G-M|R-G";
  if (variant == "TRI1a" || variant == "TRI2a") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"L", v(.5, .5, 0)},
             {"M", v(0, .5, .5)},
             {"N", v(.5, 0, .5)},
             {"R", v(.5, .5, .5)},
             {"X", v(.5, 0, 0)},
             {"Y", v(0, .5, 0)},
             {"Z", v(0, 0, .5)}},
            tri_path};
  }
  if (variant == "TRI1b" || variant == "TRI2b") {
    return {variant,
            {{"G", v(0, 0, 0)},
             {"L", v(.5, -.5, 0)},
             {"M", v(0, 0, .5)},
             {"N", v(-.5, -.5, .5)},
             {"R", v(0, -.5, .5)},
             {"X", v(0, -.5, 0)},
             {"Y", v(.5, 0, 0)},
             {"Z", v(-.5, 0, .5)}},
            tri_path};
  }
  throw Error("brillouin_zone: no Setyawan-Curtarolo table for case '" + variant + "'");
}

// Type ids for spglib: atoms are equivalent only with the same number and mass (as Crystal).
std::vector<int> type_ids(const Structure& s) {
  std::map<std::pair<int, double>, int> ids;
  std::vector<int> out;
  for (int i = 0; i < s.size(); ++i) {
    auto key = std::make_pair(s.numbers[i], std::round(s.masses[i] * 1e6) / 1e6);
    out.push_back(ids.emplace(key, static_cast<int>(ids.size()) + 1).first->second);
  }
  return out;
}

double angle(const Eigen::Matrix3d& g, int i, int j) {
  return std::acos(std::clamp(g(i, j) / std::sqrt(g(i, i) * g(j, j)), -1.0, 1.0));
}

// Lagrange (Gauss) reduction of a two-dimensional lattice basis given by integer coefficient
// rows u, w over a basis of metric g: returns the shortest basis (|u| <= |w|, |u.w| <= u.u/2).
std::pair<Eigen::Vector3d, Eigen::Vector3d> reduce_2d(Eigen::Vector3d u, Eigen::Vector3d w,
                                                      const Eigen::Matrix3d& g) {
  auto dot = [&](const Eigen::Vector3d& x, const Eigen::Vector3d& y) { return x.dot(g * y); };
  for (int guard = 0; guard < 1000; ++guard) {
    if (dot(u, u) > dot(w, w)) std::swap(u, w);
    const double m = std::round(dot(u, w) / dot(u, u));
    if (m == 0) break;
    w -= m * u;
  }
  if (dot(u, u) > dot(w, w)) std::swap(u, w);
  return {u, w};
}

struct Setting {
  std::string lattice;
  Eigen::Matrix3d basis;     // SC's conventional vectors as integer rows over spglib's
  Eigen::Matrix3d centring;  // SC's primitive = centring * SC's conventional
};

const Eigen::Matrix3d kFaceCentred =
    (Eigen::Matrix3d() << 0, .5, .5, .5, 0, .5, .5, .5, 0).finished();
const Eigen::Matrix3d kBodyCentred =
    (Eigen::Matrix3d() << -.5, .5, .5, .5, -.5, .5, .5, .5, -.5).finished();
const Eigen::Matrix3d kBaseCentred =  // ORCC: a1 = (a - b)/2, a2 = (a + b)/2, a3 = c
    (Eigen::Matrix3d() << .5, -.5, 0, .5, .5, 0, 0, 0, 1).finished();
const Eigen::Matrix3d kMonoclinicCentred =  // MCLC: a1 = (a + b)/2, a2 = (-a + b)/2, a3 = c
    (Eigen::Matrix3d() << .5, .5, 0, -.5, .5, 0, 0, 0, 1).finished();
const Eigen::Matrix3d kRhombohedral =  // obverse hexagonal -> rhombohedral primitive
    (Eigen::Matrix3d() << 2, 1, 1, -1, 1, 1, -1, -2, 1).finished() / 3.0;

// Rows e_i, e_j, e_k, with the last negated if that makes the determinant negative (a sign
// flip of an axis normal to the others is a symmetry of the lattices that use it).
Eigen::Matrix3d axes(int i, int j, int k) {
  Eigen::Matrix3d m = Eigen::Matrix3d::Zero();
  m(0, i) = m(1, j) = m(2, k) = 1;
  if (m.determinant() < 0) m.row(2) *= -1;
  return m;
}

std::string format_vector(const Eigen::Vector3d& x) {
  std::ostringstream s;
  s.precision(6);
  s << "(" << x[0] << ", " << x[1] << ", " << x[2] << ")";
  return s.str();
}

// The triclinic zone: Niggli-reduced reciprocal lattice in SC's order (see the header).
void triclinic(const Eigen::Matrix3d& primitive, BrillouinZone& zone, Cell& cell,
               Eigen::Matrix3d& transform, std::string& variant) {
  const Eigen::Matrix3d recip = primitive.inverse().transpose();  // rows b_i, no 2 pi
  const double scale = std::cbrt(1.0 / std::abs(recip.determinant()));
  double lat[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) lat[a][b] = scale * recip(b, a);
  if (spg_niggli_reduce(lat, 1e-5) == 0) {
    throw NumericalError("spglib could not Niggli-reduce the reciprocal lattice of the cell " +
                         format_vector(primitive.row(0).transpose()) + "...");
  }
  Eigen::Matrix3d reduced;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) reduced(b, a) = lat[a][b] / scale;
  Eigen::Matrix3d k = (reduced * recip.inverse()).array().round().matrix();  // reduced = k recip
  const Eigen::Matrix3d g = (k * recip) * (k * recip).transpose();
  // Cosines of k_alpha (b2, b3), k_beta (b1, b3), k_gamma (b1, b2).
  Eigen::Vector3d cosines;
  cosines << std::cos(angle(g, 1, 2)), std::cos(angle(g, 0, 2)), std::cos(angle(g, 0, 1));
  int pick = -1;  // the angle that becomes k_gamma
  for (int t = 0; t < 3 && pick < 0; ++t)
    if (std::abs(cosines[t]) <= kCaseTolerance) pick = t;
  const bool right = pick >= 0;
  const bool obtuse = (cosines.array() < kCaseTolerance).all();
  if (!right) {
    if (obtuse) {
      cosines.maxCoeff(&pick);  // the smallest obtuse angle
    } else {
      cosines.minCoeff(&pick);  // the largest acute angle
    }
  }
  // Cyclic order that puts the picked angle last (k_gamma is the angle of b1 and b2).
  Eigen::Matrix3d cyclic = Eigen::Matrix3d::Identity();
  if (pick == 0) cyclic << 0, 1, 0, 0, 0, 1, 1, 0, 0;  // (b2, b3, b1)
  if (pick == 1) cyclic << 0, 0, 1, 1, 0, 0, 0, 1, 0;  // (b3, b1, b2)
  k = cyclic * k;
  if (right) {
    // With k_gamma = 90, the other two both obtuse (TRI2a) or both acute (TRI2b).
    const Eigen::Matrix3d gk = (k * recip) * (k * recip).transpose();
    variant = gk(1, 2) <= 0 && gk(0, 2) <= 0 ? "TRI2a" : "TRI2b";
  } else {
    variant = obtuse ? "TRI1a" : "TRI1b";
  }
  transform = k.inverse().transpose();  // standard primitive = transform * primitive
  const Eigen::Matrix3d standard = transform * primitive;
  const Eigen::Matrix3d gs = standard * standard.transpose();
  const Eigen::Matrix3d gr = (k * recip) * (k * recip).transpose();
  cell.a = std::sqrt(gs(0, 0));
  cell.b = std::sqrt(gs(1, 1));
  cell.c = std::sqrt(gs(2, 2));
  zone.lattice = "TRI";
  zone.parameters = {{"a", cell.a},
                     {"b", cell.b},
                     {"c", cell.c},
                     {"alpha", angle(gs, 1, 2) / kDegree},
                     {"beta", angle(gs, 0, 2) / kDegree},
                     {"gamma", angle(gs, 0, 1) / kDegree},
                     {"k_alpha", angle(gr, 1, 2) / kDegree},
                     {"k_beta", angle(gr, 0, 2) / kDegree},
                     {"k_gamma", angle(gr, 0, 1) / kDegree}};
}

// MCLC: among the conventional settings (U, B, C) with centring (U + B)/2, B <= C and
// alpha < 90, the one whose primitive cell is the most orthogonal. `u` is the unique axis,
// `a0` a vector of the plane with (u + a0)/2 a lattice vector, (w1, w2) a basis of the plane
// (integer rows over spglib's conventional basis, metric g).
Eigen::Matrix3d mclc_setting(const Eigen::Vector3d& u, const Eigen::Vector3d& a0,
                             Eigen::Vector3d w1, Eigen::Vector3d w2, const Eigen::Matrix3d& g) {
  auto dot = [&](const Eigen::Vector3d& x, const Eigen::Vector3d& y) { return x.dot(g * y); };
  std::tie(w1, w2) = reduce_2d(w1, w2, g);
  // a0 = x w1 + y w2: its parity class modulo 2 fixes which B keep the centring.
  Eigen::Matrix<double, 3, 2> w;
  w << w1, w2;
  const Eigen::Vector2d xy = w.colPivHouseholderQr().solve(a0).array().round().matrix();
  const int px = static_cast<int>(std::lround(xy[0])) & 1,
            py = static_cast<int>(std::lround(xy[1])) & 1;
  const double uu = dot(u, u);
  double best = 0;
  Eigen::Matrix3d out = Eigen::Matrix3d::Zero();
  bool found = false;
  constexpr int kRange = 4;
  for (int i = -kRange; i <= kRange; ++i) {
    for (int j = -kRange; j <= kRange; ++j) {
      if (((i & 1) != px) || ((j & 1) != py) || std::gcd(i, j) != 1) continue;
      const Eigen::Vector3d b = i * w1 + j * w2;
      for (int k = -kRange; k <= kRange; ++k) {
        for (int l = -kRange; l <= kRange; ++l) {
          if (std::abs(i * l - j * k) != 1) continue;
          Eigen::Vector3d c = k * w1 + l * w2;
          if (dot(b, c) < 0) c = -c;
          if (dot(b, b) > dot(c, c) * (1 + kCaseTolerance)) continue;
          const double score = (uu + dot(b, b)) * std::sqrt(dot(c, c));
          if (!found || score < best * (1 - 1e-9)) {
            found = true;
            best = score;
            out.row(0) = u.transpose();
            out.row(1) = b.transpose();
            out.row(2) = c.transpose();
          }
        }
      }
    }
  }
  if (!found) throw Error("brillouin_zone: no MCLC setting found");
  return out;
}

}  // namespace

BrillouinZone brillouin_zone(const Structure& primitive, double symprec) {
  primitive.validate("the primitive cell");
  const int n = primitive.size();
  const Eigen::Matrix3d& lp = primitive.lattice;
  std::vector<double> positions(3 * n);
  for (int i = 0; i < n; ++i) {
    const Eigen::Vector3d f = primitive.fractional(i);
    for (int a = 0; a < 3; ++a) positions[3 * i + a] = f[a] - std::floor(f[a]);
  }
  std::vector<int> types = type_ids(primitive);
  double lattice_cols[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) lattice_cols[a][b] = lp(b, a);
  std::unique_ptr<SpglibDataset, void (*)(SpglibDataset*)> data(
      spg_get_dataset(lattice_cols, reinterpret_cast<double(*)[3]>(positions.data()), types.data(),
                      n, symprec),
      spg_free_dataset);
  if (!data) {
    throw UsageError(std::string("spglib found no space group for the primitive cell: ") +
                     spg_get_error_message(spg_get_error_code()) + " (try a larger symprec)");
  }
  BrillouinZone zone;
  zone.spacegroup_number = data->spacegroup_number;
  zone.international = data->international_symbol;
  const int sg = data->spacegroup_number;
  const char centring = data->international_symbol[0];

  Cell cell;
  std::string variant;
  Eigen::Matrix3d transform;  // SC's primitive = transform * primitive
  Eigen::Matrix3d p, std_rows;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      p(a, b) = data->transformation_matrix[a][b];
      std_rows(b, a) = data->std_lattice[a][b];
    }
  // spglib: (a_s b_s c_s) = (a b c) P^-1, so conventional rows = P^-T primitive rows.
  const Eigen::Matrix3d q = p.inverse().transpose();
  if (sg <= 2) {
    // spglib's conventional cell is then a primitive cell of the lattice.
    triclinic(q * lp, zone, cell, transform, variant);
    transform = transform * q;
  } else {
    const Eigen::Matrix3d g = std_rows * std_rows.transpose();  // idealised metric
    Setting s;
    s.basis = Eigen::Matrix3d::Identity();
    s.centring = Eigen::Matrix3d::Identity();
    if (sg >= 195) {
      s.lattice = centring == 'F' ? "FCC" : centring == 'I' ? "BCC" : "CUB";
      if (centring == 'F') s.centring = kFaceCentred;
      if (centring == 'I') s.centring = kBodyCentred;
    } else if (sg >= 75 && sg <= 142) {
      s.lattice = centring == 'I' ? "BCT" : "TET";
      if (centring == 'I') s.centring = kBodyCentred;
    } else if (sg >= 143) {
      if (centring == 'R') {
        s.lattice = "RHL";
        s.centring = kRhombohedral;
      } else {
        s.lattice = "HEX";
        if (g(0, 1) > 0) s.basis = axes(0, 1, 2) * Eigen::Vector3d(1, -1, -1).asDiagonal();
      }
    } else if (sg >= 16) {
      std::array<int, 3> order = {0, 1, 2};
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return g(x, x) < g(y, y); });
      if (centring == 'P' || centring == 'F' || centring == 'I') {
        s.lattice = centring == 'P' ? "ORC" : centring == 'F' ? "ORCF" : "ORCI";
        s.basis = axes(order[0], order[1], order[2]);
        if (centring == 'F') s.centring = kFaceCentred;
        if (centring == 'I') s.centring = kBodyCentred;
      } else {
        s.lattice = "ORCC";
        // The axis normal to the centred face (spglib's settings: C, or A for 38-41).
        const int normal = centring == 'A' ? 0 : centring == 'B' ? 1 : 2;
        std::array<int, 2> face;
        int m = 0;
        for (int k : order)
          if (k != normal) face[m++] = k;
        s.basis = axes(face[0], face[1], normal);
        s.centring = kBaseCentred;
      }
    } else {
      // Monoclinic: spglib's unique axis is b (index 1).
      const Eigen::Vector3d e0 = Eigen::Vector3d::Unit(0), e1 = Eigen::Vector3d::Unit(1),
                            e2 = Eigen::Vector3d::Unit(2);
      if (centring == 'P') {
        s.lattice = "MCL";
        auto [b, c] = reduce_2d(e0, e2, g);
        if (b.dot(g * c) < 0) c = -c;
        s.basis.row(0) = e1.transpose();
        s.basis.row(1) = b.transpose();
        s.basis.row(2) = c.transpose();
      } else {
        s.lattice = "MCLC";
        // The centring vector (e1 + a0)/2, a0 in the plane normal to the unique axis e1
        // (spglib's settings: C; A and I for completeness).
        const Eigen::Vector3d a0 = centring == 'A'   ? e2
                                   : centring == 'I' ? Eigen::Vector3d(e0 + e2)
                                                     : e0;
        s.basis = mclc_setting(e1, a0, e0, e2, g);
        s.centring = kMonoclinicCentred;
      }
    }
    zone.lattice = s.lattice;
    transform = s.centring * s.basis * q;
    const Eigen::Matrix3d gc = s.basis * g * s.basis.transpose();  // SC's conventional metric
    cell.a = std::sqrt(gc(0, 0));
    cell.b = std::sqrt(gc(1, 1));
    cell.c = std::sqrt(gc(2, 2));
    cell.alpha = angle(gc, 1, 2);
    const std::string& l = s.lattice;
    if (l == "CUB" || l == "FCC" || l == "BCC") {
      variant = l;
      zone.parameters = {{"a", cell.a}};
    } else if (l == "TET" || l == "BCT" || l == "HEX") {
      variant = l == "BCT" ? (cell.c < cell.a ? "BCT1" : "BCT2") : l;
      zone.parameters = {{"a", cell.a}, {"c", cell.c}};
    } else if (l == "RHL") {
      const Eigen::Matrix3d gp = s.centring * gc * s.centring.transpose();
      cell.a = std::sqrt(gp(0, 0));
      cell.alpha = angle(gp, 0, 1);
      variant = cell.alpha < M_PI / 2 ? "RHL1" : "RHL2";
      zone.parameters = {{"a", cell.a}, {"alpha", cell.alpha / kDegree}};
    } else if (l == "ORC" || l == "ORCI" || l == "ORCC") {
      variant = l;
      zone.parameters = {{"a", cell.a}, {"b", cell.b}, {"c", cell.c}};
    } else if (l == "ORCF") {
      const double d =
          (1 / (cell.a * cell.a) - 1 / (cell.b * cell.b) - 1 / (cell.c * cell.c)) * cell.a * cell.a;
      variant = std::abs(d) <= kCaseTolerance ? "ORCF3" : d > 0 ? "ORCF1" : "ORCF2";
      zone.parameters = {{"a", cell.a}, {"b", cell.b}, {"c", cell.c}};
    } else {
      zone.parameters = {
          {"a", cell.a}, {"b", cell.b}, {"c", cell.c}, {"alpha", cell.alpha / kDegree}};
      if (l == "MCL") {
        variant = "MCL";
      } else {
        const Eigen::Matrix3d gp = s.centring * gc * s.centring.transpose();
        const Eigen::Matrix3d gr = gp.inverse();  // metric of the reciprocal primitive basis
        const double cos_kgamma = gr(0, 1) / std::sqrt(gr(0, 0) * gr(1, 1));
        zone.parameters.emplace_back("k_gamma", std::acos(cos_kgamma) / kDegree);
        if (cos_kgamma < -kCaseTolerance) {
          variant = "MCLC1";
        } else if (cos_kgamma <= kCaseTolerance) {
          variant = "MCLC2";
        } else {
          const double x = cell.b * std::cos(cell.alpha) / cell.c +
                           std::pow(cell.b * std::sin(cell.alpha) / cell.a, 2);
          variant = x < 1 - kCaseTolerance ? "MCLC3" : x <= 1 + kCaseTolerance ? "MCLC4" : "MCLC5";
        }
      }
    }
  }
  zone.variant = variant;

  // The given cell's vectors are lattice vectors: integer combinations of SC's primitive ones,
  // primitive = T^-1 standard with T^-1 integer (unimodular when the given cell is primitive;
  // a supercell of the primitive cell when the cell given as primitive is not, and the bands
  // then fold, but the wave vectors stay right).
  const Eigen::Matrix3d inverse = transform.inverse();
  const Eigen::Matrix3d back = inverse.array().round().matrix();  // q = T^-1 q_sc
  const double cells = std::abs(back.determinant());
  if ((inverse - back).cwiseAbs().maxCoeff() > 1e-6 || cells < 0.5) {
    std::ostringstream s;
    s << "brillouin_zone: the cell (" << n << " atoms, lattice rows\n"
      << lp << ")\nis not an integer combination of spglib's primitive cell of "
      << zone.international << " (" << zone.spacegroup_number << ")";
    throw Error(s.str());
  }
  zone.cells = static_cast<int>(std::lround(cells));
  zone.to_standard = back.inverse();
  zone.standard_primitive = zone.to_standard * lp;

  const Case table = sc_case(variant, cell);
  for (const auto& [label, qs] : table.points) {
    // (+ 0.0 turns -0 into 0 for printing)
    zone.points.push_back({label, (back * qs).array() + 0.0, qs.array() + 0.0});
  }
  zone.path = parse_path_text(table.path, "the Setyawan-Curtarolo path");
  return zone;
}

const SpecialPoint* BrillouinZone::find(const std::string& label) const {
  std::string key = label;
  static const std::pair<const char*, const char*> kAliases[] = {
      {"Gamma", "G"}, {"GAMMA", "G"},   {"gamma", "G"}, {"Γ", "G"},   {"Sigma", "S"},
      {"Σ", "S"},     {"Sigma1", "S1"}, {"Σ1", "S1"},   {"Σ₁", "S1"}, {"Sigma_1", "S1"}};
  for (const auto& [alias, name] : kAliases) {
    // Sigma is BCT2's Σ only; elsewhere S is another point and the alias does not apply.
    if (key == alias && (name[0] != 'S' || variant == "BCT2")) key = name;
  }
  // X_1 or X₁ for X1.
  static const char* kSubscripts[] = {"₀", "₁", "₂", "₃"};
  for (int d = 0; d < 4; ++d) {
    const std::string sub = kSubscripts[d];
    const auto at = key.find(sub);
    if (at != std::string::npos) key.replace(at, sub.size(), std::to_string(d));
  }
  if (key.size() == 3 && key[1] == '_') key.erase(1, 1);
  for (const auto& p : points)
    if (p.label == key) return &p;
  return nullptr;
}

Eigen::Vector3d BrillouinZone::point(const std::string& label) const {
  const SpecialPoint* p = find(label);
  if (!p) {
    throw UsageError("unknown special point '" + label + "' for this crystal, a " + description() +
                     "; its points are " + label_list() +
                     " (or give any point's reduced coordinates with --bands.points)");
  }
  return p->q;
}

std::string BrillouinZone::label_list() const {
  std::string s;
  for (const auto& p : points) s += (s.empty() ? "" : ", ") + p.label;
  return s;
}

std::string BrillouinZone::path_text() const {
  std::string s;
  for (std::size_t b = 0; b < path.size(); ++b) {
    if (b) s += "|";
    for (std::size_t k = 0; k < path[b].size(); ++k) s += (k ? "-" : "") + path[b][k];
  }
  return s;
}

std::string BrillouinZone::description() const {
  return lattice + " lattice (Setyawan-Curtarolo case " + variant + "), space group " +
         international + " (" + std::to_string(spacegroup_number) + ")";
}

std::string BandPath::text() const {
  std::string s;
  for (std::size_t k = 0; k < labels.size(); ++k) {
    s += labels[k];
    if (k + 1 < labels.size()) s += joined(k) ? "-" : "|";
  }
  return s;
}

std::vector<std::vector<std::string>> parse_path_text(const std::string& text,
                                                      const std::string& option) {
  std::vector<std::vector<std::string>> branches(1);
  std::string token;
  auto flush = [&] {
    const auto first = token.find_first_not_of(" \t");
    if (first != std::string::npos) {
      const auto last = token.find_last_not_of(" \t");
      branches.back().push_back(token.substr(first, last - first + 1));
    }
    token.clear();
  };
  for (char ch : text) {
    if (ch == ',' || ch == '-') {
      flush();
    } else if (ch == '|') {
      flush();
      branches.emplace_back();
    } else {
      token += ch;
    }
  }
  flush();
  for (const auto& b : branches) {
    if (b.empty()) {
      throw UsageError(option + " '" + text +
                       "' has an empty branch: separate labels with ',' or '-' and branches "
                       "with '|', e.g. G-X-W|L-K");
    }
  }
  return branches;
}

BandPath make_band_path(const BrillouinZone& zone,
                        const std::vector<std::vector<std::string>>& branches,
                        const std::vector<double>& coordinates, const std::string& points_option,
                        int segment_points) {
  BandPath path;
  path.segment_points = segment_points;
  std::size_t count = 0;
  for (const auto& b : branches) count += b.size();
  if (!coordinates.empty() && coordinates.size() != 3 * count) {
    throw UsageError(points_option + " needs 3 reduced coordinates per label of the path (" +
                     std::to_string(count) + " labels: " + std::to_string(3 * count) +
                     " numbers), got " + std::to_string(coordinates.size()));
  }
  for (const auto& b : branches) {
    if (b.size() < 2) {
      throw UsageError("each branch of a band path needs at least two labels; '" + b.front() +
                       "' stands alone (branches are separated by '|')");
    }
    for (std::size_t k = 0; k < b.size(); ++k) {
      const std::size_t i = path.points.size();
      path.labels.push_back(b[k]);
      path.points.push_back(coordinates.empty()
                                ? zone.point(b[k])
                                : Eigen::Vector3d(coordinates[3 * i], coordinates[3 * i + 1],
                                                  coordinates[3 * i + 2]));
      path.breaks.push_back(k + 1 == b.size());
    }
  }
  path.breaks.back() = false;
  return path;
}

}  // namespace physfit::fc
