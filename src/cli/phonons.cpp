// `physfit phonons`: frequencies, band structure, density of states and a band-structure figure
// from second-order force constants (issue 5).

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "import_fc.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/bandpath.hpp"
#include "physfit/fc/exports.hpp"
#include "physfit/fc/model.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/fc/phonons.hpp"
#include "physfit/fc/units.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/plot/figures.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

struct Model {
  fc::IdealStructure ideal;
  std::unique_ptr<fc::Crystal> crystal;
  Eigen::MatrixXd fc2;
  std::optional<fc::NacParameters> nac;  // /nac of a model file
};

// A physfit model file, or a phonopy FORCE_CONSTANTS with the structure from `structure`.
Model load(const std::string& path, const std::string& structure, double symprec,
           const fc::StructureOptions& structure_options) {
  Model m;
  const bool text = path.size() < 3 || path.substr(path.size() - 3) != ".h5";
  if (text) {
    if (structure.empty()) {
      throw UsageError(
          "'" + path +
          "' is read as phonopy FORCE_CONSTANTS: give --structure.file "
          "(SPOSCAR, phonopy_disp.yaml, POSCAR with --structure.supercell-matrix, HDF5...)");
    }
    m.ideal = fc::read_structure(structure, structure_options);
    m.crystal = std::make_unique<fc::Crystal>(m.ideal.supercell,
                                              m.ideal.resolve_primitive_lattice(symprec), symprec);
    m.fc2 = fc::read_force_constants_text(path, *m.crystal);
  } else {
    auto [ideal, fc2] = fc::read_model_fc2(path);
    m.ideal = std::move(ideal);
    m.fc2 = std::move(fc2);
    m.crystal = std::make_unique<fc::Crystal>(m.ideal.supercell,
                                              m.ideal.resolve_primitive_lattice(symprec), symprec);
    m.nac = fc::read_nac_hdf5(path);
  }
  return m;
}

std::string matrix_text(const Eigen::Matrix3d& m) {
  std::ostringstream s;
  s.precision(6);
  s << "[";
  const double scale = m.cwiseAbs().maxCoeff();
  for (int a = 0; a < 3; ++a) {
    s << (a ? "; " : "");
    // Rounding noise of the symmetrisation (1e-33 next to 5) printed as 0.
    for (int b = 0; b < 3; ++b)
      s << (b ? " " : "") << (std::abs(m(a, b)) > 1e-12 * scale ? m(a, b) : 0.0);
  }
  s << "]";
  return s.str();
}

// The non-analytic correction: Born data from --nac.born, else the model's /nac; the method from
// --nac.method (auto: the model's, else Gonze-Lee). Logs what is applied; nullopt for none.
std::optional<fc::NacParameters> nac_of(const config::Values& o, const Model& m) {
  const auto born = o.get<std::string>("nac.born");
  const auto method = o.get<std::string>("nac.method");
  std::optional<fc::NacParameters> nac;
  fc::NacCheck check;
  if (!born.empty()) {
    nac = fc::read_born(born, *m.crystal, &check);
    if (const auto w = fc::replaced_factor_warning(check, born); !w.empty()) {
      log::warning("phonons: ", w);
    }
    nac->method = fc::NacMethod::kGonze;
    if (m.nac) log::info("phonons: --nac.born '", born, "' replaces the Born data of the model");
  } else if (m.nac) {
    nac = m.nac;
    check = fc::prepare_nac(*nac, *m.crystal, nac->source);
  }
  if (method == "none") {
    if (nac) log::info("phonons: non-analytic correction: none (--nac.method none)");
    return std::nullopt;
  }
  if (!nac) {
    if (method != "auto") {
      throw UsageError("--nac.method " + method +
                       " needs Born effective charges and the dielectric tensor: give --nac.born "
                       "BORN (phonopy's file), or a model written by 'physfit fc --nac.born'");
    }
    return std::nullopt;
  }
  if (method != "auto") nac->method = fc::parse_nac_method(method, "--nac.method");
  const Eigen::Matrix3d& sum = check.charge_sum;
  if (sum.cwiseAbs().maxCoeff() > 1e-3) {
    log::warning("phonons: the Born charges of '", nac->source, "' sum to ", matrix_text(sum),
                 " over the primitive cell, not zero; each atom's charge was shifted by ",
                 matrix_text(-sum / m.crystal->num_primitive()),
                 " (charge neutrality, as phonopy does)");
  }
  std::string atoms;
  for (int i : check.independent_atoms) atoms += (atoms.empty() ? "" : ",") + std::to_string(i + 1);
  log::info("phonons: non-analytic correction: ",
            nac->method == fc::NacMethod::kGonze
                ? "Gonze and Lee, PRB 55, 10355 (1997), dipole-dipole Ewald sum"
                : "Wang et al., J. Phys.: Condens. Matter 22, 202201 (2010), mixed space",
            "; Born charges and dielectric tensor from '", nac->source, "' (independent atoms ",
            atoms, ", unit factor ", nac->factor, ", epsilon ", matrix_text(nac->epsilon),
            ", largest symmetrisation change ",
            std::max(check.born_symmetry_deviation, check.epsilon_symmetry_deviation), ")");
  return nac;
}

// --nac.q-direction: 3 reduced coordinates, or none.
std::optional<Eigen::Vector3d> q_direction_of(const config::Values& o) {
  const auto v = o.get<std::vector<double>>("nac.q-direction");
  if (v.empty()) return std::nullopt;
  if (v.size() != 3) {
    throw UsageError(
        "--nac.q-direction needs 3 numbers (reduced coordinates of the reciprocal "
        "lattice), got " +
        std::to_string(v.size()));
  }
  const Eigen::Vector3d d(v[0], v[1], v[2]);
  if (!d.allFinite() || d.norm() == 0) {
    throw UsageError("--nac.q-direction must be a finite, non-zero vector");
  }
  return d;
}

// --- Special points, band path and frequency unit (issue 10, point 2) ---

// The crystal of a structure alone (for --bands.list-points without force constants).
std::unique_ptr<fc::Crystal> load_crystal(const config::Values& o, double symprec,
                                          const fc::StructureOptions& structure_options) {
  const auto fc_path = o.get<std::string>("input.fc");
  const auto structure = o.get<std::string>("structure.file");
  fc::IdealStructure ideal;
  if (!structure.empty()) {
    ideal = fc::read_structure(structure, structure_options);
  } else if (fc_path.size() > 3 && fc_path.substr(fc_path.size() - 3) == ".h5") {
    ideal = fc::read_model_fc2(fc_path).first;
  } else {
    throw UsageError(
        "--bands.list-points needs the crystal: give --structure.file (an HDF5 file with "
        "/structure) or --input.fc with a physfit model (.h5)");
  }
  return std::make_unique<fc::Crystal>(ideal.supercell, ideal.resolve_primitive_lattice(symprec),
                                       symprec);
}

// --output.unit: the frequency unit of every printed and written value.
fc::FrequencyUnit unit_of(const config::Values& o) {
  const auto name = o.get<std::string>("output.unit");
  for (const auto& u : fc::units::kFrequencyUnits)
    if (name == u.name) return u;
  throw UsageError("--output.unit '" + name + "': use THz, cm-1 or meV");
}

// --bands.path (labels, ',' or '-' between labels, '|' between branches; empty: the crystal's
// default path) and --bands.points (3 reduced coordinates per label).
fc::BandPath path_of(const config::Values& o, const fc::BrillouinZone& zone) {
  const auto labels = o.get<std::vector<std::string>>("bands.path");
  const auto branches =
      labels.empty() ? zone.path : fc::parse_path_text(util::join(labels, ","), "--bands.path");
  return fc::make_band_path(zone, branches, o.get<std::vector<double>>("bands.points"),
                            "--bands.points", o.get<int>("bands.segment-points"));
}

// --bands.qpoints (empty: every special point of the crystal): labels of the zone, or of
// --bands.path when --bands.points gives their coordinates.
std::vector<std::pair<std::string, Eigen::Vector3d>> qpoints_of(const config::Values& o,
                                                                const fc::BrillouinZone& zone,
                                                                const fc::BandPath& path) {
  std::vector<std::pair<std::string, Eigen::Vector3d>> out;
  const auto labels = o.get<std::vector<std::string>>("bands.qpoints");
  if (labels.empty()) {
    for (const auto& p : zone.points) out.emplace_back(p.label, p.q);
    return out;
  }
  const bool custom = !o.get<std::vector<double>>("bands.points").empty();
  for (const auto& label : labels) {
    std::size_t k = 0;
    while (custom && k < path.labels.size() && path.labels[k] != label) ++k;
    out.emplace_back(label, custom && k < path.labels.size() ? path.points[k] : zone.point(label));
  }
  return out;
}

// --dos.mesh: one number for every axis, or three.
Eigen::Vector3i mesh_of(const config::Values& o) {
  const auto m = o.get<std::vector<int>>("dos.mesh");
  if ((m.size() != 1 && m.size() != 3) || *std::min_element(m.begin(), m.end()) < 1) {
    throw UsageError("--dos.mesh '" + o.text("dos.mesh") +
                     "': give one positive number (n x n x n) or three (n1,n2,n3)");
  }
  return m.size() == 1 ? Eigen::Vector3i::Constant(m[0]) : Eigen::Vector3i(m[0], m[1], m[2]);
}

// The same path in another primitive basis of the same crystal (same Cartesian frame): a
// reference model whose primitive cell was given or found differently.
fc::BandPath in_basis(fc::BandPath path, const Eigen::Matrix3d& from, const Eigen::Matrix3d& to) {
  const Eigen::Matrix3d m = to * from.inverse();  // q_to = L_to L_from^-1 q_from
  for (auto& q : path.points) q = m * q;
  return path;
}

std::string text_of(const Eigen::Vector3d& q) {
  std::ostringstream s;
  s.precision(6);
  s << q[0] << " " << q[1] << " " << q[2];
  return s.str();
}

void log_zone(const fc::BrillouinZone& zone, const fc::Crystal& crystal) {
  log::info("phonons: ", zone.description());
  if (zone.cells > 1) {
    log::warning("phonons: the primitive cell physfit was given holds ", zone.cells,
                 " primitive cells of the crystal (no primitive matrix?): the special points are "
                 "the crystal's, and its bands appear folded ",
                 zone.cells,
                 " times; give the primitive cell (/structure/primitive_lattice, or "
                 "primitive_matrix) for the crystal's own bands");
  }
  std::ostringstream lattice;
  lattice.precision(8);
  for (int r = 0; r < 3; ++r)
    lattice << (r ? "; " : "") << text_of(crystal.primitive().lattice.row(r).transpose());
  log::info("phonons: primitive lattice (rows, Angstrom): ", lattice.str());
  log::info("phonons: special points, reduced coordinates in its reciprocal basis:");
  for (const auto& p : zone.points) log::info("phonons:   ", p.label, "  ", text_of(p.q));
  log::info("phonons: default path ", zone.path_text());
}

util::Json zone_json(const fc::BrillouinZone& zone, const fc::Crystal& crystal) {
  auto rows = [](const Eigen::Matrix3d& m) {
    util::Json a = util::Json::array();
    for (int r = 0; r < 3; ++r)
      a.push_back(util::Json::array(std::vector<double>{m(r, 0), m(r, 1), m(r, 2)}));
    return a;
  };
  util::Json j = util::Json::object();
  j["lattice"] = zone.lattice;
  j["variant"] = zone.variant;
  j["spacegroup"] = zone.spacegroup_number;
  j["cells"] = zone.cells;
  j["international"] = zone.international;
  j["path"] = zone.path_text();
  j["primitive_lattice"] = rows(crystal.primitive().lattice);
  j["standard_primitive"] = rows(zone.standard_primitive);
  util::Json params = util::Json::object(), points = util::Json::object(),
             standard = util::Json::object();
  for (const auto& [name, value] : zone.parameters) params[name] = value;
  for (const auto& p : zone.points) {
    points[p.label] = util::Json::array(std::vector<double>{p.q[0], p.q[1], p.q[2]});
    standard[p.label] =
        util::Json::array(std::vector<double>{p.q_standard[0], p.q_standard[1], p.q_standard[2]});
  }
  j["parameters"] = params;
  j["points"] = points;
  j["points_standard"] = standard;
  return j;
}

// A label as drawn: G as Γ, BCT2's S as Σ, a trailing 1 or 2 as a subscript; "K|U" part by part.
std::string display_label(const std::string& label, const fc::BrillouinZone& zone) {
  std::string out;
  std::size_t start = 0;
  while (start <= label.size()) {
    const std::size_t bar = std::min(label.find('|', start), label.size());
    std::string part = label.substr(start, bar - start);
    if (part == "G" || part == "Gamma") part = "Γ";
    if (zone.variant == "BCT2" && !part.empty() && part[0] == 'S') part.replace(0, 1, "Σ");
    if (part.size() > 1 && (part.back() == '1' || part.back() == '2') &&
        !std::isdigit(static_cast<unsigned char>(part[part.size() - 2]))) {
      part = part.substr(0, part.size() - 1) + (part.back() == '1' ? "₁" : "₂");
    }
    out += (start ? "|" : "") + part;
    start = bar + 1;
  }
  return out;
}

// Runs `body` (collective); a stop it ends with (exit code 3, the same on every rank) says
// that nothing was written and how to continue.
template <class F>
auto nothing_kept_on_stop(const mpi::Comm& comm, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const mpi::CollectiveError& e) {
    if (e.code() != ExitCode::kStopped) throw;
    mpi::throw_on_all_ranks(
        comm, StoppedError(std::string(e.what()) + ": nothing written (the previous outputs "
                                                   "unchanged); run the same command again"));
  }
}

void run(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const double symprec = o.get<double>("structure.symprec");
  const bool list_points = o.get<bool>("bands.list-points");
  if (o.get<std::string>("input.fc").empty() && !list_points) {
    mpi::throw_on_all_ranks(comm,
                            UsageError("give the force constants with --input.fc FILE (a physfit "
                                       "model .h5, or FORCE_CONSTANTS with --structure.file)"));
  }
  // Small work: rank 0 computes, the others wait for the outcome.
  struct Result {
    util::Json points = util::Json::object();
    util::Json zone = util::Json::object();
    int bands = 0;
    double min_frequency = 0;
    std::string nac = "none";
  };
  const fc::FrequencyUnit unit = unit_of(o);
  const double scale = unit.per_thz;                   // THz -> unit
  const io::Provenance provenance = ctx.provenance();  // collective: before rank 0 works alone
  // SIGTERM, SIGINT, SIGUSR1, SIGUSR2: rank 0 stops at the next safe point (a segment of the
  // band path, a row of the DOS mesh, before the outputs) and every rank ends with exit code 3.
  // Nothing is kept: the outputs are written only at the end.
  const util::StopHandlers stop_handlers;
  const auto work = [&] {
    Result res;
    if (!comm.is_root()) return res;
    const fc::StructureOptions sopts = structure_options(o);
    if (list_points) {
      const auto crystal = load_crystal(o, symprec, sopts);
      const fc::BrillouinZone zone = fc::brillouin_zone(crystal->primitive(), symprec);
      log_zone(zone, *crystal);
      res.zone = zone_json(zone, *crystal);
      return res;
    }
    if (!o.get<std::string>("output.figure").empty())
      plot::format_of(o.get<std::string>("output.figure"), "--output.figure");
    const Model m =
        load(o.get<std::string>("input.fc"), o.get<std::string>("structure.file"), symprec, sopts);
    const fc::BrillouinZone zone = fc::brillouin_zone(m.crystal->primitive(), symprec);
    log_zone(zone, *m.crystal);
    res.zone = zone_json(zone, *m.crystal);
    const std::optional<fc::NacParameters> nac = nac_of(o, m);
    const std::optional<Eigen::Vector3d> q_direction = q_direction_of(o);
    const fc::DynamicalMatrix d(*m.crystal, m.fc2, symprec, nac ? &*nac : nullptr);
    if (const auto* dd = d.dipole_dipole()) {
      log::info("phonons: Gonze-Lee sum over ", dd->num_g_vectors(), " G-vectors within ",
                dd->g_cutoff(), " 1/A, Lambda ", dd->lambda(), " 1/A");
    }
    res.nac = fc::nac_method_name(d.nac_method());
    const fc::BandPath path = path_of(o, zone);
    log::info("phonons: band path ", path.text(), " (", path.segment_points,
              " q-points per segment)");
    if (!o.get<std::vector<double>>("bands.points").empty()) {
      for (std::size_t k = 0; k < path.labels.size(); ++k)
        log::info("phonons:   ", path.labels[k], "  ", text_of(path.points[k]),
                  " (--bands.points)");
    }
    fc::Bands bands = fc::band_structure(d, *m.crystal, path);
    bands.frequencies *= scale;
    res.bands = d.num_bands();
    res.min_frequency = bands.frequencies.minCoeff();
    for (const auto& [label, q] : qpoints_of(o, zone, path)) {
      const Eigen::VectorXd f = d.frequencies(q, q_direction) * scale;
      res.points[label] = util::Json::array(std::vector<double>(f.data(), f.data() + f.size()));
      std::ostringstream s;
      s.precision(6);
      for (int k = 0; k < f.size(); ++k) s << " " << f[k];
      log::info("phonons: ", label, " (", text_of(q), "):", s.str(), " ", unit.name);
    }
    fc::Dos dos = fc::density_of_states(d, mesh_of(o), o.get<double>("dos.sigma"));
    for (auto& x : dos.frequency) x *= scale;
    for (auto& x : dos.density) x /= scale;

    // Reference bands (dashed) when given, along the same Cartesian path.
    std::unique_ptr<fc::Bands> ref;
    const auto ref_path = o.get<std::string>("reference.fc");
    if (o.get<bool>("figure.difference") &&
        (ref_path.empty() || o.get<std::string>("output.figure").empty())) {
      throw UsageError(
          "--figure.difference draws fit - reference under the bands: give "
          "--reference.fc and --output.figure");
    }
    if (!ref_path.empty()) {
      const Model r = load(ref_path,
                           o.get<std::string>("reference.structure").empty()
                               ? o.get<std::string>("structure.file")
                               : o.get<std::string>("reference.structure"),
                           symprec, sopts);
      // The reference gets the same non-analytic correction (same primitive cell).
      const bool same_nac = nac && r.crystal->num_primitive() == m.crystal->num_primitive();
      const fc::DynamicalMatrix dr(*r.crystal, r.fc2, symprec, same_nac ? &*nac : nullptr);
      ref = std::make_unique<fc::Bands>(fc::band_structure(
          dr, *r.crystal,
          in_basis(path, m.crystal->primitive().lattice, r.crystal->primitive().lattice)));
      ref->frequencies *= scale;
      double worst = 0;
      for (Eigen::Index k = 0; k < bands.frequencies.size(); ++k) {
        worst = std::max(worst, std::abs(bands.frequencies.data()[k] - ref->frequencies.data()[k]));
      }
      res.points["max_difference_to_reference"] = worst;
      log::info("phonons: largest difference to the reference along the path: ", worst, " ",
                unit.name);
    }
    util::throw_if_stop_requested("before writing the outputs");
    // The figure and the HDF5 file go to temporary names and are renamed together at the end.
    io::StagedOutputs staged;
    const auto png = o.get<std::string>("output.figure");
    if (!png.empty()) {
      plot::BandPlot p;
      auto lines = [&](const fc::Bands& bs) {
        plot::BandLines l;
        l.distance = bs.distance;
        l.branch.assign(bs.branch.begin(), bs.branch.end());
        l.bands = static_cast<int>(bs.frequencies.cols());
        for (Eigen::Index k = 0; k < bs.frequencies.rows(); ++k)
          for (Eigen::Index b = 0; b < bs.frequencies.cols(); ++b)
            l.frequencies.push_back(bs.frequencies(k, b));
        return l;
      };
      p.fit = lines(bands);
      if (ref) p.reference = lines(*ref);
      p.label_distance = bands.label_distance;
      for (const auto& l : bands.labels) p.labels.push_back(display_label(l, zone));
      p.dos_frequency = dos.frequency;
      p.dos_density = dos.density;
      p.unit = unit.display;
      p.title = o.get<std::string>("figure.title");
      if (p.title.empty()) {
        // The primitive cell's formula (species in order of appearance) and space group.
        const auto& prim = m.crystal->primitive();
        std::vector<std::pair<std::string, int>> formula;
        for (int i = 0; i < prim.size(); ++i) {
          const std::string sym = prim.symbol(i);
          auto it = std::find_if(formula.begin(), formula.end(),
                                 [&](const auto& e) { return e.first == sym; });
          if (it == formula.end()) {
            formula.emplace_back(sym, 1);
          } else {
            ++it->second;
          }
        }
        for (const auto& [sym, n] : formula)
          p.title += sym + (n > 1 ? "_{" + std::to_string(n) + "}" : "");
        p.title += " (" + zone.international + "): phonon bands and density of states";
      }
      p.fit_label = o.get<std::string>("figure.label");
      p.reference_label = o.get<std::string>("reference.label");
      p.difference = o.get<bool>("figure.difference");
      plot::band_page(p, 1100, p.difference ? 800 : 620).save(png);
    }
    const auto output = o.get<std::string>("output.file");
    if (!output.empty()) {
      io::OutputFile out(mpi::Comm::self(), output, provenance, io::OutputFile::Writers::kRank0);
      const io::File& f = out.file();
      const std::int64_t np = static_cast<std::int64_t>(bands.distance.size());
      f.create_dataset<double>("/bands/distance", {np}, "1/angstrom").write_all(bands.distance);
      std::vector<double> q, fr;
      for (const auto& v : bands.qpoints) q.insert(q.end(), v.data(), v.data() + 3);
      for (std::int64_t k = 0; k < np; ++k)
        for (int b = 0; b < res.bands; ++b) fr.push_back(bands.frequencies(k, b));
      f.create_dataset<double>("/bands/qpoints", {np, 3}, "dimensionless").write_all(q);
      auto ds = f.create_dataset<double>("/bands/frequencies", {np, res.bands}, unit.name);
      ds.write_all(fr);
      io::set_attribute(ds.id(), "labels", util::join(bands.labels, ","));
      io::set_attribute(ds.id(), "path", path.text());
      std::vector<std::int32_t> branch(bands.branch.begin(), bands.branch.end());
      f.create_dataset<std::int32_t>("/bands/branch", {np}, "dimensionless").write_all(branch);
      f.create_dataset<double>("/bands/label_distance",
                               {static_cast<std::int64_t>(bands.label_distance.size())},
                               "1/angstrom")
          .write_all(bands.label_distance);
      // The crystal's zone: lattice type, case and special points (reduced, primitive basis).
      const std::int64_t ns = static_cast<std::int64_t>(zone.points.size());
      std::vector<double> sq;
      std::vector<std::string> names;
      for (const auto& p : zone.points) {
        sq.insert(sq.end(), p.q.data(), p.q.data() + 3);
        names.push_back(p.label);
      }
      auto sp = f.create_dataset<double>("/bands/special_points", {ns, 3}, "dimensionless");
      sp.write_all(sq);
      io::set_attribute(sp.id(), "labels", util::join(names, ","));
      io::set_attribute(sp.id(), "lattice", zone.lattice);
      io::set_attribute(sp.id(), "variant", zone.variant);
      io::set_attribute(sp.id(), "spacegroup",
                        zone.international + " (" + std::to_string(zone.spacegroup_number) + ")");
      const std::int64_t nd = static_cast<std::int64_t>(dos.frequency.size());
      auto df = f.create_dataset<double>("/dos/frequency", {nd}, unit.name);
      df.write_all(dos.frequency);
      auto dd = f.create_dataset<double>("/dos/density", {nd}, std::string("1/") + unit.name);
      dd.write_all(dos.density);
      io::set_attribute(dd.id(), "normalisation",
                        "phonon states per primitive cell per unit frequency: integrates over "
                        "frequency to 3 x the atoms of the primitive cell (Gaussian smearing "
                        "of width sigma on the q-point mesh)");
      const Eigen::Vector3i mesh = mesh_of(o);
      io::set_attribute(dd.id(), "mesh", std::vector<std::int64_t>{mesh[0], mesh[1], mesh[2]});
      io::set_attribute(dd.id(), "sigma_thz", o.get<double>("dos.sigma"));
      if (ref) {  // the reference along the same path, for `physfit plot`
        const std::int64_t nb = ref->frequencies.cols();
        std::vector<double> rf;
        for (std::int64_t k = 0; k < np; ++k)
          for (std::int64_t b = 0; b < nb; ++b) rf.push_back(ref->frequencies(k, b));
        auto rd = f.create_dataset<double>("/reference/frequencies", {np, nb}, unit.name);
        rd.write_all(rf);
        io::set_attribute(rd.id(), "source", o.get<std::string>("reference.fc"));
      }
      out.commit();
    }
    staged.commit();
    if (!png.empty()) log::info("phonons: band structure drawn in '", png, "'");
    if (!output.empty()) {
      log::info("phonons: bands and density of states written to '", output, "'");
    }
    return res;
  };
  const Result result = nothing_kept_on_stop(comm, [&] { return mpi::guarded(comm, work); });
  ctx.summary["lattice"] = result.zone;
  if (list_points) return;
  ctx.summary["unit"] = unit.name;
  ctx.summary["frequencies"] = result.points;
  ctx.summary["bands"] = result.bands;
  ctx.summary["min_frequency"] = result.min_frequency;
  ctx.summary["nac"] = result.nac;
}

}  // namespace

Command phonons_command() {
  Command c;
  c.name = "phonons";
  c.summary = "phonon frequencies, band structure, DOS and a band figure from force constants";
  c.description =
      "Builds the dynamical matrix from second-order force constants (a physfit model, *.h5,\n"
      "or phonopy's FORCE_CONSTANTS with --structure.file), spreading each supercell constant "
      "over\n"
      "the shortest periodic images as phonopy does, and prints the frequencies at special\n"
      "points, the bands along a path and the density of states on a mesh, in THz, cm-1 or meV\n"
      "(--output.unit). Special points and the default path come from the crystal itself: spglib "
      "finds\n"
      "its Bravais lattice, and the points are those of Setyawan and Curtarolo (Comput. Mater.\n"
      "Sci. 49, 299, 2010; ASE's convention) for that lattice's case, expressed in the\n"
      "reciprocal basis of the primitive cell physfit uses (given or found), so they are right\n"
      "for any primitive basis. --bands.list-points prints them. --bands.path takes their labels "
      "(G, Gamma\n"
      "or Γ for the zone centre), or any labels with --bands.points giving coordinates. With "
      "--output.figure it\n"
      "draws the band structure (breaks at '|') with the DOS beside it, as PNG, SVG or PDF by\n"
      "the extension, with --reference.fc another model's bands dashed above the fit\n"
      "(its primitive basis may differ: the same Cartesian path is used). --output.file writes\n"
      "/bands/{distance and label_distance (1/angstrom, no 2 pi, as phonopy), qpoints (reduced,\n"
      "primitive reciprocal basis), frequencies (--output.unit; attributes labels, path), branch "
      "(the\n"
      "connected piece of each q-point), special_points}, /dos/{frequency (--output.unit), "
      "density\n"
      "(1/--output.unit: states per primitive cell per unit frequency, integrating to 3 x the "
      "atoms\n"
      "of the primitive cell)} and with --reference.fc /reference/frequencies (the reference\n"
      "along the same path); every dataset has a unit attribute. Conventions:\n"
      "docs/fc/bandpath.md.\n"
      "A stop signal is polled per band-path segment and per row of the DOS mesh.\n"
      "SIGUSR1, SIGUSR2, SIGTERM or SIGINT stop it at the next safe point with exit code 3;\n"
      "nothing is written (previous outputs unchanged): run it again. Under mpirun send\n"
      "SIGUSR1 (mpirun handles TERM and INT itself; docs/running.md, \"Stopping a run\").\n"
      "Polar crystals: with Born effective charges and the dielectric tensor (--nac.born, "
      "phonopy's\n"
      "BORN file, or a model written by 'physfit fc --nac.born') the non-analytic correction is\n"
      "added as phonopy adds it: Gonze and Lee's dipole-dipole Ewald sum (default) or Wang et\n"
      "al.'s mixed-space term. At Gamma the LO-TO splitting depends on the direction of\n"
      "approach: the printed Gamma point uses --nac.q-direction (without it, no correction there,\n"
      "as phonopy); along a band path a Gamma point takes its segment's direction.";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("input.fc",
                          "force constants: physfit model (.h5) or phonopy FORCE_CONSTANTS")
        .path()
        .default_value(std::string());
    opts.add<std::string>(
            "structure.file",
            "supercell of a FORCE_CONSTANTS input, any structure format (SPOSCAR, "
            "phonopy_disp.yaml, POSCAR + --structure.supercell-matrix, ALAMODE, extxyz, HDF5)")
        .path()
        .default_value(std::string());
    declare_structure_options(opts);  // species, masses, supercell-matrix, primitive-matrix
    opts.add<double>("structure.symprec", "symmetry and image tolerance (Angstrom)")
        .default_value(1e-5)
        .check(config::positive<double>());
    opts.add<std::vector<std::string>>(
            "bands.path",
            "band path: labels of this crystal's special points (see --bands.list-points), ',' or "
            "'-' "
            "between labels, '|' where the path jumps (G-X-W-K|L-G); '' for the crystal's "
            "Setyawan-Curtarolo default path")
        .default_value(std::vector<std::string>{});
    opts.add<std::vector<double>>(
            "bands.points",
            "reduced coordinates (primitive reciprocal basis) of the --bands.path labels, 3 per "
            "label; then any labels can be used")
        .default_value(std::vector<double>{});
    opts.add<int>("bands.segment-points", "q-points per path segment")
        .default_value(51)
        .check(config::positive<int>());
    opts.add<std::vector<std::string>>(
            "bands.qpoints",
            "special points whose frequencies are printed ('' for all of the crystal's)")
        .default_value(std::vector<std::string>{});
    opts.add<std::string>("output.unit",
                          "frequency unit of printed and written values: THz, cm-1, meV")
        .default_value(std::string("THz"))
        .check(config::one_of({"THz", "cm-1", "meV"}));
    opts.add_flag("bands.list-points",
                  "print the crystal's Bravais lattice, space group, special points and default "
                  "path, then stop (needs only --structure.file or a model --input.fc)");
    opts.add<std::vector<int>>(
            "dos.mesh",
            "DOS mesh: n (n^3 points) or n1,n2,n3 along the primitive reciprocal vectors")
        .default_value(std::vector<int>{12});
    opts.add<double>("dos.sigma", "DOS Gaussian smearing (THz, whatever --output.unit)")
        .default_value(0.1)
        .check(config::positive<double>());
    opts.add<std::string>("output.file", "HDF5 file for bands and DOS ('' for none)")
        .path()
        .default_value(std::string("results/phonons.h5"));
    opts.add<std::string>("output.figure",
                          "band-structure figure with the DOS beside it: PNG, SVG or PDF by the "
                          "file's extension ('' for none)")
        .path()
        .default_value(std::string());
    opts.add<std::string>("figure.title",
                          "figure title ('' for the primitive cell's formula and space group)")
        .default_value(std::string());
    opts.add<std::string>("figure.label", "legend of the bands")
        .default_value(std::string("physfit"));
    opts.add_flag("figure.difference",
                  "a panel under the bands with fit - reference, band by band (needs "
                  "--reference.fc)");
    opts.add<std::string>("reference.fc", "reference force constants drawn dashed ('' for none)")
        .path()
        .default_value(std::string());
    opts.add<std::string>("reference.structure", "structure of a FORCE_CONSTANTS reference")
        .path()
        .default_value(std::string());
    opts.add<std::string>("reference.label", "legend of the reference")
        .default_value(std::string("reference"));
    opts.add<std::string>("nac.born",
                          "phonopy BORN file (unit factor or comment, dielectric tensor, Born "
                          "charges of the symmetry-independent atoms) for the non-analytic "
                          "correction ('' for none, or the model's /nac)")
        .path()
        .default_value(std::string());
    opts.add<std::string>("nac.method",
                          "non-analytic correction: gonze (Gonze-Lee, phonopy's default), wang, "
                          "none, or auto (the model's method, else gonze; none without Born data)")
        .default_value(std::string("auto"))
        .check(config::one_of({"auto", "gonze", "wang", "none"}));
    opts.add<std::vector<double>>("nac.q-direction",
                                  "direction of approach to Gamma for the printed points (3 "
                                  "reduced coordinates, as phonopy's q_direction)")
        .default_value(std::vector<double>{});
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    for (const char* key :
         {"input.fc", "structure.file", "reference.fc", "reference.structure", "nac.born"}) {
      f.input(o, key);
    }
    // --bands.list-points prints the special points and writes nothing: no output to check or lock.
    if (o.get<bool>("bands.list-points")) return f;
    f.output(o, "output.file");
    f.output(o, "output.figure");
    return f;
  };
  return c;
}

}  // namespace physfit::cli
