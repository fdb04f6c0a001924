#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "physfit/ising/transition.hpp"

using namespace physfit::ising;

namespace {

// A logistic step P(T) = 1 / (1 + exp((T - t0) / w)).
double step(double t, double t0, double w) { return 1.0 / (1.0 + std::exp((t - t0) / w)); }

}  // namespace

TEST(IsingTransition, CurveGroupsByTemperatureWithMeanAndStandardError) {
  // Two temperatures, given out of order: mean and sample std / sqrt(n) by hand.
  const Curve c = curve_of(16, {2.5, 1.0, 2.5, 1.0, 2.5}, {0.0, 1.0, 0.5, 0.5, 1.0});
  ASSERT_EQ(c.temperature, (std::vector<double>{1.0, 2.5}));
  EXPECT_EQ(c.count, (std::vector<std::int64_t>{2, 3}));
  EXPECT_DOUBLE_EQ(c.probability[0], 0.75);
  EXPECT_DOUBLE_EQ(c.probability[1], 0.5);
  EXPECT_NEAR(c.error[0], std::sqrt(0.125 / 2), 1e-15);  // var = (0.0625 * 2) / 1
  EXPECT_NEAR(c.error[1], std::sqrt(0.25 / 3), 1e-15);   // var = (0.25 + 0 + 0.25) / 2
  EXPECT_THROW(curve_of(16, {1.0}, {0.5, 0.5}), std::invalid_argument);
  EXPECT_THROW(curve_of(16, {1.0}, {std::nan("")}), std::invalid_argument);
}

TEST(IsingTransition, TheCrossingOfAnExactLogisticStepIsItsCentre) {
  // logit P is exactly linear in T: the fit recovers t0 to rounding, whatever the grid.
  Curve c;
  for (double t = 1.0; t <= 3.5 + 1e-9; t += 0.05) {
    c.temperature.push_back(t);
    c.probability.push_back(step(t, 2.3137, 0.04));
    c.error.push_back(0.01);
    c.count.push_back(1000);
  }
  const Crossing x = crossing_of(c, 0.05);
  ASSERT_TRUE(x.found) << x.note;
  EXPECT_NEAR(x.temperature, 2.3137, 1e-9);
  EXPECT_GE(x.points, 2);
}

TEST(IsingTransition, CrossingErrorsCoverTheTruthAsOftenAsGaussianErrorsShould) {
  // 400 noisy curves (binomial means of n samples): |T - t0| < 2 sigma in about 95 % of them.
  std::mt19937_64 rng(7);
  const int n = 400, trials = 400;
  int within = 0;
  double worst = 0;
  for (int k = 0; k < trials; ++k) {
    Curve c;
    for (double t = 2.0; t <= 2.6 + 1e-9; t += 0.025) {
      const double p = step(t, 2.3, 0.06);
      std::binomial_distribution<int> draw(n, p);
      const double mean = static_cast<double>(draw(rng)) / n;
      c.temperature.push_back(t);
      c.probability.push_back(mean);
      c.error.push_back(std::sqrt(mean * (1 - mean) / (n - 1)));
      c.count.push_back(n);
    }
    const Crossing x = crossing_of(c, 0.05);
    ASSERT_TRUE(x.found) << x.note;
    within += std::abs(x.temperature - 2.3) < 2 * x.error;
    worst = std::max(worst, std::abs(x.temperature - 2.3) / x.error);
  }
  EXPECT_GT(within, 0.90 * trials);
  EXPECT_LT(within, 0.995 * trials);  // errors not inflated either
  EXPECT_LT(worst, 5.0);
}

TEST(IsingTransition, NoCrossingIsSaidNotGuessed) {
  Curve c;
  for (int i = 0; i < 5; ++i) {
    c.temperature.push_back(1.0 + i);
    c.probability.push_back(0.9);
    c.error.push_back(0.01);
    c.count.push_back(100);
  }
  Crossing x = crossing_of(c);
  EXPECT_FALSE(x.found);
  EXPECT_NE(x.note.find("at least 1/2 up to the highest temperature"), std::string::npos);
  for (auto& p : c.probability) p = 0.1;
  x = crossing_of(c);
  EXPECT_FALSE(x.found);
  EXPECT_NE(x.note.find("below 1/2 at every temperature"), std::string::npos);
}

TEST(IsingTransition, ExtrapolationOfExactFiniteSizeCrossingsIsExact) {
  // T(L) = 2.269185 + 0.93 / L exactly: the fit returns T_c and a.
  std::vector<Crossing> cs(3);
  const std::vector<int> sizes = {16, 32, 64};
  for (std::size_t i = 0; i < 3; ++i) {
    cs[i].found = true;
    cs[i].temperature = 2.269185 + 0.93 / sizes[i];
    cs[i].error = 0.002 * (i + 1);
  }
  const Extrapolation e = extrapolate(sizes, cs, 1.0);
  ASSERT_TRUE(e.found);
  EXPECT_NEAR(e.critical_temperature, 2.269185, 1e-12);
  EXPECT_NEAR(e.slope, 0.93, 1e-10);
  EXPECT_EQ(e.sizes, 3);
  // With nu = 2 (T(L) = T_c + a L^(-1/2)) the same data give another intercept.
  EXPECT_GT(std::abs(extrapolate(sizes, cs, 2.0).critical_temperature - 2.269185), 1e-3);
}

TEST(IsingTransition, ExtrapolationErrorOfTwoSizesIsThePropagatedError) {
  // Two points: T_c = (x2 T1 - x1 T2) / (x2 - x1), x = 1/L; its variance by propagation.
  std::vector<Crossing> cs(2);
  cs[0] = {true, 2.33, 0.004, 2, 0, ""};
  cs[1] = {true, 2.30, 0.003, 2, 0, ""};
  const Extrapolation e = extrapolate({16, 32}, cs, 1.0);
  ASSERT_TRUE(e.found);
  const double x1 = 1.0 / 16, x2 = 1.0 / 32;
  EXPECT_NEAR(e.critical_temperature, (x2 * 2.33 - x1 * 2.30) / (x2 - x1), 1e-12);
  const double d1 = x2 / (x2 - x1), d2 = -x1 / (x2 - x1);
  EXPECT_NEAR(e.critical_error, std::sqrt(d1 * d1 * 0.004 * 0.004 + d2 * d2 * 0.003 * 0.003),
              1e-12);
  // One size, or two with the same L, is no extrapolation.
  EXPECT_FALSE(extrapolate({16}, {cs[0]}, 1.0).found);
  EXPECT_FALSE(extrapolate({16, 16}, cs, 1.0).found);
  EXPECT_THROW(extrapolate({16}, cs, 1.0), std::invalid_argument);
}

TEST(IsingTransition, AnEnsembleAveragesItsCurvesAndAddsTheirSpreadToTheError) {
  Curve a, b;
  a.size = b.size = 16;
  a.temperature = b.temperature = {2.0, 2.5};
  a.probability = {0.9, 0.2};
  b.probability = {0.7, 0.2};
  a.error = b.error = {0.03, 0.04};
  a.count = b.count = {100, 100};
  const Curve e = ensemble_of({a, b});
  EXPECT_DOUBLE_EQ(e.probability[0], 0.8);
  EXPECT_DOUBLE_EQ(e.probability[1], 0.2);
  // error^2 = mean error^2 + between-variance / K: 0.03^2 + 0.02 / 2; 0.04^2 + 0.
  EXPECT_NEAR(e.error[0], std::sqrt(0.0009 + 0.02 / 2), 1e-12);
  EXPECT_NEAR(e.error[1], 0.04, 1e-12);
  EXPECT_EQ(e.count, (std::vector<std::int64_t>{200, 200}));
  b.temperature = {2.0, 2.6};
  EXPECT_THROW(ensemble_of({a, b}), std::invalid_argument);
}
