#pragma once
// A case of the PyTorch reference file (tests/reference/nn/make_torch_reference.py): the model
// and optimiser it describes, its initial parameters, its inputs and its labels or targets. The
// expected values (scores_k, loss_k, gradient_k, after_step_k) are read by each test.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "physfit/io/hdf5.hpp"
#include "physfit/nn/model.hpp"
#include "physfit/nn/optimizer.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::test {

struct TorchCase {
  nn::ModelSpec spec;
  nn::OptimizerSettings optimizer;
  std::vector<float> initial;  // the parameters before the first step
  std::vector<float> x;        // n samples
  int n = 0;
  std::vector<std::int32_t> labels;  // classification, or
  std::vector<float> targets;        // regression
};

inline TorchCase read_torch_case(const io::File& f, const std::string& name) {
  const io::Group g = f.group("/" + name);
  TorchCase c;
  c.spec.layers = util::split(io::get_string_attribute(g.id(), "layers"), ',');
  const auto shape = io::get_numeric_attribute(g.id(), "input_shape");
  c.spec.input = {static_cast<int>(shape[0]), static_cast<int>(shape[1]),
                  static_cast<int>(shape[2])};
  c.spec.loss = io::get_string_attribute(g.id(), "loss");
  c.spec.l2 = io::get_numeric_attribute(g.id(), "l2")[0];
  c.optimizer.type = io::get_string_attribute(g.id(), "optimizer");
  c.optimizer.learning_rate = io::get_numeric_attribute(g.id(), "learning_rate")[0];
  c.optimizer.momentum = io::get_numeric_attribute(g.id(), "momentum")[0];
  c.initial = f.dataset("/" + name + "/initial").read_all<float>();
  const io::Dataset xd = f.dataset("/" + name + "/x");
  c.x = xd.read_all<float>();
  c.n = static_cast<int>(xd.rows());
  if (f.exists("/" + name + "/labels")) {
    c.labels = f.dataset("/" + name + "/labels").read_all<std::int32_t>();
  } else {
    c.targets = f.dataset("/" + name + "/targets").read_all<float>();
  }
  return c;
}

// One range per parameter tensor (the optimiser's and the reducer's unit).
inline std::vector<nn::ParameterRange> ranges_of(const nn::Model& model) {
  std::vector<nn::ParameterRange> ranges;
  for (const auto& t : model.tensors())
    ranges.push_back({t.info.offset, t.info.count, t.info.weight});
  return ranges;
}

// |a - b| <= 2e-5 * max(1, |b|): float32 arithmetic against PyTorch's double reference.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want,
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

}  // namespace physfit::test
