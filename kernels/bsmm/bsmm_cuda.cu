// CUDA backend of bsmm: plan creation (device checks, lookup tables uploaded once, kernels picked)
// and the execute calls, which only enqueue kernels on the caller's stream.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bsmm_backend.hpp"
#include "kernels/bsmm/lut.hpp"
#include "kernels/bsmm/misc.hpp"
#include "kernels/bsmm/ops.hpp"
#include "kernels/bsmm/small.hpp"
#include "kernels/bsmm/small_lut.hpp"
#include "kernels/bsmm/wg.hpp"
#include "kernels/bsmm/wg_updat.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/cuda_device.hpp"
#include "kernels/common/tma.hpp"

namespace bs {
namespace cuda {
namespace {

constexpr int kMaxGridY = 65535;

const KernelSet& pick_kernels(const BsmmConfig& c) {
  switch (c.dtype) {
    case BS_DTYPE_BF16: return kernel_set<bf16_t, Math::kMma16>(c.block_size);
    case BS_DTYPE_F16: return kernel_set<half_t, Math::kMma16>(c.block_size);
    default:
      return c.math_mode == BS_MATH_TF32 ? kernel_set<float, Math::kTf32>(c.block_size)
                                         : kernel_set<float, Math::kFfma>(c.block_size);
  }
}

// All int32 tables of a plan in one device allocation.
class DeviceTables {
 public:
  explicit DeviceTables(int32_t device) : device_(device) {}
  DeviceTables(const DeviceTables&) = delete;
  DeviceTables& operator=(const DeviceTables&) = delete;
  ~DeviceTables() {
    if (!base_) return;
    int prev = -1;  // free on the owning device, then give the caller its device back
    (void)cudaGetDevice(&prev);
    (void)cudaSetDevice(device_);
    (void)cudaFree(base_);
    if (prev >= 0) (void)cudaSetDevice(prev);
  }
  // Appends a host table; returns its offset in ints (16-byte aligned starts).
  size_t add(const std::vector<int32_t>& v) {
    const size_t off = host_.size();
    host_.insert(host_.end(), v.begin(), v.end());
    host_.resize((host_.size() + 3) / 4 * 4, 0);
    return off;
  }
  void upload() {
    const size_t bytes = host_.size() * sizeof(int32_t);
    check(cudaMalloc(&base_, bytes > 0 ? bytes : 16), "cudaMalloc (bsmm lookup tables)");
    check(cudaMemcpy(base_, host_.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy (bsmm lookup tables)");
    host_.clear();
    host_.shrink_to_fit();
  }
  const int* at(size_t off) const { return static_cast<const int*>(base_) + off; }

 private:
  int32_t device_;
  std::vector<int32_t> host_;
  void* base_ = nullptr;
};

std::vector<int32_t> to_i32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

// The sm_90a kernels (wg.hpp) for this plan and N > 128 or not, or null: 16-bit storage, features
// last, b >= 16, a compute capability 9.0 device and a build with sm_90a code. BS_CUDA_WGMMA=0 in the
// environment turns them off (to compare against the mma.sync engine in benchmarks).
const WgKernels* pick_wg(const BsmmConfig& c, const DeviceInfo& info, bool large_n) {
  const char* env = std::getenv("BS_CUDA_WGMMA");
  if (env != nullptr && std::strcmp(env, "0") == 0) return nullptr;
  if (c.feature_axis != 1) return nullptr;
  const WgKernels* k = wg_kernels(c.dtype, c.block_size, large_n);
  return k != nullptr && wg_usable(*k, info) ? k : nullptr;
}

// The sm_90a updat kernel (wg_updat.hpp) for this plan, or null (same conditions as pick_wg).
const WgUpdatKernels* pick_wg_updat(const BsmmConfig& c, const DeviceInfo& info) {
  const char* env = std::getenv("BS_CUDA_WGMMA");
  if (env != nullptr && std::strcmp(env, "0") == 0) return nullptr;
  if (c.feature_axis != 1) return nullptr;
  const WgUpdatKernels* k = wg_updat_kernels(c.dtype, c.block_size);
  return k != nullptr && wg_updat_usable(*k, info) ? k : nullptr;
}

class CudaBsmm final : public BsmmBackend {
 public:
  CudaBsmm(const BsmmConfig& config, const BsmmLayout& layout)
      : cfg_(config), layout_(layout), kernels_(pick_kernels(config)), tables_(config.device) {
    check_device(cfg_.device);
    DeviceGuard guard(cfg_.device);
    info_ = device_info(cfg_.device);
    // (nnz*b*b cannot overflow: bsmm_create checked CB*KB*b*b. Block ids and table offsets are int32.)
    if (layout.nnz * cfg_.block_size * cfg_.block_size >= (int64_t{1} << 40) || layout.nnz >= (int64_t{1} << 31) ||
        cfg_.C >= (int64_t{1} << 31) || cfg_.K >= (int64_t{1} << 31))
      fail(BS_STATUS_NOT_SUPPORTED, "the CUDA backend indexes blocks and features with 32-bit integers");
    kernels_.prepare(info_);
    const int b = cfg_.block_size, S = stripe_blocks(b), R = superblock_side(b);
    const XpropLut fwd = xprop_lut(layout, false, S), bwd = xprop_lut(layout, true, S);
    const UpdatLut upd = updat_lut(layout, R, R);
    // Small-N chunks: about one wave of the split kernel over all SMs.
    const int es = static_cast<int>(dtype_bytes(cfg_.dtype));
    const int64_t target = int64_t{info_.sm_count} * kernels_.small_ctas_per_sm();
    const SmallLut sfwd = small_lut(layout, false, small_recs_per_stage(b, es), target);
    const SmallLut sbwd = small_lut(layout, true, small_recs_per_stage(b, es), target);
    fwd_small_.n_chunks = sfwd.n_chunks;
    bwd_small_.n_chunks = sbwd.n_chunks;
    fwd_stripes_ = fwd.stripes;
    bwd_stripes_ = bwd.stripes;
    updat_tiles_ = upd.tiles;
    const size_t o_fptr = tables_.add(fwd.ptr), o_frec = tables_.add(fwd.recs);
    const size_t o_bptr = tables_.add(bwd.ptr), o_brec = tables_.add(bwd.recs);
    const size_t o_upd = tables_.add(upd.recs);
    const size_t o_sfc = tables_.add(sfwd.chunks), o_sfr = tables_.add(sfwd.recs), o_sfp = tables_.add(sfwd.ptr);
    const size_t o_sbc = tables_.add(sbwd.chunks), o_sbr = tables_.add(sbwd.recs), o_sbp = tables_.add(sbwd.ptr);
    const size_t o_rows = tables_.add(to_i32(layout.block_rows)), o_cols = tables_.add(to_i32(layout.row_cols));
    const size_t o_cptr = tables_.add(to_i32(layout.col_ptr)), o_cblk = tables_.add(to_i32(layout.col_blocks));
    if (layout.nnz > 0) wg_small_ = pick_wg(cfg_, info_, false), wg_large_ = pick_wg(cfg_, info_, true);
    size_t o_wfc = 0, o_wfe = 0, o_wbc = 0, o_wbe = 0, o_wuc = 0, o_wus = 0;
    if (wg_large_ != nullptr) {
      const WgLut wf = wg_lut(layout, false), wb = wg_lut(layout, true);
      o_wfc = tables_.add(wf.cols), o_wfe = tables_.add(wf.entries);
      o_wbc = tables_.add(wb.cols), o_wbe = tables_.add(wb.entries);
    }
    if (layout.nnz > 0) wg_updat_ = pick_wg_updat(cfg_, info_);
    if (wg_updat_ != nullptr) {
      const WgUpdatLut wu = wg_updat_lut(layout, b, wg_updat_->units);
      o_wuc = tables_.add(wu.cta_cols), o_wus = tables_.add(wu.segs);
      wg_updat_ctas_ = wu.n_ctas;
    }
    tables_.upload();
    if (wg_updat_ != nullptr) wg_updat_cols_ = tables_.at(o_wuc), wg_updat_segs_ = tables_.at(o_wus);
    if (wg_large_ != nullptr) {
      wg_fwd_ = WgTables{tables_.at(o_wfc), tables_.at(o_wfe), static_cast<int>(layout.KB)};
      wg_bwd_ = WgTables{tables_.at(o_wbc), tables_.at(o_wbe), static_cast<int>(layout.CB)};
    }
    fwd_ptr_ = tables_.at(o_fptr), fwd_recs_ = tables_.at(o_frec);
    bwd_ptr_ = tables_.at(o_bptr), bwd_recs_ = tables_.at(o_brec);
    updat_recs_ = tables_.at(o_upd);
    fwd_small_.chunks = tables_.at(o_sfc), fwd_small_.recs = tables_.at(o_sfr), fwd_small_.ptr = tables_.at(o_sfp);
    bwd_small_.chunks = tables_.at(o_sbc), bwd_small_.recs = tables_.at(o_sbr), bwd_small_.ptr = tables_.at(o_sbp);
    small_ = LayoutTables{tables_.at(o_rows), tables_.at(o_cols), tables_.at(o_cptr), tables_.at(o_cblk),
                          static_cast<int>(layout.CB), static_cast<int>(layout.KB), b, layout.nnz};
  }

  int32_t num_threads() const override { return 0; }

  size_t workspace_size(bsmm_op_t op, int64_t N) const override {
    if (op == BSMM_OP_FPROP || op == BSMM_OP_BPROP) {
      // fp32 partials of the small-N path: chunks x N x b for N <= kSmallNMax. Larger N take the
      // tile engine (no workspace) but must still report the largest small-N size, so that a
      // workspace sized for N serves every smaller N.
      const SmallTables& t = op == BSMM_OP_FPROP ? fwd_small_ : bwd_small_;
      const int64_t n = std::min<int64_t>(std::max<int64_t>(N, 0), kSmallNMax);
      return checked_bytes(checked_mul(checked_mul(t.n_chunks, n, "workspace"), cfg_.block_size, "workspace"),
                           sizeof(float), "workspace");
    }
    if (op != BSMM_OP_UPDAT) return 0;
    // fp32 partial sums: one slot per token split (at least one, used when pairs exceed a launch).
    const int64_t bb = int64_t{cfg_.block_size} * cfg_.block_size;
    return checked_bytes(checked_mul(updat_splits(N), checked_mul(layout_.nnz, bb, "workspace"), "workspace"),
                         sizeof(float), "workspace");
  }

  void check_tensor(const void* p, const char* name) const override { check_device_pointer(p, cfg_.device, name); }

  void xprop(const BsmmXpropArgs& a) const override {
    if (a.N >= (int64_t{1} << 31)) fail(BS_STATUS_NOT_SUPPORTED, "the CUDA backend takes N < 2^31 (got ", a.N, ")");
    DeviceGuard guard(cfg_.device);
    if (const WgKernels* k = use_wg(a)) {
      xprop_wg(*k, a);
      return;
    }
    if (a.N <= kSmallNMax) {
      xprop_small(a);
      return;
    }
    XpropParams p{};
    p.in = a.in;
    p.w = a.w;
    p.out = a.out;
    p.gate = a.gate;
    p.stripe_ptr = a.bprop ? bwd_ptr_ : fwd_ptr_;
    p.recs = a.bprop ? bwd_recs_ : fwd_recs_;
    p.N = a.N;
    p.F_in = static_cast<int>(a.bprop ? cfg_.K : cfg_.C);
    p.F_out = static_cast<int>(a.bprop ? cfg_.C : cfg_.K);
    p.axis = cfg_.feature_axis;
    p.bprop = a.bprop ? 1 : 0;
    p.token_tiles = static_cast<int>((a.N + 127) / 128);
    p.alpha = a.alpha;
    p.beta = a.beta;
    const int stripes = a.bprop ? bwd_stripes_ : fwd_stripes_;
    const dim3 grid(static_cast<unsigned>(stripes), static_cast<unsigned>(std::min(p.token_tiles, kMaxGridY)));
    kernels_.xprop(p, grid, static_cast<cudaStream_t>(a.stream));
  }

  void updat(const BsmmUpdatArgs& a) const override {
    if (a.N >= (int64_t{1} << 31)) fail(BS_STATUS_NOT_SUPPORTED, "the CUDA backend takes N < 2^31 (got ", a.N, ")");
    DeviceGuard guard(cfg_.device);
    const cudaStream_t stream = static_cast<cudaStream_t>(a.stream);
    float* ws = static_cast<float*>(a.workspace);
    if (a.N == 0) {  // empty sum: dW = beta·dW
      launch_updat_finish(cfg_.dtype, small_, ws, 0, a.dw, a.gate, a.alpha, a.beta, stream);
      return;
    }
    // The sm_90a kernel runs one CTA per group of blocks over all tokens: taken when that fills
    // every SM at least once (else the token-split engine below has more parallelism).
    if (wg_updat_ != nullptr && a.n_pairs <= kWgUpdatPairs && wg_updat_ctas_ >= info_.sm_count) {
      updat_wg(*wg_updat_, a);
      return;
    }
    const int splits = updat_splits(a.N);
    const int64_t tpc = updat_tokens_per_stage(static_cast<int>(dtype_bytes(cfg_.dtype)));
    const int64_t tps = ((a.N + splits - 1) / splits + tpc - 1) / tpc * tpc;
    UpdatParams p{};
    p.dw = a.dw;
    p.ws = ws;
    p.gate = a.gate;
    p.tiles = updat_recs_;
    p.N = a.N;
    p.C = static_cast<int>(cfg_.C);
    p.K = static_cast<int>(cfg_.K);
    p.axis = cfg_.feature_axis;
    p.tokens_per_split = tps;
    p.splits = static_cast<int>((a.N + tps - 1) / tps);
    p.nnz = layout_.nnz;
    p.alpha = a.alpha;
    p.beta = a.beta;
    const bool direct = p.splits == 1 && a.n_pairs <= kMaxPairs;
    const dim3 grid(static_cast<unsigned>(updat_tiles_), static_cast<unsigned>(p.splits));
    for (int32_t first = 0; first < a.n_pairs; first += kMaxPairs) {
      p.n_pairs = std::min<int32_t>(kMaxPairs, a.n_pairs - first);
      for (int i = 0; i < p.n_pairs; ++i) p.x[i] = a.x[first + i], p.dy[i] = a.dy[first + i];
      p.mode = direct ? 0 : (first == 0 ? 1 : 2);
      kernels_.updat(p, grid, stream);
    }
    if (!direct) launch_updat_finish(cfg_.dtype, small_, ws, p.splits, a.dw, a.gate, a.alpha, a.beta, stream);
  }

  void identity_init(void* w, float scale, bs_stream_t stream) const override {
    DeviceGuard guard(cfg_.device);
    launch_identity_init(cfg_.dtype, small_, w, scale, static_cast<cudaStream_t>(stream));
  }

  void l2_normalize(const BsmmL2NormArgs& a) const override {
    DeviceGuard guard(cfg_.device);
    launch_l2_normalize(cfg_.dtype, small_, a.grad, a.in, a.w, a.gain, a.out, a.dgain, a.epsilon,
                        static_cast<cudaStream_t>(a.stream));
  }

 private:
  // Device tables of the small-N path for one direction (small_lut.hpp).
  struct SmallTables {
    const int *chunks = nullptr, *recs = nullptr, *ptr = nullptr;
    int64_t n_chunks = 0;
  };
  // Device tables of the sm_90a path for one direction (WgLut in lut.hpp).
  struct WgTables {
    const int *cols = nullptr, *entries = nullptr;
    int n_cols = 0;
  };

  // fprop/bprop for N <= kSmallNMax: split kernel into the workspace, then the ordered reduction.
  void xprop_small(const BsmmXpropArgs& a) const {
    const SmallTables& t = a.bprop ? bwd_small_ : fwd_small_;
    const cudaStream_t stream = static_cast<cudaStream_t>(a.stream);
    const int tiles = static_cast<int>((a.N + kSmallTokens - 1) / kSmallTokens);
    if (t.n_chunks > 0) {
      SmallParams p{};
      p.in = a.in;
      p.w = a.w;
      p.ws = static_cast<float*>(a.workspace);
      p.gate = a.gate;
      p.chunks = t.chunks;
      p.recs = t.recs;
      p.N = a.N;
      p.F_in = static_cast<int>(a.bprop ? cfg_.K : cfg_.C);
      p.axis = cfg_.feature_axis;
      p.bprop = a.bprop ? 1 : 0;
      p.tiles = tiles;
      const int64_t grid = t.n_chunks * tiles;
      if (grid >= (int64_t{1} << 31)) fail(BS_STATUS_NOT_SUPPORTED, "too many small-N chunks for one launch (", grid, ")");
      kernels_.xprop_small(p, static_cast<unsigned>(grid), stream);
    }
    SmallFinishParams f{};
    f.ws = static_cast<const float*>(a.workspace);
    f.chunk_ptr = t.ptr;
    f.out = a.out;
    f.N = a.N;
    f.F_out = static_cast<int>(a.bprop ? cfg_.C : cfg_.K);
    f.B = cfg_.block_size;
    f.out_blocks = static_cast<int>(a.bprop ? layout_.CB : layout_.KB);
    f.axis = cfg_.feature_axis;
    f.tiles = tiles;
    f.alpha = a.alpha;
    f.beta = a.beta;
    launch_small_finish(cfg_.dtype, f, stream);
  }

  // The sm_90a kernels take ungated calls; at N <= kSmallNMax only when their CTAs (one or a
  // cluster of two per output block) cover at least an eighth of the SMs: measured down to 32 CTAs
  // (b = 128 at C = K = 4096, N = 64: 25 us against 59 us on the split small-N path), where the
  // small-N path's chunks of few output blocks lose to whole-list CTAs.
  const WgKernels* use_wg(const BsmmXpropArgs& a) const {
    if (wg_large_ == nullptr || a.gate != nullptr) return nullptr;
    if (a.N > kSmallNMax) return wg_large_;
    const WgTables& t = a.bprop ? wg_bwd_ : wg_fwd_;
    const int64_t ctas = int64_t{t.n_cols} * wg_split(*wg_small_, t.n_cols, info_);
    return 8 * ctas >= info_.sm_count ? wg_small_ : nullptr;
  }

  // fprop/bprop on the sm_90a kernels: TMA maps of this call's tensors (encoded on the host), one launch.
  void xprop_wg(const WgKernels& k, const BsmmXpropArgs& a) const {
    const cudaStream_t stream = static_cast<cudaStream_t>(a.stream);
    const int b = cfg_.block_size;
    const WgTables& t = a.bprop ? wg_bwd_ : wg_fwd_;
    const int64_t F_in = a.bprop ? cfg_.K : cfg_.C;
    const uint32_t ka = static_cast<uint32_t>(std::min(b, 64));
    WgParams p{};
    // At N <= 64 the 128-token kernel's second warpgroup multiplies rows that are never loaded
    // (and never stored): half the input rows for the TMA unit to move.
    p.box_tokens = a.N <= 64 && k.tokens == 128 ? 64 : k.tokens;
    p.map_in = tma_map_2d(cfg_.dtype, a.in, static_cast<uint64_t>(a.N), static_cast<uint64_t>(F_in),
                          static_cast<uint64_t>(F_in), static_cast<uint32_t>(p.box_tokens), ka,
                          CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    // bprop boxes: b rows (output features c) x ka of the reduction; fprop boxes: ka rows of the
    // reduction (c) x up to 64 output features.
    const uint64_t w_rows = static_cast<uint64_t>(layout_.nnz * b);
    p.map_w = tma_map_2d(cfg_.dtype, a.w, w_rows, static_cast<uint64_t>(b), static_cast<uint64_t>(b),
                         a.bprop ? static_cast<uint32_t>(b) : ka, ka, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
    p.cols = t.cols;
    p.entries = t.entries;
    p.out = a.out;
    p.N = a.N;
    p.F_in = static_cast<int>(F_in);
    p.F_out = static_cast<int>(a.bprop ? cfg_.C : cfg_.K);
    p.n_wblocks = static_cast<int>(layout_.nnz);
    p.n_cols = t.n_cols;
    p.alpha = a.alpha;
    p.beta = a.beta;
    const int64_t grid = int64_t{t.n_cols} * ((a.N + k.tokens - 1) / k.tokens);
    const int split = wg_split(k, grid, info_);
    if (grid * split >= (int64_t{1} << 31)) fail(BS_STATUS_NOT_SUPPORTED, "too many CTAs for one launch (", grid * split, ")");
    p.stages = wg_stages(k, info_, grid * split <= info_.sm_count);
    k.xprop(p, a.bprop, static_cast<unsigned>(grid), static_cast<unsigned>(split), stream);
  }

  // updat on the sm_90a kernel: TMA maps of every (x, dy) pair, one launch, no workspace.
  void updat_wg(const WgUpdatKernels& k, const BsmmUpdatArgs& a) const {
    const uint32_t ka = static_cast<uint32_t>(std::min(cfg_.block_size, 64));
    const uint64_t N = static_cast<uint64_t>(a.N), C = static_cast<uint64_t>(cfg_.C), K = static_cast<uint64_t>(cfg_.K);
    WgUpdatParams p{};
    for (int32_t i = 0; i < a.n_pairs; ++i) {
      p.map_x[i] = tma_map_2d(cfg_.dtype, a.x[i], N, C, C, 64, ka, CU_TENSOR_MAP_L2_PROMOTION_NONE);
      p.map_dy[i] = tma_map_2d(cfg_.dtype, a.dy[i], N, K, K, 64, ka, CU_TENSOR_MAP_L2_PROMOTION_NONE);
    }
    p.cta_cols = wg_updat_cols_;
    p.segs = wg_updat_segs_;
    p.gate = a.gate;
    p.dw = a.dw;
    p.n_pairs = a.n_pairs;
    p.chunks = static_cast<int>((a.N + 63) / 64);
    p.stages = wg_updat_stages(k, info_);
    p.alpha = a.alpha;
    p.beta = a.beta;
    k.run(p, static_cast<unsigned>(wg_updat_ctas_), static_cast<cudaStream_t>(a.stream));
  }

  // Token splits of updat for minibatch N: enough CTAs for two waves when there are few
  // super-blocks, at least 512 tokens per split, at most 32 splits. Non-decreasing in N, so a
  // workspace sized for N serves every smaller N.
  int updat_splits(int64_t N) const {
    const int64_t want = (2 * int64_t{info_.sm_count} + updat_tiles_ - 1) / updat_tiles_;
    const int64_t cap = std::max<int64_t>(1, std::min<int64_t>(32, N / 512));
    return static_cast<int>(std::max<int64_t>(1, std::min(want, cap)));
  }

  BsmmConfig cfg_;
  const BsmmLayout& layout_;
  const KernelSet& kernels_;
  DeviceInfo info_;
  DeviceTables tables_;
  int fwd_stripes_ = 0, bwd_stripes_ = 0, updat_tiles_ = 0;
  const int *fwd_ptr_ = nullptr, *fwd_recs_ = nullptr, *bwd_ptr_ = nullptr, *bwd_recs_ = nullptr;
  const int* updat_recs_ = nullptr;
  SmallTables fwd_small_, bwd_small_;
  const WgKernels *wg_small_ = nullptr, *wg_large_ = nullptr;  // N <= kSmallNMax / larger
  WgTables wg_fwd_, wg_bwd_;
  const WgUpdatKernels* wg_updat_ = nullptr;
  const int *wg_updat_cols_ = nullptr, *wg_updat_segs_ = nullptr;
  int wg_updat_ctas_ = 0;
  LayoutTables small_{};
};

}  // namespace
}  // namespace cuda

std::unique_ptr<BsmmBackend> make_bsmm_cuda_backend(const BsmmConfig& config, const BsmmLayout& layout) {
  return std::make_unique<cuda::CudaBsmm>(config, layout);
}

}  // namespace bs
