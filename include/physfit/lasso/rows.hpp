#pragma once
/// @file
/// Views of the rows of a least-squares problem min ||y - A x|| that one rank holds.
///
/// Rows live on the ranks that built or read them. A rank describes each contiguous range of
/// its rows by a RowBlock: where the range starts in the global numbering of rows, and where
/// the values are in memory (row-major, column-major or any strides). The global numbering
/// fixes the problem: the same rows with the same global indices give bitwise the same
/// results on any number of ranks (see gram.hpp).

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "physfit/error.hpp"

namespace physfit::lasso {

/// A row-major dynamic matrix (the layout of a block of rows read from HDF5).
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A non-owning view of rows [global_begin, global_begin + rows) of (A, y) held by this rank.
/// The memory must stay valid while the view is used (and, in the residual mode, while the
/// Problem built from it lives).
struct RowBlock {
  std::int64_t global_begin = 0;  ///< global index of the first row
  std::int64_t rows = 0;          ///< number of rows
  std::int64_t cols = 0;          ///< columns of A (the same on every block and rank)
  const double* a = nullptr;      ///< A(i, j) is a[i * row_stride + j * col_stride]
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 1;
  const double* y = nullptr;  ///< y(i) is y[i * y_stride]
  std::int64_t y_stride = 1;
  const std::int32_t* fold = nullptr;  ///< fold of row i (in [0, folds)), or null

  double at(std::int64_t i, std::int64_t j) const { return a[i * row_stride + j * col_stride]; }
  double y_at(std::int64_t i) const { return y[i * y_stride]; }
  std::int64_t global_end() const { return global_begin + rows; }

  /// A view of an Eigen matrix with direct access (a plain matrix, a Map, or a block of one;
  /// row-major or column-major) and a vector (or column block) of the same number of rows.
  /// Expressions without storage do not compile: a view never points to a temporary.
  template <class DerivedA, class DerivedY>
  static RowBlock view(std::int64_t global_begin, const Eigen::MatrixBase<DerivedA>& a,
                       const Eigen::MatrixBase<DerivedY>& y, const std::int32_t* fold = nullptr) {
    static_assert(bool(DerivedA::Flags & Eigen::DirectAccessBit) &&
                      bool(DerivedY::Flags & Eigen::DirectAccessBit),
                  "RowBlock::view needs matrices with storage (not expressions)");
    if (y.size() != a.rows()) {
      throw Error("RowBlock::view: " + std::to_string(a.rows()) + " rows of A but " +
                  std::to_string(y.size()) + " values of y");
    }
    RowBlock b;
    b.global_begin = global_begin;
    b.rows = a.rows();
    b.cols = a.cols();
    b.a = a.derived().data();
    const bool row_major = bool(DerivedA::Flags & Eigen::RowMajorBit);
    b.row_stride = row_major ? a.derived().outerStride() : a.derived().innerStride();
    b.col_stride = row_major ? a.derived().innerStride() : a.derived().outerStride();
    b.y = y.derived().data();
    b.y_stride = y.derived().innerStride();
    b.fold = fold;
    return b;
  }
};

}  // namespace physfit::lasso
