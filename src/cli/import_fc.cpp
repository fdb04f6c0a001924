// `physfit import <format>`: converts structure/force data to physfit's HDF5 layout
// (issue 5: extxyz, dfset, phonopy, force-sets). See import_fc.hpp for how the formats join
// one `import` command with other engines' formats.

#include "import_fc.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/structure_io.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

// Refuses a first frame that is obviously not an ideal crystal: no symmetry at all (spglib
// finds P1) and no pure translation, as a rattled supercell is. A genuinely P1 crystal can be
// given with --structure.file.
void refuse_displaced_first_frame(const fc::Structure& s, const std::string& path) {
  const double symprec = 1e-3;
  const Eigen::Matrix3d lp = fc::Crystal::find_primitive_lattice(s, symprec);
  if (std::abs(std::abs(s.lattice.determinant()) / std::abs(lp.determinant()) - 1.0) > 1e-6) {
    return;  // pure translations: a supercell of an ideal crystal
  }
  const fc::Crystal c(s, lp, symprec);
  if (c.operations().size() > 1) return;
  throw UsageError(path +
                   ": the first frame, taken as the ideal structure, has no symmetry and "
                   "no pure translation (within " +
                   std::to_string(symprec) +
                   " Angstrom): it looks displaced. The first frame must be the undisplaced "
                   "supercell; otherwise give the ideal structure with --structure.file (a POSCAR, "
                   "phonopy_disp.yaml, ...)");
}

// FORCE_SETS holds the numbers of the calculator of its phonopy run (Quantum ESPRESSO: Bohr
// and Ry/Bohr): with that run's phonopy YAML as the structure they are converted to Angstrom
// and eV/Angstrom. The two must describe the same displacements (a FORCE_SETS of another run
// would otherwise be read against the wrong supercell).
void convert_and_check_against_phonopy_yaml(fc::Configurations& c, const std::string& force_sets,
                                            const std::string& structure) {
  if (fc::detect_structure_format(structure) != fc::StructureFormat::kPhonopyYaml) return;
  const fc::PhonopyYaml y = fc::read_phonopy_yaml(structure);
  if (y.calculator != "vasp") {
    for (auto& u : c.displacements) u *= y.angstrom_per_length;
    for (auto& f : c.forces) f *= y.ev_per_angstrom_per_force;
    log::info("import: ", force_sets, " read in the units of calculator '", y.calculator, "' (",
              structure, "): ", y.angstrom_per_length, " Angstrom per length unit, ",
              y.ev_per_angstrom_per_force, " eV/Angstrom per force unit");
  }
  if (y.dataset_type == 0) return;
  const auto& u = y.configurations.displacements;
  if (u.size() != c.displacements.size()) {
    throw UsageError(force_sets + " has " + std::to_string(c.count()) + " displacements, " +
                     structure + " " + std::to_string(y.configurations.count()) +
                     ": they are not from the same phonopy run");
  }
  const std::size_t per = 3 * static_cast<std::size_t>(c.num_atoms);
  for (std::size_t k = 0; k < u.size(); ++k) {
    if (std::abs(u[k] - c.displacements[k]) > 1e-6) {
      throw UsageError(force_sets + ": displacement " + std::to_string(k / per + 1) + " (atom " +
                       std::to_string(k % per / 3 + 1) + ") differs from " + structure +
                       "'s: they are not from the same phonopy run");
    }
  }
}

/// One input format of `physfit import`.
struct ImportFormat {
  std::string name;
  std::string summary;
  /// Reads the input on one rank into what is written (structure and configurations).
  std::function<std::pair<fc::IdealStructure, fc::Configurations>(const config::Values&)> read;
};

// The ideal structure of a format whose data file holds none: --structure.file, any format.
fc::IdealStructure structure_from(const config::Values& o, const std::string& format) {
  const auto path = o.get<std::string>("structure.file");
  if (path.empty()) {
    throw UsageError("import " + format +
                     ": give the ideal supercell with --structure.file (a POSCAR/SPOSCAR, a "
                     "POSCAR unit cell with --structure.supercell-matrix, phonopy_disp.yaml, "
                     "phonopy.yaml, an ALAMODE input, extended XYZ or physfit HDF5)");
  }
  return fc::read_structure(path, structure_options(o));
}

std::vector<ImportFormat> import_formats_fc() {
  return {
      {"extxyz",
       "extended XYZ as ASE writes it (Angstrom, eV/Angstrom; atoms mapped to sites); the ideal "
       "structure from --structure.file, or else the file's first frame, which must then be the "
       "undisplaced structure (it is not a configuration)",
       [](const config::Values& o) {
         const auto input = o.get<std::string>("input.file");
         const bool own = o.get<std::string>("structure.file").empty();
         fc::IdealStructure s;
         if (own) {
           const auto opts = structure_options(o);
           s = fc::read_structure(input, opts);
           if (!opts.supercell_matrix) refuse_displaced_first_frame(s.supercell, input);
         } else {
           s = structure_from(o, "extxyz");
         }
         auto c =
             fc::read_extxyz(input, s.supercell, o.get<double>("structure.map-tolerance"), own);
         return std::make_pair(s, c);
       }},
      {"dfset",
       "ALAMODE DFSET (Bohr and Ry/Bohr unless --input.dfset-units ev-angstrom) with "
       "--structure.file "
       "(the ALAMODE input, a POSCAR, ...)",
       [](const config::Values& o) {
         auto s = structure_from(o, "dfset");
         const auto units = o.get<std::string>("input.dfset-units") == "ev-angstrom"
                                ? fc::DfsetUnits::kEvAngstrom
                                : fc::DfsetUnits::kRydbergBohr;
         auto c = fc::read_dfset(o.get<std::string>("input.file"), s.supercell, units);
         return std::make_pair(s, c);
       }},
      {"phonopy",
       "phonopy_params.yaml: structure, matrices and the displacement data set (type 1 or 2) "
       "with forces",
       [](const config::Values& o) {
         const auto input = o.get<std::string>("input.file");
         auto c = fc::read_phonopy_params(input).second;
         return std::make_pair(fc::read_structure(input, structure_options(o)), c);
       }},
      {"force-sets",
       "phonopy FORCE_SETS (type 1 or 2; eV/Angstrom and Angstrom, or the units of the "
       "calculator a phonopy YAML --structure.file names, e.g. Quantum ESPRESSO's Ry/Bohr and "
       "Bohr) "
       "with --structure.file (phonopy_disp.yaml, SPOSCAR, or POSCAR with "
       "--structure.supercell-matrix, ...)",
       [](const config::Values& o) {
         auto s = structure_from(o, "force-sets");
         auto c = fc::read_force_sets(o.get<std::string>("input.file"), s.supercell);
         convert_and_check_against_phonopy_yaml(c, o.get<std::string>("input.file"),
                                                o.get<std::string>("structure.file"));
         return std::make_pair(s, c);
       }},
  };
}

}  // namespace

std::vector<std::string> import_fc_formats() {
  std::vector<std::string> names;
  for (const auto& f : import_formats_fc()) names.push_back(f.name);
  return names;
}

std::string import_fc_help() {
  std::string text;
  for (const auto& f : import_formats_fc()) text += "  " + f.name + ": " + f.summary + "\n";
  return text;
}

fc::StructureOptions structure_options(const config::Values& o) {
  fc::StructureOptions s;
  s.species = o.get<std::vector<std::string>>("structure.species");
  for (const auto& entry : o.get<std::vector<std::string>>("structure.masses")) {
    const auto eq = entry.find('=');
    char* end = nullptr;
    const double m = eq == std::string::npos ? 0.0 : std::strtod(entry.c_str() + eq + 1, &end);
    if (eq == std::string::npos || end == entry.c_str() + eq + 1 || *end != '\0' || !(m > 0)) {
      throw UsageError("--structure.masses: '" + entry +
                       "' is not SPECIES=MASS (e.g. --structure.masses Ga=69.723,N=14.0067)");
    }
    s.masses[util::trim(entry.substr(0, eq))] = m;
  }
  const auto smat = o.get<std::string>("structure.supercell-matrix");
  if (!util::trim(smat).empty()) {
    std::string text = smat;
    std::replace(text.begin(), text.end(), ',', ' ');
    std::vector<double> v;
    std::istringstream in(text);
    for (std::string t; in >> t;) {
      char* end = nullptr;
      const double x = std::strtod(t.c_str(), &end);
      if (end == t.c_str() || *end != '\0') {
        throw UsageError("--structure.supercell-matrix: '" + t + "' is not an integer");
      }
      v.push_back(x);
    }
    s.supercell_matrix = fc::supercell_matrix_from(v, "--structure.supercell-matrix");
  }
  s.primitive_matrix = fc::primitive_matrix_from(o.get<std::string>("structure.primitive-matrix"),
                                                 "--structure.primitive-matrix");
  return s;
}

void declare_structure_options(config::Options& opts) {
  opts.add<std::vector<std::string>>(
          "structure.species",
          "species names of a VASP 4 POSCAR, in the order of its counts (Ga,N)")
      .default_value(std::vector<std::string>{});
  opts.add<std::vector<std::string>>(
          "structure.masses",
          "masses by species, amu (Ga=69.723,N=14.0067); default: the file's, else "
          "standard atomic weights")
      .default_value(std::vector<std::string>{});
  opts.add<std::string>("structure.supercell-matrix",
                        "phonopy's DIM, 3 or 9 integers ('2 2 1'): the structure file is the "
                        "unit cell and the supercell is built in phonopy's atom order")
      .default_value(std::string());
  opts.add<std::string>("structure.primitive-matrix",
                        "phonopy's primitive matrix relative to the unit cell: 9 numbers "
                        "(1/2 allowed), P/F/I/A/C/R, or auto (found from the supercell)")
      .default_value(std::string("auto"));
}

void declare_import_fc(config::Options& opts) {
  opts.add<std::string>("structure.file",
                        "ideal structure, format detected from the content: POSCAR/CONTCAR/"
                        "SPOSCAR, phonopy_disp.yaml/phonopy.yaml, ALAMODE input, extended XYZ "
                        "(first frame) or physfit HDF5")
      .path()
      .default_value(std::string());
  declare_structure_options(opts);
  opts.add<double>("structure.map-tolerance",
                   "largest distance (Angstrom) of an atom from its site")
      .default_value(1.0)
      .check(config::positive<double>());
  opts.add<std::string>("input.dfset-units", "units of a DFSET: rydberg-bohr or ev-angstrom")
      .default_value(std::string("rydberg-bohr"))
      .check(config::one_of({"rydberg-bohr", "ev-angstrom"}));
}

void run_import_fc(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto format = o.get<std::string>("input.format");
  const auto output = o.get<std::string>("output.file");
  if (o.get<std::string>("input.file").empty() || output.empty()) {
    mpi::throw_on_all_ranks(comm, UsageError("import " + format +
                                             ": give the file to convert "
                                             "with --input.file and the HDF5 file to write with "
                                             "--output.file"));
  }
  io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
  const std::vector<long long> sizes = mpi::guarded(comm, [&] {
    if (!out.writes_here()) return std::vector<long long>{};
    for (const auto& f : import_formats_fc()) {
      if (f.name != format) continue;
      auto [ideal, configs] = f.read(o);
      configs.validate(o.get<std::string>("input.file"));
      fc::write_dataset_hdf5(out.file(), ideal, configs);
      io::set_attribute(out.file().id(), "source", o.get<std::string>("input.file"));
      io::set_attribute(out.file().id(), "source_format", format);
      return std::vector<long long>{ideal.supercell.size(), configs.count()};
    }
    throw UsageError("unknown format '" + format + "'");
  });
  out.commit();
  long long atoms = sizes.empty() ? 0 : sizes[0], count = sizes.empty() ? 0 : sizes[1];
  comm.broadcast(atoms, 0);
  comm.broadcast(count, 0);
  log::info("import: ", count, " configurations of ", atoms, " atoms from '",
            o.get<std::string>("input.file"), "' (", format, ") written to '", output,
            "' (Angstrom, eV/Angstrom, eV, amu)");
  ctx.summary["format"] = format;
  ctx.summary["atoms"] = atoms;
  ctx.summary["configurations"] = count;
  ctx.summary["output"] = output;
}

}  // namespace physfit::cli
