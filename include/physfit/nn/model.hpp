#pragma once
/// @file
/// A feed-forward network: a stack of layers, all parameters in one contiguous buffer and all
/// their gradients in another, activation buffers allocated once for the largest batch.

#include <memory>
#include <string>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/nn/layer.hpp"
#include "physfit/nn/loss.hpp"

namespace physfit::nn {

/// What defines a model: its layers, input shape, loss and L2 coefficient.
struct ModelSpec {
  std::vector<std::string> layers;  ///< entries of the `layers` list ("dense 512 relu", ...)
  Shape input;                      ///< shape of one sample
  std::string loss = "cross_entropy";
  double margin = 1.0;  ///< hinge margin Delta
  double l2 = 0.0;      ///< lambda of the L2 term lambda * sum(W^2) (weights, not biases)
};

/// A parameter tensor of the model: where it lives in the parameter buffer.
struct ModelTensor {
  int layer = 0;
  std::string name;  ///< "03_dense/kernel"
  TensorInfo info;   ///< offset is into the model's buffer
};

class Model {
 public:
  /// Builds the layers; throws UsageError naming `where` if a layer is malformed or does not
  /// fit its input, or if the last layer's output does not suit the loss.
  Model(const ModelSpec& spec, const std::string& where = "model");
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const Loss& loss() const { return loss_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  /// The canonical text of each layer ("dense 512", "relu", ...), as saved.
  std::vector<std::string> layer_specs() const;
  const Shape& input_shape() const { return spec_.input; }
  int outputs() const { return static_cast<int>(layers_.back()->output_shape().size()); }
  std::int64_t parameter_count() const { return static_cast<std::int64_t>(params_.size()); }
  float* parameters() { return params_.data(); }
  const float* parameters() const { return params_.data(); }
  float* gradients() { return grads_.data(); }
  const float* gradients() const { return grads_.data(); }
  const std::vector<ModelTensor>& tensors() const { return tensors_; }

  /// Sets every parameter from the seed (Glorot-uniform weights, zero biases).
  void initialize(std::uint64_t seed);
  /// Allocates activations and work space for batches of up to n samples.
  void reserve(int n);
  int reserved() const { return reserved_; }

  /// Forward pass of n samples (x: input size x n); returns the scores (outputs x n), which
  /// stay valid until the next forward().
  const float* forward(const float* x, int n, const Pass& pass);
  /// Backward pass after forward() on the same x: overwrites gradients() with the gradient
  /// of sum_s dL_s/dtheta weighted as in `dscores` (outputs x n).
  void backward(const float* x, const float* dscores, int n, const Pass& pass);
  /// sum of squared weights (the L2 term is spec().l2 times this).
  double weight_square_sum() const;

 private:
  ModelSpec spec_;
  Loss loss_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<ModelTensor> tensors_;
  Buffer<float> params_;
  Buffer<float> grads_;
  std::vector<Buffer<float>> acts_;  // outputs of the layers (empty for a fused ReLU)
  std::vector<float*> out_;          // output of each layer (a fused ReLU's: its conv's)
  std::vector<char> fused_;          // 1: a ReLU whose forward its conv2d does
  std::vector<char> masked_;         // 1: a fused ReLU whose mask the next max-pool applies
  Buffer<float> delta_a_, delta_b_;
  int reserved_ = 0;
};

/// Writes the model under `group` ("/model"): attributes `layers` (canonical layer texts
/// joined by ", "), `input_shape` [h, w, c], `loss`, `margin`, `l2`, `outputs`; the dataset
/// `parameters` (float32 [P], the whole buffer) and, for readers, one dataset per tensor
/// (`layers/00_dense/kernel` [in, out], `bias` [out]; conv kernels [K, K, C_in, C_out]).
/// **Collective** on parallel files (every rank passes the same model).
void save_model(const io::File& file, const Model& model, const std::string& group = "/model");

/// Reads the spec saved by save_model (IoError naming the file if absent or malformed).
ModelSpec load_model_spec(const io::File& file, const std::string& group = "/model");
/// Builds the model saved in `file` and loads its parameters.
std::unique_ptr<Model> load_model(const io::File& file, const std::string& group = "/model");

}  // namespace physfit::nn
