#pragma once
// Device wrappers over the Hopper (sm_90a) PTX the warp-specialized kernels are built from:
// mbarriers, TMA tile loads (cp.async.bulk.tensor) and warpgroup MMAs (wgmma) with both operands
// in shared memory. Everything here exists only when compiling for sm_90a (BS_SM90A); kernels that
// use it guard their bodies with the same macro, so the sm_80 build of the same translation unit
// still compiles.
//
// Shared-memory operands are described by the PTX ISA's "matrix descriptor" (Asynchronous
// Warpgroup Level Matrix Shared Memory Layout): 14-bit start address, leading and stride byte
// offsets (all in 16-byte units) and the swizzle mode in bits 62-63. The tiles this library gives
// wgmma are K-major (the reduction dimension contiguous) or MN-major, swizzled with the same mode
// the TMA unit wrote them with, rows of exactly one swizzle span (32, 64 or 128 bytes).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/convert.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define BS_SM90A 1
#endif

namespace bs {
namespace cuda {
namespace sm90 {

#ifdef BS_SM90A

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarriers (shared::cta, 8 bytes each) ----
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count));
}
// Makes the initialisations visible to the async proxy (TMA) before any thread uses the barriers.
__device__ __forceinline__ void mbar_fence_init() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
// An arrival by the threads where `pred` holds, without a branch (a divergent path around the
// wgmma sequence would make ptxas serialize the MMAs).
__device__ __forceinline__ void mbar_arrive_if(uint64_t* bar, bool pred) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %1, 0;\n@p mbarrier.arrive.shared::cta.b64 _, [%0];\n}\n" ::"r"(smem_u32(bar)),
      "r"(static_cast<int>(pred))
      : "memory");
}
// One arrival that also announces `bytes` of TMA traffic the phase must wait for.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}
// Blocks until the phase with the given parity has completed. A freshly initialised barrier counts
// its (virtual) previous phase, parity 1, as complete: producers start waiting on parity 1.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

// ---- TMA ----
// 2D tile load of the box at (c0 = innermost coordinate, c1) into shared memory; completion is
// counted in bytes on `bar`. Out-of-range parts of the box are filled with zeros (and still
// counted), which is how token tails are padded.
__device__ __forceinline__ void tma_load_2d(void* dst, const void* tmap, int c0, int c1, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          smem_u32(dst)),
      "l"(tmap), "r"(c0), "r"(c1), "r"(smem_u32(bar))
      : "memory");
}
__device__ __forceinline__ void tma_prefetch_desc(const void* tmap) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(tmap) : "memory");
}
// ---- clusters ----
__device__ __forceinline__ uint32_t cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}
__device__ __forceinline__ uint32_t cluster_size() {
  uint32_t n;
  asm volatile("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(n));
  return n;
}
// Every non-exited thread of the cluster arrives; writes before it (shared::cluster included) are
// visible to every thread after it.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
}
// The shared::cluster address of `p`'s location in the cluster's CTA of rank `rank`.
__device__ __forceinline__ uint32_t cluster_addr(const void* p, uint32_t rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(smem_u32(p)), "r"(rank));
  return remote;
}
__device__ __forceinline__ void st_cluster_f4(uint32_t addr, float a, float b, float c, float d) {
  asm volatile("st.shared::cluster.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "f"(a), "f"(b), "f"(c), "f"(d)
               : "memory");
}

// ---- wgmma ----
// Descriptor of a K-major tile whose rows are one swizzle span of `row_bytes` (32, 64 or 128) and
// whose 8-row groups follow each other (stride 8 * row_bytes). The leading offset is unused for
// swizzled K-major tiles (the instruction's 16-element depth never leaves a row).
__device__ __forceinline__ uint64_t kmajor_desc(const void* tile, int row_bytes) {
  const uint64_t mode = row_bytes == 128 ? 1 : (row_bytes == 64 ? 2 : 3);
  const uint64_t start = (smem_u32(tile) & 0x3FFFF) >> 4;
  const uint64_t sbo = static_cast<uint64_t>(8 * row_bytes) >> 4;
  return start | (uint64_t{1} << 16) | (sbo << 32) | (mode << 62);
}

// Descriptor of an MN-major tile (the M or N dimension contiguous): rows along the reduction, each
// one swizzle span of `span_bytes` (32, 64 or 128); 8-row groups follow each other (stride
// 8 * span_bytes) and further spans of the MN dimension start `mn_stride` bytes apart.
__device__ __forceinline__ uint64_t mnmajor_desc(const void* tile, int span_bytes, int mn_stride) {
  const uint64_t mode = span_bytes == 128 ? 1 : (span_bytes == 64 ? 2 : 3);
  const uint64_t start = (smem_u32(tile) & 0x3FFFF) >> 4;
  const uint64_t lbo = static_cast<uint64_t>(mn_stride) >> 4;
  const uint64_t sbo = static_cast<uint64_t>(8 * span_bytes) >> 4;
  return start | (lbo << 16) | (sbo << 32) | (mode << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accumulator accesses across the asynchronous MMAs.
template <int R>
__device__ __forceinline__ void fence_regs(float (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

template <int M, int R>
__device__ __forceinline__ void fence_regs(float (&d)[M][R]) {
#pragma unroll
  for (int m = 0; m < M; ++m) fence_regs(d[m]);
}

// ---- TMA ring of `stages` slots (full / empty mbarrier per slot) ----
// Position of a producer or consumer in the ring: slot s, the parity of its lap, the slot before.
struct RingPos {
  int stages, s = 0, prev;
  uint32_t lap = 0;
  __device__ explicit RingPos(int n) : stages(n), prev(n - 1) {}
  __device__ void advance() {
    prev = s;
    if (++s == stages) s = 0, lap ^= 1u;
  }
};

// The producer warp's start of its j-th stage, in slot ring.s: waits until the consumers have
// released the slot's use one lap earlier (nothing to wait for in the first lap), then lane 0 arms
// the slot's full barrier with the stage's TMA bytes before any lane issues a load into it.
__device__ __forceinline__ void producer_acquire(uint64_t* full, uint64_t* empty, const RingPos& ring, int j,
                                                 uint32_t tx, int lane) {
  if (j >= ring.stages) mbar_wait(&empty[ring.s], ring.lap ^ 1u);
  if (lane == 0) mbar_arrive_expect_tx(&full[ring.s], tx);
  __syncwarp();
}

// A consumer warp's end of a stage whose wgmmas it has issued: keeps them in flight, waits for the
// previous stage's (so that slot goes back to the producer: one arrival per warp; none before the
// first stage) and moves to the next slot.
template <int M, int R>
__device__ __forceinline__ void wgmma_stage_done(float (&acc)[M][R], uint64_t* empty, RingPos& ring, bool first,
                                                 int lane) {
  wgmma_commit();
  fence_regs(acc);
  wgmma_wait<1>();
  mbar_arrive_if(&empty[ring.prev], !first && lane == 0);
  ring.advance();
}

// Operand lists of m64nNk16: N/2 fp32 accumulators, the two descriptors, the scale-d flag.
#define BS_WG_REGS_16 "{%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9"
#define BS_WG_SCALE_16 "%10"
#define BS_WG_TA_16 "11"
#define BS_WG_TB_16 "12"
#define BS_WG_REGS_32 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17"
#define BS_WG_SCALE_32 "%18"
#define BS_WG_TA_32 "19"
#define BS_WG_TB_32 "20"
#define BS_WG_REGS_64                                                                                   \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33"
#define BS_WG_SCALE_64 "%34"
#define BS_WG_TA_64 "35"
#define BS_WG_TB_64 "36"
#define BS_WG_REGS_128                                                                                  \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, "  \
  "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, "  \
  "%62, %63}, %64, %65"
#define BS_WG_SCALE_128 "%66"
#define BS_WG_TA_128 "67"
#define BS_WG_TB_128 "68"
#define BS_F4(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define BS_F8(d, i) BS_F4(d, i), BS_F4(d, i + 4)
#define BS_F16(d, i) BS_F8(d, i), BS_F8(d, i + 8)
#define BS_F32(d, i) BS_F16(d, i), BS_F16(d, i + 16)
#define BS_F64(d, i) BS_F32(d, i), BS_F32(d, i + 32)
#define BS_WG_ASM(N, TY, OUTS)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " BS_WG_SCALE_##N                                      \
               ", 0;\nwgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " " BS_WG_REGS_##N     \
               ", p, 1, 1, %" BS_WG_TA_##N ", %" BS_WG_TB_##N ";\n}\n"                                                \
               : OUTS                                                                                   \
               : "l"(da), "l"(db), "r"(1), "n"(static_cast<int>(kTransA)), "n"(static_cast<int>(kTransB)))

// d (64 x N fp32, the warpgroup's accumulator fragment) += A(64 x 16) · B(16 x N), each operand
// K-major or (kTransA / kTransB) MN-major in shared memory. Fragment of thread t: d[4c + h] is row
// 16·(t/32) + (t%32)/4 + 8·(h/2), column 8c + 2·(t%4) + h%2.
template <int N, bool kBf16, bool kTransA, bool kTransB>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t da, uint64_t db) {
  if constexpr (N == 16) {
    if constexpr (kBf16) BS_WG_ASM(16, "bf16", BS_F8(d, 0)); else BS_WG_ASM(16, "f16", BS_F8(d, 0));
  } else if constexpr (N == 32) {
    if constexpr (kBf16) BS_WG_ASM(32, "bf16", BS_F16(d, 0)); else BS_WG_ASM(32, "f16", BS_F16(d, 0));
  } else if constexpr (N == 64) {
    if constexpr (kBf16) BS_WG_ASM(64, "bf16", BS_F32(d, 0)); else BS_WG_ASM(64, "f16", BS_F32(d, 0));
  } else {
    static_assert(N == 128, "wgmma_ss: N must be 16, 32, 64 or 128");
    if constexpr (kBf16) BS_WG_ASM(128, "bf16", BS_F64(d, 0)); else BS_WG_ASM(128, "f16", BS_F64(d, 0));
  }
}

#undef BS_WG_ASM

// Epilogue of an m64nNk16 accumulator fragment d (layout at wgmma_ss) into fp16/bf16 memory: the
// thread's pairs of fragment row h (0: its row, 1: 8 rows below) go to `row`, which points at the
// thread's first column, 2·(t%4), of that output row. Each pair becomes scale·d (0 where `zero`),
// plus beta times the pair already stored when beta != 0, rounded once to T.
template <typename T, int N>
__device__ __forceinline__ void store_acc_row(uint32_t* row, const float (&d)[N / 2], int h, float scale, bool zero,
                                              float beta) {
#pragma unroll
  for (int c = 0; c < N / 8; ++c) {
    float v0 = zero ? 0.0f : scale * d[4 * c + 2 * h], v1 = zero ? 0.0f : scale * d[4 * c + 2 * h + 1];
    if (beta != 0.0f) {
      const uint32_t old = row[4 * c];
      v0 += beta * half_of<T>(old, 0);
      v1 += beta * half_of<T>(old, 1);
    }
    row[4 * c] = pack2<T>(v0, v1);
  }
}
#undef BS_WG_REGS_16
#undef BS_WG_SCALE_16
#undef BS_WG_REGS_32
#undef BS_WG_SCALE_32
#undef BS_WG_REGS_64
#undef BS_WG_SCALE_64
#undef BS_WG_REGS_128
#undef BS_WG_SCALE_128
#undef BS_WG_TA_16
#undef BS_WG_TB_16
#undef BS_WG_TA_32
#undef BS_WG_TB_32
#undef BS_WG_TA_64
#undef BS_WG_TB_64
#undef BS_WG_TA_128
#undef BS_WG_TB_128
#undef BS_F64
#undef BS_F32
#undef BS_F16
#undef BS_F8
#undef BS_F4

#endif  // BS_SM90A

}  // namespace sm90
}  // namespace cuda
}  // namespace bs
