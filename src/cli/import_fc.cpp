// `physfit import <format>`: converts structure/force data to physfit's HDF5 layout
// (issue 5: extxyz, dfset, phonopy, force-sets). See import_fc.hpp for how the formats join
// one `import` command with other engines' formats.

#include "import_fc.hpp"

#include <functional>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

/// One input format of `physfit import`.
struct ImportFormat {
  std::string name;
  std::string summary;
  /// Reads the input on one rank into what is written (structure and configurations).
  std::function<std::pair<fc::IdealStructure, fc::Configurations>(const config::Values&)> read;
};

fc::IdealStructure structure_from(const config::Values& o, const std::string& format) {
  const auto path = o.get<std::string>("structure");
  if (path.empty()) {
    throw UsageError("import " + format +
                     ": give the ideal supercell with --structure (an HDF5 "
                     "file with /structure, or phonopy_params.yaml)");
  }
  const bool yaml = path.size() > 5 && (path.substr(path.size() - 5) == ".yaml" ||
                                        path.substr(path.size() - 4) == ".yml");
  return yaml ? fc::read_phonopy_params(path).first : fc::read_structure_hdf5(path);
}

std::vector<ImportFormat> import_formats_fc() {
  return {
      {"extxyz", "extended XYZ as ASE writes it (Angstrom, eV/Angstrom; atoms mapped to sites)",
       [](const config::Values& o) {
         auto s = structure_from(o, "extxyz");
         auto c = fc::read_extxyz(o.get<std::string>("input"), s.supercell,
                                  o.get<double>("map-tolerance"));
         return std::make_pair(s, c);
       }},
      {"dfset", "ALAMODE DFSET (Bohr and Ry/Bohr unless --dfset-units ev-angstrom)",
       [](const config::Values& o) {
         auto s = structure_from(o, "dfset");
         const auto units = o.get<std::string>("dfset-units") == "ev-angstrom"
                                ? fc::DfsetUnits::kEvAngstrom
                                : fc::DfsetUnits::kRydbergBohr;
         auto c = fc::read_dfset(o.get<std::string>("input"), s.supercell, units);
         return std::make_pair(s, c);
       }},
      {"phonopy", "phonopy_params.yaml: supercell, primitive matrix and the displacement data set",
       [](const config::Values& o) {
         return fc::read_phonopy_params(o.get<std::string>("input"));
       }},
      {"force-sets", "phonopy FORCE_SETS (type 1 or 2; eV, Angstrom) with --structure",
       [](const config::Values& o) {
         auto s = structure_from(o, "force-sets");
         auto c = fc::read_force_sets(o.get<std::string>("input"), s.supercell);
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

void declare_import_fc(config::Options& opts) {
  opts.add<std::string>("structure",
                        "ideal supercell: HDF5 with /structure, or phonopy_params.yaml")
      .default_value(std::string());
  opts.add<double>("map-tolerance", "largest distance (Angstrom) of an atom from its site")
      .default_value(1.0)
      .check(config::positive<double>());
  opts.add<std::string>("dfset-units", "units of a DFSET: rydberg-bohr or ev-angstrom")
      .default_value(std::string("rydberg-bohr"))
      .check(config::one_of({"rydberg-bohr", "ev-angstrom"}));
}

void run_import_fc(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto format = o.get<std::string>("format");
  const auto output = o.get<std::string>("output");
  if (o.get<std::string>("input").empty() || output.empty()) {
    mpi::throw_on_all_ranks(comm, UsageError("import " + format +
                                             ": give the file to convert "
                                             "with --input and the HDF5 file to write with "
                                             "--output"));
  }
  io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
  const std::vector<long long> sizes = mpi::guarded(comm, [&] {
    if (!out.writes_here()) return std::vector<long long>{};
    for (const auto& f : import_formats_fc()) {
      if (f.name != format) continue;
      auto [ideal, configs] = f.read(o);
      configs.validate(o.get<std::string>("input"));
      fc::write_dataset_hdf5(out.file(), ideal, configs);
      io::set_attribute(out.file().id(), "source", o.get<std::string>("input"));
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
            o.get<std::string>("input"), "' (", format, ") written to '", output,
            "' (Angstrom, eV/Angstrom, eV, amu)");
  ctx.summary["format"] = format;
  ctx.summary["atoms"] = atoms;
  ctx.summary["configurations"] = count;
  ctx.summary["output"] = output;
}

}  // namespace physfit::cli
