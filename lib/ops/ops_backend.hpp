#pragma once
// The interface behind layernorm.h and the plain ops (bs_ew.h, bs_norms.h, bs_dropout.h,
// bs_lstm.h, bs_sparse_proj.h). The C API layer (lib/api/ops_*_api.cpp) validates every argument
// and fills one of the argument structs below; a backend (CPU: lib/cpu/ops_cpu_*.cpp, CUDA:
// kernels/ew, kernels/layernorm) only runs the math. The structs are plain data so that CUDA
// kernels can take them by value.
#include <blocksparse/bs_types.h>

#include <cstddef>
#include <cstdint>

namespace bs::ops {

// ---- layer norm -------------------------------------------------------------------------------
struct LnConfig {
  int32_t backend = BS_BACKEND_CPU;
  int32_t device = 0;
  int32_t dtype = BS_DTYPE_F32;
  int32_t feature_axis = 1;
  int32_t segments = 1;
  int32_t relu = 0;
  int32_t deterministic = 1;
  int32_t num_threads = 0;  // resolved at create for CPU plans (never 0 there)
  int64_t K = 0;
  float epsilon = 1e-6f;
};

struct LnFpropArgs {
  int64_t N = 0;
  const void* x = nullptr;
  const float* gain = nullptr;  // NULL = ones
  const float* bias = nullptr;  // NULL = zeros
  void* y = nullptr;
  float* mean = nullptr;  // NULL = not saved (then rstd is NULL too)
  float* rstd = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

struct LnBpropArgs {
  int64_t N = 0;
  const void* dy = nullptr;
  const void* x = nullptr;
  const float* gain = nullptr;
  const float* bias = nullptr;
  const float* mean = nullptr;
  const float* rstd = nullptr;
  void* dx = nullptr;
  float* dgain = nullptr;  // optional
  float* dbias = nullptr;  // optional
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

// ---- element-wise ------------------------------------------------------------------------------
struct UnaryArgs {
  int32_t op = 0;     // bs_ew_unary_op_t
  int32_t dtype = 0;
  bool grad = false;  // false: out = f(x); true: out = dy·f'(x)
  int64_t n = 0;
  const void* x = nullptr;
  const void* dy = nullptr;
  float alpha = 0.0f;
  void* out = nullptr;
  bs_stream_t stream = nullptr;
};

// z = op(x, y) over (rows, cols); y is (cols) when y_vec.
struct BinaryArgs {
  int32_t op = 0;  // bs_ew_binary_op_t
  int32_t dtype = 0;
  int64_t rows = 0, cols = 0;
  bool y_vec = false;
  const void* x = nullptr;
  const void* y = nullptr;
  void* z = nullptr;
  // gradient only: dz in, dx / dy out (either may be NULL)
  const void* dz = nullptr;
  void* dx = nullptr;
  void* dy = nullptr;
  bs_stream_t stream = nullptr;
};

struct CastArgs {
  int32_t src = 0, dst = 0;
  int64_t n = 0;
  const void* x = nullptr;
  void* y = nullptr;
  bs_stream_t stream = nullptr;
};

constexpr int kAddNMax = 64;  // BS_ADD_N_MAX_INPUTS
struct AddNArgs {
  int32_t dtype = 0;
  int32_t count = 0;
  int64_t n = 0;
  const void* xs[kAddNMax] = {};
  void* y = nullptr;
  bs_stream_t stream = nullptr;
};

// Philox4x32-10's ten round keys of one 64-bit key (its Weyl-sequence key schedule). They depend on
// the seed only: a dropout call derives them once instead of once per counter block.
struct PhiloxKeys {
  uint32_t k[10][2];
};

// Dropout: with x == NULL only the mask is written. mask_in given: apply it; otherwise draw
// from (seed, offset) and store into mask_out when given.
struct DropoutArgs {
  int32_t dtype = 0;
  int64_t n = 0;
  const void* x = nullptr;
  void* y = nullptr;
  const uint32_t* mask_in = nullptr;
  uint32_t* mask_out = nullptr;
  uint64_t threshold = 0;  // keep iff philox word < threshold (2^32 keeps all)
  float scale = 1.0f;      // 1/keep_prob rounded to fp32
  PhiloxKeys keys{};       // round keys of the seed (philox_round_keys)
  uint64_t offset = 0;
  bs_stream_t stream = nullptr;
};

// ---- per-channel ops on (O, C, I) tensors: bias_act, cwise_linear, batch norm ------------------
// Forward: y = act(scale·(x + pre) + post) with per-channel (scale, pre, post) from channel_coef().
// Backward: g = dy·act'(z), R1 = Σ g, R2 = Σ g·(x + pre) over O and I; dx = scale·g (or the batch
// norm training formula); r1_out = R1·(bias_first ? a : 1), r2_out = R2·(batch norm ? rstd : 1).
enum class ChannelMode : int32_t { kForward, kBnTrainForward, kBackward, kBnTrainBackward };
enum class CoefKind : int32_t { kAffine, kBatchnorm };

struct ChannelArgs {
  ChannelMode mode = ChannelMode::kForward;
  CoefKind coef = CoefKind::kAffine;
  int32_t dtype = 0;
  int32_t act = 0;  // bs_act_t
  bool bias_first = false;
  int64_t O = 0, C = 0, I = 0;
  const void* x = nullptr;
  const void* dy = nullptr;  // backward only
  void* out = nullptr;       // y (forward) or dx (backward; may be NULL)
  const float* a = nullptr;  // affine scale, or batch-norm gain (NULL = ones)
  const float* b = nullptr;  // affine bias, or batch-norm bias (NULL = zeros)
  const float* mean = nullptr;
  const float* var = nullptr;
  float epsilon = 0.0f;
  float* mean_out = nullptr;  // kBnTrainForward
  float* var_out = nullptr;
  float* r1_out = nullptr;  // backward, optional
  float* r2_out = nullptr;
  bs_stream_t stream = nullptr;
};

// ---- LSTM gates, split4 / concat4 --------------------------------------------------------------
struct LstmArgs {
  int32_t dtype = 0;
  int64_t N = 0, K = 0;
  const void* c = nullptr;
  const void* h = nullptr;  // (N, 4K) gate pre-activations [i, u, f, o]
  const float* bias = nullptr;
  float forget_bias = 1.0f;
  void* c_next = nullptr;  // fprop
  void* h_next = nullptr;
  const void* dc_next = nullptr;  // bprop (NULL = zero)
  const void* dh_next = nullptr;
  void* dc = nullptr;
  void* dh = nullptr;
  float* dbias = nullptr;
  bs_stream_t stream = nullptr;
};

struct Split4Args {
  bool concat = false;  // false: parts[g] = whole[:, g·K:(g+1)·K]; true: the reverse
  int32_t dtype = 0;
  int64_t N = 0, K = 0;
  const void* src_whole = nullptr;  // split
  void* parts[4] = {};
  const void* src_parts[4] = {};  // concat
  void* dst_whole = nullptr;
  bs_stream_t stream = nullptr;
};

// ---- sparse projections ------------------------------------------------------------------------
// out has `out_rows` features: out[f] = combine(a[f or map[f]], b[map[f]]), with map[f] < 0 meaning
// "no partner" (COPY gives 0, ADD gives a, MUL gives a). Features are rows of N elements
// (feature_axis 0) or columns of (N, features) tensors (feature_axis 1).
enum class ProjMode : int32_t {
  kCopy,       // out[f] = map[f] >= 0 ? b[map[f]] : 0
  kAdd,        // out[f] = a[f] + (map[f] >= 0 ? b[map[f]] : 0)
  kMul,        // out[f] = a[f] * (map[f] >= 0 ? b[map[f]] : 1)
  kGatherMul,  // out[f] = a[map[f]] * b[map[f]]  (map has no negative entries)
};

struct ProjArgs {
  ProjMode mode = ProjMode::kCopy;
  int32_t device = 0;  // the plan's device
  int32_t dtype = 0;
  int32_t feature_axis = 0;
  int64_t N = 0;
  int64_t out_features = 0;  // features of out (and of a in kAdd/kMul)
  int64_t in_features = 0;   // features of b (and of a in kGatherMul)
  const int64_t* map = nullptr;  // out_features entries, backend memory; NULL = no partner anywhere
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
  bs_stream_t stream = nullptr;
};

// ---- the backend interface ---------------------------------------------------------------------
class OpsBackend {
 public:
  virtual ~OpsBackend() = default;

  // The device plain ops run on (the current CUDA device; 0 for the CPU).
  virtual int32_t current_device() const = 0;
  // Throws BS_STATUS_BACKEND_UNAVAILABLE / INVALID_VALUE unless `device` can run work.
  virtual void check_device(int32_t device) const = 0;
  // Throws unless `p` is memory of this backend on `device`, aligned to `align` bytes.
  virtual void check_pointer(const void* p, size_t align, int32_t device, const char* name) const = 0;
  // Plan memory (only plan creation allocates): a copy of `bytes` host bytes on `device`.
  virtual void* upload(const void* host, size_t bytes, int32_t device) const = 0;
  virtual void release(void* p, int32_t device) const noexcept = 0;

  virtual size_t layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const = 0;
  virtual void layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const = 0;
  virtual void layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const = 0;

  virtual void ew_unary(const UnaryArgs& a) const = 0;
  virtual void ew_binary(const BinaryArgs& a) const = 0;
  virtual void ew_binary_grad(const BinaryArgs& a) const = 0;
  virtual void float_cast(const CastArgs& a) const = 0;
  virtual void add_n(const AddNArgs& a) const = 0;
  virtual void dropout(const DropoutArgs& a) const = 0;
  virtual void channel(const ChannelArgs& a) const = 0;
  virtual void lstm_fprop(const LstmArgs& a) const = 0;
  virtual void lstm_bprop(const LstmArgs& a) const = 0;
  virtual void split4(const Split4Args& a) const = 0;
  virtual void sparse_proj(const ProjArgs& a) const = 0;
};

// The backend of `backend` (throws BS_STATUS_INVALID_VALUE for an unknown value and
// BS_STATUS_BACKEND_UNAVAILABLE for CUDA in a build without it).
const OpsBackend& ops_backend(int32_t backend);
const OpsBackend& ops_cpu_backend();
#if defined(BS_WITH_CUDA)
const OpsBackend& ops_cuda_backend();
// True when `p` is device or managed memory (used by the CPU backend to refuse device pointers).
bool cuda_is_device_pointer(const void* p) noexcept;
#endif

}  // namespace bs::ops
