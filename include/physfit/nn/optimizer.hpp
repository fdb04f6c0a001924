#pragma once
/// @file
/// Optimisers acting on the model's one contiguous parameter buffer.

#include <cstdint>
#include <string>
#include <vector>

#include "physfit/nn/layer.hpp"

namespace physfit::nn {

/// The optimisers update the buffer in blocks of this many elements, aligned to multiples of
/// it; a slice that starts and ends on such multiples is updated with the same bits as the
/// whole buffer.
constexpr std::int64_t kOptimizerBlock = 1024;

/// Settings of an optimiser.
struct OptimizerSettings {
  std::string type = "adam";  ///< "adam" or "sgd"
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double momentum = 0.0;  ///< SGD only (0: plain mini-batch SGD)
};

/// A range of the parameter buffer and its L2 coefficient (weights: lambda; biases: 0).
struct ParameterRange {
  std::int64_t offset = 0;
  std::int64_t count = 0;
  bool weight = true;
};

/// SGD with optional momentum (v = mu v - lr g; p += v), or Adam (Kingma and Ba, "Adam: a
/// method for stochastic optimization", ICLR 2015) with bias-corrected moments, in the form
/// PyTorch uses: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
///
/// The L2 term lambda * sum(W^2) of the loss adds 2 lambda W to the gradient of each weight
/// (not of biases); step() applies it in the same pass over the buffers.
class Optimizer {
 public:
  Optimizer(const OptimizerSettings& settings, std::int64_t parameters);
  const OptimizerSettings& settings() const { return settings_; }
  /// Steps taken so far (Adam's t).
  std::int64_t steps() const { return steps_; }
  /// One update of `params` from the mean gradient `grads`.
  void step(float* params, const float* grads, const std::vector<ParameterRange>& ranges,
            double l2);
  /// Moments (Adam: m and v; SGD with momentum: m is the velocity), for saving and loading.
  Buffer<float>& first_moment() { return m_; }
  Buffer<float>& second_moment() { return v_; }
  const Buffer<float>& first_moment() const { return m_; }
  const Buffer<float>& second_moment() const { return v_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  OptimizerSettings settings_;
  std::int64_t steps_ = 0;
  Buffer<float> m_;
  Buffer<float> v_;
};

}  // namespace physfit::nn
