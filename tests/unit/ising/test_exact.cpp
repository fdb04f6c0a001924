#include <gtest/gtest.h>

#include <cmath>

#include "physfit/ising/exact.hpp"

using namespace physfit::ising;

// References: K(k) and u(T) by a 200000-point midpoint rule in Python (exact to ~1e-14 for
// this smooth periodic integrand), independent of the AGM used here.

TEST(IsingExact, CriticalTemperatureIsOnsagers) {
  EXPECT_NEAR(critical_temperature(), 2.269185314213022, 1e-14);
}

TEST(IsingExact, EllipticIntegralMatchesKnownValues) {
  EXPECT_NEAR(elliptic_k(0.0), M_PI / 2, 1e-15);
  EXPECT_NEAR(elliptic_k(0.5), 1.685750354812630, 1e-13);  // K(m = 1/4)
  EXPECT_NEAR(elliptic_k(std::sqrt(0.5)), 1.854074677301372, 1e-13);
}

TEST(IsingExact, OnsagerEnergyAtTwoAndThree) {
  EXPECT_NEAR(onsager_energy(2.0), -1.7455645753125533, 1e-12);
  EXPECT_NEAR(onsager_energy(3.0), -0.8173095925024321, 1e-12);
  EXPECT_NEAR(onsager_energy(1.5), -1.9511165730783815, 1e-12);
  // At T_c: -sqrt 2, and continuous there.
  EXPECT_NEAR(onsager_energy(critical_temperature()), -std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(onsager_energy(critical_temperature() * (1 + 1e-9)), -std::sqrt(2.0), 1e-6);
  // Ground state and high-temperature limits.
  EXPECT_NEAR(onsager_energy(0.2), -2.0, 1e-9);
  EXPECT_NEAR(onsager_energy(1000.0), -std::tanh(1e-3) * 2, 1e-5);
}

TEST(IsingExact, YangMagnetization) {
  EXPECT_NEAR(yang_magnetization(1.5), 0.9864996026214945, 1e-13);
  EXPECT_NEAR(yang_magnetization(2.0), 0.911319377877496, 1e-13);
  EXPECT_NEAR(yang_magnetization(0.5), 0.9999997746272086, 1e-15);
  EXPECT_NEAR(yang_magnetization(0.25), 1.0, 1e-12);
  EXPECT_EQ(yang_magnetization(critical_temperature()), 0.0);
  EXPECT_EQ(yang_magnetization(3.0), 0.0);
  // m ~ (T_c - T)^{1/8} close to T_c.
  EXPECT_LT(yang_magnetization(critical_temperature() - 1e-6), 0.25);
}
