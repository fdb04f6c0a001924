#include "physfit/nn/trainer.hpp"

#include <mpi.h>
#include <xmmintrin.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>

#include "physfit/error.hpp"
#include "physfit/log/log.hpp"
#include "physfit/log/progress.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/mpi/stop.hpp"
#include "physfit/nn/random.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/partition.hpp"

namespace physfit::nn {

namespace {

constexpr std::int64_t kEvalChunk = 256;
constexpr int kStopCheckInterval = 8;
constexpr std::int64_t kWindowsPerEpoch = 8;  // in memory

// Flushes denormal floats to zero (FTZ and DAZ in MXCSR) while it exists. Adam's moments of
// parameters whose gradient stays zero (the weights of an always-black border pixel) decay
// geometrically into the denormal range, where every operation on them takes a slow microcode
// path: with denormals the MLP's optimizer step is several times slower. Every rank sets the
// same mode, so results stay reproducible across rank counts. (TensorFlow does the same.)
class FlushDenormals {
 public:
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_;
};

double cpu_seconds(clockid_t clock = CLOCK_PROCESS_CPUTIME_ID) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// CPU time of this thread: the compute sections measured with it exclude time the rank was
// descheduled (which wall time counts on a shared machine) and time spent waiting in MPI.
double thread_cpu_seconds() { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID); }

// The rank that owns global row `row` under util::block_of(n, parts, .).
int owner_of(std::int64_t row, std::int64_t n, int parts) {
  const std::int64_t q = n / parts, rem = n % parts;
  if (row < (q + 1) * rem) return static_cast<int>(row / (q + 1));
  return static_cast<int>(rem + (row - (q + 1) * rem) / q);
}

std::vector<ParameterRange> ranges_of(const Model& model) {
  std::vector<ParameterRange> r;
  for (const auto& t : model.tensors()) r.push_back({t.info.offset, t.info.count, t.info.weight});
  return r;
}

// Checks, before anything is allocated, that the batch sizes fit in memory and in the
// reducer: UsageError naming train.batch and train.micro-batch, the memory they need per rank
// and what the machine has (instead of std::bad_alloc or an int overflow, exit 1).
void check_batch(const Model& model, const TrainSettings& s, const DataInfo& train,
                 std::int64_t rows, int ranks) {
  const std::int64_t micro = s.micro();
  const std::int64_t shards = (s.batch + micro - 1) / micro;  // both positive: no overflow
  const std::string sizes = "train.batch " + std::to_string(s.batch) + " in micro-batches of " +
                            std::to_string(micro) + " samples (train.micro-batch)";
  // Activations and work space of one micro-batch (Model::reserve and the trainer's buffers).
  double per_sample = static_cast<double>(model.input_shape().size());
  double largest = per_sample;
  for (const auto& layer : model.layers()) {
    const auto size = static_cast<double>(layer->output_shape().size());
    per_sample += size;
    largest = std::max(largest, size);
  }
  per_sample += 2 * largest + model.outputs() + std::max(1, train.targets) + 2;
  // The records a rank exchanges for one batch, twice (send and receive), and the per-shard
  // loss sums and reducer slots of a batch.
  const double batch_rows = static_cast<double>(std::min(s.batch, std::max<std::int64_t>(rows, 1)));
  const double per_batch = std::ceil(std::ceil(batch_rows / static_cast<double>(micro)) / ranks) *
                           static_cast<double>(micro) * static_cast<double>(train.record_bytes());
  const double bytes = 4.0 * static_cast<double>(micro) * per_sample + 2 * per_batch +
                       static_cast<double>(shards) * (sizeof(LossSums) + 8 * 8);
  util::require_memory(bytes, sizes, "lower train.batch or train.micro-batch");
  if (micro > INT_MAX) {
    throw UsageError(sizes + ": a micro-batch holds at most " + std::to_string(INT_MAX) +
                     " samples; lower train.micro-batch");
  }
  if (shards > 4096) {
    throw UsageError(sizes + " makes " + std::to_string(shards) +
                     " micro-batches per batch; at most 4096 are allowed: lower train.batch or "
                     "raise train.micro-batch");
  }
}

}  // namespace

// ------------------------------------------------------------------------------- history

void History::append(const std::string& key, double value) {
  for (auto& [k, v] : columns) {
    if (k == key) {
      v.push_back(value);
      return;
    }
  }
  columns.emplace_back(key, std::vector<double>{value});
}

const std::vector<double>* History::find(const std::string& key) const {
  for (const auto& [k, v] : columns) {
    if (k == key) return &v;
  }
  return nullptr;
}

Metrics metrics_of(const LossSums& s, const Model& model, bool with_l2) {
  Metrics m;
  m.samples = static_cast<std::int64_t>(s.samples);
  if (s.samples <= 0) return m;
  m.loss = s.loss / s.samples;
  if (with_l2 && model.spec().l2 != 0) m.loss += model.spec().l2 * model.weight_square_sum();
  m.accuracy = s.correct / s.samples;
  const double values = s.samples * model.outputs();
  m.rmse = std::sqrt(s.sq_err / values);
  m.mae = s.abs_err / values;
  return m;
}

// ------------------------------------------------------------------------------- trainer

struct Trainer::Impl {
  mpi::Comm comm;
  Model& model;
  Optimizer& optimizer;
  TrainSettings settings;
  DataInfo train;
  std::int64_t n = 0;  // training rows
  const DataInfo* validation;
  std::int64_t val_begin, val_rows;
  int ranks, rank;
  std::int64_t batch, micro, record_bytes;
  util::Block own;
  bool cache = true;
  std::int64_t window = 0;  // batches per window
  std::vector<ParameterRange> ranges;
  // On several ranks the optimiser step is sharded: rank r updates parameters
  // [bounds[r], bounds[r + 1]) (whole optimiser blocks, so the bits are those of an unsharded
  // step) and the ranks then gather the parameters. Each rank's moments are current only in
  // its slice until sync_optimizer().
  std::vector<std::int64_t> bounds;
  std::vector<ParameterRange> my_ranges;
  std::vector<int> slice_counts, slice_displs;
  FixedPointReducer reducer;
  RecordReader reader;

  // Records. The data go through a pipeline of windows of batches: while window k computes,
  // the records of window k + 1 are exchanged (MPI_Ialltoallv on `xcomm`, posted when window k
  // begins) and, when streaming with overlap, the own rows of window k + 2 are read on the
  // prefetch thread (pread only: RecordReader::direct(), no HDF5 call off the main thread).
  // Window k + 1 may be the first of the next epoch: its permutation is known. Every rank
  // posts the same exchanges at the same points (the start of a window), so a request pending
  // when the ranks unwind together (a collective error, a stop) completes on every rank.
  struct Window {
    std::int64_t epoch = -1, b0 = 0, b1 = 0;  // batches [b0, b1) of an epoch; -1: unused
    std::vector<std::int64_t> samples;        // ids at positions [b0 batch, min(n, b1 batch))
    std::vector<std::int64_t> own_ids;        // streaming: the own rows anyone needs, sorted
    std::vector<unsigned char> own_records;   // ... and their records
    std::exception_ptr error;                 // a failed read, agreed on when the window begins
    std::vector<std::int64_t> mine;           // ids of the samples I compute, in order
    std::vector<std::int64_t> from;           // index of each among its owner's records, -1: mine
    std::vector<unsigned char> recv;          // the records others own
    std::vector<int> send_counts, send_displs, recv_counts, recv_displs;  // valid while posted
    MPI_Request request = MPI_REQUEST_NULL;
    bool posted = false;  // exchange started (or none needed)
  };
  Window slots[3];
  int nslots = 2;  // slots in use: 3 when reads overlap compute
  int head = 0;    // slots[head] is the window computing
  Window& slot(int ahead) { return slots[(head + ahead) % nslots]; }
  std::unique_ptr<mpi::OwnedComm> xcomm;  // the exchanges' own communicator (ranks > 1)
  std::vector<std::int64_t> order;        // the permutation of epoch order_epoch
  std::int64_t order_epoch = -1;
  const unsigned char* own_base = nullptr;  // cached: the records of the own rows
  std::vector<unsigned char> own_records;   // cached: ... when read from the file
  std::vector<unsigned char> send_buffer;   // the exchange in flight's records (one at a time)
  std::vector<const unsigned char*> need;   // this window: record of each sample I compute
  std::vector<int> position_owner;          // scratch: the owner of each sample of a window

  // Streaming with overlap: the prefetch thread reads the own rows of `reading`. The main
  // thread touches neither that window nor `reader` until it joins the thread.
  bool overlap = false;
  std::thread prefetch;
  Window* reading = nullptr;

  // Shard work space.
  Buffer<float> x, dscores, targets;
  std::vector<std::int32_t> labels;
  std::vector<std::int64_t> ids;
  std::vector<LossSums> shard_sums;

  double t_compute = 0, t_allreduce = 0, t_io = 0, cpu_compute = 0;

  Impl(const mpi::Comm& c, Model& m, Optimizer& o, const TrainSettings& s, const DataInfo& t,
       std::int64_t rows, const DataInfo* v, std::int64_t vb, std::int64_t vr)
      : comm(c),
        model(m),
        optimizer(o),
        settings(s),
        train(t),
        n(rows),
        validation(v),
        val_begin(vb),
        val_rows(vr),
        ranks(c.size()),
        rank(c.rank()),
        batch(s.batch),
        micro(s.micro()),
        record_bytes(t.record_bytes()),
        own(util::block_of(rows, c.size(), c.rank())),
        ranges(ranges_of(m)),
        reducer(ranges, m.parameter_count(),
                static_cast<int>((s.batch + s.micro() - 1) / s.micro())),
        reader(t) {
    const std::int64_t p = m.parameter_count();
    const std::int64_t blocks = (p + kOptimizerBlock - 1) / kOptimizerBlock;
    for (int r = 0; r <= ranks; ++r) {
      const std::int64_t b = r == ranks ? blocks : util::block_of(blocks, ranks, r).begin;
      bounds.push_back(std::min(p, b * kOptimizerBlock));
    }
    for (int r = 0; r < ranks; ++r) {
      slice_displs.push_back(static_cast<int>(bounds[r]));
      slice_counts.push_back(static_cast<int>(bounds[r + 1] - bounds[r]));
    }
    for (const auto& range : ranges) {
      const std::int64_t b = std::max(range.offset, bounds[rank]);
      const std::int64_t e = std::min(range.offset + range.count, bounds[rank + 1]);
      if (e > b) my_ranges.push_back({b, e - b, range.weight});
    }
  }

  // Gathers the parameters (after a sharded step) or the optimiser moments (before saving).
  void gather_slices(float* data) {
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, slice_counts.data(),
                   slice_displs.data(), MPI_FLOAT, comm.raw());
  }

  // **Collective.** Makes every rank's optimiser moments whole (each rank updated its slice).
  void sync_optimizer() {
    if (ranks == 1) return;
    if (!optimizer.first_moment().empty()) gather_slices(optimizer.first_moment().data());
    if (!optimizer.second_moment().empty()) gather_slices(optimizer.second_moment().data());
  }

  std::int64_t shards_in(std::int64_t len) const { return (len + micro - 1) / micro; }

  ~Impl() {
    try {
      drain();
    } catch (...) {  // MPI errors are fatal (MPI_ERRORS_ARE_FATAL); nothing else throws here
    }
  }

  // The sample at position p of the current window's epoch order.
  std::int64_t sample_at(std::int64_t p) {
    const Window& w = slot(0);
    return w.samples[static_cast<std::size_t>(p - w.b0 * batch)];
  }

  // The window after `w` (the next epoch's first after an epoch's last); false: none.
  bool following(const Window& w, std::int64_t& epoch, std::int64_t& b0) const {
    const std::int64_t batches = (n + batch - 1) / batch;
    if (w.b1 < batches) {
      epoch = w.epoch;
      b0 = w.b1;
      return true;
    }
    epoch = w.epoch + 1;
    b0 = 0;
    return epoch < settings.epochs;
  }

  // Sets `w` to batches [b0, b0 + window) of `epoch` (drawing the epoch's permutation if it is
  // not the one held: windows come in order, so the previous epoch's is no longer needed).
  void define(Window& w, std::int64_t epoch, std::int64_t b0) {
    const std::int64_t batches = (n + batch - 1) / batch;
    if (order_epoch != epoch) {
      order = epoch_permutation(n, settings.seed, static_cast<std::uint64_t>(epoch));
      order_epoch = epoch;
    }
    w.epoch = epoch;
    w.b0 = b0;
    w.b1 = std::min(batches, b0 + window);
    w.samples.assign(order.begin() + b0 * batch, order.begin() + std::min(n, w.b1 * batch));
    w.error = nullptr;
    w.posted = false;
  }

  // Streaming: reads the own rows anyone needs in `w` (every sample of a batch is computed by
  // some rank), sorted. Runs on the prefetch thread or the main thread; an error is kept in
  // the window and agreed on when it begins (the exchange goes ahead meanwhile).
  void read_rows(Window& w) {
    try {
      w.own_ids.clear();
      for (std::int64_t id : w.samples) {
        if (id >= own.begin && id < own.end()) w.own_ids.push_back(id);
      }
      std::sort(w.own_ids.begin(), w.own_ids.end());
      w.own_records.resize(w.own_ids.size() * static_cast<std::size_t>(record_bytes));
      reader.read_ids(w.own_ids.data(), w.own_ids.size(), w.own_records.data());
    } catch (...) {
      w.error = std::current_exception();
    }
  }

  void start_prefetch(Window& w) {
    reading = &w;
    prefetch = std::thread([this, &w] { read_rows(w); });
  }

  void join_prefetch() {
    if (prefetch.joinable()) prefetch.join();
    reading = nullptr;
  }

  const unsigned char* own_record(const Window& w, std::int64_t id) const {
    if (cache) return own_base + (id - own.begin) * record_bytes;
    const auto it = std::lower_bound(w.own_ids.begin(), w.own_ids.end(), id);
    return w.own_records.data() + (it - w.own_ids.begin()) * record_bytes;
  }

  // Calls f(r, k) for each sample of `w`, k its index in w.samples, r the rank computing it:
  // by batch, then by rank, then in order (the order in which rank r takes its samples).
  template <class F>
  void for_each_sample(const Window& w, F&& f) const {
    const std::int64_t base = w.b0 * batch;
    for (std::int64_t b = w.b0; b < w.b1; ++b) {
      const std::int64_t start = b * batch, len = std::min(batch, n - start);
      const std::int64_t shards = shards_in(len);
      for (int r = 0; r < ranks; ++r) {
        const util::Block mine = util::block_of(shards, ranks, r);
        const std::int64_t first = start + mine.begin * micro;
        const std::int64_t last = std::min(start + mine.end() * micro, start + len);
        for (std::int64_t p = first; p < last; ++p) f(r, p - base);
      }
    }
  }

  // Starts exchanging the records of `w` (its own rows read): packs what each rank needs of
  // mine and posts one MPI_Ialltoallv. Main thread only.
  void post(Window& w) {
    w.mine.clear();
    w.from.clear();
    if (ranks == 1) {
      w.mine = w.samples;
      w.from.assign(w.mine.size(), -1);
      w.posted = true;
      return;
    }
    position_owner.resize(w.samples.size());
    for (std::size_t k = 0; k < w.samples.size(); ++k) {
      position_owner[k] = owner_of(w.samples[k], n, ranks);
    }
    w.send_counts.assign(ranks, 0);
    w.recv_counts.assign(ranks, 0);
    w.send_displs.assign(ranks, 0);
    w.recv_displs.assign(ranks, 0);
    std::vector<std::int64_t> send_n(ranks, 0), recv_n(ranks, 0);
    for_each_sample(w, [&](int r, std::size_t k) {
      const int o = position_owner[k];
      if (r == rank) {
        w.mine.push_back(w.samples[k]);
        w.from.push_back(o == rank ? -1 : recv_n[o]++);
      } else if (o == rank) {
        ++send_n[r];
      }
    });
    std::int64_t send_total = 0, recv_total = 0;
    for (int r = 0; r < ranks; ++r) {
      w.send_displs[r] = static_cast<int>(send_total * record_bytes);
      w.recv_displs[r] = static_cast<int>(recv_total * record_bytes);
      send_total += send_n[r];
      recv_total += recv_n[r];
      if (std::max(send_total, recv_total) * record_bytes > INT_MAX) {
        throw UsageError(
            "a window of batches is too large to exchange in one MPI call; set "
            "--data.max-memory to stream the data in smaller windows");
      }
      w.send_counts[r] = static_cast<int>(send_n[r] * record_bytes);
      w.recv_counts[r] = static_cast<int>(recv_n[r] * record_bytes);
    }
    send_buffer.resize(static_cast<std::size_t>(send_total * record_bytes));
    w.recv.resize(static_cast<std::size_t>(recv_total * record_bytes));
    std::vector<std::int64_t> at(send_n.size(), 0);
    const auto rb = static_cast<std::size_t>(record_bytes);
    for_each_sample(w, [&](int r, std::size_t k) {
      // After a failed read the records are not all there: send the counts the others expect
      // (the error is agreed on before anyone uses them).
      if (r == rank || position_owner[k] != rank || w.error) return;
      std::memcpy(send_buffer.data() + w.send_displs[r] + at[r]++ * record_bytes,
                  own_record(w, w.samples[k]), rb);
    });
    MPI_Ialltoallv(send_buffer.data(), w.send_counts.data(), w.send_displs.data(), MPI_BYTE,
                   w.recv.data(), w.recv_counts.data(), w.recv_displs.data(), MPI_BYTE,
                   xcomm->view().raw(), &w.request);
    w.posted = true;
  }

  // Lets MPI progress the exchange in flight (between steps).
  void progress() {
    Window& w = slot(1);
    if (w.request == MPI_REQUEST_NULL) return;
    const double start = util::now_seconds();
    int done = 0;
    MPI_Test(&w.request, &done, MPI_STATUS_IGNORE);
    t_io += util::now_seconds() - start;
  }

  // Completes every exchange in flight and the prefetch thread; forgets the windows.
  // **Collective** (every rank posted the same exchanges).
  void drain() {
    join_prefetch();
    int finalized = 0;
    MPI_Finalized(&finalized);
    for (Window& w : slots) {
      if (w.request != MPI_REQUEST_NULL && !finalized) MPI_Wait(&w.request, MPI_STATUS_IGNORE);
      w.request = MPI_REQUEST_NULL;
      w.epoch = -1;
      w.posted = false;
      w.error = nullptr;
    }
  }

  // Makes batches [b0, ...) of `epoch` the current window: its records at hand (received while
  // the previous window computed, or read and exchanged now when the pipeline starts) and
  // `need` pointing at them. Then posts the exchange of the following window and, streaming
  // with overlap, starts reading the own rows of the one after it. **Collective.**
  void begin_window(std::int64_t epoch, std::int64_t b0) {
    const double start = util::now_seconds();
    if (slot(1).epoch == epoch && slot(1).b0 == b0 && slot(1).posted) {
      head = (head + 1) % nslots;
    } else {  // the first window of a run (or after a stop): nothing in flight
      drain();
      define(slot(0), epoch, b0);
      if (!cache) read_rows(slot(0));
      post(slot(0));
    }
    Window& w = slot(0);
    if (w.request != MPI_REQUEST_NULL) MPI_Wait(&w.request, MPI_STATUS_IGNORE);
    w.posted = false;
    if (!cache) {
      mpi::guarded(comm, [&] {
        if (w.error) std::rethrow_exception(w.error);
      });
    }
    need.resize(w.mine.size());
    for (std::size_t k = 0; k < w.mine.size(); ++k) {
      if (w.from[k] < 0) {
        need[k] = own_record(w, w.mine[k]);
      } else {
        const int src = owner_of(w.mine[k], n, ranks);
        need[k] = w.recv.data() + w.recv_displs[src] + w.from[k] * record_bytes;
      }
    }
    std::int64_t e1 = 0, c1 = 0;
    if (following(w, e1, c1)) {
      Window& next = slot(1);
      if (reading == &next) {
        join_prefetch();  // read while the previous window computed
      } else {
        define(next, e1, c1);
        if (!cache) read_rows(next);
      }
      post(next);
      std::int64_t e2 = 0, c2 = 0;
      if (overlap && following(next, e2, c2)) {
        define(slot(2), e2, c2);
        start_prefetch(slot(2));
      }
    }
    t_io += util::now_seconds() - start;
  }

  // One optimiser step on batch b; `cursor` indexes `need` (this rank's samples in order).
  LossSums step(std::uint64_t epoch, std::int64_t b, std::size_t& cursor) {
    const std::int64_t start = b * batch, len = std::min(batch, n - start);
    const std::int64_t shards = shards_in(len);
    const util::Block mine = util::block_of(shards, ranks, rank);
    const bool single = shards == 1;
    const float scale = 1.0f / static_cast<float>(len);
    const int outputs = model.outputs();
    const std::size_t cursor0 = cursor;
    int redone = 0;
    Pass pass;
    pass.training = true;
    pass.seed = settings.seed;
    pass.epoch = epoch;
    for (;;) {
      cursor = cursor0;
      const double t0 = util::now_seconds();
      const double c0 = thread_cpu_seconds();
      std::fill(shard_sums.begin(), shard_sums.begin() + shards, LossSums{});
      for (std::int64_t j = mine.begin; j < mine.end(); ++j) {
        const std::int64_t s0 = start + j * micro;
        const int m = static_cast<int>(std::min(micro, start + len - s0));
        for (int i = 0; i < m; ++i) ids[i] = sample_at(s0 + i);
        unpack_records(train, need.data() + cursor, m, x.data(), labels.data(), targets.data());
        cursor += static_cast<std::size_t>(m);
        pass.samples = ids.data();
        const float* y = model.forward(x.data(), m, pass);
        model.loss().evaluate(y, outputs, m, labels.data(), targets.data(), dscores.data(), scale,
                              shard_sums[static_cast<std::size_t>(j)]);
        model.backward(x.data(), dscores.data(), m, pass);
        if (!single) reducer.accumulate(model.gradients(), j == mine.begin);
      }
      if (!single && mine.count == 0) reducer.zero();
      const double t1 = util::now_seconds();
      t_compute += t1 - t0;
      cpu_compute += thread_cpu_seconds() - c0;
      bool ok = true;
      if (single) {
        if (ranks > 1) {
          if (mine.count == 0) {
            std::fill(model.gradients(), model.gradients() + model.parameter_count(), 0.0f);
          }
          comm.allreduce_in_place(model.gradients(),
                                  static_cast<std::size_t>(model.parameter_count()), mpi::Op::kSum);
          double v[5] = {shard_sums[0].loss, shard_sums[0].correct, shard_sums[0].abs_err,
                         shard_sums[0].sq_err, shard_sums[0].samples};
          comm.allreduce_in_place(v, 5, mpi::Op::kSum);
          shard_sums[0] = {v[0], v[1], v[2], v[3], v[4]};
        }
      } else if (ranks > 1) {
        ok = reducer.reduce_scatter(comm, shard_sums, static_cast<int>(shards), bounds);
      } else {
        ok = reducer.reduce(comm, shard_sums, static_cast<int>(shards));
      }
      const double t2 = util::now_seconds();
      t_allreduce += t2 - t1;
      if (!ok) {
        log::debug("gradient overflow in the fixed-point reduction at batch ", b,
                   ": step recomputed with exponents fitted to its largest values");
        // A finite gradient fits at the second try; an infinite one never does.
        if (!reducer.finite() || ++redone > 2) {
          mpi::throw_on_all_ranks(
              comm, NumericalError("the gradient is not finite at epoch " +
                                   std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                                   "; lower optimizer.learning-rate or check the data scaling"));
        }
        continue;
      }
      const double c2 = thread_cpu_seconds();
      if (!single) reducer.to_float(model.gradients());
      if (ranks > 1) {  // every step is sharded, so each rank's moments stay current
        optimizer.step(model.parameters(), model.gradients(), my_ranges, model.spec().l2);
        const double t3 = util::now_seconds();
        t_compute += t3 - t2;
        cpu_compute += thread_cpu_seconds() - c2;
        gather_slices(model.parameters());
        t_allreduce += util::now_seconds() - t3;
      } else {
        optimizer.step(model.parameters(), model.gradients(), ranges, model.spec().l2);
        t_compute += util::now_seconds() - t2;
        cpu_compute += thread_cpu_seconds() - c2;
      }
      break;
    }
    LossSums total;
    for (std::int64_t j = 0; j < shards; ++j) total.add(shard_sums[static_cast<std::size_t>(j)]);
    if (!std::isfinite(total.loss)) {
      mpi::throw_on_all_ranks(
          comm, NumericalError("the training loss is not finite at epoch " +
                               std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                               "; lower optimizer.learning-rate or check the data scaling"));
    }
    return total;
  }
};

Trainer::Trainer(const mpi::Comm& comm, Model& model, Optimizer& optimizer,
                 const TrainSettings& settings, const DataInfo& train, std::int64_t train_rows,
                 const DataInfo* validation, std::int64_t val_begin, std::int64_t val_rows)
    : impl_(nullptr) {
  if (train.sample != model.input_shape()) {
    throw UsageError("the model's input is " + model.input_shape().str() + " but '" + train.path +
                     "' has samples of " + train.sample.str());
  }
  Impl* p = mpi::guarded(comm, [&] {
    check_batch(model, settings, train, train_rows, comm.size());
    return new Impl(comm, model, optimizer, settings, train, train_rows, validation, val_begin,
                    val_rows);
  });
  impl_ = p;
  // A constructor that throws runs no destructor: free the state on every error below (a bad
  // label read at the end leaked it, as LeakSanitizer saw).
  struct FreeOnThrow {
    Impl*& impl;
    bool armed = true;
    ~FreeOnThrow() {
      if (armed) {
        delete impl;
        impl = nullptr;
      }
    }
  } free_on_throw{impl_};
  state_.exponents = p->reducer.exponents();
  const std::int64_t micro = p->micro;
  model.reserve(static_cast<int>(micro));
  p->x.assign(static_cast<std::size_t>(model.input_shape().size() * micro), 0.0f);
  p->dscores.assign(static_cast<std::size_t>(model.outputs() * micro), 0.0f);
  p->targets.assign(static_cast<std::size_t>(std::max(1, train.targets) * micro), 0.0f);
  p->labels.assign(static_cast<std::size_t>(micro), 0);
  p->ids.assign(static_cast<std::size_t>(micro), 0);
  p->shard_sums.assign(static_cast<std::size_t>((settings.batch + micro - 1) / micro), LossSums{});
  // Memory plan, the same on every rank (it decides collective calls). Per batch of a window,
  // in records of `per_batch`: with several ranks, the records sent for the next window and
  // those received for the current and the next (3); streaming, also the own rows of each
  // window slot (the current, the next, and with reads overlapping compute the one after);
  // and each slot's sample ids (8 bytes a sample).
  const std::int64_t rb = p->record_bytes;
  const std::int64_t per_batch = ((settings.batch + micro - 1) / micro + p->ranks - 1) / p->ranks *
                                 micro * rb;  // records a rank computes per batch, at most
  const std::int64_t batches = (train_rows + settings.batch - 1) / settings.batch;
  const std::int64_t own_bytes = util::block_of(train_rows, p->ranks, 0).count * rb;  // largest
  const std::int64_t exchange = p->ranks > 1 ? 3 * per_batch : 0;
  auto per_window_batch = [&](int slots, bool streamed) {
    return exchange + slots * (8 * settings.batch + (streamed ? per_batch : 0));
  };
  // In memory: windows of an eighth of an epoch (so that the exchange of the next overlaps the
  // current one's compute, and the first of an epoch the last of the previous epoch), of at
  // most INT_MAX bytes (one MPI call).
  const std::int64_t largest = std::max<std::int64_t>(1, INT_MAX / (settings.batch * rb));
  const std::int64_t eighth = std::min(
      largest, std::max<std::int64_t>(1, (batches + kWindowsPerEpoch - 1) / kWindowsPerEpoch));
  const std::int64_t max_memory = settings.max_memory;
  // The rows stay in memory when they fit with an epoch's records sent and received (what the
  // exchange of whole epochs held), or in half of the cap.
  if (max_memory == 0 || own_bytes + 2 * per_batch * batches <= max_memory ||
      own_bytes + per_window_batch(2, false) <= max_memory / 2) {
    p->cache = true;
    p->window = max_memory == 0
                    ? eighth
                    : std::max<std::int64_t>(1, std::min(eighth, (max_memory - own_bytes) /
                                                                     per_window_batch(2, false)));
  } else {
    p->cache = false;
    p->overlap = p->reader.direct() && max_memory / per_window_batch(3, true) >= 1;
    p->window = std::min(largest, max_memory / per_window_batch(p->overlap ? 3 : 2, true));
    if (p->window < 1) {
      throw UsageError("--data.max-memory " + std::to_string(max_memory) +
                       " bytes is too small for one batch (" +
                       std::to_string(per_window_batch(2, true)) +
                       " bytes of records per rank); raise it or lower train.batch");
    }
  }
  p->window = std::max<std::int64_t>(1, std::min(p->window, batches));
  p->nslots = p->overlap ? 3 : 2;
  if (p->ranks > 1) p->xcomm = std::make_unique<mpi::OwnedComm>(comm);
  // The window buffers at their largest from the start: reserving touches no page, while
  // growing a buffer later would leave its old block in the heap (freed memory is kept,
  // keep_freed_memory() in cli/train.cpp) and add its size to the resident memory.
  const auto window_rows =
      static_cast<std::size_t>(std::min(train_rows, p->window * settings.batch));
  const auto mine_rows =
      std::min(window_rows, static_cast<std::size_t>(p->window * (per_batch / rb)));
  const auto own_rows = std::min(window_rows, static_cast<std::size_t>(p->own.count));
  const auto rbs = static_cast<std::size_t>(rb);
  for (int k = 0; k < p->nslots; ++k) {
    Impl::Window& w = p->slots[k];
    w.samples.reserve(window_rows);
    w.mine.reserve(mine_rows);
    w.from.reserve(mine_rows);
    if (p->ranks > 1) w.recv.reserve(mine_rows * rbs);
    if (!p->cache) {
      w.own_ids.reserve(own_rows);
      w.own_records.reserve(own_rows * rbs);
    }
  }
  if (p->ranks > 1) {
    p->send_buffer.reserve(own_rows * rbs);
    p->position_owner.reserve(window_rows);
  }
  p->need.reserve(mine_rows);
  mpi::guarded(comm, [&] {
    if (!p->cache) return;
    const MemoryRows* memory = train.memory.get();
    if (memory != nullptr && memory->first <= p->own.begin &&
        p->own.end() <= memory->first + memory->count) {
      // Rows in memory (the Python module's arrays): used where they are, not copied.
      p->own_base = memory->records.data() + (p->own.begin - memory->first) * rb;
      return;
    }
    p->own_records.resize(static_cast<std::size_t>(p->own.count * rb));
    p->reader.read(p->own.begin, p->own.count, p->own_records.data());
    p->own_base = p->own_records.data();
  });
  free_on_throw.armed = false;
}

Trainer::~Trainer() { delete impl_; }

bool Trainer::cached() const { return impl_->cache; }
std::int64_t Trainer::window_batches() const { return impl_->window; }
bool Trainer::overlapped() const { return impl_->overlap; }

int Trainer::run(const std::function<void(const EpochReport&)>& on_epoch) {
  const FlushDenormals flush;
  Impl& p = *impl_;
  p.reducer.exponents() = state_.exponents;
  const std::int64_t batches = (p.n + p.batch - 1) / p.batch;
  std::int64_t steps_since_check = 0;
  while (state_.epochs_done < p.settings.epochs) {
    const auto epoch = static_cast<std::uint64_t>(state_.epochs_done);
    const double epoch_start = util::now_seconds();
    const double cpu_start = cpu_seconds();
    p.t_compute = state_.partial_seconds[0];
    p.t_allreduce = state_.partial_seconds[1];
    p.t_io = state_.partial_seconds[2];
    p.cpu_compute = 0;
    const double earlier = state_.partial_seconds[3];
    LossSums sums = state_.partial;
    log::Progress progress(
        "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(p.settings.epochs), batches);
    for (std::int64_t w0 = state_.batches_done; w0 < batches; w0 += p.window) {
      const std::int64_t w1 = std::min(batches, w0 + p.window);
      p.begin_window(static_cast<std::int64_t>(epoch), w0);
      std::size_t cursor = 0;
      for (std::int64_t b = w0; b < w1; ++b) {
        sums.add(p.step(epoch, b, cursor));
        p.progress();
        state_.batches_done = b + 1;
        progress.update(b + 1);
        if (++steps_since_check % kStopCheckInterval == 0 || b + 1 == batches) {
          const int signal = mpi::stop_agreed(p.comm);
          if (signal != 0 && b + 1 < batches) {
            p.drain();
            state_.partial = sums;
            state_.partial_seconds[0] = p.t_compute;
            state_.partial_seconds[1] = p.t_allreduce;
            state_.partial_seconds[2] = p.t_io;
            state_.partial_seconds[3] = earlier + util::now_seconds() - epoch_start;
            state_.exponents = p.reducer.exponents();
            p.sync_optimizer();
            progress.finish("stopped");
            return signal;
          }
        }
      }
    }
    progress.finish();
    EpochReport report;
    report.epoch = state_.epochs_done + 1;
    report.train = metrics_of(sums, p.model, true);
    const double train_seconds = earlier + util::now_seconds() - epoch_start;
    // CPU time of the slowest rank: on a shared machine, samples per CPU-second measure what
    // the code does when it runs, wall time measures the share of the machine it got.
    report.cpu = p.comm.allreduce(cpu_seconds() - cpu_start, mpi::Op::kMax);
    report.cpu_compute = p.comm.allreduce(p.cpu_compute, mpi::Op::kMax);
    report.compute = p.t_compute;
    report.allreduce = p.t_allreduce;
    report.io = p.t_io;
    report.samples_per_second = static_cast<double>(p.n - 0) / std::max(train_seconds, 1e-9);
    if (p.validation != nullptr && p.val_rows > 0) {
      report.has_validation = true;
      report.validation = metrics_of(
          evaluate_model(p.comm, p.model, *p.validation, p.val_begin, p.val_rows), p.model, true);
    }
    report.seconds = earlier + util::now_seconds() - epoch_start;
    state_.epochs_done += 1;
    state_.batches_done = 0;
    state_.partial = LossSums{};
    for (double& s : state_.partial_seconds) s = 0;
    state_.exponents = p.reducer.exponents();
    History& h = state_.history;
    h.append("epoch", static_cast<double>(report.epoch));
    h.append("loss", report.train.loss);
    if (p.model.loss().classification()) {
      h.append("accuracy", report.train.accuracy);
    } else {
      h.append("rmse", report.train.rmse);
      h.append("mae", report.train.mae);
    }
    if (report.has_validation) {
      h.append("val_loss", report.validation.loss);
      if (p.model.loss().classification()) {
        h.append("val_accuracy", report.validation.accuracy);
      } else {
        h.append("val_rmse", report.validation.rmse);
        h.append("val_mae", report.validation.mae);
      }
    }
    h.append("samples_per_s", report.samples_per_second);
    h.append("samples_per_cpu_s", static_cast<double>(p.n) / std::max(report.cpu, 1e-9));
    h.append("time_s", report.seconds);
    h.append("time_compute_s", report.compute);
    h.append("time_allreduce_s", report.allreduce);
    h.append("time_io_s", report.io);
    h.append("cpu_compute_s", report.cpu_compute);
    p.sync_optimizer();
    if (on_epoch) on_epoch(report);
  }
  p.drain();
  return 0;
}

// ---------------------------------------------------------------------------- evaluation

util::Block evaluation_rows(std::int64_t count, int ranks, int rank) {
  const std::int64_t chunks = (count + kEvalChunk - 1) / kEvalChunk;
  const util::Block mine = util::block_of(chunks, ranks, rank);
  const std::int64_t r0 = std::min(count, mine.begin * kEvalChunk);
  const std::int64_t r1 = std::min(count, mine.end() * kEvalChunk);
  return {r0, std::max<std::int64_t>(0, r1 - r0)};
}

LossSums evaluate_model(const mpi::Comm& comm, Model& model, const DataInfo& data,
                        std::int64_t begin, std::int64_t count, std::vector<float>* scores,
                        std::int64_t* first, std::int64_t* local_rows) {
  const FlushDenormals flush;
  const std::int64_t chunks = (count + kEvalChunk - 1) / kEvalChunk;
  const util::Block mine = util::block_of(chunks, comm.size(), comm.rank());
  const util::Block rows = evaluation_rows(count, comm.size(), comm.rank());
  const std::int64_t r0 = rows.begin;
  const std::int64_t r1 = rows.end();
  if (first != nullptr) *first = begin + r0;
  if (local_rows != nullptr) *local_rows = std::max<std::int64_t>(0, r1 - r0);
  std::vector<std::int64_t> slots(static_cast<std::size_t>(5 * chunks), 0);
  const int outputs = model.outputs();
  mpi::guarded(comm, [&] {
    if (data.sample != model.input_shape()) {
      throw UsageError("the model's input is " + model.input_shape().str() + " but '" + data.path +
                       "' has samples of " + data.sample.str());
    }
    if (data.has_outputs && (data.classification != model.loss().classification() ||
                             (data.classification && data.classes > outputs) ||
                             (!data.classification && data.targets != outputs))) {
      throw UsageError("'" + data.path + "' does not fit the model: the model gives " +
                       std::to_string(outputs) + " outputs for a " + model.loss().name() +
                       " loss, the data has " +
                       (data.classification ? std::to_string(data.classes) + " classes"
                                            : std::to_string(data.targets) + " targets"));
    }
    RecordReader reader(data);
    model.reserve(static_cast<int>(kEvalChunk));
    const std::int64_t rb = data.record_bytes();
    std::vector<unsigned char> records(static_cast<std::size_t>(kEvalChunk * rb));
    std::vector<const unsigned char*> pointers(static_cast<std::size_t>(kEvalChunk));
    Buffer<float> x(static_cast<std::size_t>(model.input_shape().size() * kEvalChunk));
    std::vector<std::int32_t> labels(static_cast<std::size_t>(kEvalChunk));
    std::vector<float> targets(
        static_cast<std::size_t>(std::max(outputs, data.targets) * kEvalChunk));
    if (scores != nullptr) scores->assign(static_cast<std::size_t>((r1 - r0) * outputs), 0.0f);
    for (std::int64_t c = mine.begin; c < mine.end(); ++c) {
      const std::int64_t c0 = c * kEvalChunk;
      const int m = static_cast<int>(std::min(kEvalChunk, count - c0));
      reader.read(begin + c0, m, records.data());
      for (int i = 0; i < m; ++i) pointers[i] = records.data() + i * rb;
      unpack_records(data, pointers.data(), m, x.data(), labels.data(), targets.data());
      const float* y = model.forward(x.data(), m, Pass{});
      LossSums s;
      if (data.has_outputs) {
        model.loss().evaluate(y, outputs, m, labels.data(), targets.data(), nullptr, 1.0f, s);
      } else {
        s.samples = m;
      }
      const double v[5] = {s.loss, s.correct, s.abs_err, s.sq_err, s.samples};
      std::memcpy(slots.data() + 5 * c, v, sizeof v);
      if (scores != nullptr) {
        std::copy(y, y + static_cast<std::int64_t>(m) * outputs,
                  scores->begin() + (c0 - r0) * outputs);
      }
    }
  });
  if (comm.size() > 1) comm.allreduce_in_place(slots.data(), slots.size(), mpi::Op::kSum);
  LossSums total;
  for (std::int64_t c = 0; c < chunks; ++c) {
    double v[5];
    std::memcpy(v, slots.data() + 5 * c, sizeof v);
    total.add({v[0], v[1], v[2], v[3], v[4]});
  }
  return total;
}

// ------------------------------------------------------------------------- training files

namespace {
// The unit of a column of /history: the loss and its metrics of a regression are in the unit
// of the training data's /targets (which physfit does not know), its loss in that unit squared.
std::string history_unit(const std::string& key, bool classification) {
  const std::string k = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
  if (k == "loss") return classification ? "dimensionless" : "(unit of /targets)^2";
  if (k == "rmse" || k == "mae") return "unit of /targets";
  if (k == "samples_per_s") return "1/s";
  if (k == "samples_per_cpu_s") return "1/s (per second of CPU time)";
  if (k == "cpu_compute_s") return "s (CPU time)";
  if (k.size() > 2 && k.compare(k.size() - 2, 2, "_s") == 0) return "s";
  return "dimensionless";  // epoch, accuracy (a fraction)
}
}  // namespace

void save_training(const io::File& file, const Model& model, const Optimizer& optimizer,
                   const TrainSettings& settings, const TrainState& state) {
  save_model(file, model);
  const io::Group o = file.create_group("/optimizer");
  const OptimizerSettings& s = optimizer.settings();
  io::set_attribute(o.id(), "type", s.type);
  io::set_attribute(o.id(), "learning_rate", s.learning_rate);
  io::set_attribute(o.id(), "beta1", s.beta1);
  io::set_attribute(o.id(), "beta2", s.beta2);
  io::set_attribute(o.id(), "epsilon", s.epsilon);
  io::set_attribute(o.id(), "momentum", s.momentum);
  io::set_attribute(o.id(), "steps", optimizer.steps());
  if (!optimizer.first_moment().empty()) {
    file.create_dataset<float>("/optimizer/m",
                               {static_cast<std::int64_t>(optimizer.first_moment().size())},
                               "dimensionless")
        .write_all(
            std::vector<float>(optimizer.first_moment().begin(), optimizer.first_moment().end()));
  }
  if (!optimizer.second_moment().empty()) {
    file.create_dataset<float>("/optimizer/v",
                               {static_cast<std::int64_t>(optimizer.second_moment().size())},
                               "dimensionless")
        .write_all(
            std::vector<float>(optimizer.second_moment().begin(), optimizer.second_moment().end()));
  }
  const io::Group t = file.create_group("/training");
  io::set_attribute(t.id(), "epochs_done", state.epochs_done);
  io::set_attribute(t.id(), "batches_done", state.batches_done);
  io::set_attribute(t.id(), "epochs", settings.epochs);
  io::set_attribute(t.id(), "seed", static_cast<std::int64_t>(settings.seed));
  io::set_attribute(t.id(), "batch", settings.batch);
  io::set_attribute(t.id(), "micro_batch", settings.micro());
  io::set_attribute(t.id(), "exponents", state.exponents);
  const LossSums& p = state.partial;
  io::set_attribute(t.id(), "partial_sums",
                    std::vector<double>{p.loss, p.correct, p.abs_err, p.sq_err, p.samples});
  io::set_attribute(t.id(), "partial_seconds",
                    std::vector<double>(state.partial_seconds, state.partial_seconds + 4));
  if (state.history.epochs() > 0) {
    file.create_group("/history");
    const bool classification = model.loss().classification();
    for (const auto& [key, values] : state.history.columns) {
      file.create_dataset<double>("/history/" + key, {static_cast<std::int64_t>(values.size())},
                                  history_unit(key, classification))
          .write_all(values);
    }
  }
}

OptimizerSettings load_optimizer_settings(const io::File& file) {
  if (!file.exists("/optimizer")) {
    throw IoError("'" + file.path() + "' has no /optimizer: it is not a training file");
  }
  const io::Group o = file.group("/optimizer");
  OptimizerSettings s;
  s.type = io::get_string_attribute(o.id(), "type");
  s.learning_rate = io::get_numeric_attribute(o.id(), "learning_rate").at(0);
  s.beta1 = io::get_numeric_attribute(o.id(), "beta1").at(0);
  s.beta2 = io::get_numeric_attribute(o.id(), "beta2").at(0);
  s.epsilon = io::get_numeric_attribute(o.id(), "epsilon").at(0);
  s.momentum = io::get_numeric_attribute(o.id(), "momentum").at(0);
  return s;
}

History load_history(const io::File& file) {
  History h;
  if (!file.exists("/history")) return h;
  for (const char* key : {"epoch", "loss", "accuracy", "rmse", "mae", "val_loss", "val_accuracy",
                          "val_rmse", "val_mae", "samples_per_s", "samples_per_cpu_s", "time_s",
                          "time_compute_s", "time_allreduce_s", "time_io_s", "cpu_compute_s"}) {
    const std::string path = std::string("/history/") + key;
    if (file.exists(path)) h.columns.emplace_back(key, file.dataset(path).read_all<double>());
  }
  return h;
}

void load_training(const io::File& file, Optimizer& optimizer, TrainSettings& settings,
                   TrainState& state) {
  const io::Group o = file.group("/optimizer");
  optimizer.set_steps(io::get_int_attribute(o.id(), "steps"));
  auto read_moment = [&](const char* name, Buffer<float>& into) {
    const std::string path = std::string("/optimizer/") + name;
    if (into.empty()) return;
    if (!file.exists(path)) throw IoError("'" + file.path() + "' lacks " + path);
    const io::Dataset d = file.dataset(path);
    d.require_shape({static_cast<std::int64_t>(into.size())});
    d.read_rows(0, d.rows(), into.data());
  };
  read_moment("m", optimizer.first_moment());
  read_moment("v", optimizer.second_moment());
  const io::Group t = file.group("/training");
  state.epochs_done = io::get_int_attribute(t.id(), "epochs_done");
  state.batches_done = io::get_int_attribute(t.id(), "batches_done");
  settings.seed = static_cast<std::uint64_t>(io::get_int_attribute(t.id(), "seed"));
  settings.batch = io::get_int_attribute(t.id(), "batch");
  settings.micro_batch = io::get_int_attribute(t.id(), "micro_batch");
  state.exponents.clear();
  for (double e : io::get_numeric_attribute(t.id(), "exponents")) {
    state.exponents.push_back(static_cast<std::int64_t>(e));
  }
  const auto p = io::get_numeric_attribute(t.id(), "partial_sums");
  state.partial = {p.at(0), p.at(1), p.at(2), p.at(3), p.at(4)};
  const auto ps = io::get_numeric_attribute(t.id(), "partial_seconds");
  for (int i = 0; i < 4; ++i) state.partial_seconds[i] = ps.at(static_cast<std::size_t>(i));
  state.history = load_history(file);
}

}  // namespace physfit::nn
