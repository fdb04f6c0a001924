#include "physfit/nn/optimizer.hpp"

#include <cmath>

#include "physfit/error.hpp"

namespace physfit::nn {

Optimizer::Optimizer(const OptimizerSettings& settings, std::int64_t parameters)
    : settings_(settings) {
  if (settings_.type != "adam" && settings_.type != "sgd") {
    throw UsageError("unknown optimizer '" + settings_.type + "' (expected adam or sgd)");
  }
  const bool needs_m = settings_.type == "adam" || settings_.momentum != 0.0;
  m_.assign(needs_m ? static_cast<std::size_t>(parameters) : 0, 0.0f);
  v_.assign(settings_.type == "adam" ? static_cast<std::size_t>(parameters) : 0, 0.0f);
}

void Optimizer::step(float* params, const float* grads, const std::vector<ParameterRange>& ranges,
                     double l2) {
  ++steps_;
  const auto lr = static_cast<float>(settings_.learning_rate);
  if (settings_.type == "adam") {
    const auto b1 = static_cast<float>(settings_.beta1);
    const auto b2 = static_cast<float>(settings_.beta2);
    const auto eps = static_cast<float>(settings_.epsilon);
    const double t = static_cast<double>(steps_);
    const auto step_size =
        static_cast<float>(settings_.learning_rate / (1.0 - std::pow(settings_.beta1, t)));
    const auto inv_sqrt_c2 =
        static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(settings_.beta2, t)));
    float* m = m_.data();
    float* v = v_.data();
    for (const auto& r : ranges) {
      const float decay = r.weight ? static_cast<float>(2.0 * l2) : 0.0f;
      for (std::int64_t i = r.offset; i < r.offset + r.count; ++i) {
        const float g = grads[i] + decay * params[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
      }
    }
    (void)lr;
    return;
  }
  const auto mu = static_cast<float>(settings_.momentum);
  for (const auto& r : ranges) {
    const float decay = r.weight ? static_cast<float>(2.0 * l2) : 0.0f;
    if (mu == 0.0f) {
      for (std::int64_t i = r.offset; i < r.offset + r.count; ++i) {
        params[i] -= lr * (grads[i] + decay * params[i]);
      }
    } else {
      float* m = m_.data();
      for (std::int64_t i = r.offset; i < r.offset + r.count; ++i) {
        m[i] = mu * m[i] - lr * (grads[i] + decay * params[i]);
        params[i] += m[i];
      }
    }
  }
}

}  // namespace physfit::nn
