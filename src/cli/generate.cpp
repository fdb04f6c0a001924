// `physfit generate ising`: equilibrium configurations of the 2-D Ising model for classifiers
// (Carrasquilla and Melko 2017), written to one HDF5 file by all ranks. The engine is
// physfit::ising (include/physfit/ising/).

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/ising/exact.hpp"
#include "physfit/ising/generate.hpp"
#include "physfit/ising/lattice.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

// Fields of a TemperaturePlan in the vector the ranks sum to share their pilots' results
// (every field is computed by exactly one rank, the others add zeros: the sum is exact).
constexpr int kPlanFields = 9;

void to_doubles(const ising::TemperaturePlan& p, double* out) {
  out[0] = p.temperature;
  out[1] = p.algorithm == ising::Algorithm::kWolff ? 1.0 : 0.0;
  out[2] = p.tau_abs_m;
  out[3] = p.tau_energy;
  out[4] = p.converged ? 1.0 : 0.0;
  out[5] = static_cast<double>(p.pilot_steps);
  out[6] = static_cast<double>(p.equilibration);
  out[7] = static_cast<double>(p.spacing);
  out[8] = p.mean_cluster;
}

ising::TemperaturePlan from_doubles(const double* in) {
  ising::TemperaturePlan p;
  p.temperature = in[0];
  p.algorithm = in[1] != 0 ? ising::Algorithm::kWolff : ising::Algorithm::kMetropolis;
  p.tau_abs_m = in[2];
  p.tau_energy = in[3];
  p.converged = in[4] != 0;
  p.pilot_steps = static_cast<std::int64_t>(in[5]);
  p.equilibration = static_cast<std::int64_t>(in[6]);
  p.spacing = static_cast<std::int64_t>(in[7]);
  p.mean_cluster = in[8];
  return p;
}

std::string fmt(double v, int precision = 4) {
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

void run(Context& ctx) {
  // SIGTERM, SIGINT, SIGUSR1, SIGUSR2: stop after the current sample with exit code 3; nothing
  // is written (a generation is cheap to repeat: the same seed gives the same bits).
  const util::StopHandlers stop_handlers;
  const util::Stopwatch total;
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto output = o.get<std::string>("output.file");

  ising::Settings settings;
  settings.size = o.get<int>("lattice.size");
  settings.seed = static_cast<std::uint64_t>(o.get<long long>("run.seed"));
  const auto choice = o.get<std::string>("algorithm.choice");
  settings.choice = choice == "wolff"        ? ising::Choice::kWolff
                    : choice == "metropolis" ? ising::Choice::kMetropolis
                                             : ising::Choice::kAuto;
  settings.wolff_window = o.get<double>("algorithm.wolff-window");
  settings.pilot_steps = o.get<long long>("sampling.pilot-steps");
  settings.pilot_equilibration = settings.pilot_steps / 4;
  settings.equilibration_factor = o.get<double>("sampling.equilibration-factor");
  settings.min_equilibration = o.get<long long>("sampling.min-equilibration");
  settings.spacing_factor = o.get<double>("sampling.spacing-factor");
  const double t_min = o.get<double>("temperatures.min");
  const double t_max = o.get<double>("temperatures.max");
  const auto t_list = o.get<std::vector<double>>("temperatures.list");
  const int t_count =
      t_list.empty() ? o.get<int>("temperatures.count") : static_cast<int>(t_list.size());
  const std::int64_t per_t = o.get<long long>("samples.per-temperature");
  const int chains = o.get<int>("samples.chains-per-temperature");
  const std::int64_t max_memory =
      util::parse_bytes(o.get<std::string>("run.max-memory"), "run.max-memory");
  const auto stopped = [&](const std::string& where) {
    return where + ": nothing written ('" + output +
           "' unchanged); run the same command again (same seed, same bits)";
  };
  const auto stop_point = [&](const std::string& where) { mpi::stop_point(comm, stopped(where)); };
  mpi::guarded(comm, [&] {
    if (settings.size % 4 != 0) {
      throw UsageError("--lattice.size " + std::to_string(settings.size) +
                       ": L must be a multiple of 4 (L*L spins are packed 8 to a byte)");
    }
    for (std::size_t i = 0; i < t_list.size(); ++i) {
      if (!(std::isfinite(t_list[i]) && t_list[i] > 0)) {
        throw UsageError("--temperatures.list: " + fmt(t_list[i]) +
                         " is not a positive temperature");
      }
      if (i > 0 && !(t_list[i] > t_list[i - 1])) {
        throw UsageError("--temperatures.list: " + fmt(t_list[i]) + " follows " +
                         fmt(t_list[i - 1]) +
                         "; list the temperatures in increasing order, each once");
      }
    }
    if (t_list.size() > 100000) {
      throw UsageError("--temperatures.list has " + std::to_string(t_list.size()) +
                       " temperatures; at most 100000");
    }
    if (t_list.empty() && t_count > 1 && !(t_max > t_min)) {
      throw UsageError("--temperatures.max (" + fmt(t_max) + ") must exceed --temperatures.min (" +
                       fmt(t_min) + ") when --temperatures.count > 1");
    }
    if (static_cast<double>(t_count) * chains >= 4294967296.0) {
      throw UsageError("--temperatures.count x --samples.chains-per-temperature = " +
                       std::to_string(static_cast<long long>(t_count) * chains) +
                       " chains: at most 2^32 - 1 (a chain's index is 32 bits of its random "
                       "stream's counter)");
    }
    if (chains > per_t) {
      throw UsageError("--samples.chains-per-temperature " + std::to_string(chains) +
                       " exceeds --samples.per-temperature " + std::to_string(per_t));
    }
    return 0;
  });
  std::vector<double> temperatures(static_cast<std::size_t>(t_count));
  if (!t_list.empty()) temperatures = t_list;
  for (int t = 0; t < t_count && t_list.empty(); ++t) {
    temperatures[static_cast<std::size_t>(t)] =
        t_count == 1 ? t_min : t_min + (t_max - t_min) * t / (t_count - 1);
  }
  const double tc = ising::critical_temperature();

  // 1. Pilot runs: temperatures split over the ranks, results summed (exactly) to all.
  util::Stopwatch watch;
  std::vector<double> plan_data(static_cast<std::size_t>(t_count) * kPlanFields, 0.0);
  const util::Block my_t = util::block_of(t_count, comm.size(), comm.rank());
  mpi::guarded(comm, [&] {
    for (std::int64_t t = my_t.begin; t < my_t.end(); ++t) {
      util::throw_if_stop_requested(stopped("during the pilot runs"));
      const auto p = ising::plan_temperature(settings, temperatures[static_cast<std::size_t>(t)],
                                             static_cast<std::uint32_t>(t));
      to_doubles(p, plan_data.data() + t * kPlanFields);
    }
    return 0;
  });
  comm.allreduce_in_place(plan_data, mpi::Op::kSum);
  std::vector<ising::TemperaturePlan> plans;
  for (int t = 0; t < t_count; ++t)
    plans.push_back(from_doubles(plan_data.data() + t * kPlanFields));
  const double pilot_seconds = watch.seconds();
  stop_point("after the pilot runs");
  for (const auto& p : plans) {
    log::info("generate: T = ", fmt(p.temperature), " ", ising::algorithm_name(p.algorithm),
              ": tau |m| ", fmt(p.tau_abs_m, 3), ", tau E ", fmt(p.tau_energy, 3), " ",
              p.algorithm == ising::Algorithm::kWolff ? "clusters" : "sweeps",
              p.algorithm == ising::Algorithm::kWolff
                  ? " (mean cluster " + fmt(p.mean_cluster, 3) + " N)"
                  : std::string(),
              "; equilibration ", p.equilibration, ", spacing ", p.spacing);
    if (!p.converged) {
      log::warning("generate: T = ", fmt(p.temperature),
                   ": the autocorrelation window was not "
                   "found in ",
                   p.pilot_steps,
                   " pilot steps; tau is a lower bound (raise "
                   "--sampling.pilot-steps)");
    }
  }

  // 2. The chains: global index g = t * chains + c, a contiguous block of them per rank; chain
  // c of a temperature holds samples block_of(per_t, chains, c) of that temperature's rows.
  const std::int64_t n_chains = static_cast<std::int64_t>(t_count) * chains;
  const auto row_of = [&](std::int64_t g) {
    if (g >= n_chains) return static_cast<std::int64_t>(t_count) * per_t;
    return (g / chains) * per_t + util::block_of(per_t, chains, static_cast<int>(g % chains)).begin;
  };
  const auto rows_of_rank = [&](int r) {
    const util::Block b = util::block_of(n_chains, comm.size(), r);
    return row_of(b.end()) - row_of(b.begin);
  };
  const util::Block my_chains = util::block_of(n_chains, comm.size(), comm.rank());
  const std::int64_t first_row = row_of(my_chains.begin);
  const std::int64_t my_rows = rows_of_rank(comm.rank());
  const std::int64_t rows = static_cast<std::int64_t>(t_count) * per_t;
  const std::int64_t bytes = ising::packed_bytes(settings.size);
  // Rows are written in rounds of at most per_round rows per rank, every rank taking part in
  // every round (with no rows once its chains are done): a rank holds one round's rows. The
  // round count follows from the chain split alone, so every rank computes the same.
  const std::int64_t row_bytes = bytes + 3 * static_cast<std::int64_t>(sizeof(double)) +
                                 static_cast<std::int64_t>(sizeof(std::int32_t));
  std::int64_t largest = 0;
  for (int r = 0; r < comm.size(); ++r) largest = std::max(largest, rows_of_rank(r));
  const std::int64_t per_round =
      std::max<std::int64_t>(1, max_memory > 0 ? max_memory / row_bytes : largest);
  const std::int64_t rounds = std::max<std::int64_t>(1, (largest + per_round - 1) / per_round);

  // 3. One file, every rank writing its rows of each round; renamed into place at the end.
  io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kAllRanks);
  const io::File& f = out.file();
  // The training layout (include/physfit/nn/data.hpp): packed bits that train, evaluate and
  // predict read as they are, unpacked to spins +-1 (bit * 2 - 1) per micro-batch.
  const io::Dataset features =
      f.create_dataset<std::uint8_t>("/features", {rows, bytes}, "dimensionless");
  const io::Dataset temperature_set = f.create_dataset<double>("/temperature", {rows}, "J/k_B");
  const io::Dataset label_set = f.create_dataset<std::int32_t>("/labels", {rows}, "dimensionless");
  const io::Dataset energy_set = f.create_dataset<double>("/energy", {rows}, "J per spin");
  const io::Dataset magnetization_set =
      f.create_dataset<double>("/magnetization", {rows}, "dimensionless");

  ising::Samples samples;
  std::vector<double> sample_t;
  std::vector<std::int32_t> labels;
  const std::size_t reserve = static_cast<std::size_t>(std::min(per_round, my_rows));
  samples.spins.reserve(reserve * static_cast<std::size_t>(bytes));
  samples.energy.reserve(reserve);
  samples.magnetization.reserve(reserve);
  sample_t.reserve(reserve);
  labels.reserve(reserve);
  log::Progress progress("generate (rank 0's chains)", my_rows);
  std::int64_t done = 0;
  std::int64_t next_chain = my_chains.begin, left_in_chain = 0;
  std::unique_ptr<ising::Chain> chain;
  double chain_seconds = 0, local_chain_seconds = 0, write_seconds = 0;
  for (std::int64_t round = 0; round < rounds; ++round) {
    samples.spins.clear();
    samples.energy.clear();
    samples.magnetization.clear();
    sample_t.clear();
    labels.clear();
    const std::int64_t count = std::min(per_round, my_rows - done);
    watch.restart();
    mpi::guarded(comm, [&] {
      const util::Stopwatch local;
      for (std::int64_t k = 0; k < count; ++k) {
        const auto& plan = plans[static_cast<std::size_t>(next_chain / chains)];
        if (left_in_chain == 0) {
          chain = std::make_unique<ising::Chain>(settings, plan,
                                                 static_cast<std::uint32_t>(next_chain));
          left_in_chain =
              util::block_of(per_t, chains, static_cast<int>(next_chain % chains)).count;
        }
        chain->next(samples);
        sample_t.push_back(plan.temperature);
        labels.push_back(plan.temperature < tc ? 1 : 0);
        if (--left_in_chain == 0) {
          chain.reset();
          ++next_chain;
        }
        util::throw_if_stop_requested(stopped("while generating"));
        progress.update(++done);
      }
      local_chain_seconds += local.seconds();
    });
    chain_seconds += watch.seconds();
    stop_point("while generating");
    watch.restart();
    const std::int64_t at = first_row + done - count;
    features.write_rows(at, count, samples.spins.data());
    temperature_set.write_rows(at, count, sample_t.data());
    label_set.write_rows(at, count, labels.data());
    energy_set.write_rows(at, count, samples.energy.data());
    magnetization_set.write_rows(at, count, samples.magnetization.data());
    write_seconds += watch.seconds();
  }
  progress.finish();
  if (rounds > 1) {
    log::info("generate: written in ", rounds, " rounds of at most ", per_round,
              " configurations per rank (--run.max-memory)");
  }

  watch.restart();
  std::vector<std::int64_t> algorithms_int, equilibration, spacing, pilot_steps, converged;
  std::vector<double> tau_m, tau_e, mean_cluster;
  std::vector<std::string> algorithm_names;
  for (const auto& p : plans) {
    algorithm_names.emplace_back(ising::algorithm_name(p.algorithm));
    equilibration.push_back(p.equilibration);
    spacing.push_back(p.spacing);
    pilot_steps.push_back(p.pilot_steps);
    converged.push_back(p.converged ? 1 : 0);
    tau_m.push_back(p.tau_abs_m);
    tau_e.push_back(p.tau_energy);
    mean_cluster.push_back(p.mean_cluster);
  }
  io::set_attribute(features.id(), "packing", std::string("bits"));
  io::set_attribute(features.id(), "sample_shape",
                    std::vector<std::int64_t>{settings.size, settings.size});
  io::set_attribute(features.id(), "bit_order",
                    std::string("site k = i*L + j in byte k/8, bit k%8 (least significant "
                                "first); bit 1 = spin +1"));
  io::set_attribute(features.id(), "scale", 2.0);
  io::set_attribute(features.id(), "offset", -1.0);
  io::set_attribute(label_set.id(), "classes", std::int64_t{2});
  const io::Group g = f.create_group("/ising");
  f.create_dataset<double>("/ising/temperatures", {t_count}, "J/k_B").write_all(temperatures);
  f.create_dataset<double>("/ising/tau_abs_m", {t_count}, "steps").write_all(tau_m);
  f.create_dataset<double>("/ising/tau_energy", {t_count}, "steps").write_all(tau_e);
  f.create_dataset<std::int64_t>("/ising/equilibration", {t_count}, "steps")
      .write_all(equilibration);
  f.create_dataset<std::int64_t>("/ising/spacing", {t_count}, "steps").write_all(spacing);
  f.create_dataset<std::int64_t>("/ising/pilot_steps", {t_count}, "steps").write_all(pilot_steps);
  f.create_dataset<std::int64_t>("/ising/tau_converged", {t_count}, "dimensionless")
      .write_all(converged);
  f.create_dataset<double>("/ising/mean_cluster", {t_count}, "dimensionless")
      .write_all(mean_cluster);
  f.write_strings("/ising/algorithm", algorithm_names);
  const hid_t a = g.id();
  io::set_attribute(a, "model", std::string("ising"));
  io::set_attribute(a, "L", static_cast<std::int64_t>(settings.size));
  io::set_attribute(a, "boundary", std::string("periodic"));
  io::set_attribute(a, "coupling_J", 1.0);
  io::set_attribute(a, "critical_temperature", tc);
  io::set_attribute(a, "seed", static_cast<std::int64_t>(settings.seed));
  io::set_attribute(a, "rng",
                    std::string("Philox4x32-10; key = seed; counter = (step block "
                                "64 bits, chain index, role 0 chain / 1 pilot)"));
  io::set_attribute(a, "samples_per_temperature", static_cast<std::int64_t>(per_t));
  io::set_attribute(a, "chains_per_temperature", static_cast<std::int64_t>(chains));
  io::set_attribute(a, "temperatures", temperatures);
  io::set_attribute(a, "algorithm", util::join(algorithm_names, ","));
  io::set_attribute(a, "tau_abs_m", tau_m);
  io::set_attribute(a, "tau_energy", tau_e);
  io::set_attribute(a, "equilibration_steps", equilibration);
  io::set_attribute(a, "spacing_steps", spacing);
  io::set_attribute(a, "step",
                    std::string("metropolis: one checkerboard sweep; wolff: one "
                                "cluster flip"));
  io::set_attribute(a, "spins_bit_order",
                    std::string("site k = i*L + j (row-major) in byte k/8, bit k%8 (least "
                                "significant first: numpy.unpackbits(bitorder='little')); "
                                "bit 1 = spin +1, 0 = spin -1"));
  io::set_attribute(a, "label", std::string("1: ordered (T < T_c), 0: disordered"));
  out.commit();
  write_seconds += watch.seconds();

  // Configurations per second of each rank's chains (its pilot runs and its waits for the
  // other ranks excluded).
  const double rate =
      local_chain_seconds > 0 ? static_cast<double>(my_rows) / local_chain_seconds : 0.0;
  const std::vector<double> rates = comm.gather(rate, 0);
  double min_rate = rate, max_rate = rate;
  for (const double r : rates) {
    min_rate = std::min(min_rate, r);
    max_rate = std::max(max_rate, r);
  }
  log::info("generate: ", rows, " configurations of ", settings.size, "x", settings.size, " at ",
            t_count, " temperatures in '", output, "' (pilots ",
            util::format_duration(pilot_seconds), ", chains ", util::format_duration(chain_seconds),
            ": ", fmt(min_rate, 3), "-", fmt(max_rate, 3), " configurations/s per rank; write ",
            util::format_duration(write_seconds), ", total ",
            util::format_duration(total.seconds()), ")");
  ctx.summary["rows"] = rows;
  ctx.summary["L"] = settings.size;
  ctx.summary["temperatures"] = t_count;
  ctx.summary["pilot_s"] = pilot_seconds;
  ctx.summary["chains_s"] = chain_seconds;
  ctx.summary["write_s"] = write_seconds;
  ctx.summary["configurations_per_s_min"] = min_rate;
  ctx.summary["configurations_per_s_max"] = max_rate;
  ctx.summary["output"] = output;
  ctx.summary["rounds"] = rounds;
  ctx.summary["max_memory_bytes"] = max_memory;
  ctx.report_peak_memory();
}

}  // namespace

Command generate_command() {
  Command c;
  c.name = "generate";
  c.summary = "generate a dataset: Ising-model configurations (Wolff, Metropolis)";
  c.description =
      "physfit generate ising: configurations of the square-lattice Ising model (L x L,\n"
      "periodic, J = k_B = 1) at temperatures.count temperatures from temperatures.min to\n"
      "temperatures.max, for classifiers of the ordered and disordered phases. Near T_c =\n"
      "2.269 Wolff's cluster algorithm, elsewhere checkerboard Metropolis (algorithm.choice).\n"
      "Per temperature a pilot run measures the integrated autocorrelation times of |m| and E\n"
      "(Sokal's window); equilibration is sampling.equilibration-factor x tau steps and kept\n"
      "samples are sampling.spacing-factor x tau steps apart. Each chain has its own Philox\n"
      "stream keyed by run.seed and the chain's index, so a seed gives the same bits on any\n"
      "number of ranks. Ranks run disjoint chains and write one file as they go, in rounds of\n"
      "at most run.max-memory per rank: /features (uint8 [N, L*L/8],\n"
      "one bit per spin, site i*L + j in byte k/8 bit k%8, bit 1 = +1), /temperature,\n"
      "/labels (1: T < T_c), /energy and /magnetization per spin, /ising (tau, sweeps and\n"
      "algorithm per temperature). SIGUSR1, SIGUSR2, SIGTERM or SIGINT stop it after the\n"
      "current sample with exit code 3, writing nothing.";
  c.declare = [](config::Options& opts) {
    opts.add<std::string>("model.name", "the model: ising")
        .required()
        .check(config::one_of({"ising"}));
    opts.positional("model.name");
    opts.positional("config");
    opts.add<int>("lattice.size", "L (a multiple of 4; e.g. 16, 32, 64)")
        .default_value(32)
        .check(config::in_range(4, 4096));
    opts.add<double>("temperatures.min", "lowest temperature (J/k_B)")
        .default_value(1.0)
        .check(config::positive<double>());
    opts.add<double>("temperatures.max", "highest temperature (J/k_B)")
        .default_value(3.5)
        .check(config::positive<double>());
    opts.add<int>("temperatures.count", "temperatures, evenly spaced from min to max")
        .default_value(26)
        .check(config::in_range(1, 100000));
    opts.add<std::vector<double>>("temperatures.list",
                                  "the temperatures, increasing (J/k_B; instead of min, max "
                                  "and count), e.g. 1.0, 1.5, 2.0, 2.6, 3.0")
        .default_value(std::vector<double>{});
    opts.add<long long>("samples.per-temperature", "configurations kept per temperature")
        .default_value(1000LL)
        .check(config::positive<long long>());
    opts.add<int>("samples.chains-per-temperature",
                  "independent chains per temperature (the unit of work spread over ranks)")
        .default_value(4)
        .check(config::in_range(1, 1000000));
    opts.add<long long>("run.seed", "key of every random stream")
        .default_value(1LL)
        .check(config::non_negative<long long>());
    opts.add<std::string>("run.max-memory",
                          "bytes of configurations a rank holds before writing them (0: all "
                          "of its rows; 256M, 2G); rows are written in rounds")
        .default_value(std::string("256M"));
    opts.add<std::string>("algorithm.choice",
                          "auto (Wolff within algorithm.wolff-window of T_c, else Metropolis), "
                          "wolff or metropolis")
        .default_value(std::string("auto"))
        .check(config::one_of({"auto", "wolff", "metropolis"}));
    opts.add<double>("algorithm.wolff-window", "auto: Wolff where |T - T_c| <= this")
        .default_value(0.5)
        .check(config::non_negative<double>());
    opts.add<long long>("sampling.pilot-steps",
                        "steps the pilot measures tau over (after a quarter as many to "
                        "equilibrate; doubled up to 4 times until the window is found)")
        .default_value(2000LL)
        .check(config::in_range(100LL, 100000000LL));
    opts.add<double>("sampling.equilibration-factor", "equilibration steps per tau")
        .default_value(20.0)
        .check(config::positive<double>());
    opts.add<long long>("sampling.min-equilibration", "equilibration steps, at least")
        .default_value(200LL)
        .check(config::non_negative<long long>());
    opts.add<double>("sampling.spacing-factor", "steps between kept samples per tau")
        .default_value(2.0)
        .check(config::positive<double>());
    opts.add<std::string>("output.file", "HDF5 file to write")
        .path()
        .default_value(std::string("results/ising.h5"));
  };
  c.run = run;
  c.files = [](const config::Values& o) {
    Files f;
    f.output(o, "output.file");
    return f;
  };
  return c;
}

}  // namespace physfit::cli
