// Losses (finite differences and exact values), optimisers (against the formulas in double),
// the model's end-to-end gradient, and the HDF5 save/load round trip.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../support/mpi_test.hpp"
#include "gradcheck.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/nn/loss.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"

using namespace physfit;
using namespace physfit::nn;
using physfit::nn::test::random_values;

namespace {

// dL/dy of sum over samples of the loss, by central differences in the scores.
double loss_gradient_error(const Loss& loss, std::vector<float> y, int outputs, int n,
                           const std::vector<std::int32_t>& labels,
                           const std::vector<float>& targets) {
  std::vector<float> grad(y.size());
  LossSums sums;
  loss.evaluate(y.data(), outputs, n, labels.data(), targets.data(), grad.data(), 1.0f, sums);
  double worst = 0;
  const float h = 1e-2f;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float saved = y[i];
    LossSums plus, minus;
    y[i] = saved + h;
    loss.evaluate(y.data(), outputs, n, labels.data(), targets.data(), nullptr, 1.0f, plus);
    y[i] = saved - h;
    loss.evaluate(y.data(), outputs, n, labels.data(), targets.data(), nullptr, 1.0f, minus);
    y[i] = saved;
    const double fd = (plus.loss - minus.loss) / (2.0 * h);
    worst = std::max(worst, std::fabs(fd - grad[i]) / std::max(1.0, std::fabs(fd)));
  }
  return worst;
}

ModelSpec small_cnn() {
  ModelSpec s;
  s.input = {6, 6, 2};
  s.layers = {"conv2d 3 3 padding=same tanh",
              "maxpool2d 2",
              "conv2d 4 2 relu",
              "flatten",
              "dense 5 sigmoid",
              "dropout 0.25",
              "dense 3"};
  return s;
}

// A network that sees the whole sample through global average pooling (the Ising CNN's form).
ModelSpec pooled_cnn() {
  ModelSpec s;
  s.input = {6, 5, 1};
  s.layers = {"conv2d 4 3 padding=same tanh", "conv2d 3 3 padding=same", "globalavgpool2d",
              "dense 4 tanh", "dense 3"};
  return s;
}

}  // namespace

TEST(CrossEntropyLoss, GradientMatchesFiniteDifference) {
  const std::vector<float> y = random_values(4 * 3, 1, -2, 2);
  EXPECT_LT(loss_gradient_error(Loss(Loss::Kind::kCrossEntropy), y, 4, 3, {0, 3, 1}, {}), 1e-3);
}

TEST(CrossEntropyLoss, IsStableForLargeScoresAndExact) {
  // Scores near float's limit: log-sum-exp with the maximum subtracted stays finite.
  const std::vector<float> y = {1000.0f, 998.0f, 990.0f};
  LossSums sums;
  std::vector<float> g(3);
  Loss(Loss::Kind::kCrossEntropy)
      .evaluate(y.data(), 3, 1, std::vector<std::int32_t>{1}.data(), nullptr, g.data(), 1.0f, sums);
  const double expected = -(-2.0 - std::log(1.0 + std::exp(-2.0) + std::exp(-10.0)));
  EXPECT_NEAR(sums.loss, expected, 1e-4);
  EXPECT_TRUE(std::isfinite(g[0]));
  EXPECT_NEAR(g[0] + g[1] + g[2], 0.0, 1e-6);
  EXPECT_EQ(sums.correct, 0.0);
}

TEST(HingeLoss, GradientMatchesFiniteDifferenceAndCountsMargins) {
  // Scores spaced so that no margin is within the step of its kink.
  const std::vector<float> y = {0.3f, 2.0f, -1.0f, 1.6f, 0.2f, 0.9f, -0.5f, 3.0f};
  EXPECT_LT(loss_gradient_error(Loss(Loss::Kind::kHinge), y, 4, 2, {1, 2}, {}), 1e-3);
  LossSums sums;
  Loss(Loss::Kind::kHinge, 1.0)
      .evaluate(y.data(), 4, 1, std::vector<std::int32_t>{1}.data(), nullptr, nullptr, 1.0f, sums);
  // label 1 (2.0): margins 0.3-2+1 = -0.7, -1-2+1 = -2, 1.6-2+1 = 0.6
  EXPECT_NEAR(sums.loss, 0.6, 1e-6);
  EXPECT_EQ(sums.correct, 1.0);
}

TEST(SquaredLoss, GradientMatchesFiniteDifferenceAndMetrics) {
  const std::vector<float> y = random_values(2 * 3, 3, -1, 1);
  const std::vector<float> d = random_values(2 * 3, 4, -1, 1);
  EXPECT_LT(loss_gradient_error(Loss(Loss::Kind::kSquared), y, 2, 3, {}, d), 1e-3);
  LossSums sums;
  const std::vector<float> a = {1, 2}, b = {0, 4};
  Loss(Loss::Kind::kSquared).evaluate(a.data(), 2, 1, nullptr, b.data(), nullptr, 1, sums);
  EXPECT_DOUBLE_EQ(sums.loss, 5.0);
  EXPECT_DOUBLE_EQ(sums.abs_err, 3.0);
}

TEST(AdamOptimizer, StepsMatchTheFormulasInDouble) {
  OptimizerSettings s;
  s.learning_rate = 0.01;
  std::vector<float> p = {0.5f, -0.25f, 1.0f}, g(3);
  std::vector<double> pd(p.begin(), p.end()), m(3, 0), v(3, 0);
  Optimizer opt(s, 3);
  const double l2 = 0.1;
  const std::vector<ParameterRange> ranges = {{0, 2, true}, {2, 1, false}};
  for (int t = 1; t <= 3; ++t) {
    for (int i = 0; i < 3; ++i) g[i] = static_cast<float>(0.3 * t - i);
    opt.step(p.data(), g.data(), ranges, l2);
    for (int i = 0; i < 3; ++i) {
      const double gi = g[i] + (i < 2 ? 2 * l2 * pd[i] : 0.0);
      m[i] = 0.9 * m[i] + 0.1 * gi;
      v[i] = 0.999 * v[i] + 0.001 * gi * gi;
      const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.999, t));
      pd[i] -= 0.01 * mh / (std::sqrt(vh) + 1e-8);
      EXPECT_NEAR(p[i], pd[i], 1e-6) << "step " << t << " parameter " << i;
    }
  }
  EXPECT_EQ(opt.steps(), 3);
}

TEST(SgdOptimizer, PlainAndMomentumStepsMatchTheFormulas) {
  OptimizerSettings s;
  s.type = "sgd";
  s.learning_rate = 0.1;
  std::vector<float> p = {1.0f, 2.0f};
  const std::vector<float> g = {0.5f, -1.0f};
  Optimizer plain(s, 2);
  plain.step(p.data(), g.data(), {{0, 1, true}, {1, 1, false}}, 0.5);
  EXPECT_FLOAT_EQ(p[0], 1.0f - 0.1f * (0.5f + 1.0f));
  EXPECT_FLOAT_EQ(p[1], 2.0f + 0.1f);
  s.momentum = 0.9;
  Optimizer heavy(s, 2);
  std::vector<float> q = {0.0f, 0.0f};
  heavy.step(q.data(), g.data(), {{0, 2, true}}, 0.0);
  heavy.step(q.data(), g.data(), {{0, 2, true}}, 0.0);
  EXPECT_FLOAT_EQ(q[0], -0.05f + (-0.045f - 0.05f));
  EXPECT_THROW(Optimizer(OptimizerSettings{"rmsprop"}, 1), UsageError);
}

TEST(ModelGradient, WholeNetworkMatchesFiniteDifference) {
  for (const ModelSpec& spec : {small_cnn(), pooled_cnn()}) {
    Model model(spec);
    model.initialize(3);
    const int n = 3;
    const std::vector<float> x = random_values(model.input_shape().size() * n, 5, 0, 1);
    const std::vector<std::int32_t> labels = {0, 2, 1};
    const std::int64_t ids[] = {10, 11, 12};
    Pass pass;
    pass.training = true;
    pass.seed = 8;
    pass.samples = ids;
    auto total = [&](bool with_grad) {
      const float* y = model.forward(x.data(), n, pass);
      std::vector<float> dy(model.outputs() * n);
      LossSums sums;
      model.loss().evaluate(y, model.outputs(), n, labels.data(), nullptr, dy.data(), 1.0f, sums);
      if (with_grad) model.backward(x.data(), dy.data(), n, pass);
      return sums.loss;
    };
    total(true);
    const std::vector<float> grads(model.gradients(), model.gradients() + model.parameter_count());
    double worst = 0;
    for (std::int64_t i = 0; i < model.parameter_count(); i += 3) {
      float& p = model.parameters()[i];
      const float saved = p;
      p = saved + 3e-3f;
      const double plus = total(false);
      p = saved - 3e-3f;
      const double minus = total(false);
      p = saved;
      const double fd = (plus - minus) / ((saved + 3e-3f) - (saved - 3e-3f));
      worst = std::max(worst, std::fabs(fd - grads[i]) / std::max(1.0, std::fabs(fd)));
    }
    EXPECT_LT(worst, 5e-3) << spec.layers[2];
  }
}

// The Model fuses "conv2d ... relu" (the conv stores max(0, y); a max-pool after it applies the
// ReLU's mask in its backward). Reference: the same layers, built from the same list and bound
// to copies of the same parameters, evaluated one by one with a buffer each. Shapes: the direct
// AVX-512 kernels (filters and input channels multiples of 16), the im2col fallback (5 and 6
// filters), a ReLU not followed by a pool, pools that tile, overlap, and leave a row uncovered.
TEST(ModelFusion, ConvReluAndMaxPoolGiveTheBitsOfTheLayersOneByOne) {
  std::vector<ModelSpec> specs(3);
  specs[0].input = {12, 12, 3};
  specs[0].layers = {"conv2d 16 3 padding=same relu",
                     "maxpool2d 2",
                     "conv2d 32 3 relu",
                     "maxpool2d 2 stride=1",
                     "flatten",
                     "dense 4 relu",
                     "dense 3"};
  specs[1].input = {9, 9, 2};
  specs[1].layers = {"conv2d 5 3 relu",
                     "maxpool2d 2",
                     "conv2d 6 2 padding=same relu",
                     "conv2d 16 3 padding=same relu",
                     "flatten",
                     "dense 3"};
  specs[2].input = {8, 8, 1};
  specs[2].layers = {"conv2d 16 3 padding=same relu",
                     "maxpool2d 2",
                     "conv2d 32 3 padding=same relu",
                     "maxpool2d 2",
                     "flatten",
                     "dense 8 relu",
                     "dense 2"};
  for (const ModelSpec& spec : specs) {
    SCOPED_TRACE(spec.layers[0] + ", " + spec.layers[2]);
    Model model(spec);
    const std::int64_t count = model.parameter_count();
    const std::vector<float> theta = random_values(static_cast<std::size_t>(count), 4, -0.5f, 0.5f);
    std::copy(theta.begin(), theta.end(), model.parameters());
    const int n = 5;
    const std::vector<float> x = random_values(spec.input.size() * n, 6, -1, 1);
    const std::vector<std::int32_t> labels = {0, 1, 1, 0, 1};
    Pass pass;
    pass.training = true;
    const int outputs = model.outputs();

    std::vector<std::unique_ptr<Layer>> layers;
    for (const auto& text : spec.layers) {
      for (auto& layer : make_layers(text, "test")) layers.push_back(std::move(layer));
    }
    ASSERT_EQ(model.layer_specs().size(), layers.size());  // the relus are still layers
    std::vector<float> params(theta), grads(static_cast<std::size_t>(count), -7.0f);
    std::vector<std::vector<float>> acts(layers.size());
    Shape shape = spec.input;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      shape = layers[i]->connect(shape, static_cast<int>(i));
      EXPECT_EQ(layers[i]->spec(), model.layer_specs()[i]);
      layers[i]->bind(params.data() + offset, grads.data() + offset);
      offset += layers[i]->parameter_count();
      layers[i]->reserve(n);
      acts[i].assign(static_cast<std::size_t>(shape.size() * n), 0.0f);
    }
    ASSERT_EQ(offset, count);
    const float* in = x.data();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      layers[i]->forward(in, acts[i].data(), n, pass);
      in = acts[i].data();
    }
    std::vector<float> dscores(static_cast<std::size_t>(outputs * n));
    LossSums sums;
    model.loss().evaluate(in, outputs, n, labels.data(), nullptr, dscores.data(), 1.0f, sums);
    std::vector<float> dy = dscores, dx;
    for (std::size_t k = layers.size(); k-- > 0;) {
      dx.assign(static_cast<std::size_t>(layers[k]->input_shape().size() * n), 0.0f);
      layers[k]->backward(k == 0 ? x.data() : acts[k - 1].data(), acts[k].data(), dy.data(),
                          k == 0 ? nullptr : dx.data(), n, pass);
      dy.swap(dx);
    }

    // Twice: the second pass reuses the buffers of the first.
    for (int repeat = 0; repeat < 2; ++repeat) {
      const float* y = model.forward(x.data(), n, pass);
      ASSERT_EQ(std::memcmp(y, acts.back().data(), sizeof(float) * outputs * n), 0);
      std::fill(model.gradients(), model.gradients() + count, 3.0f);
      model.backward(x.data(), dscores.data(), n, pass);
      for (std::int64_t i = 0; i < count; ++i) {
        ASSERT_EQ(std::memcmp(&model.gradients()[i], &grads[static_cast<std::size_t>(i)], 4), 0)
            << "parameter " << i << ": " << model.gradients()[i] << " vs " << grads[i];
      }
    }
    // The ReLUs did their work: some pre-activations were negative, so some outputs are 0.
    const std::int64_t zeros = std::count(acts[1].begin(), acts[1].end(), 0.0f);
    EXPECT_GT(zeros, 0);
    EXPECT_LT(zeros, static_cast<std::int64_t>(acts[1].size()));
  }
}

TEST(ModelSpecCheck, RejectsModelsThatDoNotFitTheirInput) {
  ModelSpec s;
  s.input = {4, 4, 1};
  s.layers = {"conv2d 2 5"};
  try {
    Model m(s, "inputs/x.ini");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("inputs/x.ini: layer 0 ('conv2d 2 5')"), std::string::npos)
        << e.what();
  }
  s.layers = {"conv2d 2 3"};
  EXPECT_THROW(Model(s, "x"), UsageError);  // image output with a classification loss
  s.layers = {};
  EXPECT_THROW(Model(s, "x"), UsageError);
}

TEST(ModelFile, SaveAndLoadRoundTripGivesTheSameOutputs) {
  ModelSpec spec = small_cnn();
  spec.l2 = 1e-4;
  spec.loss = "hinge";
  spec.margin = 0.5;
  Model model(spec);
  model.initialize(17);
  const std::string path = physfit::test::scratch_dir() + "/model.h5";
  {
    io::File f = io::File::create(path);
    save_model(f, model);
    f.close();
  }
  io::File f = io::File::open(path);
  auto back = load_model(f);
  EXPECT_EQ(back->layer_specs(), model.layer_specs());
  EXPECT_EQ(back->loss().name(), "hinge");
  EXPECT_EQ(back->spec().margin, 0.5);
  EXPECT_EQ(back->spec().l2, 1e-4);
  EXPECT_EQ(back->input_shape(), model.input_shape());
  ASSERT_EQ(back->parameter_count(), model.parameter_count());
  for (std::int64_t i = 0; i < model.parameter_count(); ++i) {
    ASSERT_EQ(back->parameters()[i], model.parameters()[i]);
  }
  const std::vector<float> x = random_values(model.input_shape().size() * 2, 2, 0, 1);
  const float* a = model.forward(x.data(), 2, {});
  const std::vector<float> ya(a, a + 6);
  const float* b = back->forward(x.data(), 2, {});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(b[i], ya[i]);
  // The per-layer tensors a reader sees: the first conv kernel is [K, K, C_in, C_out].
  const io::Dataset k = f.dataset("/model/layers/00_conv2d/kernel");
  EXPECT_EQ(k.shape(), (std::vector<std::int64_t>{3, 3, 2, 3}));
  EXPECT_EQ(k.read_all<float>()[5], model.parameters()[5]);
}

TEST(ModelFile, LoadingAFileWithoutAModelNamesTheFile) {
  const std::string path = physfit::test::scratch_dir() + "/empty.h5";
  io::File::create(path).close();
  io::File f = io::File::open(path);
  try {
    load_model(f);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("empty.h5' holds no model"), std::string::npos);
  }
}

TEST(ModelFile, ANonFiniteParameterIsAnErrorNamingTheFileAndTheDataset) {
  Model model(small_cnn());
  model.initialize(3);
  const std::string path = physfit::test::scratch_dir() + "/nan_model.h5";
  {
    io::File f = io::File::create(path);
    save_model(f, model);
    std::vector<float> p(model.parameters(), model.parameters() + model.parameter_count());
    p[7] = std::nanf("");
    f.dataset("/model/parameters").write_rows(0, model.parameter_count(), p.data());
    f.close();
  }
  io::File f = io::File::open(path);
  try {
    load_model(f);
    FAIL() << "a model with a NaN parameter was loaded";
  } catch (const IoError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("dataset '/model/parameters' in '" + path + "': parameter 7"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("/model/layers/00_conv2d/kernel"), std::string::npos) << m;
    EXPECT_NE(m.find("is nan"), std::string::npos) << m;
  }
}
