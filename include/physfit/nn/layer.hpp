#pragma once
/// @file
/// Layers of a feed-forward network. A mini-batch of n samples is a column-major matrix with
/// one column per sample (Eigen's layout: a batch is one contiguous block). Images are stored
/// per sample as height x width x channels with the channel fastest (HWC, Keras'
/// `channels_last`), so a convolution over a whole batch is one matrix product.
///
/// A layer computes Y = F(X) in forward() and, in backward(), the gradient of the loss with
/// respect to its input (dX, skipped when the caller passes null) and to its parameters. A
/// layer's parameters and their gradients are views into two contiguous buffers owned by the
/// Model, so the trainer reduces every gradient with one call. backward() overwrites the
/// parameter gradients with those of the n samples it is given.
///
/// Buffers are allocated once (reserve()); forward and backward never allocate.

#include <Eigen/Core>
#include <Eigen/StdVector>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace physfit::nn {

namespace detail {
struct DirectConv;
}

/// Column-major float matrix and a view of one.
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;

/// A buffer aligned to the widest SIMD register (64 bytes with AVX-512). Every buffer handed
/// to Eigen is one: some of Eigen's kernels peel leading elements up to an aligned address, so
/// their summation order, hence their bits, depend on where a buffer starts. Aligned buffers
/// and offsets fixed by the model make them the same in every run and on every rank.
template <class T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

/// Shape of one sample: height x width x channels (a vector of F features is 1 x 1 x F).
struct Shape {
  int h = 1;
  int w = 1;
  int c = 1;
  std::int64_t size() const { return static_cast<std::int64_t>(h) * w * c; }
  bool flat() const { return h == 1 && w == 1; }
  /// "28x28x1" or "512".
  std::string str() const;
  bool operator==(const Shape& o) const { return h == o.h && w == o.w && c == o.c; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

/// What a forward or backward pass needs besides the data.
struct Pass {
  bool training = false;                  ///< dropout is active only in training
  std::uint64_t seed = 0;                 ///< run seed (dropout masks)
  std::uint64_t epoch = 0;                ///< epoch (dropout masks)
  const std::int64_t* samples = nullptr;  ///< global index of each of the n samples, or null
};

/// A named parameter tensor of a layer, as saved in model files.
struct TensorInfo {
  std::string name;                 ///< "kernel", "bias"
  std::vector<std::int64_t> shape;  ///< row-major shape of the saved array
  std::int64_t offset = 0;          ///< first element in the layer's parameters
  std::int64_t count = 0;           ///< number of elements
  bool weight = true;               ///< true for weights (L2 applies), false for biases
};

/// Base of every layer.
class Layer {
 public:
  virtual ~Layer() = default;
  /// "dense", "relu", "conv2d", ...
  virtual std::string kind() const = 0;
  /// The layer as written in a model's `layers` list ("dense 512", "dropout 0.2").
  virtual std::string spec() const = 0;

  /// Connects the layer to its input shape and returns its output shape. `index` is the
  /// layer's position in the model (it keys the layer's random streams). Throws UsageError
  /// when the input does not fit the layer.
  Shape connect(const Shape& input, int index);
  const Shape& input_shape() const { return input_; }
  const Shape& output_shape() const { return output_; }
  int index() const { return index_; }

  /// Number of parameters (weights then biases).
  virtual std::int64_t parameter_count() const { return 0; }
  /// The parameter tensors, in the order of the parameter buffer.
  virtual std::vector<TensorInfo> tensors() const { return {}; }
  /// Points the layer at its slice of the model's parameter and gradient buffers.
  void bind(float* parameters, float* gradients) {
    params_ = parameters;
    grads_ = gradients;
  }
  /// Sets initial parameters (Glorot-uniform weights, zero biases) from the seed.
  virtual void initialize(std::uint64_t seed) {}
  /// Allocates the layer's work space for batches of up to `n` samples.
  virtual void reserve(int n) {}
  /// Y = F(X) for n samples: x is input_shape().size() x n, y is output_shape().size() x n.
  virtual void forward(const float* x, float* y, int n, const Pass& pass) = 0;
  /// Given X, Y and dL/dY, writes dL/dX into dx (unless null) and overwrites the parameter
  /// gradients with dL/dparameters for these n samples.
  virtual void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                        const Pass& pass) = 0;

 protected:
  virtual Shape infer(const Shape& input) = 0;
  Shape input_;
  Shape output_;
  int index_ = 0;
  float* params_ = nullptr;
  float* grads_ = nullptr;
};

/// Fully connected layer Y = W X + b (W is outputs x inputs). Any input shape is flattened.
class Dense : public Layer {
 public:
  explicit Dense(int units);
  std::string kind() const override { return "dense"; }
  std::string spec() const override;
  std::int64_t parameter_count() const override;
  std::vector<TensorInfo> tensors() const override;
  void initialize(std::uint64_t seed) override;
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;

 protected:
  Shape infer(const Shape& input) override;

 private:
  int units_;
};

/// Element-wise activation functions.
class Activation : public Layer {
 public:
  enum class Function { kRelu, kSigmoid, kTanh };
  explicit Activation(Function f) : f_(f) {}
  std::string kind() const override;
  std::string spec() const override { return kind(); }
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;

 protected:
  Shape infer(const Shape& input) override { return input; }

 private:
  Function f_;
};

/// Inverted dropout (Srivastava et al., JMLR 15, 2014): in training each element is kept with
/// probability 1 - p and scaled by 1 / (1 - p); at inference the layer is the identity. The
/// mask of an element is a hash of (seed, epoch, layer, global sample index, feature), so it
/// does not depend on which rank processes the sample.
class Dropout : public Layer {
 public:
  explicit Dropout(double rate);
  std::string kind() const override { return "dropout"; }
  std::string spec() const override;
  void reserve(int n) override;
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;
  double rate() const { return rate_; }

 protected:
  Shape infer(const Shape& input) override { return input; }

 private:
  double rate_;
  Buffer<float> mask_;  // scale (0 or 1/(1-p)) of each element of the last training pass
};

/// Flattens H x W x C into a vector of H*W*C features (the memory layout is unchanged).
class Flatten : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  std::string spec() const override { return "flatten"; }
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;

 protected:
  Shape infer(const Shape& input) override { return {1, 1, static_cast<int>(input.size())}; }
};

/// 2-D convolution (cross-correlation, as in every deep-learning library) with shared weights:
/// kernel K x K x C_in x C_out, stride s, padding `valid` (none) or `same` (output size
/// ceil(H / s), zeros added as TensorFlow does). Computed as one matrix product per batch on
/// an im2col matrix of the patches.
class Conv2D : public Layer {
 public:
  Conv2D(int filters, int kernel, int stride, bool same_padding);
  std::string kind() const override { return "conv2d"; }
  std::string spec() const override;
  std::int64_t parameter_count() const override;
  std::vector<TensorInfo> tensors() const override;
  void initialize(std::uint64_t seed) override;
  void reserve(int n) override;
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;
  /// Makes forward() store max(0, y): the Model fuses a "relu" that follows (see
  /// Model::Model). backward() is unchanged: it takes the gradient after the ReLU's mask.
  void fuse_relu(bool on) { relu_ = on; }

 protected:
  Shape infer(const Shape& input) override;

 private:
  void im2col(const float* x, int n);
  bool direct() const;                 // forward and weight gradient by the direct kernels
  bool direct_input_gradient() const;  // input gradient by the scatter kernel
  const float* pad_input(const float* x, int n);
  detail::DirectConv direct_conv(const float* padded) const;
  int filters_, kernel_, stride_;
  bool same_;
  bool relu_ = false;  // forward() stores max(0, y) (a fused ReLU)
  int pad_top_ = 0, pad_left_ = 0;
  int hp_ = 0, wp_ = 0;  // extent of the (padded) input the direct kernels read
  int reserved_ = 0;
  std::vector<int> offsets_;  // patch element -> offset in the (padded) input
  Buffer<float> cols_;        // (K*K*C_in) x (n * H_out * W_out), only without the direct kernels
  int cols_n_ = -1;           // samples whose patches are in cols_ (forward/backward pairing)
  Buffer<float> padded_, transposed_;  // padded input (or its gradient); W^T
};

/// Max pooling over pool x pool windows with the given stride (default: the pool size),
/// `valid` (windows that fit entirely). The gradient goes to the first maximum of a window.
class MaxPool2D : public Layer {
 public:
  MaxPool2D(int pool, int stride);
  std::string kind() const override { return "maxpool2d"; }
  std::string spec() const override;
  void reserve(int n) override;
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;
  /// The input is the output of a fused ReLU (see Model::Model): backward() also applies the
  /// ReLU's mask, so that the ReLU's own backward pass is skipped. A window's maximum is > 0
  /// exactly when the value it picked is, so the mask is y > 0 of the pool's output.
  void mask_relu(bool on) { relu_mask_ = on; }

 protected:
  Shape infer(const Shape& input) override;

 private:
  template <bool kMask>
  void backward_tiled(const float* y, const float* dy, float* dx, int n) const;
  int pool_, stride_;
  bool relu_mask_ = false;
  std::vector<std::int32_t> argmax_;  // input offset of each output's maximum
};

/// Global average pooling: H x W x C -> 1 x 1 x C, each channel's mean over all positions
/// (Lin, Chen and Yan, "Network in network", 2014; Keras' GlobalAveragePooling2D). It gives a
/// convolutional network features of the whole sample, which no stack of local windows can:
/// for spins, the magnetisation is the mean of a linear filter's output. The sum runs over the
/// positions in order, in float, for every sample alike: the bits depend on shapes only.
class GlobalAvgPool2D : public Layer {
 public:
  std::string kind() const override { return "globalavgpool2d"; }
  std::string spec() const override { return "globalavgpool2d"; }
  void forward(const float* x, float* y, int n, const Pass& pass) override;
  void backward(const float* x, const float* y, const float* dy, float* dx, int n,
                const Pass& pass) override;

 protected:
  Shape infer(const Shape& input) override { return {1, 1, input.c}; }
};

/// Builds the layers one entry of a model's `layers` list describes: "flatten", "dense 512",
/// "dense 512 relu" (a Dense then a ReLU), "conv2d 32 3 stride=1 padding=same relu",
/// "maxpool2d 2", "maxpool2d 2 stride=1", "globalavgpool2d", "dropout 0.2", "relu", "sigmoid",
/// "tanh".
/// Throws UsageError naming `where` and the text.
std::vector<std::unique_ptr<Layer>> make_layers(const std::string& text, const std::string& where);

}  // namespace physfit::nn
