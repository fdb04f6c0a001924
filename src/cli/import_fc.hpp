#pragma once
// The force-constant formats of `physfit import` (issue 5), kept apart from the command so
// that one `import` command can serve every engine: its declare() calls declare_import_fc()
// for the keys only these formats use, and its run() hands the formats import_fc_formats()
// lists to run_import_fc(). The shared keys are `format`, `input` and `output`.

#include <string>
#include <vector>

#include "physfit/cli/command.hpp"
#include "physfit/fc/structure_io.hpp"

namespace physfit::cli {

/// extxyz, dfset, phonopy, force-sets.
std::vector<std::string> import_fc_formats();
/// A one-line description of each, for --help.
std::string import_fc_help();
/// Declares the keys that say how to read a structure file (every command that takes one:
/// species, masses, supercell-matrix, primitive-matrix).
void declare_structure_options(config::Options& opts);
/// The fc::StructureOptions those keys give; UsageError naming the key on a bad value.
fc::StructureOptions structure_options(const config::Values& values);
/// Declares structure, the structure keys above, map-tolerance and dfset-units.
void declare_import_fc(config::Options& opts);
/// **Collective.** Converts --input.file (format --input.format) into --output.file; rank 0 reads
/// and writes.
void run_import_fc(Context& ctx);

}  // namespace physfit::cli
