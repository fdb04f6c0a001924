#include "physfit/nn/loss.hpp"

#include <cmath>

#include "physfit/error.hpp"

namespace physfit::nn {

Loss Loss::from_name(const std::string& name, double margin, const std::string& where) {
  if (name == "cross_entropy" || name == "softmax_cross_entropy") {
    return Loss(Kind::kCrossEntropy, margin);
  }
  if (name == "hinge") return Loss(Kind::kHinge, margin);
  if (name == "mse" || name == "squared") return Loss(Kind::kSquared, margin);
  throw UsageError(where + ": unknown loss '" + name + "' (expected cross_entropy, hinge or mse)");
}

std::string Loss::name() const {
  switch (kind_) {
    case Kind::kCrossEntropy:
      return "cross_entropy";
    case Kind::kHinge:
      return "hinge";
    case Kind::kSquared:
      return "mse";
  }
  return "?";
}

void Loss::evaluate(const float* scores, int outputs, int n, const std::int32_t* labels,
                    const float* targets, float* grad, float scale, LossSums& sums) const {
  sums.samples += n;
  for (int s = 0; s < n; ++s) {
    const float* y = scores + static_cast<std::int64_t>(s) * outputs;
    float* g = grad != nullptr ? grad + static_cast<std::int64_t>(s) * outputs : nullptr;
    if (kind_ == Kind::kSquared) {
      const float* d = targets + static_cast<std::int64_t>(s) * outputs;
      double l = 0, a = 0;
      for (int j = 0; j < outputs; ++j) {
        const float e = y[j] - d[j];
        l += static_cast<double>(e) * e;
        a += std::fabs(static_cast<double>(e));
        if (g != nullptr) g[j] = 2.0f * e * scale;
      }
      sums.loss += l;
      sums.sq_err += l;
      sums.abs_err += a;
      continue;
    }
    const int label = labels[s];
    int best = 0;
    for (int j = 1; j < outputs; ++j) {
      if (y[j] > y[best]) best = j;
    }
    sums.correct += best == label ? 1.0 : 0.0;
    if (kind_ == Kind::kCrossEntropy) {
      const float m = y[best];
      float total = 0;
      for (int j = 0; j < outputs; ++j) total += std::exp(y[j] - m);
      const float log_total = std::log(total);
      sums.loss += static_cast<double>(m) + log_total - y[label];
      if (g != nullptr) {
        const float inv = 1.0f / total;
        for (int j = 0; j < outputs; ++j) g[j] = std::exp(y[j] - m) * inv * scale;
        g[label] -= scale;
      }
    } else {
      const auto margin = static_cast<float>(margin_);
      double l = 0;
      int active = 0;
      for (int j = 0; j < outputs; ++j) {
        if (j == label) continue;
        const float v = y[j] - y[label] + margin;
        if (v > 0) {
          l += v;
          ++active;
          if (g != nullptr) g[j] = scale;
        } else if (g != nullptr) {
          g[j] = 0.0f;
        }
      }
      sums.loss += l;
      if (g != nullptr) g[label] = -static_cast<float>(active) * scale;
    }
  }
}

}  // namespace physfit::nn
