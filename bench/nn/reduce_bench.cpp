// Latency and bandwidth of physfit's exact gradient reduction (issue 14, point 4): per size n of
// the gradient (floats), the median over repeats of
//   exact: what one training step at P > 1 ranks sends, as src/nn/trainer.cpp does it:
//          FixedPointReducer::reduce_scatter (a small all-reduce of the tensors' maxima and the
//          shard sums, then MPI_Reduce_scatter of n int32 fixed-point limbs) followed by
//          MPI_Allgatherv of the n updated float parameters (the sharded optimiser);
//   exact_rs, exact_ag: its two parts alone;
//   float: MPI_Allreduce of n float32 in place (what PyTorch DDP and Horovod send);
//   shared: the same step without MPI's copies, as a node-local scheme would do it (all ranks
//          on one node): each rank's int32 limbs lie in an MPI-3 shared-memory window; after a
//          barrier each rank sums its slice straight from every rank's limbs, converts it to
//          floats into a shared parameter array, and after a second barrier copies the other
//          ranks' slices into its own parameters. The same bytes cross the cores' caches
//          (n int32 read from each other rank, n floats copied back) but no MPI buffer: the
//          floor of any intra-node exact (or float32) reduction on this memory system.
// Each repeat is timed from a barrier to the end of the slowest rank (max over ranks). The
// fixed-point conversion (accumulate, to_float) is compute in the trainer's split and is not
// timed here. One JSON object per line on rank 0; bench/nn/scaling.sh runs it and
// bench/nn/scaling_model.py fits t(n) = a + b * bytes.
//
// The shared operation runs only when every rank is on one node.
//
//   mpirun -np 2 --mca btl self,vader reduce_bench [--min 1024] [--max 16777216]
//       [--transport shm] [--seconds 1.5]

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "physfit/mpi/comm.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/nn/reduce.hpp"
#include "physfit/util/clock.hpp"

namespace {

using physfit::util::now_seconds;

double slowest(double t, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// Repeats `op` (after 2 warm-up runs) until `budget` seconds or 200 repeats, at least 5.
template <class Prepare, class Op>
std::vector<double> repeat(double budget, MPI_Comm comm, Prepare prepare, Op op) {
  std::vector<double> times;
  double spent = 0;
  for (int i = 0; i < 202; ++i) {
    prepare();
    MPI_Barrier(comm);
    const double t0 = now_seconds();
    op();
    const double t = slowest(now_seconds() - t0, comm);
    if (i >= 2) times.push_back(t);
    spent += t;
    int stop = times.size() >= 5 && spent > budget;
    MPI_Bcast(&stop, 1, MPI_INT, 0, comm);  // every rank stops together
    if (stop) break;
  }
  return times;
}

void print(const char* op, const std::string& transport, int ranks, std::int64_t n, double bytes,
           const std::vector<double>& t) {
  double load[3] = {0, 0, 0};
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf(
      "{\"op\": \"%s\", \"transport\": \"%s\", \"ranks\": %d, \"n\": %lld, \"bytes\": %.0f, "
      "\"median_s\": %.9g, \"min_s\": %.9g, \"reps\": %zu, \"loadavg\": [%.2f, %.2f, %.2f]}\n",
      op, transport.c_str(), ranks, static_cast<long long>(n), bytes, median(t),
      *std::min_element(t.begin(), t.end()), t.size(), load[0], load[1], load[2]);
  std::fflush(stdout);
}

// The `shared` operation (see the file comment): median seconds of one step.
std::vector<double> shared_step(double budget, MPI_Comm comm, MPI_Comm node, std::int64_t n,
                                const std::vector<std::int64_t>& bounds) {
  int rank = 0, ranks = 0;
  MPI_Comm_rank(node, &rank);
  MPI_Comm_size(node, &ranks);
  // This rank's segment: its n limbs, then its slice of the parameters (64-byte aligned).
  const std::int64_t slice = bounds[rank + 1] - bounds[rank];
  const MPI_Aint bytes = static_cast<MPI_Aint>((4 * n + 63) / 64 * 64 + 4 * slice + 64);
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");
  void* base = nullptr;
  MPI_Win win;
  MPI_Win_allocate_shared(bytes, 1, info, node, &base, &win);
  MPI_Info_free(&info);
  std::vector<const std::int32_t*> limbs(static_cast<std::size_t>(ranks));
  std::vector<float*> slices(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    MPI_Aint size = 0;
    int unit = 0;
    void* p = nullptr;
    MPI_Win_shared_query(win, r, &size, &unit, &p);
    limbs[static_cast<std::size_t>(r)] = static_cast<const std::int32_t*>(p);
    slices[static_cast<std::size_t>(r)] =
        reinterpret_cast<float*>(static_cast<char*>(p) + (4 * n + 63) / 64 * 64);
  }
  auto* mine = static_cast<std::int32_t*>(base);
  for (std::int64_t i = 0; i < n; ++i) mine[i] = static_cast<std::int32_t>(i % 97 - 48 + rank);
  std::vector<float> params(static_cast<std::size_t>(n));
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
  auto fence = [&] {  // the unified memory model: sync, barrier, sync
    MPI_Win_sync(win);
    MPI_Barrier(node);
    MPI_Win_sync(win);
  };
  const std::int64_t b0 = bounds[rank];
  auto times = repeat(
      budget, comm, [] {},
      [&] {
        fence();  // every rank's limbs are written
        float* out = slices[static_cast<std::size_t>(rank)];
        for (std::int64_t i = 0; i < slice; ++i) {
          std::int32_t s = 0;
          for (int r = 0; r < ranks; ++r) s += limbs[static_cast<std::size_t>(r)][b0 + i];
          out[i] = static_cast<float>(s) * 0x1p-20f;
        }
        fence();  // every slice is written
        for (int r = 0; r < ranks; ++r) {
          std::memcpy(params.data() + bounds[r], slices[static_cast<std::size_t>(r)],
                      4 * static_cast<std::size_t>(bounds[r + 1] - bounds[r]));
        }
      });
  MPI_Win_unlock_all(win);
  MPI_Win_free(&win);
  return times;
}

}  // namespace

int main(int argc, char** argv) {
  physfit::mpi::Environment env(argc, argv);
  const auto comm = physfit::mpi::Comm::world();
  std::int64_t lo = 1024, hi = 16777216;
  std::string transport = "default";
  double budget = 1.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--min") lo = std::atoll(argv[i + 1]);
    if (k == "--max") hi = std::atoll(argv[i + 1]);
    if (k == "--transport") transport = argv[i + 1];
    if (k == "--seconds") budget = std::atof(argv[i + 1]);
  }
  const int ranks = comm.size(), rank = comm.rank();
  const bool root = rank == 0;
  MPI_Comm node = MPI_COMM_NULL;  // the ranks sharing this rank's memory
  MPI_Comm_split_type(comm.raw(), MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_ranks = 0;
  MPI_Comm_size(node, &node_ranks);
  for (std::int64_t n = lo; n <= hi; n *= 4) {
    // The trainer's layout: whole optimiser blocks per rank; one tensor; 4 micro-shards.
    const std::int64_t blocks =
        (n + physfit::nn::kOptimizerBlock - 1) / physfit::nn::kOptimizerBlock;
    std::vector<std::int64_t> bounds;
    std::vector<int> counts, displs;
    for (int r = 0; r <= ranks; ++r) {
      const std::int64_t b = blocks * r / ranks;
      bounds.push_back(std::min(n, b * physfit::nn::kOptimizerBlock));
    }
    for (int r = 0; r < ranks; ++r) {
      displs.push_back(static_cast<int>(bounds[r]));
      counts.push_back(static_cast<int>(bounds[r + 1] - bounds[r]));
    }
    const int shards = 4;
    physfit::nn::FixedPointReducer reducer({{0, n, true}}, n, shards);
    std::vector<float> gradient(static_cast<std::size_t>(n)), params(gradient.size(), 0.5f);
    for (std::int64_t i = 0; i < n; ++i) gradient[i] = 1e-3f * static_cast<float>(i % 97 - 48);
    std::vector<physfit::nn::LossSums> sums(shards);
    reducer.accumulate(gradient.data(), true);  // the first step fits the exponents (a redo)
    reducer.reduce_scatter(comm, sums, shards, bounds);
    auto exact = repeat(
        budget, comm.raw(), [&] { reducer.accumulate(gradient.data(), true); },
        [&] {
          if (!reducer.reduce_scatter(comm, sums, shards, bounds)) {
            std::fprintf(stderr, "overflow (not expected)\n");
          }
          MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, params.data(), counts.data(),
                         displs.data(), MPI_FLOAT, comm.raw());
        });
    if (root) print("exact", transport, ranks, n, 8.0 * static_cast<double>(n), exact);
    // Its two parts: the reduce-scatter of the limbs (with the small all-reduce), the allgather.
    auto scatter = repeat(
        budget, comm.raw(), [&] { reducer.accumulate(gradient.data(), true); },
        [&] { reducer.reduce_scatter(comm, sums, shards, bounds); });
    if (root) print("exact_rs", transport, ranks, n, 4.0 * static_cast<double>(n), scatter);
    auto gather = repeat(
        budget, comm.raw(), [] {},
        [&] {
          MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, params.data(), counts.data(),
                         displs.data(), MPI_FLOAT, comm.raw());
        });
    if (root) print("exact_ag", transport, ranks, n, 4.0 * static_cast<double>(n), gather);
    std::vector<float> work(gradient.size());
    auto plain = repeat(
        budget, comm.raw(), [&] { std::copy(gradient.begin(), gradient.end(), work.begin()); },
        [&] {
          MPI_Allreduce(MPI_IN_PLACE, work.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                        comm.raw());
        });
    if (root) print("float", transport, ranks, n, 4.0 * static_cast<double>(n), plain);
    if (node_ranks == ranks) {
      auto shared = shared_step(budget, comm.raw(), node, n, bounds);
      if (root) print("shared", transport, ranks, n, 8.0 * static_cast<double>(n), shared);
    }
  }
  MPI_Comm_free(&node);
  return 0;
}
