// Layers: Dense, activations, Dropout, Flatten, Conv2D, MaxPool2D, GlobalAvgPool2D, and the
// parser of their textual description.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

#if defined(__AVX512F__)
// One 64 x NR block of C = A B: C[i + j ldc] = sum_p A[i + p lda] B[p bp + j bj], i < 64,
// j < NR, p < k in increasing order, one fused multiply-add per term: the order of Eigen's
// product kernel when k fits one of its depth blocks (the MLP's layers), so the bits are the
// same as the Eigen product's there, and they depend on the shapes alone.
template <int NR>
void gemm_block(const float* a, std::int64_t lda, const float* b, std::int64_t bp, std::int64_t bj,
                std::int64_t k, float* c, std::int64_t ldc) {
  __m512 acc[4][NR];
  for (int j = 0; j < NR; ++j)
    for (int v = 0; v < 4; ++v) acc[v][j] = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < k; ++p) {
    const float* ap = a + p * lda;
    const __m512 a0 = _mm512_loadu_ps(ap), a1 = _mm512_loadu_ps(ap + 16),
                 a2 = _mm512_loadu_ps(ap + 32), a3 = _mm512_loadu_ps(ap + 48);
    const float* bpp = b + p * bp;
    for (int j = 0; j < NR; ++j) {
      const __m512 x = _mm512_set1_ps(bpp[j * bj]);
      acc[0][j] = _mm512_fmadd_ps(a0, x, acc[0][j]);
      acc[1][j] = _mm512_fmadd_ps(a1, x, acc[1][j]);
      acc[2][j] = _mm512_fmadd_ps(a2, x, acc[2][j]);
      acc[3][j] = _mm512_fmadd_ps(a3, x, acc[3][j]);
    }
  }
  for (int j = 0; j < NR; ++j)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(c + j * ldc + 16 * v, acc[v][j]);
}

constexpr int kGemmColumns = 6;  // 24 accumulators of 32: 4 loads and 6 broadcasts per 24 FMAs

template <int NR>
void gemm_tail(const float* a, std::int64_t lda, const float* b, std::int64_t bp, std::int64_t bj,
               std::int64_t k, float* c, std::int64_t ldc, int rest) {
  if constexpr (NR > 0) {
    if (rest == NR) return gemm_block<NR>(a, lda, b, bp, bj, k, c, ldc);
    gemm_tail<NR - 1>(a, lda, b, bp, bj, k, c, ldc, rest);
  }
}
#endif

// C (m x n, column-major, leading dimension m) = A B with A m x k column-major (leading
// dimension m) and B[p, j] at b[p bp + j bj] (bp = 1, bj = k: B column-major; bp = ldb,
// bj = 1: the transpose of a column-major matrix), for m a multiple of 64 with AVX-512;
// Eigen's product otherwise. The Dense layer's two large products, Y = W X and dW = dY X^T:
// at the MLP's shapes (512 x 784, batch 32 and 128) Eigen gave 110-135 GFLOP/s in a
// stand-alone timing on Zen 5 and this 170-200, with no packing (A's columns stream from L2
// with a fixed stride; packing them was no faster) and no heap buffer.
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* b,
          std::int64_t bp, std::int64_t bj, float* c) {
#if defined(__AVX512F__)
  if (m % 64 == 0) {
    for (std::int64_t i = 0; i < m; i += 64) {
      std::int64_t j = 0;
      for (; j + kGemmColumns <= n; j += kGemmColumns) {
        gemm_block<kGemmColumns>(a + i, m, b + j * bj, bp, bj, k, c + i + j * m, m);
      }
      if (j < n) {
        gemm_tail<kGemmColumns - 1>(a + i, m, b + j * bj, bp, bj, k, c + i + j * m, m,
                                    static_cast<int>(n - j));
      }
    }
    return;
  }
#endif
  ConstMatrixMap A(a, m, k);
  MatrixMap C(c, m, n);
  if (bp == 1) {
    C.noalias() = A * ConstMatrixMap(b, k, n);
  } else {
    C.noalias() = A * ConstMatrixMap(b, n, k).transpose();
  }
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
  Eigen::Map<const Eigen::VectorXf> b(params_ + in * units_, units_);
  MatrixMap Y(y, units_, n);
  gemm(units_, n, in, params_, x, 1, in, y);  // Y = W X
  Y.colwise() += b;
}

void Dense::backward(const float* x, const float*, const float* dy, float* dx, int n, const Pass&) {
  const auto in = static_cast<Eigen::Index>(input_.size());
  ConstMatrixMap W(params_, units_, in);
  ConstMatrixMap dY(dy, units_, n);
  gemm(units_, in, n, dy, x, in, 1, grads_);  // dW = dY X^T
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

// ------------------------------------------------------------------------- GlobalAvgPool2D

void GlobalAvgPool2D::forward(const float* x, float* y, int n, const Pass&) {
  const int c = input_.c;
  const std::int64_t positions = static_cast<std::int64_t>(input_.h) * input_.w;
  const float scale = 1.0f / static_cast<float>(positions);
  for (int s = 0; s < n; ++s) {
    const float* xs = x + input_.size() * s;
    float* ys = y + static_cast<std::int64_t>(c) * s;
    std::fill(ys, ys + c, 0.0f);
    for (std::int64_t p = 0; p < positions; ++p) {
      const float* xp = xs + p * c;
      for (int ch = 0; ch < c; ++ch) ys[ch] += xp[ch];
    }
    for (int ch = 0; ch < c; ++ch) ys[ch] *= scale;
  }
}

void GlobalAvgPool2D::backward(const float*, const float*, const float* dy, float* dx, int n,
                               const Pass&) {
  if (dx == nullptr) return;
  const int c = input_.c;
  const std::int64_t positions = static_cast<std::int64_t>(input_.h) * input_.w;
  const float scale = 1.0f / static_cast<float>(positions);
  for (int s = 0; s < n; ++s) {
    const float* dys = dy + static_cast<std::int64_t>(c) * s;
    float* dxs = dx + input_.size() * s;
    for (std::int64_t p = 0; p < positions; ++p) {
      float* dxp = dxs + p * c;
      for (int ch = 0; ch < c; ++ch) dxp[ch] = dys[ch] * scale;
    }
  }
}

// ------------------------------------------------------------------- direct convolution
//
// Conv2D's hot loops as register-tiled AVX-512 kernels that read the (padded) input in place.
// Why not im2col + Eigen's GEMM (kept below as the path for other shapes and CPUs): the patch
// matrix of the Fashion-MNIST CNN's second layer is 288 x 121 floats per sample (139 KB), so
// im2col, the forward GEMM, the weight-gradient GEMM, W^T dY and col2im stream ~0.7 MB per
// sample through memory, ~35 us at 20 GB/s against ~50 us of arithmetic at peak; Eigen's GEMM
// also stays at ~55 % of peak at these shapes (K = 9 for a first layer, N = 64 for W^T dY).
// These kernels keep up to 24 zmm accumulators (P output positions x NV vectors of 16
// channels) and take each input value as a broadcast, so the input stays in L1/L2.
//
// Summation orders are fixed by the shapes alone (unaligned loads, no peeling), so the bits
// do not depend on where buffers start, and a micro-batch gives the same bits on any rank.

namespace detail {

/// Offsets of the K*K*C patch elements (kh, kw, c), c fastest, in an image of row length
/// `width` with C channels (HWC).
void patch_offsets(int k, int width, int channels, std::vector<int>& off) {
  off.resize(static_cast<std::size_t>(k) * k * channels);
  std::size_t r = 0;
  for (int kh = 0; kh < k; ++kh)
    for (int kw = 0; kw < k; ++kw)
      for (int c = 0; c < channels; ++c) off[r++] = (kh * width + kw) * channels + c;
}

#if defined(__AVX512F__)
constexpr bool kDirectConv = true;

// out[j][16 NV] = init + sum_r w[r][16 NV] * base[j][off[r]] for the P positions j < np
// (base[j] for j >= np repeats a valid one; its results are not stored), or with relu
// max(0, that): vmaxps(a, 0) is a > 0 ? a : 0 (0 for NaN and -0), the ReLU layer's bits.
template <int NV, int P>
void conv_tile(const float* w, std::int64_t ldw, const int* off, int rows, const float* const* base,
               const float* bias, float* out, std::int64_t ldo, int np, bool relu) {
  __m512 acc[P][NV];
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[j][v] = bias != nullptr ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
  const float* b[P];
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j) b[j] = base[j];
  for (int r = 0; r < rows; ++r) {
    const float* wr = w + r * ldw;
    const int o = off[r];
    __m512 wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps(wr + 16 * v);
#pragma GCC unroll 32
    for (int j = 0; j < P; ++j) {
      const __m512 x = _mm512_set1_ps(b[j][o]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_fmadd_ps(wv[v], x, acc[j][v]);
    }
  }
  if (relu) {
#pragma GCC unroll 32
    for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_max_ps(acc[j][v], _mm512_setzero_ps());
  }
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j) {
    if (j >= np) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + j * ldo + 16 * v, acc[j][v]);
  }
}

// dw[r][16 NV] += sum over the positions of one image of g[p][16 NV] * x[base(p) + off[r]] for
// the R rows r < nr (off[r] for r >= nr repeats a valid one).
// With db, also db[16 NV] += the sum of g over the positions (the bias gradient, read once).
template <int NV, int R>
void weight_tile(const float* g, std::int64_t ldg, const float* x, int ho, int wo, int row_step,
                 int col_step, const int* off, float* dw, std::int64_t lddw, int nr, float* db) {
  __m512 acc[R][NV], bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bias[v] = _mm512_setzero_ps();
#pragma GCC unroll 32
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_setzero_ps();
  int o[R];
#pragma GCC unroll 32
  for (int j = 0; j < R; ++j) o[j] = off[j];
  for (int oh = 0; oh < ho; ++oh) {
    const float* xr = x + static_cast<std::int64_t>(oh) * row_step;
    const float* gr = g + static_cast<std::int64_t>(oh) * wo * ldg;
    for (int ow = 0; ow < wo; ++ow) {
      const float* xp = xr + static_cast<std::int64_t>(ow) * col_step;
      const float* gp = gr + ow * ldg;
      __m512 gv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) gv[v] = _mm512_loadu_ps(gp + 16 * v);
      if (db != nullptr) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bias[v] = _mm512_add_ps(bias[v], gv[v]);
      }
#pragma GCC unroll 32
      for (int j = 0; j < R; ++j) {
        const __m512 xv = _mm512_set1_ps(xp[o[j]]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_fmadd_ps(gv[v], xv, acc[j][v]);
      }
    }
  }
#pragma GCC unroll 32
  for (int j = 0; j < R; ++j) {
    if (j >= nr) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* d = dw + j * lddw + 16 * v;
      _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[j][v]));
    }
  }
  if (db != nullptr) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      _mm512_storeu_ps(db + 16 * v, _mm512_add_ps(_mm512_loadu_ps(db + 16 * v), bias[v]));
    }
  }
}

// dx[base[j] + off[16 v] + 0..15] += sum_c wt[c][16 v] * g[j][c] for the P positions j < np: the
// input gradient of a valid convolution as a scatter of W^T dY, one tile at a time in L1 (col2im
// without the patch matrix). 16 consecutive patch rows are 16 consecutive input values when the
// input channels are a multiple of 16.
template <int NV, int P>
void scatter_tile(const float* wt, std::int64_t ldw, int cout, const float* g, std::int64_t ldg,
                  const int* off, float* const* base, int np) {
  __m512 acc[P][NV];
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_setzero_ps();
  const float* gj[P];
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j) gj[j] = g + std::min(j, np - 1) * ldg;
  for (int c = 0; c < cout; ++c) {
    const float* wr = wt + c * ldw;
    __m512 wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps(wr + 16 * v);
#pragma GCC unroll 32
    for (int j = 0; j < P; ++j) {
      const __m512 x = _mm512_set1_ps(gj[j][c]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_fmadd_ps(wv[v], x, acc[j][v]);
    }
  }
#pragma GCC unroll 32
  for (int j = 0; j < P; ++j) {
    if (j >= np) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* d = base[j] + off[16 * v];
      _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[j][v]));
    }
  }
}
#else
constexpr bool kDirectConv = false;
#endif

/// A convolution of n images (HWC, `in_size` floats apart) read in place: out (cout channels
/// per position, positions ho x wo per image, dense) = bias + sum_r w[r][:] * in[base + off[r]]
/// with base = in + s * in_size + ((oh * stride + top) * width + ow * stride + left) * channels.
/// w is rows x cout with cout fastest (cout a multiple of 16).
struct DirectConv {
  const float* in;
  std::int64_t in_size;
  int width, channels, stride, top, left;
  int ho, wo;
  const float* w;
  int cout;
  const std::vector<int>* off;
  const float* bias;  // or null
  bool relu = false;  // store max(0, out) (a fused ReLU)
};

#if defined(__AVX512F__)
// Walks the output positions of `c` in order (image s, row oh, column ow) and gives, for each,
// the address of its patch's first value in images `c.in_size` floats apart starting at `first`
// (the input for the forward, the input gradient for the scatter).
template <class T>
struct PositionCursor {
  PositionCursor(const DirectConv& c, T* first)
      : first(first),
        image(c.in_size),
        col_step(std::int64_t{c.stride} * c.channels),
        row_step(col_step * c.width),
        ho(c.ho),
        wo(c.wo),
        row(first),
        at(first) {}
  T* next() {
    T* here = at;
    if (++ow < wo) {
      at += col_step;
      return here;
    }
    ow = 0;
    if (++oh < ho) {
      row += row_step;
    } else {
      oh = 0;
      ++s;
      row = first + s * image;
    }
    at = row;
    return here;
  }
  T* first;
  std::int64_t image, col_step, row_step;
  int ho, wo;
  std::int64_t s = 0;
  int oh = 0, ow = 0;
  T* row;
  T* at;
};
#endif

void direct_conv(const DirectConv& c, float* out, int n) {
#if defined(__AVX512F__)
  const int rows = static_cast<int>(c.off->size());
  const std::int64_t positions = static_cast<std::int64_t>(n) * c.ho * c.wo;
  auto run = [&](auto nv_tag, auto p_tag, int co) {
    constexpr int NV = decltype(nv_tag)::value, P = decltype(p_tag)::value;
    const float* base[P];
    PositionCursor<const float> cursor(
        c, c.in + (std::int64_t{c.top} * c.width + c.left) * c.channels);
    for (std::int64_t p0 = 0; p0 < positions; p0 += P) {
      const int np = static_cast<int>(std::min<std::int64_t>(P, positions - p0));
      for (int j = 0; j < np; ++j) base[j] = cursor.next();
      for (int j = np; j < P; ++j) base[j] = base[np - 1];
      conv_tile<NV, P>(c.w + co, c.cout, c.off->data(), rows, base,
                       c.bias != nullptr ? c.bias + co : nullptr, out + p0 * c.cout + co, c.cout,
                       np, c.relu);
    }
  };
  for (int co = 0; co < c.cout; co += 64) {
    switch (std::min(4, (c.cout - co) / 16)) {
      case 4:
        run(std::integral_constant<int, 4>(), std::integral_constant<int, 6>(), co);
        break;
      case 3:
        run(std::integral_constant<int, 3>(), std::integral_constant<int, 8>(), co);
        break;
      case 2:
        run(std::integral_constant<int, 2>(), std::integral_constant<int, 12>(), co);
        break;
      default:
        run(std::integral_constant<int, 1>(), std::integral_constant<int, 12>(), co);
        break;
    }
  }
#else
  (void)c;
  (void)out;
  (void)n;
#endif
}

/// dw (rows x cout, cout fastest) = sum over the positions of n images of g[p][:] x[base(p) +
/// off[r]], and db (cout) = sum of g[p][:], image after image (the order is fixed by the shapes).
void direct_weight_gradient(const DirectConv& c, const float* g, float* dw, float* db, int n) {
#if defined(__AVX512F__)
  const int rows = static_cast<int>(c.off->size());
  std::fill(dw, dw + static_cast<std::int64_t>(rows) * c.cout, 0.0f);
  std::fill(db, db + c.cout, 0.0f);
  const std::int64_t g_size = static_cast<std::int64_t>(c.ho) * c.wo * c.cout;
  const int row_step = c.stride * c.width * c.channels, col_step = c.stride * c.channels;
  auto run = [&](auto nv_tag, auto r_tag, int co, const float* xs, const float* gs) {
    constexpr int NV = decltype(nv_tag)::value, R = decltype(r_tag)::value;
    int o[R];
    for (int r0 = 0; r0 < rows; r0 += R) {
      const int nr = std::min(R, rows - r0);
      for (int j = 0; j < R; ++j)
        o[j] = (*c.off)[static_cast<std::size_t>(r0 + std::min(j, nr - 1))];
      weight_tile<NV, R>(gs + co, c.cout, xs, c.ho, c.wo, row_step, col_step, o,
                         dw + static_cast<std::int64_t>(r0) * c.cout + co, c.cout, nr,
                         r0 == 0 ? db + co : nullptr);
    }
  };
  for (int s = 0; s < n; ++s) {
    const float* xs =
        c.in + s * c.in_size + (static_cast<std::int64_t>(c.top) * c.width + c.left) * c.channels;
    const float* gs = g + s * g_size;
    for (int co = 0; co < c.cout; co += 64) {
      switch (std::min(4, (c.cout - co) / 16)) {
        case 4:
          run(std::integral_constant<int, 4>(), std::integral_constant<int, 6>(), co, xs, gs);
          break;
        case 3:
          run(std::integral_constant<int, 3>(), std::integral_constant<int, 8>(), co, xs, gs);
          break;
        case 2:
          run(std::integral_constant<int, 2>(), std::integral_constant<int, 12>(), co, xs, gs);
          break;
        default:
          run(std::integral_constant<int, 1>(), std::integral_constant<int, 12>(), co, xs, gs);
          break;
      }
    }
  }
#else
  (void)c;
  (void)g;
  (void)dw;
  (void)db;
  (void)n;
#endif
}

/// dx (n images of `in_size` floats, zeroed here) = the input gradient of the valid convolution
/// `c` (c.in is not read) for output gradient g: for each tile of output positions, W^T g
/// scattered onto the patches' input values. wt is W transposed (cout x rows, rows fastest); the
/// input channels are a multiple of 16.
void scatter_input_gradient(const DirectConv& c, const float* wt, const float* g, float* dx,
                            int n) {
#if defined(__AVX512F__)
  const int rows = static_cast<int>(c.off->size());
  std::fill(dx, dx + c.in_size * n, 0.0f);
  const std::int64_t positions = static_cast<std::int64_t>(n) * c.ho * c.wo;
  constexpr int P = 6;
  float* base[P];
  PositionCursor<float> cursor(c, dx);
  for (std::int64_t p0 = 0; p0 < positions; p0 += P) {
    const int np = static_cast<int>(std::min<std::int64_t>(P, positions - p0));
    for (int j = 0; j < np; ++j) base[j] = cursor.next();
    const float* gp = g + p0 * c.cout;
    for (int r0 = 0; r0 < rows; r0 += 64) {
      const int* off = c.off->data() + r0;
      switch (std::min(4, (rows - r0) / 16)) {
        case 4:
          scatter_tile<4, P>(wt + r0, rows, c.cout, gp, c.cout, off, base, np);
          break;
        case 3:
          scatter_tile<3, P>(wt + r0, rows, c.cout, gp, c.cout, off, base, np);
          break;
        case 2:
          scatter_tile<2, P>(wt + r0, rows, c.cout, gp, c.cout, off, base, np);
          break;
        default:
          scatter_tile<1, P>(wt + r0, rows, c.cout, gp, c.cout, off, base, np);
          break;
      }
    }
  }
#else
  (void)c;
  (void)wt;
  (void)g;
  (void)dx;
  (void)n;
#endif
}

}  // namespace detail

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
  // The direct kernels read a zero-padded copy of the input (same padding) or the input itself.
  hp_ = same_ ? (ho - 1) * stride_ + kernel_ : in.h;
  wp_ = same_ ? (wo - 1) * stride_ + kernel_ : in.w;
  detail::patch_offsets(kernel_, wp_, in.c, offsets_);
  return {ho, wo, filters_};
}

bool Conv2D::direct() const { return detail::kDirectConv && filters_ % 16 == 0; }

bool Conv2D::direct_input_gradient() const { return detail::kDirectConv && input_.c % 16 == 0; }

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
  if (!direct()) cols_.assign(static_cast<std::size_t>(rows * output_.h * output_.w * n), 0.0f);
  if (same_) padded_.assign(static_cast<std::size_t>(std::int64_t{hp_} * wp_ * input_.c * n), 0.0f);
  if (direct_input_gradient()) transposed_.assign(static_cast<std::size_t>(rows * filters_), 0.0f);
  reserved_ = n;
}

const float* Conv2D::pad_input(const float* x, int n) {
  if (!same_) return x;
  const int cin = input_.c;
  const std::int64_t in_size = input_.size(), padded_size = std::int64_t{hp_} * wp_ * cin;
  // Rows and columns past the padded extent are never read (strided same padding).
  const int rows = std::min(input_.h, hp_ - pad_top_), cols = std::min(input_.w, wp_ - pad_left_);
  std::fill(padded_.begin(), padded_.begin() + padded_size * n, 0.0f);
  for (int s = 0; s < n; ++s) {
    for (int ih = 0; ih < rows; ++ih) {
      const float* src = x + s * in_size + std::int64_t{ih} * input_.w * cin;
      float* dst =
          padded_.data() + s * padded_size + (std::int64_t{ih + pad_top_} * wp_ + pad_left_) * cin;
      std::copy(src, src + std::int64_t{cols} * cin, dst);
    }
  }
  return padded_.data();
}

detail::DirectConv Conv2D::direct_conv(const float* xp) const {
  return {xp,        std::int64_t{hp_} * wp_ * input_.c,
          wp_,       input_.c,
          stride_,   0,
          0,         output_.h,
          output_.w, params_,
          filters_,  &offsets_,
          nullptr};
}

void Conv2D::im2col(const float* x, int n) {
  const int cin = input_.c, hin = input_.h, win = input_.w;
  const int ho = output_.h, wo = output_.w, k = kernel_;
  const std::int64_t rows = static_cast<std::int64_t>(k) * k * cin;
  const std::int64_t in_size = input_.size();
  if (static_cast<std::int64_t>(cols_.size()) < rows * ho * wo * n) {
    cols_.assign(static_cast<std::size_t>(rows * ho * wo * n), 0.0f);
  }
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
  if (n > reserved_) reserve(n);
  const Eigen::Index rows = static_cast<Eigen::Index>(kernel_) * kernel_ * input_.c;
  if (direct()) {
    detail::DirectConv c = direct_conv(pad_input(x, n));
    c.bias = params_ + rows * filters_;
    c.relu = relu_;
    detail::direct_conv(c, y, n);
    return;
  }
  im2col(x, n);
  const Eigen::Index positions = static_cast<Eigen::Index>(output_.h) * output_.w * n;
  ConstMatrixMap W(params_, filters_, rows);
  Eigen::Map<const Eigen::VectorXf> b(params_ + rows * filters_, filters_);
  ConstMatrixMap C(cols_.data(), rows, positions);
  MatrixMap Y(y, filters_, positions);
  Y.noalias() = W * C;
  Y.colwise() += b;
  if (relu_) {
    float* out = y;
    for (std::int64_t i = 0; i < std::int64_t{filters_} * positions; ++i)
      out[i] = out[i] > 0.0f ? out[i] : 0.0f;
  }
}

void Conv2D::backward(const float* x, const float*, const float* dy, float* dx, int n,
                      const Pass&) {
  if (n > reserved_) reserve(n);
  const Eigen::Index rows = static_cast<Eigen::Index>(kernel_) * kernel_ * input_.c;
  const Eigen::Index positions = static_cast<Eigen::Index>(output_.h) * output_.w * n;
  ConstMatrixMap W(params_, filters_, rows);
  ConstMatrixMap dY(dy, filters_, positions);
  if (direct()) {
    detail::direct_weight_gradient(direct_conv(pad_input(x, n)), dy, grads_,
                                   grads_ + rows * filters_, n);
  } else {
    if (cols_n_ != n) im2col(x, n);
    ConstMatrixMap C(cols_.data(), rows, positions);
    MatrixMap dW(grads_, filters_, rows);
    dW.noalias() = dY * C.transpose();
    sum_columns(dy, filters_, positions, grads_ + rows * filters_);
  }
  if (dx == nullptr) return;
  const int cin = input_.c, hin = input_.h, win = input_.w;
  const int ho = output_.h, wo = output_.w, k = kernel_;
  const std::int64_t in_size = input_.size();
  if (direct_input_gradient()) {
    // dX = W^T dY scattered onto the patches tile by tile (col2im without the patch matrix);
    // with same padding into the zero-padded extent (padded_, free once the weight gradient
    // is done), whose interior is then copied out.
    for (int f = 0; f < filters_; ++f)
      for (Eigen::Index r = 0; r < rows; ++r) transposed_[f * rows + r] = params_[f + filters_ * r];
    if (!same_) {
      detail::scatter_input_gradient(direct_conv(x), transposed_.data(), dy, dx, n);
      return;
    }
    detail::scatter_input_gradient(direct_conv(padded_.data()), transposed_.data(), dy,
                                   padded_.data(), n);
    const std::int64_t padded_size = std::int64_t{hp_} * wp_ * cin;
    // Rows and columns past the padded extent (strided same padding) get no gradient.
    const int copy_rows = std::min(hin, hp_ - pad_top_), copy_cols = std::min(win, wp_ - pad_left_);
    if (copy_rows < hin || copy_cols < win) std::fill(dx, dx + in_size * n, 0.0f);
    for (int s = 0; s < n; ++s) {
      for (int ih = 0; ih < copy_rows; ++ih) {
        const float* src = padded_.data() + s * padded_size +
                           (std::int64_t{ih + pad_top_} * wp_ + pad_left_) * cin;
        std::copy(src, src + std::int64_t{copy_cols} * cin,
                  dx + s * in_size + std::int64_t{ih} * win * cin);
      }
    }
    return;
  }
  // dCols = W^T dY, written over the patches (no longer needed), then scattered back (col2im).
  if (static_cast<Eigen::Index>(cols_.size()) < rows * positions) {
    cols_.assign(static_cast<std::size_t>(rows * positions), 0.0f);
  }
  MatrixMap dC(cols_.data(), rows, positions);
  dC.noalias() = W.transpose() * dY;
  cols_n_ = -1;
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
        int ch = 0;
#if defined(__AVX512F__)
        // 16 channels at a time with masked moves: a branch per value mispredicts on half.
        const __m512i lanes =
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (; ch + 16 <= c; ch += 16) {
          __m512 m = _mm512_loadu_ps(xs + first + ch);
          __m512i a = _mm512_add_epi32(_mm512_set1_epi32(first + ch), lanes);
          for (int ph = 0; ph < pool_; ++ph) {
            for (int pw = 0; pw < pool_; ++pw) {
              const std::int32_t at = ((oh * stride_ + ph) * win + ow * stride_ + pw) * c + ch;
              const __m512 v = _mm512_loadu_ps(xs + at);
              const __mmask16 larger = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ);
              m = _mm512_mask_mov_ps(m, larger, v);
              a = _mm512_mask_mov_epi32(a, larger, _mm512_add_epi32(_mm512_set1_epi32(at), lanes));
            }
          }
          _mm512_storeu_ps(ys + o + ch, m);
          _mm512_storeu_si512(am + o + ch, a);
        }
#endif
        for (; ch < c; ++ch) {
          float m = xs[first + ch];
          std::int32_t a = first + ch;
          for (int ph = 0; ph < pool_; ++ph) {
            for (int pw = 0; pw < pool_; ++pw) {
              const std::int32_t at = ((oh * stride_ + ph) * win + ow * stride_ + pw) * c + ch;
              if (xs[at] > m) {
                m = xs[at];
                a = at;
              }
            }
          }
          ys[o + ch] = m;
          am[o + ch] = a;
        }
      }
    }
  }
}

void MaxPool2D::backward(const float*, const float* y, const float* dy, float* dx, int n,
                         const Pass&) {
  if (dx == nullptr) return;
  const std::int64_t in_size = input_.size(), out_size = output_.size();
  if (stride_ != pool_) {  // overlapping or gapped windows: scatter
    // With the ReLU's mask: a value that is some window's maximum is > 0 exactly when that
    // window's output is, so masking each term masks the sum (and adds in the same order).
    std::fill(dx, dx + in_size * n, 0.0f);
    for (int s = 0; s < n; ++s) {
      const float* dys = dy + s * out_size;
      const float* ys = y + s * out_size;
      const std::int32_t* am = argmax_.data() + s * out_size;
      float* dxs = dx + s * in_size;
      for (std::int64_t o = 0; o < out_size; ++o) {
        if (!relu_mask_ || ys[o] > 0.0f) dxs[am[o]] += dys[o];
      }
    }
    return;
  }
  if (relu_mask_) {
    backward_tiled<true>(y, dy, dx, n);
  } else {
    backward_tiled<false>(y, dy, dx, n);
  }
}

// Windows tile the input: each input value is written once, in order (no fill, no scatter).
template <bool kMask>
void MaxPool2D::backward_tiled(const float* y, const float* dy, float* dx, int n) const {
  const std::int64_t in_size = input_.size(), out_size = output_.size();
  const int c = input_.c, win = input_.w;
  const int covered_h = output_.h * pool_, covered_w = output_.w * pool_;
  for (int s = 0; s < n; ++s) {
    const float* dys = dy + s * out_size;
    const float* ys = y + s * out_size;
    const std::int32_t* am = argmax_.data() + s * out_size;
    float* dxs = dx + s * in_size;
    for (int ih = 0; ih < input_.h; ++ih) {
      float* row = dxs + static_cast<std::int64_t>(ih) * win * c;
      if (ih >= covered_h) {
        std::fill(row, row + static_cast<std::int64_t>(win) * c, 0.0f);
        continue;
      }
      const int oh = ih / pool_;
      for (int iw = 0; iw < covered_w; ++iw) {
        const std::int64_t o = (static_cast<std::int64_t>(oh) * output_.w + iw / pool_) * c;
        const std::int32_t at = (ih * win + iw) * c;
        float* d = row + static_cast<std::int64_t>(iw) * c;
        for (int ch = 0; ch < c; ++ch) {
          const bool pass = am[o + ch] == at + ch && (!kMask || ys[o + ch] > 0.0f);
          d[ch] = pass ? dys[o + ch] : 0.0f;
        }
      }
      std::fill(row + static_cast<std::int64_t>(covered_w) * c,
                row + static_cast<std::int64_t>(win) * c, 0.0f);
    }
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
  } else if (kind == "globalavgpool2d") {
    out.push_back(std::make_unique<GlobalAvgPool2D>());
  } else if (auto a = activation(kind)) {
    out.push_back(std::move(a));
  } else {
    throw UsageError(context + ": unknown layer type '" + kind +
                     "' (expected dense, conv2d, maxpool2d, globalavgpool2d, dropout, flatten, "
                     "relu, sigmoid or tanh)");
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
