#include <gtest/gtest.h>

#include <cmath>

#include "physfit/ising/autocorrelation.hpp"
#include "physfit/ising/exact.hpp"
#include "physfit/ising/generate.hpp"
#include "physfit/ising/random.hpp"

using namespace physfit::ising;

namespace {

constexpr auto kTestRole = static_cast<std::uint32_t>(StreamRole::kTest);

struct Estimate {
  AutocorrelationTime abs_m, energy;
};

Estimate run(Algorithm a, double t, std::int64_t equilibration, std::int64_t steps) {
  const Series s = measure(32, t, a, 2026, 0, kTestRole, equilibration, steps);
  return {integrated_time(s.abs_m), integrated_time(s.energy)};
}

// |mean - exact| within 4 standard errors (error bars from the measured tau), and the window
// found (so the error bar is trustworthy).
void expect_within_4_sigma(const AutocorrelationTime& a, double exact, const char* what) {
  EXPECT_TRUE(a.converged) << what << ": tau " << a.tau << " window " << a.window;
  EXPECT_LT(std::fabs(a.mean - exact), 4 * a.standard_error())
      << what << ": " << a.mean << " +- " << a.standard_error() << " (tau " << a.tau
      << ") vs exact " << exact;
}

}  // namespace

TEST(IsingAutocorrelation, MatchesTheExactTimeOfAnAr1Process) {
  // x_t = phi x_{t-1} + noise: tau_int = (1 + phi) / (2 (1 - phi)) = 4.5 for phi = 0.8.
  Stream s(11, 0, StreamRole::kTest);
  std::vector<double> x(200000);
  double v = 0;
  for (auto& xi : x) {
    v = 0.8 * v + (s.next_double() - 0.5);
    xi = v;
  }
  const AutocorrelationTime a = integrated_time(x);
  EXPECT_TRUE(a.converged);
  EXPECT_NEAR(a.tau, 4.5, 0.3);
  std::vector<double> white(100000);
  for (auto& w : white) w = s.next_double();
  EXPECT_NEAR(integrated_time(white).tau, 0.5, 0.05);
}

// L = 32: at T = 1.5 (xi < 1) and T = 3.0 (xi ~ 1) the finite-size corrections to u and to
// |m| below T_c are of order exp(-L / xi), far below the error bars.
TEST(IsingSampling, MetropolisReproducesOnsagerAndYangAtLowTemperature) {
  const Estimate e = run(Algorithm::kMetropolis, 1.5, 500, 20000);
  expect_within_4_sigma(e.energy, onsager_energy(1.5), "Metropolis u(1.5)");
  expect_within_4_sigma(e.abs_m, yang_magnetization(1.5), "Metropolis |m|(1.5)");
}

TEST(IsingSampling, WolffReproducesOnsagerAndYangAtLowTemperature) {
  const Estimate e = run(Algorithm::kWolff, 1.5, 500, 20000);
  expect_within_4_sigma(e.energy, onsager_energy(1.5), "Wolff u(1.5)");
  expect_within_4_sigma(e.abs_m, yang_magnetization(1.5), "Wolff |m|(1.5)");
}

// Above T_c a finite lattice has <|m|> ~ sqrt(chi T / N), not Yang's 0: the two algorithms
// must agree with each other within 4 combined standard errors, and |m| be small.
TEST(IsingSampling, MetropolisAndWolffReproduceOnsagerAndAgreeOnMAtHighTemperature) {
  const Estimate m = run(Algorithm::kMetropolis, 3.0, 500, 40000);
  const Estimate w = run(Algorithm::kWolff, 3.0, 5000, 400000);
  expect_within_4_sigma(m.energy, onsager_energy(3.0), "Metropolis u(3.0)");
  expect_within_4_sigma(w.energy, onsager_energy(3.0), "Wolff u(3.0)");
  EXPECT_TRUE(m.abs_m.converged);
  EXPECT_TRUE(w.abs_m.converged);
  const double se = std::hypot(m.abs_m.standard_error(), w.abs_m.standard_error());
  EXPECT_LT(std::fabs(m.abs_m.mean - w.abs_m.mean), 4 * se)
      << "Metropolis " << m.abs_m.mean << " Wolff " << w.abs_m.mean << " +- " << se;
  EXPECT_LT(m.abs_m.mean, 0.1);
}

TEST(IsingSampling, PilotChoosesWolffNearTcAndFindsShortTimes) {
  Settings s;
  s.size = 32;
  const TemperaturePlan near = plan_temperature(s, 2.3, 0);
  EXPECT_EQ(near.algorithm, Algorithm::kWolff);
  EXPECT_TRUE(near.converged);
  const TemperaturePlan low = plan_temperature(s, 1.2, 1);
  EXPECT_EQ(low.algorithm, Algorithm::kMetropolis);
  EXPECT_TRUE(low.converged);
  EXPECT_GE(low.spacing, 1);
  EXPECT_GE(low.equilibration, s.min_equilibration);
  EXPECT_GE(static_cast<double>(near.spacing), 2 * std::max(near.tau_abs_m, near.tau_energy));
}
