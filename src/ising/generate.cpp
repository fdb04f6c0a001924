#include "physfit/ising/generate.hpp"

#include <algorithm>
#include <cmath>

#include "physfit/error.hpp"
#include "physfit/ising/autocorrelation.hpp"
#include "physfit/ising/exact.hpp"
#include "physfit/ising/lattice.hpp"
#include "physfit/ising/random.hpp"

namespace physfit::ising {
namespace {

// One step of either algorithm; returns the cluster size (Wolff) or 0.
class Updater {
 public:
  Updater(int size, double temperature, Algorithm algorithm)
      : algorithm_(algorithm), wolff_(size, temperature), metropolis_(size, temperature) {}
  std::int64_t step(Lattice& lattice, Stream& stream) {
    if (algorithm_ == Algorithm::kWolff) return wolff_.step(lattice, stream);
    metropolis_.sweep(lattice, stream);
    return 0;
  }

 private:
  Algorithm algorithm_;
  Wolff wolff_;
  Metropolis metropolis_;
};

void start(Lattice& lattice, double temperature, Stream& stream) {
  if (temperature < critical_temperature()) {
    lattice.order();
  } else {
    lattice.randomize(stream);
  }
}

}  // namespace

const char* algorithm_name(Algorithm algorithm) {
  return algorithm == Algorithm::kWolff ? "wolff" : "metropolis";
}

Algorithm choose_algorithm(const Settings& settings, double temperature) {
  switch (settings.choice) {
    case Choice::kWolff:
      return Algorithm::kWolff;
    case Choice::kMetropolis:
      return Algorithm::kMetropolis;
    case Choice::kAuto:
      break;
  }
  return std::fabs(temperature - critical_temperature()) <= settings.wolff_window
             ? Algorithm::kWolff
             : Algorithm::kMetropolis;
}

Series measure(int size, double temperature, Algorithm algorithm, std::uint64_t seed,
               std::uint32_t index, std::uint32_t role, std::int64_t equilibration,
               std::int64_t steps) {
  Lattice lattice(size);
  Stream stream(seed, index, static_cast<StreamRole>(role));
  start(lattice, temperature, stream);
  Updater updater(size, temperature, algorithm);
  for (std::int64_t k = 0; k < equilibration; ++k) updater.step(lattice, stream);
  Series s;
  s.abs_m.reserve(static_cast<std::size_t>(steps));
  s.energy.reserve(static_cast<std::size_t>(steps));
  const auto n = static_cast<double>(lattice.sites());
  double cluster = 0;
  for (std::int64_t k = 0; k < steps; ++k) {
    cluster += static_cast<double>(updater.step(lattice, stream));
    s.abs_m.push_back(std::fabs(static_cast<double>(lattice.magnetization_sum())) / n);
    s.energy.push_back(static_cast<double>(lattice.energy_sum()) / n);
  }
  s.mean_cluster = steps > 0 ? cluster / static_cast<double>(steps) / n : 0.0;
  return s;
}

TemperaturePlan plan_temperature(const Settings& settings, double temperature,
                                 std::uint32_t index) {
  if (settings.size < 4 || settings.size % 4 != 0) {
    throw UsageError("lattice.size " + std::to_string(settings.size) +
                     ": L must be a multiple of 4 (and >= 4), so that L*L spins fill whole bytes");
  }
  TemperaturePlan p;
  p.temperature = temperature;
  p.algorithm = choose_algorithm(settings, temperature);
  std::int64_t steps = settings.pilot_steps;
  for (int attempt = 0;; ++attempt) {
    const Series s = measure(settings.size, temperature, p.algorithm, settings.seed, index,
                             static_cast<std::uint32_t>(StreamRole::kPilot),
                             settings.pilot_equilibration, steps);
    const AutocorrelationTime m = integrated_time(s.abs_m), e = integrated_time(s.energy);
    p.tau_abs_m = m.tau;
    p.tau_energy = e.tau;
    p.mean_cluster = s.mean_cluster;
    p.pilot_steps = steps;
    const double tau = std::max(m.tau, e.tau);
    // A window found, and a series of at least 50 tau (Sokal's rule of thumb).
    p.converged = m.converged && e.converged && static_cast<double>(steps) >= 50 * tau;
    if (p.converged || attempt == 4) break;
    steps *= 2;
  }
  const double tau = std::max(p.tau_abs_m, p.tau_energy);
  p.equilibration = std::max<std::int64_t>(
      settings.min_equilibration,
      static_cast<std::int64_t>(std::ceil(settings.equilibration_factor * tau)));
  p.spacing = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(settings.spacing_factor * tau)));
  return p;
}

struct Chain::Impl {
  Impl(const Settings& settings, const TemperaturePlan& p, std::uint32_t chain)
      : plan(p),
        lattice(settings.size),
        stream(settings.seed, chain, StreamRole::kChain),
        updater(settings.size, p.temperature, p.algorithm) {}
  TemperaturePlan plan;
  Lattice lattice;
  Stream stream;
  Updater updater;
};

Chain::Chain(const Settings& settings, const TemperaturePlan& plan, std::uint32_t chain)
    : impl_(std::make_unique<Impl>(settings, plan, chain)) {
  Impl& c = *impl_;
  start(c.lattice, plan.temperature, c.stream);
  for (std::int64_t k = 0; k < plan.equilibration; ++k) c.updater.step(c.lattice, c.stream);
}

Chain::~Chain() = default;

void Chain::next(Samples& out) {
  Impl& c = *impl_;
  for (std::int64_t k = 0; k < c.plan.spacing; ++k) c.updater.step(c.lattice, c.stream);
  if (c.stream.next_u32() & 1u) c.lattice.flip_all();
  const std::size_t bytes = static_cast<std::size_t>(packed_bytes(c.lattice.size()));
  const std::size_t first = out.spins.size();
  out.spins.resize(first + bytes);
  pack(c.lattice, out.spins.data() + first);
  const auto n = static_cast<double>(c.lattice.sites());
  out.energy.push_back(static_cast<double>(c.lattice.energy_sum()) / n);
  out.magnetization.push_back(static_cast<double>(c.lattice.magnetization_sum()) / n);
}

void run_chain(const Settings& settings, const TemperaturePlan& plan, std::uint32_t chain,
               std::int64_t count, Samples& out, const std::function<void()>& after_sample) {
  Chain c(settings, plan, chain);
  const std::int64_t bytes = packed_bytes(settings.size);
  out.spins.reserve(out.spins.size() + static_cast<std::size_t>(count * bytes));
  for (std::int64_t k = 0; k < count; ++k) {
    c.next(out);
    if (after_sample) after_sample();
  }
}

}  // namespace physfit::ising
