// Forward pass, loss, gradients and two optimiser steps compared with PyTorch (issue 3,
// point 5). The reference file is made by tests/reference/nn/make_torch_reference.py (Debian's
// python3-torch, in double precision from the same float32 inputs and parameters).

#include <gtest/gtest.h>

#include <cmath>

#include "physfit/io/hdf5.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/util/strings.hpp"

using namespace physfit;
using namespace physfit::nn;

namespace {

// |a - b| <= 2e-5 * max(1, |b|): float32 arithmetic against a double reference.
void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(double(want[i])));
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LT(worst, 2e-5) << what << ": element " << at << " is " << got[at] << ", PyTorch "
                         << want[at];
}

void compare_case(const std::string& name) {
  const io::File f = io::File::open(PHYSFIT_NN_TORCH_REFERENCE);
  const io::Group g = f.group("/" + name);
  ModelSpec spec;
  spec.layers = util::split(io::get_string_attribute(g.id(), "layers"), ',');
  const auto shape = io::get_numeric_attribute(g.id(), "input_shape");
  spec.input = {static_cast<int>(shape[0]), static_cast<int>(shape[1]), static_cast<int>(shape[2])};
  spec.loss = io::get_string_attribute(g.id(), "loss");
  spec.l2 = io::get_numeric_attribute(g.id(), "l2")[0];
  Model model(spec);
  OptimizerSettings os;
  os.type = io::get_string_attribute(g.id(), "optimizer");
  os.learning_rate = io::get_numeric_attribute(g.id(), "learning_rate")[0];
  os.momentum = io::get_numeric_attribute(g.id(), "momentum")[0];
  Optimizer optimizer(os, model.parameter_count());
  std::vector<ParameterRange> ranges;
  for (const auto& t : model.tensors())
    ranges.push_back({t.info.offset, t.info.count, t.info.weight});

  const auto initial = f.dataset("/" + name + "/initial").read_all<float>();
  ASSERT_EQ(static_cast<std::int64_t>(initial.size()), model.parameter_count());
  std::copy(initial.begin(), initial.end(), model.parameters());
  const io::Dataset xd = f.dataset("/" + name + "/x");
  const auto x = xd.read_all<float>();
  const int n = static_cast<int>(xd.rows());
  std::vector<std::int32_t> labels;
  std::vector<float> targets;
  if (f.exists("/" + name + "/labels")) {
    labels = f.dataset("/" + name + "/labels").read_all<std::int32_t>();
  } else {
    targets = f.dataset("/" + name + "/targets").read_all<float>();
  }
  const int outputs = model.outputs();
  std::vector<float> dscores(static_cast<std::size_t>(outputs * n));
  for (int step = 0; step < 3; ++step) {
    const std::string s = std::to_string(step);
    const float* y = model.forward(x.data(), n, Pass{});
    expect_close(std::vector<float>(y, y + outputs * n),
                 f.dataset("/" + name + "/scores_" + s).read_all<float>(), name + " scores " + s);
    LossSums sums;
    model.loss().evaluate(y, outputs, n, labels.data(), targets.data(), dscores.data(),
                          1.0f / static_cast<float>(n), sums);
    const double want = f.dataset("/" + name + "/loss_" + s).read_all<double>()[0];
    EXPECT_NEAR(sums.loss / n, want, 2e-6 * std::max(1.0, want)) << name << " loss " << s;
    model.backward(x.data(), dscores.data(), n, Pass{});
    expect_close(std::vector<float>(model.gradients(), model.gradients() + model.parameter_count()),
                 f.dataset("/" + name + "/gradient_" + s).read_all<float>(),
                 name + " gradient " + s);
    if (step == 2) break;
    optimizer.step(model.parameters(), model.gradients(), ranges, spec.l2);
    expect_close(
        std::vector<float>(model.parameters(), model.parameters() + model.parameter_count()),
        f.dataset("/" + name + "/after_step_" + std::to_string(step + 1)).read_all<float>(),
        name + " parameters after step " + std::to_string(step + 1));
  }
}

}  // namespace

TEST(TorchReference, MlpCrossEntropyAdamMatchesPyTorch) { compare_case("mlp_cross_entropy_adam"); }

TEST(TorchReference, CnnHingeSgdMomentumMatchesPyTorch) { compare_case("cnn_hinge_sgd"); }

TEST(TorchReference, RegressionLeastSquaresAdamMatchesPyTorch) {
  compare_case("regression_mse_adam");
}
