// `physfit selfcheck`: checks that MPI and parallel HDF5 work on this machine or allocation,
// and that failures and stop signals end the job the way physfit promises.

#include <hdf5.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/util/signal.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

// The value of element (row, col) after `iteration`: exact in double precision.
double expected_value(std::int64_t row, std::int64_t col, std::int64_t cols, int iteration) {
  return static_cast<double>(row * cols + col) + 0.5 * iteration;
}

[[noreturn]] void inject_failure(const std::string& kind, int rank) {
  const std::string what =
      "failure injected on rank " + std::to_string(rank) + " by --inject.rank (" + kind + ")";
  if (kind == "usage") throw UsageError(what);
  if (kind == "io") throw IoError(what);
  if (kind == "numerical") throw NumericalError(what);
  if (kind == "parallel") throw ParallelError(what);
  throw std::runtime_error(what);
}

void run(Context& ctx) {
  const mpi::Comm& comm = ctx.comm;
  const auto& o = ctx.options;
  const auto output = o.get<std::string>("output.file");
  const auto rows = o.get<long long>("check.rows");
  const auto cols = o.get<long long>("check.cols");
  const int iterations = o.get<int>("check.iterations");
  const double delay = o.get<double>("check.delay");
  const int fail_rank = o.get<int>("inject.rank");
  const auto fail_kind = o.get<std::string>("inject.kind");
  const bool fail_guarded = o.get<std::string>("inject.where") == "guarded";
  const int fail_iteration = o.get<int>("inject.iteration");
  const util::StopHandlers stop_handlers;

  const auto hosts = comm.gather(util::host_name(), 0);
  const std::set<std::string> distinct(hosts.begin(), hosts.end());
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  log::info("selfcheck: ", comm.size(), " rank", comm.size() > 1 ? "s" : "", " on ",
            comm.is_root() ? distinct.size() : 0, " host(s), HDF5 ", major, ".", minor, ".",
            release, ", ", rows, " x ", cols, " float64 rows written and read back ", iterations,
            " time(s) in '", output, "'");

  const util::Block mine = util::block_of(rows, comm.size(), comm.rank());
  const util::Block theirs = util::block_of(rows, comm.size(), (comm.rank() + 1) % comm.size());
  std::vector<double> local(static_cast<std::size_t>(mine.count * cols));

  io::OutputFile out(comm, output, ctx.provenance(), io::OutputFile::Writers::kAllRanks);
  const io::Dataset data =
      out.file().create_dataset<double>("/selfcheck/data", {rows, cols}, "dimensionless");

  double write_seconds = 0, read_seconds = 0;
  int done = 0;
  int stop_signal = 0;
  log::Progress progress("selfcheck", iterations);
  for (int it = 1; it <= iterations; ++it) {
    for (std::int64_t r = 0; r < mine.count; ++r) {
      for (std::int64_t c = 0; c < cols; ++c) {
        local[r * cols + c] = expected_value(mine.begin + r, c, cols, it);
      }
    }
    comm.barrier();
    util::Stopwatch watch;
    data.write_rows(mine.begin, mine.count, local.data());
    comm.barrier();
    write_seconds += watch.seconds();

    // Read back the next rank's block: it was written by another process.
    watch.restart();
    const std::vector<double> back = data.read_rows<double>(theirs.begin, theirs.count);
    comm.barrier();
    read_seconds += watch.seconds();

    const bool inject = comm.rank() == fail_rank && it == fail_iteration;
    if (inject && !fail_guarded) inject_failure(fail_kind, comm.rank());
    const long long bad = mpi::guarded(comm, [&] {
      if (inject) inject_failure(fail_kind, comm.rank());
      long long count = 0;
      for (std::int64_t r = 0; r < theirs.count; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
          count += back[r * cols + c] != expected_value(theirs.begin + r, c, cols, it);
        }
      }
      return count;
    });
    const long long total_bad = comm.allreduce(bad, mpi::Op::kSum);
    if (total_bad > 0) {
      mpi::throw_on_all_ranks(comm, IoError(std::to_string(total_bad) + " values read back from '" +
                                            out.temporary_path() + "' differ from those written"));
    }
    // The reduction must give the exact sum: every value is an integer or a half.
    double sum = 0;
    for (double v : local) sum += v;
    sum = comm.allreduce(sum, mpi::Op::kSum);
    const double n = static_cast<double>(rows * cols);
    const double expected = n * (n - 1) / 2 + 0.5 * it * n;
    if (sum != expected) {
      mpi::throw_on_all_ranks(comm, ParallelError("allreduce gave " + std::to_string(sum) +
                                                  ", expected " + std::to_string(expected)));
    }
    done = it;
    progress.update(it);
    stop_signal = mpi::stop_agreed(comm);
    if (stop_signal) break;
    if (delay > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
  progress.finish();

  io::set_attribute(data.id(), "iterations_done", static_cast<std::int64_t>(done));
  out.commit();

  const double megabytes = done * rows * cols * 8.0 / 1e6;
  const double write_rate = write_seconds > 0 ? megabytes / write_seconds : 0;
  const double read_rate = read_seconds > 0 ? megabytes / read_seconds : 0;
  log::info("selfcheck: ", stop_signal ? "stopped" : "ok", "; wrote ",
            util::format_bytes(megabytes * 1e6), " at ", static_cast<long long>(write_rate),
            " MB/s, read at ", static_cast<long long>(read_rate), " MB/s; result in '", output,
            "'");
  ctx.summary["ok"] = stop_signal == 0;
  ctx.summary["ranks"] = comm.size();
  ctx.summary["hosts"] = static_cast<long long>(comm.is_root() ? distinct.size() : 0);
  ctx.summary["rows"] = rows;
  ctx.summary["cols"] = cols;
  ctx.summary["iterations"] = done;
  ctx.summary["write_MBps"] = write_rate;
  ctx.summary["read_MBps"] = read_rate;
  ctx.summary["output"] = output;

  if (stop_signal) {
    mpi::throw_on_all_ranks(
        comm,
        StoppedError(std::string("stopped by ") + util::signal_name(stop_signal) +
                     " after iteration " + std::to_string(done) + " of " +
                     std::to_string(iterations) + "; '" + output + "' holds the state reached"));
  }
}

}  // namespace

Command selfcheck_command() {
  Command c;
  c.name = "selfcheck";
  c.summary = "check MPI and parallel HDF5 on this machine or allocation";
  c.description =
      "Every rank writes its block of rows of a dataset with collective MPI-IO, reads back its\n"
      "neighbour's block, and the ranks check the values and an allreduce against exact\n"
      "answers; the file is written under a temporary name and renamed when complete. Run it\n"
      "with the same mpirun or srun line as a real job. The inject.* options inject a failure\n"
      "to show how the job ends (guarded: every rank exits with the error's code; unguarded:\n"
      "MPI_Abort). SIGUSR1 or SIGTERM stop it after the current iteration with exit code 3.";
  c.declare = [](config::Options& opts) {
    opts.positional("config");
    opts.add<std::string>("output.file", "the HDF5 file to write")
        .path()
        .default_value(std::string("results/selfcheck.h5"));
    opts.add<long long>("check.rows", "rows of the test dataset")
        .default_value(10000LL)
        .check(config::positive<long long>());
    opts.add<long long>("check.cols", "columns of the test dataset")
        .default_value(64LL)
        .check(config::positive<long long>());
    opts.add<int>("check.iterations", "times the dataset is written and read back")
        .default_value(3)
        .check(config::positive<int>());
    opts.add<double>("check.delay", "seconds to wait after each iteration")
        .default_value(0.0)
        .check(config::non_negative<double>());
    opts.add<int>("inject.rank", "inject a failure on this rank (-1: none)").default_value(-1);
    opts.add<std::string>("inject.kind", "error injected: internal, usage, io, numerical, parallel")
        .default_value(std::string("parallel"))
        .check(config::one_of({"internal", "usage", "io", "numerical", "parallel"}));
    opts.add<std::string>("inject.where", "guarded (collective error) or unguarded (MPI_Abort)")
        .default_value(std::string("guarded"))
        .check(config::one_of({"guarded", "unguarded"}));
    opts.add<int>("inject.iteration", "iteration in which the failure is injected")
        .default_value(1)
        .check(config::positive<int>());
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
