// CPU backend: element-wise ops, float cast, add_n, dropout.
#include <algorithm>

#include "ops/ew_math.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {
namespace {

// Runs body(begin, end) over [0, n) in chunks of kCpuChunk on the OpenMP threads.
template <typename Body>
void parallel_chunks(int64_t n, int64_t chunk, Body&& body) {
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < chunks; ++t) body(t * chunk, std::min(n, (t + 1) * chunk));
}

}  // namespace

void CpuOps::ew_unary(const UnaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    parallel_chunks(a.n, kCpuChunk, [&](int64_t b, int64_t e) {
      if (a.grad) {
        for (int64_t i = b; i < e; ++i) st<T>(a.out, i, ld<T>(a.dy, i) * unary_deriv(a.op, ld<T>(a.x, i), a.alpha));
      } else {
        for (int64_t i = b; i < e; ++i) st<T>(a.out, i, unary_fwd(a.op, ld<T>(a.x, i), a.alpha));
      }
    });
  });
}

void CpuOps::ew_binary(const BinaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    parallel_chunks(a.rows * a.cols, kCpuChunk, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float y = ld<T>(a.y, a.y_vec ? i % a.cols : i);
        st<T>(a.z, i, binary_fwd(a.op, ld<T>(a.x, i), y));
      }
    });
  });
}

void CpuOps::ew_binary_grad(const BinaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (!a.y_vec) {
      parallel_chunks(a.rows * a.cols, kCpuChunk, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          float dx, dy;
          binary_grad(a.op, ld<T>(a.x, i), ld<T>(a.y, i), ld<T>(a.dz, i), dx, dy);
          if (a.dx) st<T>(a.dx, i, dx);
          if (a.dy) st<T>(a.dy, i, dy);
        }
      });
      return;
    }
    // y is a vector: each task owns a block of columns and walks every row, so dy[c] is summed in
    // row order whatever the thread count. dx is written in the same sweep (dz is read before dx
    // is written, so dx may alias dz).
    constexpr int64_t kCols = 64;
    parallel_chunks(a.cols, kCols, [&](int64_t c0, int64_t c1) {
      float acc[kCols] = {};
      float yv[kCols];
      for (int64_t c = c0; c < c1; ++c) yv[c - c0] = ld<T>(a.y, c);
      for (int64_t r = 0; r < a.rows; ++r) {
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t i = r * a.cols + c;
          float dx, dy;
          binary_grad(a.op, ld<T>(a.x, i), yv[c - c0], ld<T>(a.dz, i), dx, dy);
          acc[c - c0] += dy;
          if (a.dx) st<T>(a.dx, i, dx);
        }
      }
      if (a.dy)
        for (int64_t c = c0; c < c1; ++c) st<T>(a.dy, c, acc[c - c0]);
    });
  });
}

void CpuOps::float_cast(const CastArgs& a) const {
  dispatch_dtype(a.src, [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_dtype(a.dst, [&](auto dst_tag) {
      using D = decltype(dst_tag);
      parallel_chunks(a.n, kCpuChunk, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) st<D>(a.y, i, ld<S>(a.x, i));
      });
    });
  });
}

void CpuOps::add_n(const AddNArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    parallel_chunks(a.n, kCpuChunk, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float s = 0.0f;
        for (int32_t k = 0; k < a.count; ++k) s += ld<T>(a.xs[k], i);
        st<T>(a.y, i, s);
      }
    });
  });
}

void CpuOps::dropout(const DropoutArgs& a) const {
  const int64_t words = (a.n + 31) / 32;
  // Tasks own whole mask words, so no two tasks write the same word.
  auto run = [&](auto tag) {
    using T = decltype(tag);
    parallel_chunks(words, kCpuChunk / 32, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        const uint32_t bits = a.mask_in ? a.mask_in[w]
                                        : dropout_mask_word(a.keys, a.offset, a.threshold, static_cast<uint64_t>(w));
        const int64_t e = std::min(a.n, (w + 1) * 32);
        if (a.mask_out) a.mask_out[w] = e - w * 32 == 32 ? bits : bits & ((1u << (e - w * 32)) - 1u);
        if (!a.x) continue;
        for (int64_t i = w * 32; i < e; ++i)
          st<T>(a.y, i, (bits >> (i - w * 32)) & 1u ? ld<T>(a.x, i) * a.scale : 0.0f);
      }
    });
  };
  dispatch_dtype(a.dtype, run);
}

}  // namespace bs::ops
