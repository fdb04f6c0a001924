// Finite-difference gradient checks of every layer, and the layer parser.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "gradcheck.hpp"
#include "physfit/error.hpp"
#include "physfit/nn/layer.hpp"

using namespace physfit;
using namespace physfit::nn;
using physfit::nn::test::check_layer;
using physfit::nn::test::random_away_from_zero;
using physfit::nn::test::random_values;

namespace {

constexpr double kTolerance = 2e-3;

// Parameters followed by their gradients, in one buffer, bound to the layer.
std::vector<float> bind_random(Layer& layer, std::uint64_t seed) {
  const auto p = static_cast<std::size_t>(layer.parameter_count());
  std::vector<float> storage = random_values(2 * p, seed, -0.5f, 0.5f);
  layer.bind(storage.data(), storage.data() + p);
  return storage;
}

// After backward() the gradients live in the second half of `storage`; check_layer copies
// them from there, so rebind to the same storage (vector data does not move).
void expect_gradients_match(Layer& layer, const Shape& input, int n, std::uint64_t seed,
                            bool away_from_zero = false, Pass pass = {}) {
  layer.connect(input, 1);
  std::vector<float> storage = bind_random(layer, seed);
  const auto count = static_cast<std::size_t>(input.size() * n);
  std::vector<float> x = away_from_zero ? random_away_from_zero(count, seed + 1, 0.05f)
                                        : random_values(count, seed + 1, -1.0f, 1.0f);
  const auto res = check_layer(layer, x, n, pass, layer.parameter_count() ? &storage : nullptr);
  EXPECT_GT(res.checked, 0);
  EXPECT_LT(res.max_input_error, kTolerance) << layer.spec();
  EXPECT_LT(res.max_param_error, kTolerance) << layer.spec();
}

}  // namespace

TEST(DenseLayer, BackwardMatchesFiniteDifference) {
  Dense layer(4);
  expect_gradients_match(layer, {1, 1, 5}, 3, 11);
}

TEST(DenseLayer, FlattensImageInputs) {
  Dense layer(3);
  EXPECT_EQ(layer.connect({2, 2, 2}, 0).size(), 3);
  EXPECT_EQ(layer.parameter_count(), 8 * 3 + 3);
  expect_gradients_match(layer, {2, 2, 2}, 2, 12);
}

TEST(DenseLayer, ForwardIsWeightsTimesInputPlusBias) {
  Dense layer(2);
  layer.connect({1, 1, 3}, 0);
  // W (2 x 3, column-major) then b.
  std::vector<float> p = {1, 4, 2, 5, 3, 6, 0.5f, -1}, g(8);
  layer.bind(p.data(), g.data());
  const std::vector<float> x = {1, 0, -1, 2, 1, 0};
  std::vector<float> y(4);
  layer.forward(x.data(), y.data(), 2, {});
  EXPECT_FLOAT_EQ(y[0], 1 - 3 + 0.5f);
  EXPECT_FLOAT_EQ(y[1], 4 - 6 - 1);
  EXPECT_FLOAT_EQ(y[2], 2 + 2 + 0.5f);
  EXPECT_FLOAT_EQ(y[3], 8 + 5 - 1);
}

// Layers of a multiple of 64 units take the AVX-512 product (64 x 6 blocks, remainders of 1-5
// columns): forward, dW and db against loops, and the finite-difference check.
TEST(DenseLayer, WideLayersEqualLoops) {
  for (const int units : {64, 128}) {
    for (const int n : {1, 6, 13}) {
      Dense layer(units);
      const int in = 37;
      layer.connect({1, 1, in}, 0);
      std::vector<float> storage = bind_random(layer, 20 + n);
      const float* w = storage.data();
      const float* b = w + static_cast<std::ptrdiff_t>(in) * units;
      const std::vector<float> x = random_values(static_cast<std::size_t>(in * n), 30 + n, -1, 1);
      const std::vector<float> dy =
          random_values(static_cast<std::size_t>(units * n), 40 + n, -1, 1);
      std::vector<float> y(static_cast<std::size_t>(units * n));
      layer.forward(x.data(), y.data(), n, {});
      layer.backward(x.data(), y.data(), dy.data(), nullptr, n, {});
      const float* dw = storage.data() + layer.parameter_count();
      for (int i = 0; i < units; ++i) {
        for (int j = 0; j < n; ++j) {
          float acc = 0.0f;  // the kernel's order: p increasing, one fused multiply-add each
          for (int p = 0; p < in; ++p) acc = std::fma(w[i + p * units], x[p + j * in], acc);
          const float got = y[static_cast<std::size_t>(i + j * units)];
          EXPECT_NEAR(got, acc + b[i], 1e-5) << units << " " << n << " " << i << " " << j;
#if defined(__AVX512F__)
          EXPECT_EQ(got, acc + b[i]) << units << " " << n << " " << i << " " << j;
#endif
        }
        for (int p = 0; p < in; ++p) {
          float acc = 0.0f;
          for (int j = 0; j < n; ++j) acc = std::fma(dy[i + j * units], x[p + j * in], acc);
          EXPECT_NEAR(dw[i + p * units], acc, 1e-5) << units << " " << n << " " << i << " " << p;
#if defined(__AVX512F__)
          EXPECT_EQ(dw[i + p * units], acc) << units << " " << n << " " << i << " " << p;
#endif
        }
      }
    }
  }
  Dense layer(64);
  expect_gradients_match(layer, {1, 1, 5}, 7, 13);
}

TEST(ActivationLayers, ReluBackwardMatchesFiniteDifference) {
  Activation layer(Activation::Function::kRelu);
  expect_gradients_match(layer, {1, 1, 6}, 3, 21, true);
}

TEST(ActivationLayers, SigmoidBackwardMatchesFiniteDifference) {
  Activation layer(Activation::Function::kSigmoid);
  expect_gradients_match(layer, {1, 1, 6}, 3, 22);
}

TEST(ActivationLayers, TanhBackwardMatchesFiniteDifference) {
  Activation layer(Activation::Function::kTanh);
  expect_gradients_match(layer, {1, 1, 6}, 3, 23);
}

TEST(ActivationLayers, ValuesAreTheTextbookFunctions) {
  const std::vector<float> x = {-2.0f, 0.5f};
  std::vector<float> y(2);
  Activation relu(Activation::Function::kRelu), sig(Activation::Function::kSigmoid),
      th(Activation::Function::kTanh);
  for (Layer* l :
       {static_cast<Layer*>(&relu), static_cast<Layer*>(&sig), static_cast<Layer*>(&th)}) {
    l->connect({1, 1, 2}, 0);
  }
  relu.forward(x.data(), y.data(), 1, {});
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.5f);
  sig.forward(x.data(), y.data(), 1, {});
  EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(2.0)), 1e-7);
  th.forward(x.data(), y.data(), 1, {});
  EXPECT_NEAR(y[1], std::tanh(0.5), 1e-7);
}

TEST(DropoutLayer, BackwardMatchesFiniteDifference) {
  Dropout layer(0.3);
  Pass pass;
  pass.training = true;
  pass.seed = 5;
  expect_gradients_match(layer, {1, 1, 8}, 4, 31, false, pass);
}

TEST(DropoutLayer, DropsAboutRateAndScalesTheRest) {
  Dropout layer(0.2);
  layer.connect({1, 1, 1000}, 2);
  const int n = 20;
  std::vector<float> x(1000 * n, 1.0f), y(x.size());
  Pass pass;
  pass.training = true;
  pass.seed = 42;
  layer.forward(x.data(), y.data(), n, pass);
  int dropped = 0;
  for (float v : y) {
    if (v == 0.0f) {
      ++dropped;
    } else {
      EXPECT_FLOAT_EQ(v, 1.25f);
    }
  }
  const double rate = static_cast<double>(dropped) / static_cast<double>(y.size());
  EXPECT_NEAR(rate, 0.2, 0.01);  // 20000 draws: sd 0.003
  pass.training = false;
  layer.forward(x.data(), y.data(), n, pass);
  for (float v : y) EXPECT_EQ(v, 1.0f);
}

TEST(DropoutLayer, MaskDependsOnTheGlobalSampleNotItsPositionInTheBatch) {
  Dropout layer(0.5);
  layer.connect({1, 1, 64}, 3);
  std::vector<float> x(64 * 3, 1.0f), y3(x.size()), y1(64);
  const std::int64_t three[] = {7, 1000, 12345};
  const std::int64_t one[] = {12345};
  Pass pass;
  pass.training = true;
  pass.seed = 9;
  pass.epoch = 4;
  pass.samples = three;
  layer.forward(x.data(), y3.data(), 3, pass);
  pass.samples = one;
  layer.forward(x.data(), y1.data(), 1, pass);
  for (int f = 0; f < 64; ++f) EXPECT_EQ(y1[f], y3[128 + f]);
  // Another epoch draws another mask.
  pass.epoch = 5;
  std::vector<float> y1b(64);
  layer.forward(x.data(), y1b.data(), 1, pass);
  EXPECT_NE(y1, y1b);
}

TEST(FlattenLayer, BackwardMatchesFiniteDifference) {
  Flatten layer;
  expect_gradients_match(layer, {2, 3, 2}, 2, 41);
  EXPECT_EQ(layer.output_shape().size(), 12);
}

TEST(Conv2DLayer, ValidPaddingBackwardMatchesFiniteDifference) {
  Conv2D layer(3, 3, 1, false);
  expect_gradients_match(layer, {5, 6, 2}, 2, 51);
  EXPECT_EQ(layer.output_shape(), (Shape{3, 4, 3}));
}

TEST(Conv2DLayer, SamePaddingWithStrideBackwardMatchesFiniteDifference) {
  Conv2D layer(2, 3, 2, true);
  expect_gradients_match(layer, {5, 4, 3}, 2, 52);
  EXPECT_EQ(layer.output_shape(), (Shape{3, 2, 2}));
}

TEST(Conv2DLayer, ForwardEqualsADirectLoopOverTheKernel) {
  Conv2D layer(2, 3, 1, true);
  const Shape in{4, 5, 3};
  const Shape out = layer.connect(in, 0);
  std::vector<float> storage = random_values(2 * layer.parameter_count(), 3, -1, 1);
  layer.bind(storage.data(), storage.data() + layer.parameter_count());
  const std::vector<float> x = random_values(in.size() * 2, 4, -1, 1);
  std::vector<float> y(out.size() * 2);
  layer.reserve(2);
  layer.forward(x.data(), y.data(), 2, {});
  // kernel [K, K, C_in, C_out] row-major, then bias.
  const int k = 3, cin = 3, cout = 2;
  for (int s = 0; s < 2; ++s)
    for (int oh = 0; oh < 4; ++oh)
      for (int ow = 0; ow < 5; ++ow)
        for (int co = 0; co < cout; ++co) {
          double sum = storage[k * k * cin * cout + co];
          for (int kh = 0; kh < k; ++kh)
            for (int kw = 0; kw < k; ++kw)
              for (int ci = 0; ci < cin; ++ci) {
                const int ih = oh + kh - 1, iw = ow + kw - 1;
                if (ih < 0 || ih >= 4 || iw < 0 || iw >= 5) continue;
                sum += storage[((kh * k + kw) * cin + ci) * cout + co] *
                       x[s * in.size() + (ih * 5 + iw) * cin + ci];
              }
          EXPECT_NEAR(y[s * out.size() + (oh * 5 + ow) * cout + co], sum, 1e-5);
        }
}

TEST(Conv2DLayer, SixteenFiltersBackwardMatchesFiniteDifference) {
  // Filters and input channels in multiples of 16 take the direct AVX-512 kernels.
  Conv2D same(16, 3, 1, true);
  expect_gradients_match(same, {4, 5, 16}, 2, 53);
  Conv2D valid(32, 3, 1, false);
  expect_gradients_match(valid, {5, 4, 16}, 2, 54);
}

namespace {

// Forward, weight, bias and input gradients of a Conv2D against loops in double.
void expect_conv_matches_loops(int filters, int k, int stride, bool same, const Shape& in, int n) {
  Conv2D layer(filters, k, stride, same);
  const Shape out = layer.connect(in, 0);
  const std::int64_t count = layer.parameter_count();
  std::vector<float> storage = random_values(2 * count, 5, -1, 1);
  layer.bind(storage.data(), storage.data() + count);
  const std::vector<float> x = random_values(in.size() * n, 6, -1, 1);
  const std::vector<float> dy = random_values(out.size() * n, 8, -1, 1);
  std::vector<float> y(out.size() * n), dx(in.size() * n);
  layer.reserve(n);
  layer.forward(x.data(), y.data(), n, {});
  layer.backward(x.data(), y.data(), dy.data(), dx.data(), n, {});
  const int cin = in.c;
  const int top = same ? std::max((out.h - 1) * stride + k - in.h, 0) / 2 : 0;
  const int left = same ? std::max((out.w - 1) * stride + k - in.w, 0) / 2 : 0;
  std::vector<double> ry(y.size()), rdx(dx.size()), rdw(count, 0.0);
  auto w_at = [&](int kh, int kw, int ci, int co) {
    return static_cast<std::size_t>(((kh * k + kw) * cin + ci) * filters + co);
  };
  const std::size_t bias = static_cast<std::size_t>(k * k * cin * filters);
  for (int s = 0; s < n; ++s)
    for (int oh = 0; oh < out.h; ++oh)
      for (int ow = 0; ow < out.w; ++ow)
        for (int co = 0; co < filters; ++co) {
          const std::size_t o =
              static_cast<std::size_t>(s * out.size() + (oh * out.w + ow) * filters + co);
          double sum = storage[bias + co];
          rdw[bias + co] += dy[o];
          for (int kh = 0; kh < k; ++kh)
            for (int kw = 0; kw < k; ++kw) {
              const int ih = oh * stride + kh - top, iw = ow * stride + kw - left;
              if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
              for (int ci = 0; ci < cin; ++ci) {
                const std::size_t i =
                    static_cast<std::size_t>(s * in.size() + (ih * in.w + iw) * cin + ci);
                sum += static_cast<double>(storage[w_at(kh, kw, ci, co)]) * x[i];
                rdw[w_at(kh, kw, ci, co)] += static_cast<double>(dy[o]) * x[i];
                rdx[i] += static_cast<double>(storage[w_at(kh, kw, ci, co)]) * dy[o];
              }
            }
          ry[o] = sum;
        }
  const std::string what = layer.spec() + " on " + in.str();
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ry[i], 1e-4) << what << " y " << i;
  for (std::size_t i = 0; i < dx.size(); ++i)
    ASSERT_NEAR(dx[i], rdx[i], 1e-4) << what << " dx " << i;
  for (std::int64_t i = 0; i < count; ++i) {
    ASSERT_NEAR(storage[count + i], rdw[i], 1e-3) << what << " grad " << i;
  }
}

}  // namespace

TEST(Conv2DLayer, DirectKernelsEqualLoopsOverTheKernel) {
  expect_conv_matches_loops(32, 3, 1, true, {7, 6, 16}, 3);   // 2 vectors of filters
  expect_conv_matches_loops(16, 3, 1, false, {7, 9, 32}, 2);  // 1 vector, valid
  expect_conv_matches_loops(64, 3, 1, false, {8, 7, 32}, 2);  // 4 vectors (the Fashion CNN)
  expect_conv_matches_loops(48, 3, 2, true, {9, 8, 16}, 2);   // 3 vectors, stride 2 (col2im dX)
  expect_conv_matches_loops(80, 5, 1, true, {6, 5, 1}, 3);    // 4 + 1 vectors, one channel
  expect_conv_matches_loops(3, 3, 1, true, {5, 4, 16}, 2);    // im2col forward, direct dX
}

TEST(MaxPool2DLayer, BackwardMatchesFiniteDifference) {
  MaxPool2D layer(2, 2);
  // Distinct values spaced by more than twice the step keep the maximum of each window put.
  layer.connect({4, 6, 2}, 0);
  const int n = 2;
  std::vector<float> x(48 * n);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * static_cast<float>((i * 37) % 97);
  const auto res = check_layer(layer, x, n, {}, nullptr, 1e-3);
  EXPECT_LT(res.max_input_error, kTolerance);
  EXPECT_EQ(layer.output_shape(), (Shape{2, 3, 2}));
}

TEST(MaxPool2DLayer, OverlappingWindowsAddGradients) {
  MaxPool2D layer(2, 1);
  layer.connect({3, 3, 1}, 0);
  const std::vector<float> x = {0, 0, 0, 0, 9, 0, 0, 0, 0};
  std::vector<float> y(4), dx(9);
  const std::vector<float> dy = {1, 2, 3, 4};
  layer.reserve(1);
  layer.forward(x.data(), y.data(), 1, {});
  for (float v : y) EXPECT_EQ(v, 9.0f);
  layer.backward(x.data(), y.data(), dy.data(), dx.data(), 1, {});
  EXPECT_EQ(dx[4], 10.0f);
}

TEST(MaxPool2DLayer, SeventeenChannelsEqualALoop) {
  // 16 channels take the vector path, the 17th the scalar one; 5 x 7 leaves a row and a
  // column outside every window (their gradient is zero).
  MaxPool2D layer(2, 2);
  const Shape in{5, 7, 17};
  const Shape out = layer.connect(in, 0);
  const int n = 2, c = in.c;
  const std::vector<float> x = random_values(in.size() * n, 21, -1, 1);
  const std::vector<float> dy = random_values(out.size() * n, 22, -1, 1);
  std::vector<float> y(out.size() * n), dx(in.size() * n, 7.0f);
  layer.reserve(n);
  layer.forward(x.data(), y.data(), n, {});
  layer.backward(x.data(), y.data(), dy.data(), dx.data(), n, {});
  std::vector<float> rdx(dx.size(), 0.0f);
  for (int s = 0; s < n; ++s)
    for (int oh = 0; oh < out.h; ++oh)
      for (int ow = 0; ow < out.w; ++ow)
        for (int ch = 0; ch < c; ++ch) {
          std::size_t best = 0;
          float m = -2;
          for (int ph = 0; ph < 2; ++ph)
            for (int pw = 0; pw < 2; ++pw) {
              const auto i = static_cast<std::size_t>(
                  s * in.size() + ((oh * 2 + ph) * in.w + ow * 2 + pw) * c + ch);
              if (x[i] > m) m = x[i], best = i;
            }
          const auto o = static_cast<std::size_t>(s * out.size() + (oh * out.w + ow) * c + ch);
          EXPECT_EQ(y[o], m);
          rdx[best] += dy[o];
        }
  EXPECT_EQ(dx, rdx);
}

TEST(GlobalAvgPool2DLayer, MeansEachChannelAndMatchesFiniteDifference) {
  GlobalAvgPool2D layer;
  const Shape in{5, 3, 4};
  EXPECT_EQ(layer.connect(in, 0), (Shape{1, 1, 4}));
  const int n = 3;
  const std::vector<float> x = random_values(in.size() * n, 31, -1, 1);
  std::vector<float> y(4 * n);
  layer.reserve(n);
  layer.forward(x.data(), y.data(), n, {});
  for (int s = 0; s < n; ++s)
    for (int ch = 0; ch < 4; ++ch) {
      double mean = 0;
      for (int p = 0; p < 15; ++p) mean += x[static_cast<std::size_t>(s * 60 + p * 4 + ch)];
      EXPECT_NEAR(y[static_cast<std::size_t>(s * 4 + ch)], mean / 15, 1e-6) << s << " " << ch;
    }
  const auto res = check_layer(layer, x, n, {}, nullptr, 1e-3);
  EXPECT_LT(res.max_input_error, kTolerance);
}

TEST(LayerParser, BuildsEveryLayerAndRejectsMistakes) {
  auto l = make_layers("dense 512 relu", "m.ini:3");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]->spec(), "dense 512");
  EXPECT_EQ(l[1]->spec(), "relu");
  l = make_layers("conv2d 32 3x3 padding=same stride=2 tanh", "x");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]->spec(), "conv2d 32 3 stride=2 padding=same");
  EXPECT_EQ(make_layers("maxpool2d 2", "x")[0]->spec(), "maxpool2d 2 stride=2");
  EXPECT_EQ(make_layers("dropout 0.2", "x")[0]->spec(), "dropout 0.2");
  EXPECT_EQ(make_layers("globalavgpool2d", "x")[0]->spec(), "globalavgpool2d");
  auto message = [](const std::string& text) {
    try {
      make_layers(text, "m.ini:7");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("dense").find("m.ini:7: layer 'dense': give the number of units"),
            std::string::npos);
  EXPECT_NE(message("dense -3").find("bad number of units '-3'"), std::string::npos);
  EXPECT_NE(message("dropout 1.5").find("bad rate '1.5'"), std::string::npos);
  EXPECT_NE(message("danse 5").find("unknown layer type 'danse'"), std::string::npos);
  EXPECT_NE(message("dense 5 softplus").find("unknown activation 'softplus'"), std::string::npos);
  EXPECT_NE(message("conv2d 3 3 padding=full").find("bad padding 'full'"), std::string::npos);
  EXPECT_NE(message("conv2d 3 3x5").find("only square kernels"), std::string::npos);
}
