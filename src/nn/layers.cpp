// Layers: Dense, activations, Dropout, Flatten, Conv2D, MaxPool2D, and the parser of their
// textual description.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/nn/layer.hpp"
#include "physfit/nn/random.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::nn {

namespace {

// Glorot-uniform values (Glorot and Bengio, AISTATS 2010): U(-l, l), l = sqrt(6 / (in + out)).
void glorot_uniform(float* w, std::int64_t count, double fan_in, double fan_out, std::uint64_t seed,
                    int layer) {
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  const std::uint64_t key = hash_key(seed, Stream::kInit, static_cast<std::uint64_t>(layer));
  for (std::int64_t i = 0; i < count; ++i) {
    const double u = uniform01(hash_at(key, static_cast<std::uint64_t>(i)));
    w[i] = static_cast<float>((2.0 * u - 1.0) * limit);
  }
}

// db = sum over columns of dY, added column after column. Eigen's rowwise().sum() gives bits
// that depend on the alignment of dY in memory; this order does not.
void sum_columns(const float* dy, Eigen::Index rows, Eigen::Index cols, float* db) {
  Eigen::Map<Eigen::VectorXf> out(db, rows);
  out.setZero();
  for (Eigen::Index j = 0; j < cols; ++j)
    out += Eigen::Map<const Eigen::VectorXf>(dy + j * rows, rows);
}

std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

std::string Shape::str() const {
  if (flat()) return std::to_string(c);
  return std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c);
}

Shape Layer::connect(const Shape& input, int index) {
  input_ = input;
  index_ = index;
  output_ = infer(input);
  return output_;
}

// ------------------------------------------------------------------------------------ Dense

Dense::Dense(int units) : units_(units) {}

std::string Dense::spec() const { return "dense " + std::to_string(units_); }

Shape Dense::infer(const Shape& input) { return {1, 1, units_}; }

std::int64_t Dense::parameter_count() const { return (input_.size() + 1) * units_; }

std::vector<TensorInfo> Dense::tensors() const {
  const std::int64_t in = input_.size();
  return {{"kernel", {in, units_}, 0, in * units_, true},
          {"bias", {units_}, in * units_, units_, false}};
}

void Dense::initialize(std::uint64_t seed) {
  const std::int64_t in = input_.size();
  glorot_uniform(params_, in * units_, static_cast<double>(in), units_, seed, index_);
  std::fill(params_ + in * units_, params_ + parameter_count(), 0.0f);
}

void Dense::forward(const float* x, float* y, int n, const Pass&) {
  const auto in = static_cast<Eigen::Index>(input_.size());
  ConstMatrixMap W(params_, units_, in);
  Eigen::Map<const Eigen::VectorXf> b(params_ + in * units_, units_);
  ConstMatrixMap X(x, in, n);
  MatrixMap Y(y, units_, n);
  Y.noalias() = W * X;
  Y.colwise() += b;
}

void Dense::backward(const float* x, const float*, const float* dy, float* dx, int n, const Pass&) {
  const auto in = static_cast<Eigen::Index>(input_.size());
  ConstMatrixMap W(params_, units_, in);
  ConstMatrixMap X(x, in, n);
  ConstMatrixMap dY(dy, units_, n);
  MatrixMap dW(grads_, units_, in);
  dW.noalias() = dY * X.transpose();
  sum_columns(dy, units_, n, grads_ + in * units_);
  if (dx != nullptr) {
    MatrixMap dX(dx, in, n);
    dX.noalias() = W.transpose() * dY;
  }
}

// ------------------------------------------------------------------------------ Activation

std::string Activation::kind() const {
  switch (f_) {
    case Function::kRelu:
      return "relu";
    case Function::kSigmoid:
      return "sigmoid";
    case Function::kTanh:
      return "tanh";
  }
  return "?";
}

void Activation::forward(const float* x, float* y, int n, const Pass&) {
  const std::int64_t count = input_.size() * n;
  switch (f_) {
    case Function::kRelu:
      for (std::int64_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case Function::kSigmoid:
      for (std::int64_t i = 0; i < count; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    case Function::kTanh:
      for (std::int64_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
      break;
  }
}

void Activation::backward(const float*, const float* y, const float* dy, float* dx, int n,
                          const Pass&) {
  if (dx == nullptr) return;
  const std::int64_t count = input_.size() * n;
  switch (f_) {
    case Function::kRelu:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      break;
    case Function::kSigmoid:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case Function::kTanh:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
  }
}

// --------------------------------------------------------------------------------- Dropout

Dropout::Dropout(double rate) : rate_(rate) {}

std::string Dropout::spec() const { return "dropout " + format_number(rate_); }

void Dropout::reserve(int n) { mask_.assign(static_cast<std::size_t>(input_.size() * n), 0.0f); }

void Dropout::forward(const float* x, float* y, int n, const Pass& pass) {
  const std::int64_t features = input_.size();
  if (!pass.training || rate_ == 0.0) {
    std::memcpy(y, x, sizeof(float) * static_cast<std::size_t>(features * n));
    return;
  }
  if (static_cast<std::int64_t>(mask_.size()) < features * n) reserve(n);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - rate_));
  const auto threshold = static_cast<float>(rate_);
  const std::uint64_t key =
      hash_key(pass.seed, Stream::kDropout, pass.epoch, static_cast<std::uint64_t>(index_));
  for (int s = 0; s < n; ++s) {
    const std::int64_t sample = pass.samples != nullptr ? pass.samples[s] : s;
    const std::uint64_t sample_key = hash_at(key, static_cast<std::uint64_t>(sample));
    float* m = mask_.data() + s * features;
    const float* xs = x + s * features;
    float* ys = y + s * features;
    for (std::int64_t f = 0; f < features; ++f) {
      m[f] = uniform01(hash_at(sample_key, static_cast<std::uint64_t>(f))) >= threshold ? keep_scale
                                                                                        : 0.0f;
      ys[f] = xs[f] * m[f];
    }
  }
}

void Dropout::backward(const float*, const float*, const float* dy, float* dx, int n,
                       const Pass& pass) {
  if (dx == nullptr) return;
  const std::int64_t count = input_.size() * n;
  if (!pass.training || rate_ == 0.0) {
    std::memcpy(dx, dy, sizeof(float) * static_cast<std::size_t>(count));
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * mask_[static_cast<std::size_t>(i)];
}

// --------------------------------------------------------------------------------- Flatten

void Flatten::forward(const float* x, float* y, int n, const Pass&) {
  std::memcpy(y, x, sizeof(float) * static_cast<std::size_t>(input_.size() * n));
}

void Flatten::backward(const float*, const float*, const float* dy, float* dx, int n, const Pass&) {
  if (dx != nullptr) {
    std::memcpy(dx, dy, sizeof(float) * static_cast<std::size_t>(input_.size() * n));
  }
}

// ---------------------------------------------------------------------------------- Conv2D

Conv2D::Conv2D(int filters, int kernel, int stride, bool same_padding)
    : filters_(filters), kernel_(kernel), stride_(stride), same_(same_padding) {}

std::string Conv2D::spec() const {
  return "conv2d " + std::to_string(filters_) + " " + std::to_string(kernel_) +
         " stride=" + std::to_string(stride_) + " padding=" + (same_ ? "same" : "valid");
}

Shape Conv2D::infer(const Shape& in) {
  int ho, wo;
  if (same_) {
    ho = (in.h + stride_ - 1) / stride_;
    wo = (in.w + stride_ - 1) / stride_;
    pad_top_ = std::max((ho - 1) * stride_ + kernel_ - in.h, 0) / 2;
    pad_left_ = std::max((wo - 1) * stride_ + kernel_ - in.w, 0) / 2;
  } else {
    if (in.h < kernel_ || in.w < kernel_) {
      throw UsageError("conv2d: a " + std::to_string(kernel_) + "x" + std::to_string(kernel_) +
                       " kernel does not fit the layer's " + in.str() +
                       " input with padding=valid (use padding=same or a smaller kernel)");
    }
    ho = (in.h - kernel_) / stride_ + 1;
    wo = (in.w - kernel_) / stride_ + 1;
  }
  return {ho, wo, filters_};
}

std::int64_t Conv2D::parameter_count() const {
  return static_cast<std::int64_t>(kernel_) * kernel_ * input_.c * filters_ + filters_;
}

std::vector<TensorInfo> Conv2D::tensors() const {
  const std::int64_t k = static_cast<std::int64_t>(kernel_) * kernel_ * input_.c * filters_;
  return {{"kernel", {kernel_, kernel_, input_.c, filters_}, 0, k, true},
          {"bias", {filters_}, k, filters_, false}};
}

void Conv2D::initialize(std::uint64_t seed) {
  const double area = static_cast<double>(kernel_) * kernel_;
  const std::int64_t k = static_cast<std::int64_t>(area) * input_.c * filters_;
  glorot_uniform(params_, k, area * input_.c, area * filters_, seed, index_);
  std::fill(params_ + k, params_ + k + filters_, 0.0f);
}

void Conv2D::reserve(int n) {
  const std::int64_t rows = static_cast<std::int64_t>(kernel_) * kernel_ * input_.c;
  cols_.assign(static_cast<std::size_t>(rows * output_.h * output_.w * n), 0.0f);
}

void Conv2D::im2col(const float* x, int n) {
  const int cin = input_.c, hin = input_.h, win = input_.w;
  const int ho = output_.h, wo = output_.w, k = kernel_;
  const std::int64_t rows = static_cast<std::int64_t>(k) * k * cin;
  const std::int64_t in_size = input_.size();
  if (static_cast<std::int64_t>(cols_.size()) < rows * ho * wo * n) reserve(n);
  for (int s = 0; s < n; ++s) {
    const float* xs = x + s * in_size;
    for (int oh = 0; oh < ho; ++oh) {
      for (int ow = 0; ow < wo; ++ow) {
        float* col = cols_.data() + ((static_cast<std::int64_t>(s) * ho + oh) * wo + ow) * rows;
        for (int kh = 0; kh < k; ++kh) {
          const int ih = oh * stride_ - pad_top_ + kh;
          for (int kw = 0; kw < k; ++kw) {
            const int iw = ow * stride_ - pad_left_ + kw;
            float* dst = col + (static_cast<std::int64_t>(kh) * k + kw) * cin;
            if (ih < 0 || ih >= hin || iw < 0 || iw >= win) {
              std::fill(dst, dst + cin, 0.0f);
            } else {
              const float* src = xs + (static_cast<std::int64_t>(ih) * win + iw) * cin;
              std::copy(src, src + cin, dst);
            }
          }
        }
      }
    }
  }
  cols_n_ = n;
}

void Conv2D::forward(const float* x, float* y, int n, const Pass&) {
  im2col(x, n);
  const Eigen::Index rows = static_cast<Eigen::Index>(kernel_) * kernel_ * input_.c;
  const Eigen::Index positions = static_cast<Eigen::Index>(output_.h) * output_.w * n;
  ConstMatrixMap W(params_, filters_, rows);
  Eigen::Map<const Eigen::VectorXf> b(params_ + rows * filters_, filters_);
  ConstMatrixMap C(cols_.data(), rows, positions);
  MatrixMap Y(y, filters_, positions);
  Y.noalias() = W * C;
  Y.colwise() += b;
}

void Conv2D::backward(const float* x, const float*, const float* dy, float* dx, int n,
                      const Pass&) {
  if (cols_n_ != n) im2col(x, n);
  const Eigen::Index rows = static_cast<Eigen::Index>(kernel_) * kernel_ * input_.c;
  const Eigen::Index positions = static_cast<Eigen::Index>(output_.h) * output_.w * n;
  ConstMatrixMap W(params_, filters_, rows);
  ConstMatrixMap C(cols_.data(), rows, positions);
  ConstMatrixMap dY(dy, filters_, positions);
  MatrixMap dW(grads_, filters_, rows);
  dW.noalias() = dY * C.transpose();
  sum_columns(dy, filters_, positions, grads_ + rows * filters_);
  if (dx == nullptr) return;
  // dCols = W^T dY, written over the patches (no longer needed), then scattered back (col2im).
  MatrixMap dC(cols_.data(), rows, positions);
  dC.noalias() = W.transpose() * dY;
  cols_n_ = -1;
  const int cin = input_.c, hin = input_.h, win = input_.w;
  const int ho = output_.h, wo = output_.w, k = kernel_;
  const std::int64_t in_size = input_.size();
  std::fill(dx, dx + in_size * n, 0.0f);
  for (int s = 0; s < n; ++s) {
    float* dxs = dx + s * in_size;
    for (int oh = 0; oh < ho; ++oh) {
      for (int ow = 0; ow < wo; ++ow) {
        const float* col =
            cols_.data() + ((static_cast<std::int64_t>(s) * ho + oh) * wo + ow) * rows;
        for (int kh = 0; kh < k; ++kh) {
          const int ih = oh * stride_ - pad_top_ + kh;
          if (ih < 0 || ih >= hin) continue;
          for (int kw = 0; kw < k; ++kw) {
            const int iw = ow * stride_ - pad_left_ + kw;
            if (iw < 0 || iw >= win) continue;
            const float* src = col + (static_cast<std::int64_t>(kh) * k + kw) * cin;
            float* dst = dxs + (static_cast<std::int64_t>(ih) * win + iw) * cin;
            for (int c = 0; c < cin; ++c) dst[c] += src[c];
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------- MaxPool2D

MaxPool2D::MaxPool2D(int pool, int stride) : pool_(pool), stride_(stride) {}

std::string MaxPool2D::spec() const {
  return "maxpool2d " + std::to_string(pool_) + " stride=" + std::to_string(stride_);
}

Shape MaxPool2D::infer(const Shape& in) {
  if (in.h < pool_ || in.w < pool_) {
    throw UsageError("maxpool2d: a " + std::to_string(pool_) + "x" + std::to_string(pool_) +
                     " window does not fit the layer's " + in.str() + " input");
  }
  return {(in.h - pool_) / stride_ + 1, (in.w - pool_) / stride_ + 1, in.c};
}

void MaxPool2D::reserve(int n) { argmax_.assign(static_cast<std::size_t>(output_.size() * n), 0); }

void MaxPool2D::forward(const float* x, float* y, int n, const Pass&) {
  const std::int64_t in_size = input_.size(), out_size = output_.size();
  if (static_cast<std::int64_t>(argmax_.size()) < out_size * n) reserve(n);
  const int c = input_.c, win = input_.w;
  for (int s = 0; s < n; ++s) {
    const float* xs = x + s * in_size;
    float* ys = y + s * out_size;
    std::int32_t* am = argmax_.data() + s * out_size;
    for (int oh = 0; oh < output_.h; ++oh) {
      for (int ow = 0; ow < output_.w; ++ow) {
        const std::int64_t o = (static_cast<std::int64_t>(oh) * output_.w + ow) * c;
        const std::int32_t first = (oh * stride_ * win + ow * stride_) * c;
        for (int ch = 0; ch < c; ++ch) {
          ys[o + ch] = xs[first + ch];
          am[o + ch] = first + ch;
        }
        for (int ph = 0; ph < pool_; ++ph) {
          for (int pw = 0; pw < pool_; ++pw) {
            const std::int32_t at = ((oh * stride_ + ph) * win + ow * stride_ + pw) * c;
            for (int ch = 0; ch < c; ++ch) {
              if (xs[at + ch] > ys[o + ch]) {
                ys[o + ch] = xs[at + ch];
                am[o + ch] = at + ch;
              }
            }
          }
        }
      }
    }
  }
}

void MaxPool2D::backward(const float*, const float*, const float* dy, float* dx, int n,
                         const Pass&) {
  if (dx == nullptr) return;
  const std::int64_t in_size = input_.size(), out_size = output_.size();
  std::fill(dx, dx + in_size * n, 0.0f);
  for (int s = 0; s < n; ++s) {
    const float* dys = dy + s * out_size;
    const std::int32_t* am = argmax_.data() + s * out_size;
    float* dxs = dx + s * in_size;
    for (std::int64_t o = 0; o < out_size; ++o) dxs[am[o]] += dys[o];
  }
}

// ---------------------------------------------------------------------------------- parser

namespace {

struct Words {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> named;
};

Words split_words(const std::string& text) {
  Words w;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) {
      w.positional.push_back(util::to_lower(word));
    } else {
      w.named.emplace_back(util::to_lower(word.substr(0, eq)), util::to_lower(word.substr(eq + 1)));
    }
  }
  return w;
}

int parse_int(const std::string& text, const std::string& what, const std::string& context) {
  std::size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v <= 0) {
    throw UsageError(context + ": bad " + what + " '" + text + "': expected a positive integer");
  }
  return v;
}

std::unique_ptr<Layer> activation(const std::string& name) {
  if (name == "relu") return std::make_unique<Activation>(Activation::Function::kRelu);
  if (name == "sigmoid") return std::make_unique<Activation>(Activation::Function::kSigmoid);
  if (name == "tanh") return std::make_unique<Activation>(Activation::Function::kTanh);
  return nullptr;
}

}  // namespace

std::vector<std::unique_ptr<Layer>> make_layers(const std::string& text, const std::string& where) {
  const std::string context = where + ": layer '" + util::trim(text) + "'";
  const Words w = split_words(text);
  std::vector<std::unique_ptr<Layer>> out;
  if (w.positional.empty()) throw UsageError(where + ": empty layer in the layer list");
  const std::string& kind = w.positional[0];
  std::size_t used = 1;
  auto named = [&](const std::string& key, const std::string& fallback) {
    for (const auto& [k, v] : w.named) {
      if (k == key) return v;
    }
    return fallback;
  };
  for (const auto& [k, v] : w.named) {
    const bool ok = (kind == "conv2d" && (k == "stride" || k == "padding")) ||
                    (kind == "maxpool2d" && k == "stride");
    if (!ok) throw UsageError(context + ": unknown setting '" + k + "=" + v + "'");
  }
  if (kind == "dense") {
    if (w.positional.size() < 2) throw UsageError(context + ": give the number of units");
    out.push_back(std::make_unique<Dense>(parse_int(w.positional[1], "number of units", context)));
    used = 2;
  } else if (kind == "conv2d") {
    if (w.positional.size() < 3) {
      throw UsageError(context + ": give the number of filters and the kernel size");
    }
    std::string k = w.positional[2];
    const auto x = k.find('x');
    if (x != std::string::npos) {
      if (k.substr(0, x) != k.substr(x + 1)) {
        throw UsageError(context + ": only square kernels are supported, not " + k);
      }
      k = k.substr(0, x);
    }
    const std::string padding = named("padding", "valid");
    if (padding != "valid" && padding != "same") {
      throw UsageError(context + ": bad padding '" + padding + "': expected valid or same");
    }
    out.push_back(std::make_unique<Conv2D>(parse_int(w.positional[1], "number of filters", context),
                                           parse_int(k, "kernel size", context),
                                           parse_int(named("stride", "1"), "stride", context),
                                           padding == "same"));
    used = 3;
  } else if (kind == "maxpool2d") {
    if (w.positional.size() < 2) throw UsageError(context + ": give the pool size");
    const int pool = parse_int(w.positional[1], "pool size", context);
    out.push_back(std::make_unique<MaxPool2D>(
        pool, parse_int(named("stride", std::to_string(pool)), "stride", context)));
    used = 2;
  } else if (kind == "dropout") {
    if (w.positional.size() < 2) throw UsageError(context + ": give the dropout rate");
    double rate = -1;
    try {
      std::size_t n = 0;
      rate = std::stod(w.positional[1], &n);
      if (n != w.positional[1].size()) rate = -1;
    } catch (const std::exception&) {
      rate = -1;
    }
    if (!(rate >= 0.0 && rate < 1.0)) {
      throw UsageError(context + ": bad rate '" + w.positional[1] +
                       "': expected a number in [0, 1)");
    }
    out.push_back(std::make_unique<Dropout>(rate));
    used = 2;
  } else if (kind == "flatten") {
    out.push_back(std::make_unique<Flatten>());
  } else if (auto a = activation(kind)) {
    out.push_back(std::move(a));
  } else {
    throw UsageError(context + ": unknown layer type '" + kind +
                     "' (expected dense, conv2d, maxpool2d, dropout, flatten, relu, sigmoid or "
                     "tanh)");
  }
  if (w.positional.size() > used) {
    if ((kind == "dense" || kind == "conv2d") && w.positional.size() == used + 1) {
      auto a = activation(w.positional[used]);
      if (!a) {
        throw UsageError(context + ": unknown activation '" + w.positional[used] +
                         "' (expected relu, sigmoid or tanh)");
      }
      out.push_back(std::move(a));
    } else {
      throw UsageError(context + ": unexpected '" + w.positional[used] + "'");
    }
  }
  return out;
}

}  // namespace physfit::nn
