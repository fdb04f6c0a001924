#pragma once
/// @file
/// The steps of `physfit fc` from the data to the fit and its held-out errors, shared by the
/// command (which reads the structure and the configurations from HDF5 and writes the model
/// and the exports) and the Python module (which gets them as ASE or phonopy objects and
/// returns numpy arrays): the same options (config::Values parsed from fc_command()'s
/// declarations, hence the same names, checks and defaults), the same calls of the engine,
/// hence the same bits.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "physfit/config/options.hpp"
#include "physfit/fc/clusters.hpp"
#include "physfit/fc/crystal.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/mpi/comm.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/json.hpp"

namespace physfit::cli {

/// Where the data of a fit come from.
struct FcSource {
  /// What the messages call the data (the command: its --input.data file's path).
  std::string name;
  /// What they call the displacements and the forces ("/configs/displacements").
  std::string displacements_name = "/configs/displacements";
  std::string forces_name = "/configs/forces";
  /// The ideal structure; called on every rank inside a guarded phase.
  std::function<fc::IdealStructure()> structure;
  /// **Collective.** The number of configurations of all ranks together (`num_atoms`: the
  /// supercell's, which every configuration must have).
  std::function<std::int64_t(int num_atoms)> total;
  /// **Collective.** This rank's configurations of the global range [begin, end), with their
  /// global index `first` (consecutive ranks hold consecutive blocks), checked (finite values).
  std::function<fc::Configurations(int num_atoms, std::int64_t begin, std::int64_t end)> read;
};

/// One phase of a run: its time (slowest rank) and memory peaks.
struct FcPhase {
  std::string name;
  double seconds;
  double peak_mb;        ///< the largest rank's peak so far
  double total_peak_mb;  ///< the ranks' peaks summed
};

/// What the fit of `physfit fc` made, for the command's outputs or the module's arrays.
struct FcRun {
  fc::IdealStructure ideal;
  std::unique_ptr<fc::Crystal> crystal;
  std::shared_ptr<fc::ClusterSpace> space;
  std::optional<fc::NacParameters> nac;
  fc::Configurations local;  ///< this rank's training configurations
  fc::Configurations held;   ///< this rank's held-out configurations
  std::int64_t first = 0, train = 0, test = 0;
  bool plan_only = false;  ///< solver.plan-only: no fit (the members below are empty)
  fc::Storage storage = fc::Storage::kGram;
  fc::Method method = fc::Method::kLeastSquares;
  fc::FitData data;
  fc::FitResult result;
  std::vector<FcPhase> phases;
  int ranks = 1;
  /// The parts of the summary (--json): parameter counts per order, non-zero parameters per
  /// order, the CV report, the held-out errors, the memory plan.
  util::Json counts, nonzero, cv_json, test_json, plan_json;
  util::Stopwatch clock;  ///< since the end of the last phase
};

/// **Collective.** Ends a phase of `run` (slowest rank's time, memory peaks); a phase other
/// than "output" ends at a safe point to stop on a signal (mpi::stop_point), with `stopped_tail`
/// after the message.
void end_fc_phase(const mpi::Comm& comm, FcRun& run, const std::string& name,
                  const std::string& stopped_tail);

/// **Collective.** `physfit fc` from the data to the fit: the crystal and its symmetry, the
/// cluster space, the configurations (configs.first, .train, .test), the memory plan (refused
/// over solver.memory-budget-gb; stops there with solver.plan-only), the sensitivity rows, the
/// fit (fit.*, path.*, cv.*, solver.*) and the held-out errors, logged as the command logs them
/// and put in `summary` (the command's --json). The folders of output.file and
/// output.export-dir are made before the rows are built.
FcRun fit_fc(const mpi::Comm& comm, const config::Values& options, const FcSource& source,
             util::Json& summary, const std::string& stopped_tail);

/// Logs the phases of `run` and completes `summary` as the command's --json has it (the
/// crystal, the parameters, the fit, its errors, the phases, `seconds` in all).
void write_fc_summary(const FcRun& run, util::Json& summary, double seconds);

}  // namespace physfit::cli
