// `physfit fc`: force constants from displacement/force data (issue 5).

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>

#include "physfit/cli/command.hpp"
#include "physfit/cli/fc.hpp"
#include "physfit/error.hpp"
#include "physfit/fc/clusters.hpp"
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/exports.hpp"
#include "physfit/fc/fit.hpp"
#include "physfit/fc/model.hpp"
#include "physfit/fc/nac.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/lasso/gram.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

std::string short_number(double v, int digits = 2) {
  std::ostringstream s;
  s << std::setprecision(digits) << v;
  return s.str();
}

// Decimal units, as --solver.memory-budget-gb.
std::string size_text(double bytes) {
  std::ostringstream s;
  if (bytes >= 1e9) {
    s << std::fixed << std::setprecision(2) << bytes / 1e9 << " GB";
  } else {
    s << std::fixed << std::setprecision(bytes >= 1e7 ? 0 : 1) << bytes / 1e6 << " MB";
  }
  return s.str();
}

// The plan's parts, for the log and --json.
util::Json plan_json(const fc::MemoryPlan& m) {
  util::Json j = util::Json::object();
  j["ranks"] = m.ranks;
  j["storage"] = m.storage == fc::Storage::kGram ? "gram" : "residual";
  j["per_rank_bytes"] = m.per_rank;
  j["total_bytes"] = m.total;
  j["base_bytes"] = m.base;
  j["cluster_space_bytes"] = m.cluster_space;
  j["construction_bytes"] = m.construction;
  j["configurations_bytes"] = m.configurations;
  j["row_scratch_bytes"] = m.row_scratch;
  if (m.storage == fc::Storage::kGram) {
    j["gram_build_bytes"] = m.gram_build;
    j["gram_fit_bytes"] = m.gram_fit;
    j["batch_rows_bytes"] = m.batch;
  } else {
    j["residual_rows_bytes"] = m.rows;
    j["solver_bytes"] = m.solver;
    j["solver_active_assumed"] = m.active;
  }
  j["output_bytes"] = m.output;
  return j;
}

std::string plan_text(const fc::MemoryPlan& m) {
  std::string parts = "base " + size_text(m.base) + ", cluster space " +
                      size_text(m.cluster_space) + " (building it: +" + size_text(m.construction) +
                      "), configurations " + size_text(m.configurations) + ", ";
  const std::string output =
      m.output > 0 ? " and the output on rank 0 " + size_text(m.output) : std::string();
  if (m.storage == fc::Storage::kGram) {
    parts += "exact Gram " + size_text(m.gram_build) + " + the larger of one batch of rows " +
             size_text(m.batch) + " with row scratch " + size_text(m.row_scratch) + output +
             "; the fit " + size_text(m.gram_fit);
  } else {
    parts += "rows " + size_text(m.rows) + " + the larger of row scratch " +
             size_text(m.row_scratch) + ", solver " + size_text(m.solver) + " (Gram columns of " +
             std::to_string(m.active) + " active parameters assumed)" + output;
  }
  return parts;
}

// --nac.born: phonopy's BORN for the model (/nac) and the exports (BORN next to FORCE_CONSTANTS).
// Read on every rank inside a guarded phase: small, and an error ends every rank.
std::optional<fc::NacParameters> born_of(const mpi::Comm& comm, const config::Values& o,
                                         const fc::Crystal& crystal) {
  const auto path = o.get<std::string>("nac.born");
  if (path.empty()) return std::nullopt;
  fc::NacCheck check;
  auto nac = mpi::guarded(comm, [&] { return fc::read_born(path, crystal, &check); });
  std::string atoms;
  for (int i : check.independent_atoms) atoms += (atoms.empty() ? "" : ",") + std::to_string(i + 1);
  log::info("fc: Born charges of independent atoms ", atoms, " and the dielectric tensor from '",
            path, "' (unit factor ", nac.factor, "), stored in the model's /nac");
  if (const auto w = fc::replaced_factor_warning(check, path); !w.empty()) log::warning("fc: ", w);
  if (check.charge_sum.cwiseAbs().maxCoeff() > 1e-3) {
    log::warning("fc: the Born charges of '", path,
                 "' do not sum to zero over the primitive "
                 "cell (largest component ",
                 check.charge_sum.cwiseAbs().maxCoeff(),
                 "); each atom's charge was shifted by the mean, as phonopy does");
  }
  return nac;
}

// The files the exports of these options write in output.export-dir (none for output.export-dir
// ''); those of third order only when there is a cutoff of order 3 or more.
std::vector<std::string> export_files(const config::Values& o) {
  const auto dir = o.get<std::string>("output.export-dir");
  std::vector<std::string> files;
  if (dir.empty()) return files;
  const bool third = o.get<std::vector<double>>("clusters.cutoffs").size() >= 2;
  for (const auto& what : o.get<std::vector<std::string>>("output.exports")) {
    if (what == "phonopy") {
      for (const char* name : {"FORCE_CONSTANTS", "phonopy.yaml", "SPOSCAR", "PPOSCAR"}) {
        files.push_back(dir + "/" + name);
      }
    } else if (what == "phonopy-hdf5") {
      files.push_back(dir + "/force_constants.hdf5");
    } else if (what == "phono3py" && third) {
      files.push_back(dir + "/fc3.hdf5");
    } else if (what == "shengbte" && third) {
      files.push_back(dir + "/FORCE_CONSTANTS_3RD");
    }
  }
  if (!o.get<std::string>("nac.born").empty()) files.push_back(dir + "/BORN");
  return files;
}

// Creates a folder and its parents (as mkdir -p) for the option `key`; nothing for ''.
void make_folder(const std::string& folder, const std::string& key) {
  if (folder.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder)) {
    throw IoError(key + " '" + folder + "': cannot create the folder (" +
                  (ec ? ec.message() : std::string("a file of that name exists")) +
                  "); give a folder you can write to");
  }
}

}  // namespace

void end_fc_phase(const mpi::Comm& comm, FcRun& run, const std::string& name,
                  const std::string& stopped_tail) {
  const double mine = static_cast<double>(fc::peak_memory_bytes());
  const double peak = comm.allreduce(mine, mpi::Op::kMax);
  const double sum = comm.allreduce(mine, mpi::Op::kSum);
  run.phases.push_back(
      {name, comm.allreduce(run.clock.seconds(), mpi::Op::kMax), peak / 1e6, sum / 1e6});
  run.clock.restart();
  // Every phase before the outputs ends at a safe point; the outputs, once begun, finish.
  if (name != "output") mpi::stop_point(comm, "after fc's " + name + " phase" + stopped_tail);
}

FcRun fit_fc(const mpi::Comm& comm, const config::Values& o, const FcSource& source,
             util::Json& summary, const std::string& stopped_tail) {
  const auto cutoffs = o.get<std::vector<double>>("clusters.cutoffs");
  const double symprec = o.get<double>("structure.symprec");
  FcRun run;
  run.ranks = comm.size();
  std::vector<FcPhase>& phases = run.phases;
  auto phase = [&](const std::string& name) { end_fc_phase(comm, run, name, stopped_tail); };

  // Structure, symmetry and the cluster space: small, the same on every rank.
  mpi::guarded(comm, [&] {
    run.ideal = source.structure();
    run.crystal = std::make_unique<fc::Crystal>(
        run.ideal.supercell, run.ideal.resolve_primitive_lattice(symprec), symprec);
    return 0;
  });
  const fc::Crystal& crystal = *run.crystal;
  log::info("fc: ", crystal.num_atoms(), " atoms, space group ", crystal.international(), " (",
            crystal.spacegroup_number(), "), ", crystal.operations().size(), " operations x ",
            crystal.num_cells(), " translations, ", crystal.num_primitive(), " primitive atoms");
  if (crystal.dropped_operations() > 0) {
    log::warning("fc: the supercell shape breaks ", crystal.dropped_operations(),
                 " operations of the primitive space group; they are not used");
  }
  run.nac = born_of(comm, o, crystal);
  phase("symmetry");
  const double base_bytes = phases.back().peak_mb * 1e6;
  const double budget = o.get<double>("solver.memory-budget-gb") * 1e9;
  fc::ClusterOptions copt;
  copt.cutoffs = cutoffs;
  copt.acoustic_sum_rule = o.get<bool>("clusters.sum-rule");
  copt.rotational_invariance = o.get<bool>("clusters.rotational-invariance");
  copt.allow_wrapping = o.get<bool>("clusters.allow-wrapping");
  if (base_bytes > budget) {
    mpi::throw_on_all_ranks(
        comm, UsageError("physfit itself holds " + size_text(base_bytes) +
                         " per rank before the fit (libraries, MPI, HDF5, the crystal), over "
                         "--solver.memory-budget-gb " +
                         short_number(budget / 1e9, 4) +
                         ": no number of ranks brings it below; raise --solver.memory-budget-gb"));
  }
  copt.memory_budget = budget - base_bytes;
  if (copt.rotational_invariance && !copt.acoustic_sum_rule) {
    mpi::throw_on_all_ranks(
        comm, UsageError("clusters.rotational-invariance needs clusters.sum-rule = true"));
  }
  // Built by all ranks together (collective; the same bits on every rank).
  run.space =
      mpi::guarded(comm, [&] { return std::make_shared<fc::ClusterSpace>(comm, crystal, copt); });
  const auto& space = run.space;
  log::info("fc: largest cutoff without wrapping ", short_number(space->cutoff_limit(), 6),
            " A (half the shortest supercell lattice vector)");
  for (int order = 2; order <= space->max_order(); ++order) {
    if (!space->wraps(order)) continue;
    log::warning(
        "fc: the cutoff of order ", order, ", ", short_number(cutoffs[order - 2], 6),
        " A, is at or above ", short_number(space->cutoff_limit(), 6),
        " A (clusters.allow-wrapping): clusters that close only around the periodic boundary "
        "are kept as ALAMODE keeps them; a larger supercell represents this cutoff "
        "without ambiguity");
  }
  summary["cutoff_limit"] = space->cutoff_limit();
  util::Json counts = util::Json::array();
  for (int order = 2; order <= space->max_order(); ++order) {
    const double c = cutoffs[order - 2];
    log::info("fc: order ", order, " (cutoff ",
              c < 0 ? std::string("none") : util::trim(std::to_string(c)) + " A",
              "): ", space->num_orbits(order), " orbits, ", space->num_clusters(order),
              " clusters, ", space->num_symmetry_parameters(order), " symmetry-adapted, ",
              space->num_parameters(order), " independent parameters");
    util::Json e = util::Json::object();
    e["order"] = order;
    e["cutoff"] = c;
    e["wraps"] = space->wraps(order);
    e["orbits"] = space->num_orbits(order);
    e["clusters"] = space->num_clusters(order);
    e["symmetry_parameters"] = space->num_symmetry_parameters(order);
    e["parameters"] = space->num_parameters(order);
    counts.push_back(e);
  }
  phase("clusters");
  const double space_peak = phases.back().peak_mb * 1e6;  // building the cluster space
  {
    const fc::ClusterBuildReport& b = space->build_report();
    log::info("fc: cluster space built on ", comm.size(), " rank", comm.size() > 1 ? "s" : "",
              " in ", util::format_duration(phases.back().seconds), " (clusters ",
              util::format_duration(b.enumerate_seconds), ", orbits and bases ",
              util::format_duration(b.orbit_seconds), ", sum rule ",
              util::format_duration(b.sum_rule_seconds), ": ", b.constraint_rows, " rows, ",
              b.constraint_nonzeros, " entries, at most ", b.reduced_nonzeros,
              " while reduced): ", b.translation_classes, " clusters up to translation, ",
              space->num_members(), " members; it holds ",
              size_text(static_cast<double>(space->memory_bytes())), " per rank, peak ",
              size_text(phases.back().peak_mb * 1e6), " per rank");
  }

  // Configurations: each rank reads its share of the training range and of the test range.
  const std::int64_t total = mpi::guarded(comm, [&] { return source.total(crystal.num_atoms()); });
  const std::int64_t first = o.get<long long>("configs.first");
  std::int64_t train = o.get<long long>("configs.train");
  const std::int64_t test = o.get<long long>("configs.test");
  if (train == 0) train = total - first - test;
  if (first + train + test > total || train <= 0) {
    mpi::throw_on_all_ranks(
        comm,
        UsageError("first + train + test = " + std::to_string(first + train + test) + " but '" +
                   source.name + "' has " + std::to_string(total) + " configurations"));
  }
  run.first = first;
  run.train = train;
  run.test = test;
  auto read = [&](std::int64_t begin, std::int64_t end) {
    return mpi::guarded(comm, [&] { return source.read(crystal.num_atoms(), begin, end); });
  };
  run.local = read(first, first + train);
  run.held = read(first + train, first + train + test);
  const fc::Configurations& local = run.local;
  const fc::Configurations& held = run.held;
  // Training data without displacements, or without forces, hold nothing to fit: input data,
  // not a numerical failure (they gave a NaN relative error with exit 0, or exit 5).
  {
    double largest[2] = {0, 0};
    for (double u : local.displacements) largest[0] = std::max(largest[0], std::abs(u));
    for (double f : local.forces) largest[1] = std::max(largest[1], std::abs(f));
    comm.allreduce_in_place(largest, 2, mpi::Op::kMax);
    const std::string range =
        "configurations " + std::to_string(first + 1) + " to " + std::to_string(first + train);
    if (largest[0] == 0) {
      mpi::throw_on_all_ranks(
          comm, IoError(source.name + ": " + source.displacements_name +
                        " are zero in every atom of the "
                        "training " +
                        range +
                        ": they carry no information about the force "
                        "constants. Check the file (displacements in Angstrom from the ideal "
                        "positions) and --configs.first/--configs.train"));
    }
    if (largest[1] == 0) {
      mpi::throw_on_all_ranks(
          comm,
          IoError(source.name + ": " + source.forces_name +
                  " are zero in every atom of the training " + range +
                  ": there is nothing to fit. Check the file and --configs.first/--configs.train"));
    }
  }
  phase("read");
  const int folds = o.get<int>("cv.folds");
  const std::string storage_name = o.get<std::string>("solver.mode");
  // Memory plan per rank, before any row is built (fit.hpp, MemoryPlan): the cluster space is
  // built and measured; rows, Gram, solver and output are estimated.
  fc::MemoryPlanOptions mo;
  mo.ranks = comm.size();
  mo.train = train;
  mo.test = test;
  mo.batch = o.get<int>("solver.batch");
  mo.folds = folds;
  mo.base_bytes = base_bytes;
  mo.construction_bytes =
      std::max(0.0, space_peak - base_bytes - static_cast<double>(space->memory_bytes()));
  mo.model = !o.get<std::string>("output.file").empty();
  mo.exports = !o.get<std::string>("output.export-dir").empty();
  auto plan_for = [&](fc::Storage st, int ranks) {
    fc::MemoryPlanOptions x = mo;
    x.storage = st;
    x.ranks = ranks;
    return fc::plan_memory(*space, x);
  };
  const fc::MemoryPlan gram_plan = plan_for(fc::Storage::kGram, comm.size());
  fc::Storage storage = fc::Storage::kGram;
  if (storage_name == "residual" || (storage_name == "auto" && gram_plan.per_rank > budget)) {
    storage = fc::Storage::kResidual;
  }
  const fc::MemoryPlan plan = plan_for(storage, comm.size());
  const fc::MemoryPlan residual_plan = plan_for(fc::Storage::kResidual, comm.size());
  const char* storage_text = storage == fc::Storage::kGram ? "gram" : "residual";
  // What more ranks would give (the residual storage divides the rows; the Gram does not),
  // and the fewest ranks within the budget.
  util::Json more = util::Json::array();
  std::string more_text;
  for (int k = 2; k <= 8; k *= 2) {
    const fc::MemoryPlan m = plan_for(storage, comm.size() * k);
    util::Json e = util::Json::object();
    e["ranks"] = m.ranks;
    e["per_rank_bytes"] = m.per_rank;
    e["total_bytes"] = m.total;
    more.push_back(e);
    more_text += (more_text.empty() ? "" : ", ") + std::to_string(m.ranks) + " ranks " +
                 size_text(m.per_rank) + " per rank (" + size_text(m.total) + " in all)";
  }
  // The fewest ranks whose per-rank peak fits the budget (0: none, the floor is above it).
  auto fewest_ranks = [&](fc::Storage st) {
    if (plan_for(st, 1 << 20).per_rank > budget) return 0;
    int lo = 1, hi = 1 << 20;
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (plan_for(st, mid).per_rank <= budget) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  };
  const int fewest = fewest_ranks(storage);
  util::Json plan_j = plan_json(plan);
  plan_j["gram_bytes"] = gram_plan.gram_fit;
  plan_j["residual_rows_bytes"] = residual_plan.rows;
  plan_j["gram_per_rank_bytes"] = gram_plan.per_rank;
  plan_j["residual_per_rank_bytes"] = residual_plan.per_rank;
  plan_j["clusters_bytes"] = static_cast<double>(space->memory_bytes());
  plan_j["dense_matrix_bytes"] = plan.dense_matrix;
  plan_j["budget_bytes"] = budget;
  plan_j["fewest_ranks"] = fewest;
  plan_j["more_ranks"] = more;
  log::info("fc: memory plan at ", comm.size(), " rank", comm.size() > 1 ? "s" : "", ": ",
            size_text(plan.per_rank), " per rank (largest), ", size_text(plan.total),
            " in all, storage ", storage_text, " (", storage_name, "; the Gram storage needs ",
            size_text(gram_plan.per_rank), " per rank whatever the ranks, the residual storage ",
            size_text(residual_plan.per_rank), " per rank here); ", plan_text(plan),
            "; the dense sensitivity matrix would be ", size_text(plan.dense_matrix));
  log::info("fc: with more ranks: ", more_text,
            fewest > 0 ? "; fewest ranks within --solver.memory-budget-gb " +
                             short_number(budget / 1e9, 4) + ": " + std::to_string(fewest)
                       : "; no rank count brings it within --solver.memory-budget-gb " +
                             short_number(budget / 1e9, 4));
  if (plan.per_rank > budget) {
    std::string how;
    const fc::MemoryPlan& residual_here = residual_plan;
    if (storage == fc::Storage::kGram && residual_here.per_rank <= budget) {
      how = "use solver.mode = residual (LASSO-type methods; " + size_text(residual_here.per_rank) +
            " per rank here)";
    } else if (fewest > 0) {
      how = "run on " + std::to_string(fewest) + " ranks or more (" +
            size_text(plan_for(storage, fewest).per_rank) + " per rank there)";
      if (storage == fc::Storage::kGram) how += ", or use solver.mode = residual";
    } else {
      how = "no number of ranks brings it below the budget (what every rank holds: " +
            size_text(plan_for(storage, 1 << 20).per_rank) + ")";
    }
    mpi::throw_on_all_ranks(
        comm, UsageError("the memory plan needs " + size_text(plan.per_rank) + " per rank (" +
                         size_text(plan.total) + " in all at " + std::to_string(comm.size()) +
                         " rank" + (comm.size() > 1 ? "s" : "") + ", storage " + storage_text +
                         ": " + plan_text(plan) + "), over --solver.memory-budget-gb " +
                         short_number(budget / 1e9, 4) + ": " + how +
                         ", fit fewer configurations, or raise --solver.memory-budget-gb"));
  }
  if (o.get<bool>("solver.plan-only")) {
    summary["parameters"] = space->num_parameters();
    summary["orders"] = counts;
    const double peak = comm.allreduce(static_cast<double>(fc::peak_memory_bytes()), mpi::Op::kMax);
    plan_j["plan_only_peak_bytes"] = peak;
    log::info("fc: --solver.plan-only: this run's own peak ", size_text(peak), " per rank, within ",
              "--solver.memory-budget-gb ", short_number(budget / 1e9, 4));
    summary["memory_plan"] = plan_j;
    run.plan_only = true;
    return run;
  }
  // The folders of the outputs are made now, not after a fit that may have run for hours.
  mpi::guarded(comm, [&] {
    if (comm.is_root()) {
      make_folder(o.get<std::string>("output.export-dir"), "--output.export-dir");
      make_folder(std::filesystem::path(o.get<std::string>("output.file")).parent_path().string(),
                  "--output.file");
    }
  });
  const int batch = mo.batch;
  const std::string method_option = o.get<std::string>("fit.method");
  if (storage == fc::Storage::kResidual &&
      (method_option == "ols" || method_option == "adaptive-lasso")) {
    mpi::throw_on_all_ranks(
        comm,
        UsageError(
            "method = " + method_option + " needs the Gram of the parameters (" +
            size_text(gram_plan.per_rank) + " per rank" +
            (storage_name == "auto" ? ", over solver.memory-budget-gb" : std::string()) +
            "): use solver.mode = gram with a larger solver.memory-budget-gb, or fit.method = "
            "lasso or elastic-net with the residual storage"));
  }
  run.storage = storage;
  run.method = fc::parse_method(o.get<std::string>("fit.method"));
  const fc::Method method = run.method;
  const std::int64_t mine = local.count();  // this rank's training configurations
  log::Progress progress("fc: sensitivity rows", mine);
  run.data = mpi::guarded(comm, [&] {
    return fc::accumulate(
        comm, *space, local, storage == fc::Storage::kGram ? folds : 0, first, first + train, batch,
        [&](std::int64_t done) {
          progress.update(done);
          // Local work inside a guarded phase: a stop on any rank ends every rank there.
          util::throw_if_stop_requested("while building the sensitivity rows" + stopped_tail);
        },
        storage);
  });
  const fc::FitData& data = run.data;
  progress.finish();
  log::info("fc: ", data.configurations, " training configurations, ", data.num_rows,
            " force components, ", space->num_parameters(), " parameters: sensitivity rows ",
            util::format_duration(data.build_seconds),
            storage == fc::Storage::kGram
                ? ", exact Gram " + util::format_duration(data.reduce_seconds) + " (" +
                      util::format_bytes(static_cast<double>(data.bytes)) + ", scales from " +
                      std::to_string(data.sampled) + " sampled configurations, " +
                      std::to_string(data.passes) + (data.passes > 1 ? " passes)" : " pass)")
                : ", residual problem " + util::format_duration(data.reduce_seconds) + " (" +
                      util::format_bytes(static_cast<double>(data.bytes)) + " of rows here)");
  if (storage == fc::Storage::kResidual && folds > 0 && o.get<double>("fit.lambda") < 0) {
    log::warning(
        "fc: the residual storage has no cross-validation: the path runs on all the "
        "data and the smallest lambda is kept");
  }
  phase("sensitivity");

  fc::FitOptions fopt;
  fopt.method = method;
  fopt.l1_ratio = o.get<double>("fit.l1-ratio");
  fopt.lambda = o.get<double>("fit.lambda");
  // Unset, the grid depends on the method (adaptive LASSO spans more decades: fit.hpp).
  const auto given = [&](const char* key) {
    return o.origin(key).kind != config::Origin::Kind::kDefault;
  };
  fopt.lambdas = given("path.count") ? o.get<int>("path.count") : 0;
  fopt.lambda_ratio = given("path.ratio") ? o.get<double>("path.ratio") : -1.0;
  fopt.extend_decades = o.get<double>("path.extend");
  fopt.select_1se = o.get<std::string>("cv.select") == "1se";
  fopt.adaptive_gamma = o.get<double>("fit.adaptive-gamma");
  fopt.tol = o.get<double>("solver.tol");
  fopt.rcond = o.get<double>("solver.rcond");
  // After each lambda, at the same point on every rank.
  fopt.progress = [&](std::int64_t done, std::int64_t all) {
    mpi::stop_point(comm, "after " + std::to_string(done) + " of " + std::to_string(all) +
                              " lambdas of fc's fit" + stopped_tail);
  };
  run.result = mpi::guarded(comm, [&] { return fc::fit(data, fopt); });
  const fc::FitResult& r = run.result;
  phase("fit");
  log::info("fc: ", fc::method_name(method),
            r.lambdas.empty() ? std::string()
                              : ", lambda " + short_number(r.lambda, 6) +
                                    " (relative duality gap " + short_number(r.relative_gap) + ")",
            ": training force RMSE ", r.train_rmse, " eV/A (", 100 * r.train_relative, " %)",
            std::isnan(r.cv_rmse)
                ? std::string()
                : ", " + std::to_string(folds) + "-fold CV RMSE " + std::to_string(r.cv_rmse) +
                      " eV/A (" + std::to_string(100 * r.cv_relative) + " %)");
  // Cross-validation: lambda_min and lambda_1se, and a warning when the minimum is at an end.
  util::Json cv_json = util::Json::object();
  if (r.cv.done) {
    const fc::CvReport& c = r.cv;
    log::info("fc: ", folds, "-fold CV over ", r.lambdas.size(), " lambdas (", c.requested,
              " asked", c.extended > 0 ? ", " + std::to_string(c.extended) + " added below" : "",
              "): lambda_min ", short_number(c.lambda_min, 4), " (index ", c.index_min,
              ", CV RMSE ", short_number(c.rmse_min, 4),
              " eV/A = ", short_number(100 * c.relative_min, 4), " %, ", c.nonzero_min,
              " non-zero), lambda_1se ", short_number(c.lambda_1se, 4), " (index ", c.index_1se,
              ", ", short_number(c.rmse_1se, 4), " eV/A = ", short_number(100 * c.relative_1se, 4),
              " %, ", c.nonzero_1se, " non-zero); the fit is at lambda_", c.select);
    if (!c.advice.empty()) log::warning("fc: ", c.advice);
    cv_json["folds"] = folds;
    cv_json["lambda_max"] = c.lambda_max;
    cv_json["lambda_min"] = c.lambda_min;
    cv_json["lambda_1se"] = c.lambda_1se;
    cv_json["index_min"] = c.index_min;
    cv_json["index_1se"] = c.index_1se;
    cv_json["rmse_min"] = c.rmse_min;
    cv_json["relative_min"] = c.relative_min;
    cv_json["rmse_1se"] = c.rmse_1se;
    cv_json["relative_1se"] = c.relative_1se;
    cv_json["nonzero_min"] = c.nonzero_min;
    cv_json["nonzero_1se"] = c.nonzero_1se;
    cv_json["lambdas"] = static_cast<long long>(r.lambdas.size());
    cv_json["requested"] = c.requested;
    cv_json["extended"] = c.extended;
    cv_json["end"] = c.end;
    cv_json["select"] = c.select;
    cv_json["warning"] = c.advice;
  }
  util::Json nonzero = util::Json::object();
  for (int order = 2; order <= space->max_order(); ++order) {
    long long nz = 0;
    for (int k = 0; k < space->num_parameters(order); ++k) {
      nz += r.z[space->parameter_offset(order) + k] != 0.0;
    }
    nonzero[std::to_string(order)] = nz;
    log::info("fc: order ", order, ": ", nz, " of ", space->num_parameters(order),
              " parameters non-zero");
  }

  // Held-out configurations: the fit's error, and a reference model's if given.
  util::Json test_json = util::Json::object();
  if (test > 0) {
    const auto [e, rms] =
        fc::force_error(comm, *space, held, first + train, first + train + test, r.z);
    test_json["configurations"] = test;
    test_json["rmse"] = e;
    test_json["relative"] = e / rms;
    log::info("fc: ", test, " held-out configurations: force RMSE ", e, " eV/A (", 100 * e / rms,
              " % of the force RMS)");
    if (o.get<std::string>("configs.reference-fc2") != "") {
      const auto ref_path = o.get<std::string>("configs.reference-fc2");
      // Read in a phase of its own: a rank failing there must not skip force_error's collectives.
      const Eigen::MatrixXd phi =
          mpi::guarded(comm, [&] { return fc::read_force_constants_text(ref_path, crystal); });
      const auto [ref_rmse, ref_rms] =
          fc::force_error(comm, *space, held, first + train, first + train + test, r.z, &phi);
      test_json["reference_rmse"] = ref_rmse;
      test_json["reference_relative"] = ref_rmse / ref_rms;
      log::info("fc: reference harmonic force constants '", ref_path,
                "' on the same configurations: ", ref_rmse, " eV/A (", 100 * ref_rmse / ref_rms,
                " %)");
    }
    phase("test");
  }
  run.counts = counts;
  run.nonzero = nonzero;
  run.cv_json = cv_json;
  run.test_json = test_json;
  run.plan_json = plan_j;
  return run;
}

void write_fc_summary(const FcRun& run, util::Json& summary, double seconds) {
  const fc::FitResult& r = run.result;
  util::Json timing = util::Json::array();
  for (const auto& p : run.phases) {
    log::info("fc: phase ", p.name, ": ", util::format_duration(p.seconds), ", peak memory ",
              static_cast<long long>(p.peak_mb), " MB per rank (largest), ",
              static_cast<long long>(p.total_peak_mb), " MB over the ", run.ranks, " rank",
              run.ranks > 1 ? "s" : "");
    util::Json e = util::Json::object();
    e["phase"] = p.name;
    e["seconds"] = p.seconds;
    e["peak_memory_mb"] = p.peak_mb;
    e["peak_memory_total_mb"] = p.total_peak_mb;
    timing.push_back(e);
  }
  summary["spacegroup"] = run.crystal->international();
  summary["atoms"] = run.crystal->num_atoms();
  summary["orders"] = run.counts;
  summary["parameters"] = run.space->num_parameters();
  summary["configurations"] = run.data.configurations;
  summary["method"] = fc::method_name(run.method);
  summary["lambda"] = r.lambda;
  summary["train_rmse"] = r.train_rmse;
  summary["train_relative"] = r.train_relative;
  summary["cv_rmse"] = r.cv_rmse;
  summary["cv_relative"] = r.cv_relative;
  summary["nonzero"] = run.nonzero;
  if (r.cv.done) summary["cv"] = run.cv_json;
  summary["test"] = run.test_json;
  summary["phases"] = timing;
  summary["seconds"] = seconds;
  summary["dense_matrix_bytes"] = 8.0 * run.data.num_rows * run.space->num_parameters();
  summary["storage"] = run.storage == fc::Storage::kGram ? "gram" : "residual";
  summary["passes"] = run.data.passes;
  summary["relative_gap"] = r.relative_gap;
  summary["memory_plan"] = run.plan_json;
}

namespace {

void run(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto data_path = o.get<std::string>("input.data");
  if (data_path.empty()) {
    mpi::throw_on_all_ranks(comm, UsageError("give the training data with --input.data FILE.h5 (or "
                                             "data = ... in the configuration file)"));
  }
  // SIGTERM, SIGINT, SIGUSR1, SIGUSR2: stop at the next safe point (the end of a phase, a
  // batch of sensitivity rows, a lambda of the path or of a CV fold) with exit code 3. The fit
  // keeps no partial state: resuming would need the cluster space and the Gram again, the
  // bulk of the work, so nothing is written and a stopped run is run again.
  const util::StopHandlers stop_handlers;
  const std::string stopped_tail =
      ": nothing written (the model and the exports unchanged); run the same command again";
  util::Stopwatch total_clock;
  FcSource source;
  source.name = data_path;
  source.structure = [&] { return fc::read_structure_hdf5(data_path); };
  source.total = [&](int num_atoms) {
    return fc::read_configurations_hdf5(comm, data_path, num_atoms, 0, 0).total;
  };
  source.read = [&](int num_atoms, std::int64_t begin, std::int64_t end) {
    auto c = fc::read_configurations_hdf5(comm, data_path, num_atoms, begin, end);
    c.validate(data_path);
    return c;
  };
  FcRun fitted = fit_fc(comm, o, source, ctx.summary, stopped_tail);
  if (fitted.plan_only) return;
  const fc::Crystal& crystal = *fitted.crystal;
  const auto& space = fitted.space;
  const auto& nac = fitted.nac;
  const fc::Configurations& local = fitted.local;
  const fc::Configurations& held = fitted.held;
  const std::int64_t first = fitted.first, train = fitted.train, test = fitted.test;
  const fc::FitResult& r = fitted.result;
  const fc::FitData& data = fitted.data;
  const fc::Method method = fitted.method;
  const fc::Storage storage = fitted.storage;
  const auto cutoffs = o.get<std::vector<double>>("clusters.cutoffs");
  const int folds = o.get<int>("cv.folds");

  // The points of a parity plot of the forces (physfit plot): the held-out configurations, else
  // the first training ones, at most about 30000 force components.
  std::vector<double> parity_true, parity_model;
  std::string parity_set;
  if (!o.get<std::string>("output.file").empty()) {
    const std::int64_t cap = std::max<std::int64_t>(1, 30000 / (3 * crystal.num_atoms()));
    if (test > 0) {
      parity_set = "held-out";
      fc::force_parity(comm, *space, held, first + train, first + train + std::min(test, cap), r.z,
                       parity_true, parity_model);
    } else {
      parity_set = "training";
      fc::force_parity(comm, *space, local, first, first + std::min(train, cap), r.z, parity_true,
                       parity_model);
    }
  }

  // Outputs (rank 0): the model and every export go to temporary files first and are renamed
  // together once all are written; if one fails, every previous file stays as it was and the
  // temporaries are removed (StagedOutputs' destructor).
  io::StagedOutputs staged;
  const auto output = o.get<std::string>("output.file");
  if (!output.empty()) {
    io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
    mpi::guarded(comm, [&] {
      if (!out.writes_here()) return;
      fc::write_model(out.file(), fitted.ideal, *space, r.z);
      if (nac) fc::write_nac_hdf5(out.file(), *nac);
      const io::Group g = out.file().create_group("/fit");
      io::set_attribute(g.id(), "method", fc::method_name(method));
      io::set_attribute(g.id(), "lambda", r.lambda);
      io::set_attribute(g.id(), "train_rmse", r.train_rmse);
      io::set_attribute(g.id(), "train_relative", r.train_relative);
      io::set_attribute(g.id(), "cv_rmse", r.cv_rmse);
      io::set_attribute(g.id(), "cv_relative", r.cv_relative);
      io::set_attribute(g.id(), "configurations", data.configurations);
      io::set_attribute(g.id(), "storage", storage == fc::Storage::kGram ? "gram" : "residual");
      io::set_attribute(g.id(), "relative_gap", r.relative_gap);
      if (!r.lambdas.empty()) {
        const std::int64_t nl = static_cast<std::int64_t>(r.lambdas.size());
        out.file().create_dataset<double>("/fit/lambdas", {nl}, "eV/angstrom").write_all(r.lambdas);
        out.file()
            .create_dataset<std::int64_t>("/fit/nonzeros", {nl}, "dimensionless")
            .write_all(r.nonzeros);
        if (!r.cv_mse.empty()) {
          out.file()
              .create_dataset<double>("/fit/cv_mse", {nl}, "(eV/angstrom)^2")
              .write_all(r.cv_mse);
          out.file()
              .create_dataset<double>("/fit/cv_se", {nl}, "(eV/angstrom)^2")
              .write_all(r.cv_se);
        }
      }
      if (!parity_true.empty()) {
        const std::int64_t atoms = crystal.num_atoms();
        const std::int64_t count = static_cast<std::int64_t>(parity_true.size()) / (3 * atoms);
        const io::Group pg = out.file().create_group("/parity");
        io::set_attribute(pg.id(), "configurations", parity_set);
        io::set_attribute(pg.id(), "first", parity_set == "held-out" ? first + train : first);
        out.file()
            .create_dataset<double>("/parity/true_forces", {count, atoms, 3}, "eV/angstrom")
            .write_all(parity_true);
        out.file()
            .create_dataset<double>("/parity/predicted_forces", {count, atoms, 3}, "eV/angstrom")
            .write_all(parity_model);
      }
      if (r.cv.done) {
        const fc::CvReport& c = r.cv;
        const hid_t id = g.id();
        io::set_attribute(id, "folds", static_cast<std::int64_t>(folds));
        io::set_attribute(id, "lambda_max", c.lambda_max);
        io::set_attribute(id, "lambda_min", c.lambda_min);
        io::set_attribute(id, "lambda_1se", c.lambda_1se);
        io::set_attribute(id, "index_min", static_cast<std::int64_t>(c.index_min));
        io::set_attribute(id, "index_1se", static_cast<std::int64_t>(c.index_1se));
        io::set_attribute(id, "cv_rmse_min", c.rmse_min);
        io::set_attribute(id, "cv_relative_min", c.relative_min);
        io::set_attribute(id, "cv_rmse_1se", c.rmse_1se);
        io::set_attribute(id, "cv_relative_1se", c.relative_1se);
        io::set_attribute(id, "nonzero_min", c.nonzero_min);
        io::set_attribute(id, "nonzero_1se", c.nonzero_1se);
        io::set_attribute(id, "requested", static_cast<std::int64_t>(c.requested));
        io::set_attribute(id, "extended", static_cast<std::int64_t>(c.extended));
        io::set_attribute(id, "end", c.end);
        io::set_attribute(id, "cv_select", c.select);
        io::set_attribute(id, "warning", c.advice);
      }
    });
    out.commit();
  }
  const auto dir = o.get<std::string>("output.export-dir");
  if (!dir.empty()) {
    const bool compact = o.get<bool>("output.compact");
    mpi::guarded(comm, [&] {
      if (!comm.is_root()) return;
      const Eigen::MatrixXd phi = space->fc2(r.z);
      for (const auto& what : o.get<std::vector<std::string>>("output.exports")) {
        if (what == "phonopy") {
          fc::write_force_constants_text(dir + "/FORCE_CONSTANTS", crystal, phi, compact);
          fc::write_structure_exports(dir, fitted.ideal, crystal);  // phonopy.yaml, SPOSCAR
        } else if (what == "phonopy-hdf5") {
          fc::write_force_constants_hdf5(dir + "/force_constants.hdf5", crystal, phi, compact);
        } else if (what == "phono3py" || what == "shengbte") {
          if (space->max_order() < 3) continue;
          const auto fc3 = space->fc3_compact(r.z);
          if (what == "phono3py") {
            fc::write_fc3_hdf5(dir + "/fc3.hdf5", crystal, fc3);
          } else {
            fc::write_shengbte_fc3(dir + "/FORCE_CONSTANTS_3RD", crystal, fc3, cutoffs[1]);
          }
        }
      }
      if (nac) fc::write_born(dir + "/BORN", *nac, crystal);  // phonopy and phono3py read it
    });
  }
  mpi::guarded(comm, [&] { staged.commit(); });  // rank 0's files; nothing on the others
  if (!output.empty()) log::info("fc: model written to '", output, "'");
  if (!dir.empty()) log::info("fc: exports written to '", dir, "'");
  end_fc_phase(comm, fitted, "output", stopped_tail);
  write_fc_summary(fitted, ctx.summary, total_clock.seconds());
}

}  // namespace

Command fc_command() {
  Command c;
  c.name = "fc";
  c.summary = "fit force constants (orders 2-4) to displacement/force data";
  c.description =
      "Reads the ideal supercell and the configurations (displacements u, forces F; HDF5 as\n"
      "`physfit import` writes it, eV and Angstrom), finds the space group with spglib, builds\n"
      "the clusters of each order within its cutoff, their orbits and the independent\n"
      "parameters (symmetry-adapted basis, acoustic sum rule imposed exactly), and fits F = A z\n"
      "by least squares or LASSO-type regression (Zhou et al. 2014) with physfit's LASSO\n"
      "engine: K-fold cross-validation by configuration and the solution at the chosen lambda\n"
      "in one run. Each rank builds the sensitivity rows of its own configurations and adds\n"
      "them to an exact Gram (the same bits on any number of ranks), or keeps them (solver.mode =\n"
      "residual, for models whose Gram does not fit). Writes the model (HDF5) and exports for\n"
      "phonopy, phono3py and ShengBTE, all under temporary names first and renamed together\n"
      "once every one is written (a failed export keeps the previous model and exports).\n"
      "The export files and --output.file must not be inputs (--input.data, "
      "--configs.reference-fc2, --nac.born).\n"
      "For a polar crystal, --nac.born BORN (phonopy's file: Born effective charges and "
      "dielectric\n"
      "tensor) is checked against the crystal's symmetry and stored in the model (/nac, used\n"
      "by 'physfit phonons'), and the exports get a BORN file.\n"
      "Before building rows it prints a memory plan per rank and in all (cluster space, rows,\n"
      "Gram or solver, output) and refuses a plan over --solver.memory-budget-gb.\n"
      "A stop signal is polled per batch of sensitivity rows, per lambda and per phase.\n"
      "SIGUSR1, SIGUSR2, SIGTERM or SIGINT stop it at the next safe point with exit code 3;\n"
      "nothing is written (previous outputs unchanged): run it again. Under mpirun send\n"
      "SIGUSR1 (mpirun handles TERM and INT itself; docs/running.md, \"Stopping a run\").";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("input.data",
                          "HDF5 file with /structure and /configs (see physfit import)")
        .path()
        .default_value(std::string());
    opts.add<std::vector<double>>(
            "clusters.cutoffs",
            "cutoff (Angstrom) of orders 2, 3, 4...: a cluster is kept if one choice of periodic "
            "images puts every pair of its atoms within it; negative: every cluster. Must be "
            "below half the supercell's shortest lattice vector (printed) unless "
            "clusters.allow-wrapping")
        .default_value(std::vector<double>{-1.0});
    opts.add_flag("clusters.allow-wrapping",
                  "accept cutoffs at or above half the supercell's shortest lattice vector "
                  "(a warning instead of an error): clusters that close around the periodic "
                  "boundary are then counted as ALAMODE counts them");
    opts.add<double>("structure.symprec", "symmetry tolerance (Angstrom)")
        .default_value(1e-5)
        .check(config::positive<double>());
    opts.add<bool>("clusters.sum-rule", "impose the acoustic sum rule exactly").default_value(true);
    opts.add<bool>("clusters.rotational-invariance",
                   "also impose the rotational invariance of the second order (zero first order)")
        .default_value(false);
    opts.add<std::string>("fit.method", "ols, lasso, elastic-net or adaptive-lasso")
        .default_value(std::string("ols"))
        .check(config::one_of({"ols", "lasso", "elastic-net", "adaptive-lasso"}));
    opts.add<double>("fit.lambda", "fixed penalty (negative: chosen by cross-validation)")
        .default_value(-1.0);
    opts.add<double>("fit.l1-ratio", "elastic-net mixing (1: LASSO)")
        .default_value(0.5)
        .check(config::in_range(0.0, 1.0));
    opts.add<int>("path.count",
                  "lambdas on the path (unset: 50; adaptive-lasso 1 + 49 (1 + fit.adaptive-gamma), "
                  "the same spacing over its longer grid)")
        .default_value(50)
        .check(config::positive<int>());
    opts.add<double>("path.ratio",
                     "smallest / largest lambda (unset: 1e-4; adaptive-lasso "
                     "1e-4^(1 + fit.adaptive-gamma), whose parameters enter later along its path)")
        .default_value(1e-4)
        .check(config::positive<double>());
    opts.add<double>("path.extend",
                     "decades the path may be extended below the grid while the CV minimum is "
                     "within its last decade (one decade at a time, warm-started; stops once "
                     "lambda_min has a decade below it, or the CV error fell by < 0.1 standard "
                     "error over the last decade; 0: never). A minimum left at an end is a "
                     "warning with the next grid to try")
        .default_value(6.0)
        .check(config::non_negative<double>());
    opts.add<std::string>("cv.select",
                          "the fit at lambda_min (smallest CV error) or lambda_1se (largest "
                          "lambda within one standard error: sparser)")
        .default_value(std::string("min"))
        .check(config::one_of({"min", "1se"}));
    opts.add<double>("fit.adaptive-gamma",
                     "adaptive-lasso weights 1/|z_OLS|^gamma on the standardised least-squares "
                     "parameters (Zou 2006)")
        .default_value(1.0)
        .check(config::positive<double>());
    opts.add<int>("cv.folds", "cross-validation folds by configuration (0: none)")
        .default_value(5)
        .check(config::non_negative<int>());
    opts.add<double>("solver.tol", "coordinate descent stops at this relative duality gap")
        .default_value(1e-10)
        .check(config::positive<double>());
    opts.add<double>("solver.rcond",
                     "least squares: eigenvalues below rcond x the largest are dropped (negative: "
                     "parameters x machine epsilon)")
        .default_value(-1.0);
    opts.add<std::string>(
            "solver.mode",
            "gram (exact Gram per rank, streamed rows), residual (each rank keeps its "
            "rows; LASSO-type methods, no CV) or auto (gram within solver.memory-budget-gb)")
        .default_value(std::string("auto"))
        .check(config::one_of({"auto", "gram", "residual"}));
    opts.add<double>("solver.memory-budget-gb",
                     "memory per rank (GB, 1e9 bytes) the run may use: the plan (printed before "
                     "any row is built) must fit, else the run is refused with the fewest ranks "
                     "that fit; solver.mode = auto takes the Gram storage when its plan fits")
        .default_value(4.0)
        .check(config::positive<double>());
    opts.add<long long>("configs.first", "first configuration used")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<long long>("configs.train", "training configurations (0: all after first, less test)")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<long long>("configs.test", "held-out configurations after the training ones")
        .default_value(0LL)
        .check(config::non_negative<long long>());
    opts.add<std::string>("configs.reference-fc2",
                          "phonopy FORCE_CONSTANTS whose error on the held-out set is reported too")
        .path()
        .default_value(std::string());
    opts.add<int>("solver.batch", "configurations per block of sensitivity rows")
        .default_value(4)
        .check(config::positive<int>());
    opts.add<std::string>("output.file",
                          "HDF5 model file to write, its folder created if missing ('' for none)")
        .path()
        .default_value(std::string("results/fc.h5"));
    opts.add<std::string>("output.export-dir",
                          "folder for exports, created if missing ('' for none)")
        .path()
        .default_value(std::string());
    opts.add<std::vector<std::string>>("output.exports",
                                       "phonopy (FORCE_CONSTANTS with phonopy.yaml, SPOSCAR, "
                                       "PPOSCAR), phonopy-hdf5, phono3py, shengbte")
        .default_value(std::vector<std::string>{"phonopy", "phonopy-hdf5", "phono3py", "shengbte"})
        .check(config::each_one_of({"phonopy", "phonopy-hdf5", "phono3py", "shengbte"}));
    opts.add_flag("output.compact",
                  "write compact phonopy files (rows of the primitive atoms, p2s_map)");
    opts.add<std::string>("nac.born",
                          "phonopy BORN file of a polar crystal: stored in the model (/nac) and "
                          "written to the export folder ('' for none)")
        .path()
        .default_value(std::string());
    opts.add_flag("solver.plan-only",
                  "build the cluster space, print the parameter counts and the memory plan "
                  "(per rank and in all, at this rank count and at 2, 4, 8 times it), and stop");
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    for (const char* key : {"input.data", "configs.reference-fc2", "nac.born"}) f.input(o, key);
    // --solver.plan-only prints the plan and writes nothing: no output to check, lock or make.
    if (o.get<bool>("solver.plan-only")) return f;
    f.output(o, "output.file");
    for (const auto& path : export_files(o)) f.outputs.push_back({"--output.export-dir", path});
    return f;
  };
  return c;
}

}  // namespace physfit::cli
