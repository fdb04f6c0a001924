#pragma once
/// @file
/// Equilibrium configurations of the 2-D Ising model at a set of temperatures: per temperature
/// a pilot run measures the integrated autocorrelation times of |m| and E, from which the
/// equilibration and the spacing of the kept samples follow; then independent chains, each
/// with its own counter-based random stream (random.hpp), produce the samples. Everything is a
/// function of (settings, temperature index, chain index): which rank runs a chain does not
/// change its bits. File formats are the command's business (src/cli/generate.cpp).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace physfit::ising {

enum class Algorithm { kWolff, kMetropolis };
/// "wolff" or "metropolis".
const char* algorithm_name(Algorithm algorithm);

/// How the algorithm of each temperature is chosen.
enum class Choice { kAuto, kWolff, kMetropolis };

struct Settings {
  int size = 32;           ///< L (a multiple of 4, so L*L/8 bytes hold a configuration)
  std::uint64_t seed = 1;  ///< the key of every stream
  Choice choice = Choice::kAuto;
  /// kAuto: Wolff when |T - T_c| <= wolff_window, else checkerboard Metropolis (Wolff's small
  /// clusters at high T and the cheap, vectorisable sweeps at low T favour Metropolis there).
  double wolff_window = 0.5;
  std::int64_t pilot_equilibration = 500;  ///< steps before the pilot measures
  std::int64_t pilot_steps = 2000;         ///< measured steps (doubled up to 4 times for a window)
  double equilibration_factor = 20;        ///< equilibration >= factor * tau steps
  std::int64_t min_equilibration = 200;    ///< and at least this many steps
  double spacing_factor = 2;               ///< kept samples >= factor * tau steps apart
};

/// What the pilot decided for one temperature. A step is one sweep (Metropolis) or one
/// cluster flip (Wolff); tau is in steps.
struct TemperaturePlan {
  double temperature = 0;
  Algorithm algorithm = Algorithm::kMetropolis;
  double tau_abs_m = 0.5;   ///< integrated autocorrelation time of |m|
  double tau_energy = 0.5;  ///< of E
  bool converged = true;    ///< both windows were found
  std::int64_t pilot_steps = 0;
  std::int64_t equilibration = 0;  ///< steps before the first sample
  std::int64_t spacing = 1;        ///< steps between samples
  double mean_cluster = 0;         ///< Wolff: mean cluster size / N over the pilot (else 0)
};

/// The algorithm `settings` picks at `temperature`.
Algorithm choose_algorithm(const Settings& settings, double temperature);

/// Time series of one run, per spin: |m| and E / N after each step.
struct Series {
  std::vector<double> abs_m;
  std::vector<double> energy;
  double mean_cluster = 0;  ///< Wolff: mean cluster size / N
};

/// Runs `equilibration` then `steps` steps of `algorithm` at `temperature` on stream
/// (seed, index, role) from an ordered (T < T_c) or random start, recording each step.
Series measure(int size, double temperature, Algorithm algorithm, std::uint64_t seed,
               std::uint32_t index, std::uint32_t role, std::int64_t equilibration,
               std::int64_t steps);

/// The pilot run of temperature number `index`, and what follows from it.
TemperaturePlan plan_temperature(const Settings& settings, double temperature, std::uint32_t index);

/// Samples of one chain: packed spins (packed_bytes(L) each, lattice.hpp), E / N and m / N.
struct Samples {
  std::vector<std::uint8_t> spins;
  std::vector<double> energy;
  std::vector<double> magnetization;
};

/// One chain, sample by sample: the same samples as run_chain() (which uses it), for callers
/// that write in rounds and must stop generating between two samples of a chain.
class Chain {
 public:
  /// Starts chain `chain` (a global index: temperature * chains per temperature + chain) of
  /// `plan` and runs its plan.equilibration steps.
  Chain(const Settings& settings, const TemperaturePlan& plan, std::uint32_t chain);
  ~Chain();
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;
  /// Runs plan.spacing steps, flips the lattice with probability 1/2 and appends the sample
  /// to `out`.
  void next(Samples& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Runs chain `chain` (a global index: temperature * chains per temperature + chain) of `plan`
/// and appends `count` samples to `out`. Each kept sample is preceded by plan.spacing steps and
/// by a global flip with probability 1/2 (exact symmetry; both signs of m at low T, where
/// Metropolis never reverses the magnetisation). `after_sample` runs after each sample (stop
/// requests, progress).
void run_chain(const Settings& settings, const TemperaturePlan& plan, std::uint32_t chain,
               std::int64_t count, Samples& out, const std::function<void()>& after_sample = {});

}  // namespace physfit::ising
