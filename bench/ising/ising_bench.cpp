// Speed of the Ising engine's pieces on one core (CPU time): Philox numbers, Metropolis sweeps,
// Wolff clusters, and measurement. `cmake --build build --target ising_bench &&
// build/bin/ising_bench`
#include <time.h>

#include <cstdio>

#include "physfit/ising/lattice.hpp"
#include "physfit/ising/random.hpp"

using namespace physfit::ising;

namespace {
// CPU time of this process: on a machine shared with other work, wall time measures the load
// more than the code.
double now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

int main() {
  Stream s(1, 0, StreamRole::kTest);
  std::uint32_t sink = 0;
  double t0 = now();
  const int n = 50000000;
  for (int i = 0; i < n; ++i) sink ^= s.next_u32();
  std::printf("Philox4x32-10: %.1f M numbers/s\n", n / (now() - t0) / 1e6);
  for (int size : {16, 32, 64}) {
    for (double t : {1.5, 2.269, 3.0}) {
      Lattice l(size);
      Metropolis m(size, t);
      const int sweeps = 4000 * 64 * 64 / (size * size);
      t0 = now();
      for (int k = 0; k < sweeps; ++k) m.sweep(l, s);
      const double dt = now() - t0;
      Wolff w(size, t);
      l.order();
      std::int64_t flipped = 0;
      int clusters = 0;
      const double t1 = now();
      while (now() - t1 < 0.3) {
        for (int k = 0; k < 100; ++k) flipped += w.step(l, s);
        clusters += 100;
      }
      const double dw = now() - t1;
      t0 = now();
      std::int64_t e = 0;
      for (int k = 0; k < sweeps; ++k) e += l.energy_sum() + l.magnetization_sum();
      const double dm = now() - t0;
      std::printf(
          "L = %2d T = %.3f: Metropolis %.0f sweeps/s (%.0f M spins/s); Wolff %.0f clusters/s "
          "(%.1f M spins/s, mean cluster %.3f N); E and M %.0f /s\n",
          size, t, sweeps / dt, sweeps / dt * size * size / 1e6, clusters / dw,
          static_cast<double>(flipped) / dw / 1e6,
          static_cast<double>(flipped) / clusters / (size * size), sweeps / dm);
      sink ^= static_cast<std::uint32_t>(e);
    }
  }
  return static_cast<int>(sink & 0);
}
