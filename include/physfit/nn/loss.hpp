#pragma once
/// @file
/// Loss functions on the scores of the last layer (outputs x n, one column per sample).

#include <cstdint>
#include <string>

namespace physfit::nn {

/// Sums over a set of samples, for losses and metrics.
struct LossSums {
  double loss = 0;     ///< sum over samples of the per-sample loss
  double correct = 0;  ///< classification: samples whose largest score is the label's
  double abs_err = 0;  ///< regression: sum of |y - d| over samples and outputs
  double sq_err = 0;   ///< regression: sum of (y - d)^2 over samples and outputs
  double samples = 0;
  void add(const LossSums& o) {
    loss += o.loss;
    correct += o.correct;
    abs_err += o.abs_err;
    sq_err += o.sq_err;
    samples += o.samples;
  }
};

/// The losses of the issue:
/// - softmax cross-entropy: P_j = exp(y_j) / sum_k exp(y_k), L = -log P_label, computed as
///   log-sum-exp with the maximum subtracted (no overflow);
/// - multiclass hinge (Weston and Watkins 1999; CS231n):
///   L = sum_{j != label} max(0, y_j - y_label + margin);
/// - least squares: L = ||y - d||^2 (the mean over samples is the training loss).
class Loss {
 public:
  enum class Kind { kCrossEntropy, kHinge, kSquared };
  explicit Loss(Kind kind, double margin = 1.0) : kind_(kind), margin_(margin) {}
  /// From its name: "cross_entropy" (or "softmax_cross_entropy"), "hinge", "mse" (or
  /// "squared"); throws UsageError naming `where`.
  static Loss from_name(const std::string& name, double margin, const std::string& where);
  std::string name() const;
  Kind kind() const { return kind_; }
  double margin() const { return margin_; }
  bool classification() const { return kind_ != Kind::kSquared; }

  /// Losses of n samples with `outputs` scores each. Classification uses `labels` (n values
  /// in [0, outputs)), regression `targets` (outputs x n). If `grad` is not null it receives
  /// scale * dL/dy (outputs x n): scale = 1 / global batch size gives the gradient of the
  /// mean. Adds the sums into `sums`.
  void evaluate(const float* scores, int outputs, int n, const std::int32_t* labels,
                const float* targets, float* grad, float scale, LossSums& sums) const;

 private:
  Kind kind_;
  double margin_;
};

}  // namespace physfit::nn
