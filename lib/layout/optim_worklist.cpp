#include "layout/optim_worklist.hpp"

#include "core/checks.hpp"
#include "core/dtype.hpp"

namespace bs {

OptimWorklist OptimWorklist::build(int32_t n, const int64_t* rows, const int64_t* cols, const int32_t* dtypes,
                                   const int64_t* block_elems) {
  if (n < 1) fail(BS_STATUS_INVALID_VALUE, "n_tensors must be >= 1 (got ", n, ")");
  check_not_null(rows, "rows");
  check_not_null(cols, "cols");
  check_not_null(dtypes, "dtypes");
  OptimWorklist w;
  w.tensors.resize(static_cast<size_t>(n));
  int64_t total_bytes = 0;
  for (int32_t i = 0; i < n; ++i) {
    OptimTensor& t = w.tensors[static_cast<size_t>(i)];
    t.rows = rows[i];
    t.cols = cols[i];
    t.dtype = dtypes[i];
    t.block_elems = block_elems ? block_elems[i] : 0;
    if (t.rows < 1 || t.cols < 1)
      fail(BS_STATUS_INVALID_VALUE, "tensor ", i, " has shape (", t.rows, ", ", t.cols, "); sizes must be >= 1");
    if (!dtype_valid(t.dtype)) fail(BS_STATUS_INVALID_VALUE, "dtypes[", i, "] is not a bs_dtype_t (got ", t.dtype, ")");
    t.numel = checked_mul(t.rows, t.cols, "rows*cols");
    // fp32 states of the tensor: the largest per-element footprint any call addresses.
    const int64_t bytes = static_cast<int64_t>(checked_bytes(t.numel, 4, "tensor bytes"));
    if (__builtin_add_overflow(total_bytes, bytes, &total_bytes) || __builtin_add_overflow(w.numel, t.numel, &w.numel))
      fail(BS_STATUS_OVERFLOW, "the total size of the tensors overflows int64");
    if (t.block_elems != 0 && (t.block_elems < 8 || t.block_elems % 8 != 0 || t.numel % t.block_elems != 0))
      fail(BS_STATUS_INVALID_VALUE, "block_elems[", i, "] = ", t.block_elems,
           " must be 0 or a multiple of 8 dividing the tensor's ", t.numel, " elements");
  }
  // Groups: consecutive runs of the tensors of one (dtype, blocked) kind, in plan order of first
  // appearance; a kind's tensors fill groups of at most kGroup* tensors.
  std::vector<bool> placed(static_cast<size_t>(n), false);
  for (int32_t i = 0; i < n; ++i) {
    if (placed[static_cast<size_t>(i)]) continue;
    const OptimTensor& first = w.tensors[static_cast<size_t>(i)];
    const bool blocked = first.block_elems != 0;
    const int max_tensors = blocked ? kGroupBlocked : kGroupPlain;
    OptimGroup* g = nullptr;
    for (int32_t j = i; j < n; ++j) {
      const OptimTensor& t = w.tensors[static_cast<size_t>(j)];
      if (placed[static_cast<size_t>(j)] || t.dtype != first.dtype || (t.block_elems != 0) != blocked) continue;
      if (!g || static_cast<int>(g->tensors.size()) == max_tensors) {
        w.groups.emplace_back();
        g = &w.groups.back();
        g->dtype = first.dtype;
        g->blocked = blocked;
        g->first_chunk = static_cast<int64_t>(w.chunks.size());
      }
      placed[static_cast<size_t>(j)] = true;
      const int32_t slot = static_cast<int32_t>(g->tensors.size());
      g->tensors.push_back(j);
      for (int64_t b = 0; b < t.numel; b += kChunkElems) {
        OptimChunk c;
        c.tensor = j;
        c.slot = slot;
        c.begin = b;
        c.end = b + kChunkElems < t.numel ? b + kChunkElems : t.numel;
        w.chunks.push_back(c);
      }
      g->n_chunks = static_cast<int64_t>(w.chunks.size()) - g->first_chunk;
    }
  }
  return w;
}

}  // namespace bs
