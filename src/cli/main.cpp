#include "physfit/cli/main.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>

#include "physfit/config/load.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_lock.hpp"
#include "physfit/io/temporary.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/strings.hpp"
#include "physfit/version.hpp"

namespace physfit::cli {

void Files::input(const config::Values& options, const std::string& key) {
  if (options.has(key)) inputs.push_back({"--" + key, options.get<std::string>(key)});
}

void Files::output(const config::Values& options, const std::string& key) {
  if (options.has(key)) outputs.push_back({"--" + key, options.get<std::string>(key)});
}

void Files::input_list(const config::Values& options, const std::string& key) {
  if (!options.has(key)) return;
  for (const auto& path : options.get<std::vector<std::string>>(key)) {
    inputs.push_back({"--" + key, path});
  }
}

io::Provenance Context::provenance(std::int64_t threads) const {
  return io::current_provenance(comm, command, options.effective_ini(), start_time, threads);
}

double Context::report_peak_memory() {
  const std::vector<double> peaks = comm.allgather(util::peak_resident_bytes());
  const double largest = *std::max_element(peaks.begin(), peaks.end());
  std::string each;
  for (std::size_t r = 0; r < peaks.size() && peaks.size() > 1; ++r) {
    each += (r == 0 ? " (ranks: " : ", ") + util::format_bytes(peaks[r]);
  }
  if (!each.empty()) each += ")";
  log::info(command, ": peak resident memory per rank ", util::format_bytes(largest),
            peaks.size() > 1 ? " at most" : "", each);
  summary["peak_rss_bytes"] = largest;
  summary["peak_rss_bytes_per_rank"] = util::Json::array(peaks);
  return largest;
}

std::vector<Command> builtin_commands() {
  return {inspect_command(),  selfcheck_command(), import_command(),     train_command(),
          evaluate_command(), predict_command(),   lasso_command(),      fc_command(),
          phonons_command(),  generate_command(),  transition_command(), plot_command()};
}

namespace {

std::string version_text() {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int length = 0;
  MPI_Get_library_version(mpi, &length);
  std::string mpi_text(mpi, static_cast<std::size_t>(length));
  mpi_text = mpi_text.substr(0, mpi_text.find_first_of(",\n"));
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::ostringstream out;
  out << "physfit " << version() << " (git " << git_hash() << ")\n"
      << "  MPI:  " << util::trim(mpi_text) << "\n"
      << "  HDF5: " << major << "." << minor << "." << release
#ifdef H5_HAVE_PARALLEL
      << " (parallel)"
#endif
      << "\n";
  return out.str();
}

std::string program_help(const std::vector<Command>& commands) {
  std::ostringstream out;
  out << "physfit " << version() << ": fitting physics models on clusters (MPI + HDF5)\n\n"
      << "Usage: mpirun -np N physfit <command> [CONFIG.ini] [--key value ...]\n"
      << "       physfit <command> --help\n"
      << "       physfit --version\n\n"
      << "Commands:\n";
  for (const auto& c : commands) {
    out << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nEvery command reads an optional INI configuration file (keys as in its --help;\n"
      << "`section.key` is `key` under `[section]`); the command line overrides the file.\n"
      << "Exit codes: 0 ok, 1 internal error, 2 usage or configuration, 3 stopped on a signal\n"
      << "after a checkpoint (resubmit to continue), 4 input data missing, unreadable or\n"
      << "malformed (or an output not writable), 5 numerical failure during the computation,\n"
      << "6 ranks disagree or another rank failed.\n"
      << "An output that is one of the command's inputs, or an existing output that is not a\n"
      << "regular file (a device, folder, FIFO or socket), is refused before any work (code 2).\n"
      << "While a command writes, it holds OUTPUT.lock beside each output: a second job writing\n"
      << "the same file fails at once (code 4) or, with --output-lock wait, waits for the first.\n";
  return out.str();
}

void declare_common(config::Options& opts) {
  opts.add_flag("help", "print this help and exit").command_line_only();
  opts.add<std::string>("config", "INI configuration file; command-line options override it")
      .command_line_only();
  opts.add<std::string>("log-level", "debug, info, warning, error or off")
      .default_value(std::string("info"))
      .check(config::one_of({"debug", "info", "warning", "error", "off"}));
  opts.add_flag("quiet", "print warnings and errors only (same as --log-level warning)");
  opts.add_flag("json", "print a one-line JSON summary as the last line of standard output")
      .command_line_only();
  opts.add<std::string>("output-lock",
                        "when another job is writing one of this command's outputs (it holds "
                        "OUTPUT.lock): 'fail' at once (exit code 4) or 'wait' until it ends")
      .default_value(std::string("fail"))
      .check(config::one_of({"fail", "wait"}));
  opts.add<double>("progress-interval",
                   "seconds between progress lines when the output is not a terminal")
      .default_value(30.0)
      .check(config::positive<double>());
}

std::string command_help(const Command& c, const config::Options& opts) {
  std::ostringstream out;
  out << "Usage: physfit " << c.name << " [options]\n\n" << c.summary << "\n";
  if (!c.description.empty()) out << "\n" << c.description << "\n";
  out << "\n" << opts.help();
  return out.str();
}

bool wants_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& a) { return a == "--help" || a == "-h"; });
}

// Prints an error that every rank knows about, once, from rank 0.
void report_collective(const mpi::Comm& comm, const mpi::CollectiveError& e) {
  if (!comm.is_root()) return;
  std::string text = log::rank_tag(e.origin_rank()) + "error: " + e.what();
  if (e.failed_ranks() > 1 && e.code() != ExitCode::kStopped) {  // a stop is no failure
    text += " (" + std::to_string(e.failed_ranks() - 1) + " more rank" +
            (e.failed_ranks() > 2 ? "s" : "") + " failed too)";
  }
  std::cerr << text << std::endl;
}

// The spellings of earlier versions, before every key had a section and hyphens: each is refused
// with its new name (docs/commands/README.md lists both).
const std::vector<std::pair<std::string, std::string>>& former_spellings() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"data", "input.data"},
      {"model", "input.model"},
      {"fc", "input.fc"},
      {"input", "input.file"},
      {"format", "input.format"},
      {"images", "input.images"},
      {"labels", "input.labels"},
      {"dfset-units", "input.dfset-units"},
      {"structure", "structure.file"},
      {"species", "structure.species"},
      {"masses", "structure.masses"},
      {"supercell-matrix", "structure.supercell-matrix"},
      {"primitive-matrix", "structure.primitive-matrix"},
      {"map-tolerance", "structure.map-tolerance"},
      {"symprec", "structure.symprec"},
      {"delimiter", "csv.delimiter"},
      {"header", "csv.header"},
      {"label-column", "csv.label-column"},
      {"target-columns", "csv.target-columns"},
      {"feature-columns", "csv.feature-columns"},
      {"scale", "features.scale"},
      {"offset", "features.offset"},
      {"classes", "features.classes"},
      {"cutoffs", "clusters.cutoffs"},
      {"allow-wrapping", "clusters.allow-wrapping"},
      {"sum-rule", "clusters.sum-rule"},
      {"rotational-invariance", "clusters.rotational-invariance"},
      {"method", "fit.method"},
      {"lambda", "fit.lambda"},
      {"l1-ratio", "fit.l1-ratio"},
      {"adaptive-gamma", "fit.adaptive-gamma"},
      {"lambdas", "path.count"},
      {"lambda-ratio", "path.ratio"},
      {"lambda-extend", "path.extend"},
      {"folds", "cv.folds"},
      {"cv-select", "cv.select"},
      {"tol", "solver.tol"},
      {"rcond", "solver.rcond"},
      {"storage", "solver.mode"},
      {"memory-budget-gb", "solver.memory-budget-gb"},
      {"batch", "solver.batch"},
      {"plan-only", "solver.plan-only"},
      {"first", "configs.first"},
      {"train", "configs.train"},
      {"test", "configs.test"},
      {"reference-fc2", "configs.reference-fc2"},
      {"output", "output.file"},
      {"export-dir", "output.export-dir"},
      {"exports", "output.exports"},
      {"compact", "output.compact"},
      {"born", "nac.born"},
      {"nac-method", "nac.method"},
      {"q-direction", "nac.q-direction"},
      {"path", "bands.path"},
      {"points", "bands.points"},
      {"segment-points", "bands.segment-points"},
      {"qpoints", "bands.qpoints"},
      {"list-points", "bands.list-points"},
      {"unit", "output.unit"},
      {"mesh", "dos.mesh"},
      {"sigma", "dos.sigma"},
      {"png", "output.figure"},
      {"title", "figure.title"},
      {"label", "figure.label"},
      {"reference", "reference.fc"},
      {"reference-structure", "reference.structure"},
      {"reference-label", "reference.label"},
      {"rows", "check.rows"},
      {"cols", "check.cols"},
      {"iterations", "check.iterations"},
      {"delay", "check.delay"},
      {"fail-on-rank", "inject.rank"},
      {"fail-kind", "inject.kind"},
      {"fail-where", "inject.where"},
      {"fail-at-iteration", "inject.iteration"},
      {"max-values", "output.max-values"},
      {"task", "fit.task"},
      {"fit.lambda_ratio", "fit.lambda-ratio"},
      {"fit.l1_ratio", "fit.l1-ratio"},
      {"fit.adaptive_gamma", "fit.adaptive-gamma"},
      {"solver.max_epochs", "solver.max-epochs"},
      {"solver.memory_mib", "solver.memory-mib"},
      {"solver.chunk_rows", "solver.chunk-rows"},
      {"output.png", "output.figure"}};
  return table;
}

}  // namespace

int main(int argc, char** argv) { return main(argc, argv, builtin_commands()); }

int main(int argc, char** argv, const std::vector<Command>& commands) {
  mpi::Environment environment(argc, argv);
  const mpi::Comm world = environment.world();
  log::configure({world.rank(), world.size(), log::Level::kInfo, nullptr, nullptr, 30.0});
  io::hdf5_initialize();
  // Temporary files go on every exit path: MPI_Abort and the signals that end a process too.
  mpi::Environment::set_abort_cleanup(io::remove_registered_temporaries);
  io::remove_temporaries_on_fatal_signals();
  const int code = run_command(world, std::vector<std::string>(argv + 1, argv + argc), commands);
  // Every rank knows the outcome here: close what an error left open in HDF5 (objects of
  // parallel files are not closed while unwinding) before MPI_Finalize.
  io::hdf5_finish();
  return code;
}

int run_command(const mpi::Comm& world, const std::vector<std::string>& args,
                const std::vector<Command>& commands) {
  const std::string start_time = util::utc_timestamp();
  const util::Stopwatch clock;
  std::string name;
  bool json = false;
  util::Json summary = util::Json::object();
  ExitCode code = ExitCode::kOk;
  std::string error_text;
  std::vector<std::string> made_folders;  // rank 0's, for the outputs; removed if still empty

  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      if (world.is_root()) (args.empty() ? std::cerr : std::cout) << program_help(commands);
      return args.empty() ? static_cast<int>(ExitCode::kUsage) : 0;
    }
    if (args[0] == "--version") {
      if (world.is_root()) std::cout << version_text();
      return 0;
    }
    name = args[0];
    const Command* command = mpi::guarded(world, [&]() -> const Command* {
      for (const auto& c : commands) {
        if (c.name == name) return &c;
      }
      std::vector<std::string> names;
      for (const auto& c : commands) names.push_back(c.name);
      const std::string guess = util::closest_match(name, names);
      throw UsageError("unknown command '" + name + "'" +
                       (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                       "; see 'physfit --help'");
    });

    config::Options opts("physfit " + name);
    declare_common(opts);
    if (command->declare) command->declare(opts);
    opts.former_names(former_spellings());
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (wants_help(rest)) {
      if (world.is_root()) std::cout << command_help(*command, opts);
      return 0;
    }
    json = std::find(rest.begin(), rest.end(), "--json") != rest.end();

    // The command line alone first (it may name the configuration file, which may hold
    // required options), then both together.
    config::Values values = mpi::guarded(world, [&] { return opts.parse(rest, nullptr, false); });
    config::IniText ini;
    const bool has_config = values.has("config");
    if (has_config) ini = config::load_ini(world, values.get<std::string>("config"));
    values = mpi::guarded(world, [&] { return opts.parse(rest, has_config ? &ini : nullptr); });
    json = values.get<bool>("json");
    log::Level level = log::parse_level(values.get<std::string>("log-level"));
    if (values.get<bool>("quiet")) level = std::max(level, log::Level::kWarning);
    log::configure({world.rank(), world.size(), level, json ? &std::cerr : nullptr, nullptr,
                    values.get<double>("progress-interval")});

    Context context{world, std::move(values), name, start_time};
    std::optional<io::OutputLocks> locks;
    // Before any work: no output may destroy an input or anything but a regular file.
    if (command->files) {
      Files files = command->files(context.options);
      if (has_config) files.input(context.options, "config");
      io::check_output_paths(world, files.inputs, files.outputs);
      // Outputs go into their folders, made if missing (`results/` by default).
      mpi::guarded(world, [&] {
        if (world.is_root()) io::make_output_folders(files.outputs, made_folders);
      });
      // One writer per output: a second job writing the same file fails or waits.
      std::vector<std::string> paths;
      for (const auto& o : files.outputs) paths.push_back(o.path);
      locks.emplace(world, paths,
                    context.options.get<std::string>("output-lock") == "wait"
                        ? io::OutputLocks::Mode::kWait
                        : io::OutputLocks::Mode::kFail);
    }
    log::debug("running '", name, "' on ", world.size(), " ranks");
    command->run(context);
    summary = std::move(context.summary);
  } catch (const mpi::CollectiveError& e) {
    code = e.code();
    error_text = e.what();
    report_collective(world, e);
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    code = exit_code_of(error);
    error_text = message_of(error);
    if (world.size() > 1) {
      // The other ranks cannot know: end the job rather than leave them waiting.
      mpi::Environment::abort(static_cast<int>(code),
                              error_text + " [outside a collective phase of '" + name + "']");
    }
    std::cerr << "error: " << error_text << std::endl;
  }

  if (code != ExitCode::kOk && world.is_root()) io::remove_empty_folders(made_folders);
  if (json && world.is_root()) {
    util::Json out = util::Json::object();
    out["command"] = name;
    out["status"] = code == ExitCode::kOk ? "ok" : "error";
    out["exit_code"] = static_cast<int>(code);
    if (code != ExitCode::kOk) out["error"] = error_text;
    out["ranks"] = world.size();
    out["elapsed_s"] = clock.seconds();
    out["result"] = std::move(summary);
    std::cout << out.dump() << std::endl;
  }
  log::debug("exiting with code ", static_cast<int>(code), " (", exit_code_name(code), ")");
  return static_cast<int>(code);
}

}  // namespace physfit::cli
