#pragma once
// Finite-difference checks of layer gradients: L = sum(r .* Y) for a fixed random r, so
// dL/dY = r; the analytic dL/dX and dL/dtheta from backward() are compared with central
// differences of L computed in double from the float forward pass.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "physfit/nn/layer.hpp"
#include "physfit/nn/random.hpp"

namespace physfit::nn::test {

inline std::vector<float> random_values(std::size_t n, std::uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  const std::uint64_t key = hash_key(seed, Stream::kSplit, 99);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(hash_at(key, i));
  return v;
}

/// Values in [lo, hi] with magnitude at least `gap` (keeps ReLU and max away from kinks).
inline std::vector<float> random_away_from_zero(std::size_t n, std::uint64_t seed, float gap) {
  std::vector<float> v = random_values(n, seed, -1.0f, 1.0f);
  for (auto& x : v) x = x >= 0 ? x + gap : x - gap;
  return v;
}

struct GradCheckResult {
  double max_input_error = 0;
  double max_param_error = 0;
  int checked = 0;
};

/// Checks `layer` (already connected and, if it has parameters, bound to `params`/`grads`)
/// on n samples of input `x`. Relative error: |fd - an| / max(1, |an|, |fd|).
inline GradCheckResult check_layer(Layer& layer, std::vector<float> x, int n, const Pass& pass,
                                   std::vector<float>* params, double h = 1e-2) {
  const std::size_t in = static_cast<std::size_t>(layer.input_shape().size());
  const std::size_t out = static_cast<std::size_t>(layer.output_shape().size());
  layer.reserve(n);
  std::vector<float> y(out * n), dx(in * n);
  const std::vector<float> r = random_values(out * n, 7, -1.0f, 1.0f);
  auto objective = [&]() {
    layer.forward(x.data(), y.data(), n, pass);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += static_cast<double>(r[i]) * y[i];
    return s;
  };
  objective();
  layer.backward(x.data(), y.data(), r.data(), dx.data(), n, pass);
  std::vector<float> grads;
  if (params != nullptr) {
    // The layer's gradient buffer follows its parameters in the test's storage.
    grads.assign(params->begin() + static_cast<std::ptrdiff_t>(params->size() / 2), params->end());
  }
  GradCheckResult res;
  auto err = [](double fd, double an) {
    return std::fabs(fd - an) / std::max({1.0, std::fabs(an), std::fabs(fd)});
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + static_cast<float>(h);
    const double plus = objective();
    x[i] = saved - static_cast<float>(h);
    const double minus = objective();
    x[i] = saved;
    const double fd = (plus - minus) / (static_cast<double>(saved + static_cast<float>(h)) -
                                        static_cast<double>(saved - static_cast<float>(h)));
    res.max_input_error = std::max(res.max_input_error, err(fd, dx[i]));
    ++res.checked;
  }
  if (params != nullptr) {
    const std::size_t count = params->size() / 2;
    for (std::size_t i = 0; i < count; ++i) {
      float& p = (*params)[i];
      const float saved = p;
      p = saved + static_cast<float>(h);
      const double plus = objective();
      p = saved - static_cast<float>(h);
      const double minus = objective();
      p = saved;
      const double fd = (plus - minus) / (static_cast<double>(saved + static_cast<float>(h)) -
                                          static_cast<double>(saved - static_cast<float>(h)));
      res.max_param_error = std::max(res.max_param_error, err(fd, grads[i]));
      ++res.checked;
    }
  }
  return res;
}

}  // namespace physfit::nn::test
