// CPU backend of bsmm: plan-time setup (threads, tiling, task lists), workspace sizes, pointer
// checks. The ops live in bsmm_cpu_xprop.cpp, bsmm_cpu_updat.cpp and bsmm_cpu_weights.cpp.
#include "cpu/bsmm_cpu.hpp"

#include <omp.h>

#include <algorithm>

#include "core/checks.hpp"
#include "core/dtype.hpp"

namespace bs {
namespace cpu {
namespace {

Tiling make_tiling(int64_t b) {
  Tiling t;
  // b = 8 is one vector wide: 12 rows keep 12 accumulators busy; wider blocks use 6 x 16.
  t.nv = b == 8 ? 1 : 2;
  t.mr = b == 8 ? kMaxRowsNv1 : kMaxRowsNv2;
  t.kc = std::max<int64_t>(1, 128 / b);
  // The fp32 accumulator tile (nr_max x b) stays within 64 KiB, L2-resident beside the input streams.
  t.nr_max = b >= 64 ? 128 : 256;
  t.u_nv = b == 8 ? 1 : 2;
  t.u_mr = b == 8 ? 8 : 6;
  t.nc = 128;
  return t;
}

// Splits every layout row into groups of consecutive blocks sharing the packed x slice. Groups
// are capped so their accumulators stay near 64 KiB, and made smaller when there would be too few
// tasks to keep every thread busy. Fixed at plan creation: the grouping does not change results
// (each block is summed on its own), only which thread computes it.
std::vector<UpdatTask> make_updat_tasks(const BsmmLayout& l, int64_t b, int32_t threads) {
  int64_t group = std::max<int64_t>(1, (64 * 1024) / (b * b * 4));
  group = std::min(group, std::max<int64_t>(1, l.nnz / (4 * static_cast<int64_t>(threads))));
  int64_t count = 0;  // exact capacity: plan memory stays within the bound of bsmm.h
  for (int64_t c = 0; c < l.CB; ++c) count += (l.row_nnz(c) + group - 1) / group;
  std::vector<UpdatTask> tasks;
  tasks.reserve(static_cast<size_t>(count));
  for (int64_t c = 0; c < l.CB; ++c)
    for (int64_t e = l.row_ptr[c]; e < l.row_ptr[c + 1]; e += group)
      tasks.push_back({e, std::min(e + group, l.row_ptr[c + 1])});
  return tasks;
}

}  // namespace

CpuBsmm::CpuBsmm(const BsmmConfig& config, const BsmmLayout& layout)
    : cfg_(config), layout_(layout), tile_(make_tiling(config.block_size)), kernels_(&micro_kernels()) {
  threads_ = config.num_threads > 0 ? config.num_threads : omp_get_max_threads();
  updat_tasks_ = make_updat_tasks(layout_, config.block_size, threads_);
  for (const UpdatTask& t : updat_tasks_) updat_group_ = std::max(updat_group_, t.end - t.begin);
}

size_t CpuBsmm::xprop_thread_bytes() const {
  const size_t b = static_cast<size_t>(cfg_.block_size), kc = static_cast<size_t>(tile_.kc);
  return round_up(static_cast<size_t>(tile_.nr_max) * b * sizeof(float), kAlign) +
         round_up(kc * b * b * sizeof(float), kAlign) + round_up(kc * sizeof(int64_t), kAlign) +
         round_up(kc * sizeof(const float*), kAlign);
}

size_t CpuBsmm::updat_thread_bytes() const {
  const size_t b = static_cast<size_t>(cfg_.block_size);
  return round_up(static_cast<size_t>(updat_group_) * b * b * sizeof(float), kAlign) +
         2 * round_up(static_cast<size_t>(tile_.nc) * b * sizeof(float), kAlign);
}

size_t CpuBsmm::workspace_size(bsmm_op_t op, int64_t N) const {
  const size_t threads = static_cast<size_t>(threads_);
  switch (op) {
    case BSMM_OP_FPROP:
    case BSMM_OP_BPROP: {
      const int64_t in_features = op == BSMM_OP_BPROP ? cfg_.K : cfg_.C;
      const size_t packed =
          round_up(checked_bytes(checked_mul(N, in_features, "N*features"), sizeof(float), "workspace"), kAlign);
      return kAlign + packed + threads * xprop_thread_bytes();
    }
    case BSMM_OP_UPDAT: {
      const size_t panels = round_up(checked_bytes(checked_mul(N, cfg_.C, "N*C"), sizeof(float), "workspace"), kAlign) +
                            round_up(checked_bytes(checked_mul(N, cfg_.K, "N*K"), sizeof(float), "workspace"), kAlign);
      return kAlign + panels + threads * updat_thread_bytes();
    }
    case BSMM_OP_L2_NORMALIZE:
    case BSMM_OP_L2_NORMALIZE_GRAD:
      return kAlign + 3 * round_up(checked_bytes(cfg_.K, sizeof(float), "workspace"), kAlign);
    default: return 0;
  }
}

void CpuBsmm::check_tensor(const void* p, const char* name) const {
  // Activations and weights need their element size; fp32 side arrays (gates, gains) are read
  // bytewise or are covered by the fp32 element size; the workspace is realigned internally.
  check_aligned(p, dtype_bytes(cfg_.dtype), name);
}

// Rows of N per fprop/bprop task: at most nr_max, and small enough that there are about four tasks
// per thread (never fewer than one micro-tile of rows).
int64_t CpuBsmm::xprop_row_tiles(int64_t N, int64_t out_blocks) const {
  const int64_t min_tiles = (N + tile_.nr_max - 1) / tile_.nr_max;
  const int64_t want = (4 * static_cast<int64_t>(threads_) + out_blocks - 1) / out_blocks;
  const int64_t max_tiles = (N + tile_.mr - 1) / tile_.mr;
  return std::max(min_tiles, std::min(want, max_tiles));
}

}  // namespace cpu

std::unique_ptr<BsmmBackend> make_bsmm_cpu_backend(const BsmmConfig& config, const BsmmLayout& layout) {
  return std::make_unique<cpu::CpuBsmm>(config, layout);
}

}  // namespace bs
