// Forward pass, loss, gradients and two optimiser steps compared with PyTorch (issue 3,
// point 5). The reference file is made by tests/reference/nn/make_torch_reference.py (Debian's
// python3-torch, in double precision from the same float32 inputs and parameters).

#include <gtest/gtest.h>

#include <cmath>

#include "../../support/torch_case.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"

using namespace physfit;
using namespace physfit::nn;

namespace {

using test::expect_close;

void compare_case(const std::string& name) {
  const io::File f = io::File::open(PHYSFIT_NN_TORCH_REFERENCE);
  test::TorchCase c = test::read_torch_case(f, name);
  const ModelSpec& spec = c.spec;
  Model model(spec);
  Optimizer optimizer(c.optimizer, model.parameter_count());
  const std::vector<ParameterRange> ranges = test::ranges_of(model);
  ASSERT_EQ(static_cast<std::int64_t>(c.initial.size()), model.parameter_count());
  std::copy(c.initial.begin(), c.initial.end(), model.parameters());
  const std::vector<float>& x = c.x;
  const int n = c.n;
  const std::vector<std::int32_t>& labels = c.labels;
  const std::vector<float>& targets = c.targets;
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
