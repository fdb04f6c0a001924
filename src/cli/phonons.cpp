// `physfit phonons`: frequencies, band structure, density of states and a band-structure PNG
// from second-order force constants (issue 5).

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "import_fc.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/exports.hpp"
#include "physfit/fc/model.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/fc/phonons.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/plot/figure.hpp"
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
      throw UsageError("'" + path +
                       "' is read as phonopy FORCE_CONSTANTS: give --structure "
                       "(SPOSCAR, phonopy_disp.yaml, POSCAR with --supercell-matrix, HDF5...)");
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

// The non-analytic correction: Born data from --born, else the model's /nac; the method from
// --nac-method (auto: the model's, else Gonze-Lee). Logs what is applied; nullopt for none.
std::optional<fc::NacParameters> nac_of(const config::Values& o, const Model& m) {
  const auto born = o.get<std::string>("born");
  const auto method = o.get<std::string>("nac-method");
  std::optional<fc::NacParameters> nac;
  fc::NacCheck check;
  if (!born.empty()) {
    nac = fc::read_born(born, *m.crystal, &check);
    nac->method = fc::NacMethod::kGonze;
    if (m.nac) log::info("phonons: --born '", born, "' replaces the Born data of the model");
  } else if (m.nac) {
    nac = m.nac;
    check = fc::prepare_nac(*nac, *m.crystal, nac->source);
  }
  if (method == "none") {
    if (nac) log::info("phonons: non-analytic correction: none (--nac-method none)");
    return std::nullopt;
  }
  if (!nac) {
    if (method != "auto") {
      throw UsageError("--nac-method " + method +
                       " needs Born effective charges and the dielectric tensor: give --born "
                       "BORN (phonopy's file), or a model written by 'physfit fc --born'");
    }
    return std::nullopt;
  }
  if (method != "auto") nac->method = fc::parse_nac_method(method, "--nac-method");
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

// --q-direction: 3 reduced coordinates, or none.
std::optional<Eigen::Vector3d> q_direction_of(const config::Values& o) {
  const auto v = o.get<std::vector<double>>("q-direction");
  if (v.empty()) return std::nullopt;
  if (v.size() != 3) {
    throw UsageError(
        "--q-direction needs 3 numbers (reduced coordinates of the reciprocal "
        "lattice), got " +
        std::to_string(v.size()));
  }
  const Eigen::Vector3d d(v[0], v[1], v[2]);
  if (!d.allFinite() || d.norm() == 0) {
    throw UsageError("--q-direction must be a finite, non-zero vector");
  }
  return d;
}

fc::BandPath path_of(const config::Values& o) {
  fc::BandPath p;
  p.labels = o.get<std::vector<std::string>>("path");
  p.segment_points = o.get<int>("segment-points");
  const auto coords = o.get<std::vector<double>>("points");
  if (!coords.empty() && coords.size() != 3 * p.labels.size()) {
    throw UsageError("--points needs 3 coordinates per label of --path (" +
                     std::to_string(3 * p.labels.size()) + "), got " +
                     std::to_string(coords.size()));
  }
  for (std::size_t k = 0; k < p.labels.size(); ++k) {
    p.points.push_back(coords.empty()
                           ? fc::fcc_point(p.labels[k])
                           : Eigen::Vector3d(coords[3 * k], coords[3 * k + 1], coords[3 * k + 2]));
  }
  return p;
}

void run(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const double symprec = o.get<double>("symprec");
  if (o.get<std::string>("fc").empty()) {
    mpi::throw_on_all_ranks(comm, UsageError("give the force constants with --fc FILE (a physfit "
                                             "model .h5, or FORCE_CONSTANTS with --structure)"));
  }
  // Small work: rank 0 computes, the others wait for the outcome.
  struct Result {
    util::Json points = util::Json::object();
    int bands = 0;
    double min_frequency = 0;
    std::string nac = "none";
  };
  const io::Provenance provenance = ctx.provenance();  // collective: before rank 0 works alone
  const Result result = mpi::guarded(comm, [&] {
    Result res;
    if (!comm.is_root()) return res;
    const fc::StructureOptions sopts = structure_options(o);
    const Model m = load(o.get<std::string>("fc"), o.get<std::string>("structure"), symprec, sopts);
    const std::optional<fc::NacParameters> nac = nac_of(o, m);
    const std::optional<Eigen::Vector3d> q_direction = q_direction_of(o);
    const fc::DynamicalMatrix d(*m.crystal, m.fc2, symprec, nac ? &*nac : nullptr);
    if (const auto* dd = d.dipole_dipole()) {
      log::info("phonons: Gonze-Lee sum over ", dd->num_g_vectors(), " G-vectors within ",
                dd->g_cutoff(), " 1/A, Lambda ", dd->lambda(), " 1/A");
    }
    res.nac = fc::nac_method_name(d.nac_method());
    const fc::BandPath path = path_of(o);
    const fc::Bands bands = fc::band_structure(d, *m.crystal, path);
    res.bands = d.num_bands();
    res.min_frequency = bands.frequencies.minCoeff();
    for (const auto& label : o.get<std::vector<std::string>>("qpoints")) {
      const Eigen::VectorXd f = d.frequencies(fc::fcc_point(label), q_direction);
      res.points[label] = util::Json::array(std::vector<double>(f.data(), f.data() + f.size()));
      std::ostringstream s;
      s.precision(6);
      for (int k = 0; k < f.size(); ++k) s << " " << f[k];
      log::info("phonons: ", label, ":", s.str(), " THz");
    }
    const fc::Dos dos = fc::density_of_states(d, o.get<int>("mesh"), o.get<double>("sigma"));

    // Reference bands (dashed) when given.
    std::unique_ptr<fc::Bands> ref;
    const auto ref_path = o.get<std::string>("reference");
    if (!ref_path.empty()) {
      const Model r = load(ref_path,
                           o.get<std::string>("reference-structure").empty()
                               ? o.get<std::string>("structure")
                               : o.get<std::string>("reference-structure"),
                           symprec, sopts);
      // The reference gets the same non-analytic correction (same primitive cell).
      const bool same_nac = nac && r.crystal->num_primitive() == m.crystal->num_primitive();
      const fc::DynamicalMatrix dr(*r.crystal, r.fc2, symprec, same_nac ? &*nac : nullptr);
      ref = std::make_unique<fc::Bands>(fc::band_structure(dr, *r.crystal, path));
      double worst = 0;
      for (Eigen::Index k = 0; k < bands.frequencies.size(); ++k) {
        worst = std::max(worst, std::abs(bands.frequencies.data()[k] - ref->frequencies.data()[k]));
      }
      res.points["max_difference_to_reference"] = worst;
      log::info("phonons: largest difference to the reference along the path: ", worst, " THz");
    }
    const auto png = o.get<std::string>("png");
    if (!png.empty()) {
      plot::Figure fig(900, 560);
      fig.title(o.get<std::string>("title")).ylabel("frequency (THz)");
      std::vector<std::string> labels;
      for (const auto& l : bands.labels) labels.push_back(l == "G" ? "Γ" : l);
      fig.xticks(bands.label_distance, labels);
      // A little room on the right: the figure drops a tick that falls on the last pixel.
      fig.xlim(0, bands.distance.back() * 1.003);
      for (double x : bands.label_distance) fig.vline(x);
      for (int b = 0; b < res.bands; ++b) {
        if (ref) {
          std::vector<double> y(ref->distance.size());
          for (std::size_t k = 0; k < y.size(); ++k) y[k] = ref->frequencies(k, b);
          auto& s = fig.line(ref->distance, y, b == 0 ? o.get<std::string>("reference-label") : "");
          s.color = {150, 150, 150};
          s.dashed = true;
        }
        std::vector<double> y(bands.distance.size());
        for (std::size_t k = 0; k < y.size(); ++k) y[k] = bands.frequencies(k, b);
        auto& s = fig.line(bands.distance, y, b == 0 ? o.get<std::string>("label") : "");
        s.color = plot::palette(0);
      }
      fig.save_png(png);
      log::info("phonons: band structure drawn in '", png, "'");
    }
    const auto output = o.get<std::string>("output");
    if (!output.empty()) {
      io::OutputFile out(mpi::Comm::self(), output, provenance, io::OutputFile::Writers::kRank0);
      const io::File& f = out.file();
      const std::int64_t np = static_cast<std::int64_t>(bands.distance.size());
      f.create_dataset<double>("/bands/distance", {np}).write_all(bands.distance);
      std::vector<double> q, fr;
      for (const auto& v : bands.qpoints) q.insert(q.end(), v.data(), v.data() + 3);
      for (std::int64_t k = 0; k < np; ++k)
        for (int b = 0; b < res.bands; ++b) fr.push_back(bands.frequencies(k, b));
      f.create_dataset<double>("/bands/qpoints", {np, 3}).write_all(q);
      auto ds = f.create_dataset<double>("/bands/frequencies", {np, res.bands});
      ds.write_all(fr);
      io::set_attribute(ds.id(), "unit", "THz");
      io::set_attribute(ds.id(), "labels", util::join(bands.labels, ","));
      f.create_dataset<double>("/bands/label_distance",
                               {static_cast<std::int64_t>(bands.label_distance.size())})
          .write_all(bands.label_distance);
      const std::int64_t nd = static_cast<std::int64_t>(dos.frequency.size());
      f.create_dataset<double>("/dos/frequency", {nd}).write_all(dos.frequency);
      f.create_dataset<double>("/dos/density", {nd}).write_all(dos.density);
      out.commit();
      log::info("phonons: bands and density of states written to '", output, "'");
    }
    return res;
  });
  ctx.summary["frequencies"] = result.points;
  ctx.summary["bands"] = result.bands;
  ctx.summary["min_frequency"] = result.min_frequency;
  ctx.summary["nac"] = result.nac;
}

}  // namespace

Command phonons_command() {
  Command c;
  c.name = "phonons";
  c.summary = "phonon frequencies, band structure, DOS and a band PNG from force constants";
  c.description =
      "Builds the dynamical matrix from second-order force constants (a physfit model, *.h5,\n"
      "or phonopy's FORCE_CONSTANTS with --structure), spreading each supercell constant over\n"
      "the shortest periodic images as phonopy does, and prints the frequencies (THz) at the\n"
      "given special points, the bands along a path and the density of states on a mesh. With\n"
      "--png it draws the band structure, with --reference another model's bands dashed.\n"
      "Polar crystals: with Born effective charges and the dielectric tensor (--born, phonopy's\n"
      "BORN file, or a model written by 'physfit fc --born') the non-analytic correction is\n"
      "added as phonopy adds it: Gonze and Lee's dipole-dipole Ewald sum (default) or Wang et\n"
      "al.'s mixed-space term. At Gamma the LO-TO splitting depends on the direction of\n"
      "approach: the printed Gamma point uses --q-direction (without it, no correction there,\n"
      "as phonopy); along a band path a Gamma point takes its segment's direction.";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("fc", "force constants: physfit model (.h5) or phonopy FORCE_CONSTANTS")
        .default_value(std::string());
    opts.add<std::string>("structure",
                          "supercell of a FORCE_CONSTANTS input, any structure format (SPOSCAR, "
                          "phonopy_disp.yaml, POSCAR + --supercell-matrix, ALAMODE, extxyz, HDF5)")
        .default_value(std::string());
    declare_structure_options(opts);  // species, masses, supercell-matrix, primitive-matrix
    opts.add<double>("symprec", "symmetry and image tolerance (Angstrom)")
        .default_value(1e-5)
        .check(config::positive<double>());
    opts.add<std::vector<std::string>>("path", "labels of the band path (FCC: G X L W K U)")
        .default_value(std::vector<std::string>{"G", "X", "W", "K", "G", "L"});
    opts.add<std::vector<double>>("points",
                                  "reduced coordinates of the path's points (3 per label)")
        .default_value(std::vector<double>{});
    opts.add<int>("segment-points", "q-points per path segment")
        .default_value(51)
        .check(config::positive<int>());
    opts.add<std::vector<std::string>>("qpoints", "special points whose frequencies are printed")
        .default_value(std::vector<std::string>{"G", "X", "L", "W", "K"});
    opts.add<int>("mesh", "DOS mesh (mesh^3 points)")
        .default_value(12)
        .check(config::positive<int>());
    opts.add<double>("sigma", "DOS Gaussian smearing (THz)")
        .default_value(0.1)
        .check(config::positive<double>());
    opts.add<std::string>("output", "HDF5 file for bands and DOS ('' for none)")
        .default_value(std::string("phonons.h5"));
    opts.add<std::string>("png", "band-structure PNG ('' for none)").default_value(std::string());
    opts.add<std::string>("title", "figure title")
        .default_value(std::string("Phonon band structure"));
    opts.add<std::string>("label", "legend of the bands").default_value(std::string("physfit"));
    opts.add<std::string>("reference", "reference force constants drawn dashed ('' for none)")
        .default_value(std::string());
    opts.add<std::string>("reference-structure", "structure of a FORCE_CONSTANTS reference")
        .default_value(std::string());
    opts.add<std::string>("reference-label", "legend of the reference")
        .default_value(std::string("reference"));
    opts.add<std::string>("born",
                          "phonopy BORN file (unit factor or comment, dielectric tensor, Born "
                          "charges of the symmetry-independent atoms) for the non-analytic "
                          "correction ('' for none, or the model's /nac)")
        .default_value(std::string());
    opts.add<std::string>("nac-method",
                          "non-analytic correction: gonze (Gonze-Lee, phonopy's default), wang, "
                          "none, or auto (the model's method, else gonze; none without Born data)")
        .default_value(std::string("auto"))
        .check(config::one_of({"auto", "gonze", "wang", "none"}));
    opts.add<std::vector<double>>("q-direction",
                                  "direction of approach to Gamma for the printed points (3 "
                                  "reduced coordinates, as phonopy's q_direction)")
        .default_value(std::vector<double>{});
  };
  c.run = run;
  return c;
}

}  // namespace physfit::cli
