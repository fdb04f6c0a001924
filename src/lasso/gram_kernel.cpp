#include "gram_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace physfit::lasso::detail {
namespace {

// GCC/Clang vector extensions: one AVX-512 register with -march=native, lowered to narrower
// vectors (same arithmetic, same order) elsewhere.
typedef double v8d __attribute__((vector_size(64)));
typedef double v8du __attribute__((vector_size(64), aligned(8)));
typedef std::int64_t v8i __attribute__((vector_size(64)));
typedef std::int64_t v8iu __attribute__((vector_size(64), aligned(8)));

constexpr std::int64_t kKc = 256;   // rows per pass over the packed chunk (B strip in L1)
constexpr std::int64_t kTile = 24;  // strips per side of a tile of C kept in L2

__extension__ typedef __int128 int128;

inline v8d load(const double* p) { return *reinterpret_cast<const v8d*>(p); }
inline void store(double* p, v8d v) { *reinterpret_cast<v8d*>(p) = v; }
inline v8d splat(double s) { return v8d{s, s, s, s, s, s, s, s}; }

// C blocks (s0 + r, t) for r < R, += sum over k < kc of a_r(k) b(k)^T, k in order. Block
// layout: element (lane, j) at j * 8 + lane, lane = row within strip s, j = column of strip t.
template <int R>
inline void micro_kernel(const double* __restrict a, std::int64_t a_stride,
                         const double* __restrict b, std::int64_t kc, double* const* c,
                         bool first) {
  v8d acc[R][8];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 8; ++j) acc[r][j] = first ? splat(0.0) : load(c[r] + j * 8);
  }
  for (std::int64_t k = 0; k < kc; ++k) {
    v8d x[R];
    for (int r = 0; r < R; ++r) {
      // 16 rows ahead in each A strip (measured: +3-9 % over the hardware prefetcher alone).
      __builtin_prefetch(a + r * a_stride + 8 * k + 128, 0, 3);
      x[r] = load(a + r * a_stride + 8 * k);
    }
    const double* bk = b + 8 * k;
    for (int j = 0; j < 8; ++j) {
      const v8d bj = splat(bk[j]);
      for (int r = 0; r < R; ++r) acc[r][j] += x[r] * bj;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 8; ++j) store(c[r] + j * 8, acc[r][j]);
  }
}

}  // namespace

void* zeroed_bytes(std::size_t bytes) {
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  const bool huge = bytes >= kHuge;
  const std::size_t align = huge ? kHuge : 64;
  const std::size_t size = std::max<std::size_t>(align, (bytes + align - 1) / align * align);
  void* p = std::aligned_alloc(align, size);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, size, MADV_HUGEPAGE);
#endif
  std::memset(p, 0, size);
  return p;
}

ChunkKernel::ChunkKernel(int m, std::int64_t max_rows)
    : m_(m),
      strips_(strips_of(m)),
      max_rows_(max_rows),
      packed_(aligned_doubles(static_cast<std::size_t>(strips_of(m) * max_rows * kStrip))),
      gram_(aligned_doubles(static_cast<std::size_t>(blocks_of(m) * kBlockSize))) {}

void pack_strips(const PackRow* rows, std::int64_t count, int cols, int n_extra, double* packed,
                 std::int64_t strip_stride) {
  const int full = cols / kStrip;  // strips made only of A values
  bool contiguous = true;
  for (std::int64_t k = 0; k < count; ++k) contiguous &= rows[k].col_stride == 1;
  int j0 = 0;
  if (contiguous) {
    // Groups of 8 rows (read once, from L1), strip by strip (written sequentially).
    constexpr std::int64_t kGroup = 8;
    for (std::int64_t k0 = 0; k0 < count; k0 += kGroup) {
      const std::int64_t k1 = std::min(count, k0 + kGroup);
      for (int s = 0; s < full; ++s) {
        double* dst = packed + s * strip_stride;
        const int off = s * kStrip;
        for (std::int64_t k = k0; k < k1; ++k) {
          store(dst + k * kStrip, *reinterpret_cast<const v8du*>(rows[k].a + off));
        }
      }
    }
    j0 = full * kStrip;
  }
  for (std::int64_t k = 0; k < count; ++k) {
    double* base = packed + k * kStrip;
    const PackRow& r = rows[k];
    int j = j0;
    for (; j < cols; ++j) base[(j / kStrip) * strip_stride + j % kStrip] = r.a[j * r.col_stride];
    for (int e = 0; e < n_extra; ++e, ++j) {
      base[(j / kStrip) * strip_stride + j % kStrip] = r.extra[e];
    }
  }
}

void ChunkKernel::pack(const PackRow* rows, std::int64_t count, int cols, int n_extra) {
  pack_strips(rows, count, cols, n_extra, packed_.get(), max_rows_ * kStrip);
}

void ChunkKernel::compute(std::int64_t rows, const PackRow* next, std::int64_t next_count) {
  const std::int64_t strip_stride = max_rows_ * kStrip;
  const std::int64_t S = strips_;
  // Prefetch schedule: the next rows' lines spread over the micro-kernel calls.
  const std::int64_t row_lines = (static_cast<std::int64_t>(m_) * 8 + 63) / 64 + 1;
  const std::int64_t calls = ((rows + kKc - 1) / kKc) * (S * (S + 3) / 6 + 1);
  const std::int64_t per_call =
      next && next_count > 0 ? (next_count * row_lines + calls - 1) / calls : 0;
  std::int64_t pf_row = 0, pf_line = 0;
  auto prefetch = [&]() {
    for (std::int64_t i = 0; i < per_call && pf_row < next_count; ++i) {
      const PackRow& r = next[pf_row];
      if (r.col_stride == 1) {
        __builtin_prefetch(reinterpret_cast<const char*>(r.a) + 64 * pf_line, 0, 1);
      }
      if (++pf_line == row_lines) {
        pf_line = 0;
        ++pf_row;
      }
    }
  };
  double* g = gram_.get();
  const double* p = packed_.get();
  if (rows == 0) {
    std::memset(g, 0, sizeof(double) * static_cast<std::size_t>(blocks() * kBlockSize));
    return;
  }
  // Tiles of kTile x kTile blocks of C stay in L2 over every 256-row slab of the chunk (C is
  // written once per chunk, not once per slab); within a tile, the B strip of one column t
  // stays in L1 while the A strips below it stream from L2. Each entry's sum still runs over
  // the rows in order.
  for (std::int64_t rb = 0; rb < S; rb += kTile) {
    const std::int64_t re = std::min(S, rb + kTile);
    for (std::int64_t cb = 0; cb <= rb; cb += kTile) {
      const std::int64_t ce = std::min(re, cb + kTile);
      for (std::int64_t k0 = 0; k0 < rows; k0 += kKc) {
        const std::int64_t kc = std::min(kKc, rows - k0);
        const bool first = k0 == 0;
        for (std::int64_t t = cb; t < ce; ++t) {
          const double* b = p + t * strip_stride + k0 * kStrip;
          std::int64_t s = std::max(rb, t);
          while (s < re) {
            const std::int64_t r = std::min<std::int64_t>(3, re - s);
            double* c[3] = {g + block_index(s, t) * kBlockSize,
                            r > 1 ? g + block_index(s + 1, t) * kBlockSize : nullptr,
                            r > 2 ? g + block_index(s + 2, t) * kBlockSize : nullptr};
            const double* a = p + s * strip_stride + k0 * kStrip;
            prefetch();
            if (r == 3) {
              micro_kernel<3>(a, strip_stride, b, kc, c, first);
            } else if (r == 2) {
              micro_kernel<2>(a, strip_stride, b, kc, c, first);
            } else {
              micro_kernel<1>(a, strip_stride, b, kc, c, first);
            }
            s += r;
          }
        }
      }
    }
  }
}

void ChunkKernel::accumulate(const double* scale, std::int64_t* limbs) const {
  const v8d k64 = splat(0x1p-64), k32 = splat(0x1p-32);
  const v8d p64 = splat(0x1p64), p32 = splat(0x1p32);
  const double* g = gram_.get();
  for (std::int64_t s = 0; s < strips_; ++s) {
    const v8d rs = *reinterpret_cast<const v8du*>(scale + s * kStrip);
    for (std::int64_t t = 0; t <= s; ++t) {
      const std::int64_t idx = block_index(s, t);
      const double* blk = g + idx * kBlockSize;
      std::int64_t* out = limbs + idx * kLimbs * kBlockSize;
      for (int j = 0; j < 8; ++j) {
        const v8d w = load(blk + j * 8) * rs * splat(scale[t * kStrip + j]);
        const v8i h2 = __builtin_convertvector(w * k64, v8i);
        const v8d w1 = w - __builtin_convertvector(h2, v8d) * p64;
        const v8i h1 = __builtin_convertvector(w1 * k32, v8i);
        const v8d w0 = w1 - __builtin_convertvector(h1, v8d) * p32;
        const v8i h0 = __builtin_convertvector(w0, v8i);
        v8iu* o = reinterpret_cast<v8iu*>(out + j * 8);
        o[0] += h0;
        o[8] += h1;
        o[16] += h2;
      }
    }
  }
}

CrossKernel::CrossKernel(int p, int columns, std::int64_t max_rows)
    : p_(p),
      columns_(columns),
      strips_(strips_of(p)),
      col_strips_(strips_of(columns)),
      max_rows_(max_rows),
      packed_cols_(
          aligned_doubles(static_cast<std::size_t>(strips_of(columns) * max_rows * kStrip))),
      c_(aligned_doubles(
          static_cast<std::size_t>(strips_of(p) * strips_of(columns) * kBlockSize))) {}

void CrossKernel::pack_rows(const PackRow* rows, std::int64_t count) {
  if (!packed_) packed_ = aligned_doubles(static_cast<std::size_t>(strips_ * max_rows_ * kStrip));
  pack_strips(rows, count, p_, 0, packed_.get(), max_rows_ * kStrip);
}

void CrossKernel::pack_columns(const PackRow* rows, std::int64_t count, const int* cols) {
  const std::int64_t stride = max_rows_ * kStrip;
  double* b = packed_cols_.get();
  for (std::int64_t k = 0; k < count; ++k) {
    const PackRow& r = rows[k];
    double* bb = b + k * kStrip;
    for (int q = 0; q < columns_; ++q) {
      bb[(q / kStrip) * stride + q % kStrip] = r.a[cols[q] * r.col_stride];
    }
  }
}

void CrossKernel::compute(std::int64_t rows, const CrossKernel& rows_of) {
  const std::int64_t stride = max_rows_ * kStrip;
  double* c = c_.get();
  if (rows == 0) {
    std::memset(c, 0,
                sizeof(double) * static_cast<std::size_t>(strips_ * col_strips_ * kBlockSize));
    return;
  }
  for (std::int64_t k0 = 0; k0 < rows; k0 += kKc) {
    const std::int64_t kc = std::min(kKc, rows - k0);
    const bool first = k0 == 0;
    for (std::int64_t t = 0; t < col_strips_; ++t) {
      const double* b = packed_cols_.get() + t * stride + k0 * kStrip;
      for (std::int64_t s = 0; s < strips_;) {
        const std::int64_t r = std::min<std::int64_t>(3, strips_ - s);
        double* out[3] = {c + (s * col_strips_ + t) * kBlockSize,
                          r > 1 ? c + ((s + 1) * col_strips_ + t) * kBlockSize : nullptr,
                          r > 2 ? c + ((s + 2) * col_strips_ + t) * kBlockSize : nullptr};
        const double* a = rows_of.packed_.get() + s * stride + k0 * kStrip;
        if (r == 3) {
          micro_kernel<3>(a, stride, b, kc, out, first);
        } else if (r == 2) {
          micro_kernel<2>(a, stride, b, kc, out, first);
        } else {
          micro_kernel<1>(a, stride, b, kc, out, first);
        }
        s += r;
      }
    }
  }
}

void CrossKernel::accumulate(const double* row_scale, const double* col_scale,
                             std::int64_t* limbs) const {
  const v8d k64 = splat(0x1p-64), k32 = splat(0x1p-32);
  const v8d p64 = splat(0x1p64), p32 = splat(0x1p32);
  const double* c = c_.get();
  const std::int64_t rows = padded_rows(), plane = static_cast<std::int64_t>(columns_) * rows;
  for (std::int64_t s = 0; s < strips_; ++s) {
    const v8d rs = *reinterpret_cast<const v8du*>(row_scale + s * kStrip);
    for (std::int64_t t = 0; t < col_strips_; ++t) {
      const double* blk = c + (s * col_strips_ + t) * kBlockSize;
      for (int j = 0; j < 8; ++j) {
        const std::int64_t q = t * kStrip + j;
        if (q >= columns_) break;
        const v8d w = load(blk + j * 8) * rs * splat(col_scale[q]);
        const v8i h2 = __builtin_convertvector(w * k64, v8i);
        const v8d w1 = w - __builtin_convertvector(h2, v8d) * p64;
        const v8i h1 = __builtin_convertvector(w1 * k32, v8i);
        const v8d w0 = w1 - __builtin_convertvector(h1, v8d) * p32;
        const v8i h0 = __builtin_convertvector(w0, v8i);
        std::int64_t* o = limbs + q * rows + s * kStrip;
        *reinterpret_cast<v8iu*>(o) += h0;
        *reinterpret_cast<v8iu*>(o + plane) += h1;
        *reinterpret_cast<v8iu*>(o + 2 * plane) += h2;
      }
    }
  }
}

void split_limbs(double w, std::int64_t* h0, std::int64_t* h1, std::int64_t* h2) {
  const double t2 = std::trunc(w * 0x1p-64);
  const double w1 = w - t2 * 0x1p64;
  const double t1 = std::trunc(w1 * 0x1p-32);
  const double w0 = w1 - t1 * 0x1p32;
  *h2 = static_cast<std::int64_t>(t2);
  *h1 = static_cast<std::int64_t>(t1);
  *h0 = static_cast<std::int64_t>(std::trunc(w0));
}

double limbs_to_double(std::int64_t h0, std::int64_t h1, std::int64_t h2, int exponent,
                       double* low) {
  const int128 v = static_cast<int128>(h2) * (static_cast<int128>(1) << 64) +
                   static_cast<int128>(h1) * (static_cast<int128>(1) << 32) +
                   static_cast<int128>(h0);
  const double hi = static_cast<double>(v);
  if (low) {
    // hi is an integer (|v| < 2^112), so v - hi is exact in 128 bits.
    const int128 rest = v - static_cast<int128>(hi);
    *low = std::ldexp(static_cast<double>(rest), exponent);
  }
  return std::ldexp(hi, exponent);
}

}  // namespace physfit::lasso::detail
