#include "physfit/nn/optimizer.hpp"

#include <Eigen/Core>
#include <algorithm>
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
  using Array = Eigen::Map<Eigen::ArrayXf>;
  using ConstArray = Eigen::Map<const Eigen::ArrayXf>;
  // Blocks small enough to stay in the L1 cache between the statements of one update.
  constexpr std::int64_t kBlock = kOptimizerBlock;
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
    for (const auto& r : ranges) {
      const float decay = r.weight ? static_cast<float>(2.0 * l2) : 0.0f;
      // Blocks aligned to multiples of kBlock of the whole buffer: an element is computed by
      // the same code path (vector body or scalar tail) whichever slice of the buffer a
      // rank updates, so sharding the step over ranks does not change the bits.
      for (std::int64_t b = r.offset; b < r.offset + r.count; b = (b / kBlock + 1) * kBlock) {
        const Eigen::Index len = std::min((b / kBlock + 1) * kBlock, r.offset + r.count) - b;
        Array p(params + b, len), m(m_.data() + b, len), v(v_.data() + b, len);
        ConstArray g0(grads + b, len);
        if (decay != 0.0f) {
          m = b1 * m + (1.0f - b1) * (g0 + decay * p);
          v = b2 * v + (1.0f - b2) * (g0 + decay * p).square();
        } else {
          m = b1 * m + (1.0f - b1) * g0;
          v = b2 * v + (1.0f - b2) * g0.square();
        }
        p -= step_size * m / (v.sqrt() * inv_sqrt_c2 + eps);
      }
    }
    return;
  }
  const auto mu = static_cast<float>(settings_.momentum);
  for (const auto& r : ranges) {
    const float decay = r.weight ? static_cast<float>(2.0 * l2) : 0.0f;
    for (std::int64_t b = r.offset; b < r.offset + r.count; b = (b / kBlock + 1) * kBlock) {
      const Eigen::Index len = std::min((b / kBlock + 1) * kBlock, r.offset + r.count) - b;
      Array p(params + b, len);
      ConstArray g(grads + b, len);
      if (mu == 0.0f) {
        p -= lr * (g + decay * p);
      } else {
        Array m(m_.data() + b, len);
        m = mu * m - lr * (g + decay * p);
        p += m;
      }
    }
  }
}

}  // namespace physfit::nn
