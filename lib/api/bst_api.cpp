// extern "C" entry points of bst.h: validate every argument that does not depend on the backend,
// then hand over to the plan's backend. Nothing is written to an output before validation ends.
#include <blocksparse/bst.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <initializer_list>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bst_backend.hpp"

namespace bs {
namespace {

// Size of the first published bst_params_t: struct_size values below it are refused.
constexpr size_t kParamsV1Size = offsetof(bst_params_t, autoregress_at_key) + sizeof(int64_t);

const bst_plan_s& plan_ref(const_bst_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

bool valid_block_size(int32_t b) { return b == 8 || b == 16 || b == 32 || b == 64 || b == 128; }

BstConfig validate_params(const bst_params_t* in, int64_t layout_heads, int64_t QB, int64_t KB) {
  const bst_params_t p = read_params(in, kParamsV1Size, "params");
  BstConfig c;
  c.backend = p.backend;
  c.device = p.device;
  c.block_size = p.block_size;
  c.heads = p.heads;
  c.head_dim = p.head_dim;
  c.dtype = p.dtype;
  c.format = p.format;
  c.num_threads = p.num_threads;
  if (c.backend != BS_BACKEND_CPU && c.backend != BS_BACKEND_CUDA)
    fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", c.backend, ")");
  if (!valid_block_size(c.block_size))
    fail(BS_STATUS_INVALID_VALUE, "params->block_size must be 8, 16, 32, 64 or 128 (got ", c.block_size, ")");
  if (c.heads < 1) fail(BS_STATUS_INVALID_VALUE, "params->heads must be >= 1 (got ", c.heads, ")");
  if (c.head_dim < 8 || c.head_dim > 256 || c.head_dim % 8 != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->head_dim must be a multiple of 8 in [8, 256] (got ", c.head_dim, ")");
  check_dtype(c.dtype, "params->dtype");
  if (c.format != BST_FORMAT_BSHD && c.format != BST_FORMAT_BHSD)
    fail(BS_STATUS_INVALID_VALUE, "params->format is not a bst_format_t (got ", c.format, ")");
  if (p.causal != 0 && p.causal != 1)
    fail(BS_STATUS_INVALID_VALUE, "params->causal must be 0 or 1 (got ", p.causal, ")");
  if (c.num_threads < 0) fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be >= 0 (got ", c.num_threads, ")");
  if (c.backend == BS_BACKEND_CPU && c.device != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->device must be 0 for CPU plans (got ", c.device, ")");
  if (c.backend == BS_BACKEND_CUDA && c.device < 0)
    fail(BS_STATUS_INVALID_VALUE, "params->device must be >= 0 (got ", c.device, ")");
  if (c.backend == BS_BACKEND_CUDA && c.num_threads != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be 0 for CUDA plans (got ", c.num_threads, ")");
  if (layout_heads != 1 && layout_heads != c.heads)
    fail(BS_STATUS_INVALID_VALUE, "layout_heads must be 1 or params->heads = ", c.heads, " (got ", layout_heads, ")");
  if (QB < 1) fail(BS_STATUS_INVALID_VALUE, "QB must be >= 1 (got ", QB, ")");
  if (KB < 1) fail(BS_STATUS_INVALID_VALUE, "KB must be >= 1 (got ", KB, ")");
  c.Sq = checked_mul(QB, c.block_size, "Sq = QB*block_size");
  c.Sk = checked_mul(KB, c.block_size, "Sk = KB*block_size");
  // Every element index of one batch element's tensors (scores over all heads included) fits int64.
  const int64_t bb = int64_t{c.block_size} * c.block_size;
  checked_mul(checked_mul(checked_mul(c.heads, QB, "heads*QB"), KB, "heads*QB*KB"), bb, "heads*QB*KB*b*b");
  checked_mul(checked_mul(std::max(c.Sq, c.Sk), c.heads, "S*heads"), c.head_dim, "S*heads*head_dim");
  c.causal.causal = p.causal;
  c.causal.prefix = p.autoregress_at_key;
  if (!p.causal && p.autoregress_at_key != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->autoregress_at_key must be 0 unless params->causal is 1 (got ",
         p.autoregress_at_key, ")");
  if (p.autoregress_at_key < 0 || p.autoregress_at_key > c.Sk)
    fail(BS_STATUS_INVALID_VALUE, "params->autoregress_at_key must be in [0, Sk = ", c.Sk, "] (got ",
         p.autoregress_at_key, ")");
  return c;
}

void finish_create(bst_plan_t* out, const BstConfig& config, BstLayout&& layout, const uint8_t* block_masks) {
  auto plan = std::make_unique<bst_plan_s>();
  plan->config = config;
  plan->layout = std::move(layout);
  plan->layout.set_masks(block_masks);
  plan->backend = make_bst_backend(plan->config, plan->layout);
  *out = plan.release();
}

void check_batch(int64_t batch) {
  if (batch < 0) fail(BS_STATUS_INVALID_VALUE, "batch must be >= 0 (got ", batch, ")");
}

// Element counts of the op tensors for `batch` sequences (overflow checked).
int64_t query_elems(const bst_plan_s& p, int64_t batch) {
  return checked_mul(batch, p.config.Sq * p.config.heads * p.config.head_dim, "batch*Sq*heads*head_dim");
}
int64_t key_elems(const bst_plan_s& p, int64_t batch) {
  return checked_mul(batch, p.config.Sk * p.config.heads * p.config.head_dim, "batch*Sk*heads*head_dim");
}
int64_t score_elems(const bst_plan_s& p, int64_t batch) {
  return checked_mul(batch, p.layout.score_blocks * p.layout.b * p.layout.b, "batch*score_blocks*b*b");
}
int64_t lse_elems(const bst_plan_s& p, int64_t batch) {
  return checked_mul(batch, p.config.Sq * p.config.heads, "batch*heads*Sq");
}

// A tensor argument: its byte range, for the overlap checks.
struct Operand {
  const void* ptr;
  size_t bytes;
  const char* name;
};

Operand tensor(const bst_plan_s& p, const void* ptr, int64_t elems, size_t elem_bytes, const char* name) {
  const size_t bytes = checked_bytes(elems, elem_bytes, name);
  check_not_null(ptr, name);
  check_aligned(ptr, elem_bytes, name);
  p.backend->check_tensor(ptr, name);
  return {ptr, bytes, name};
}

bool overlap(const Operand& x, const Operand& y) {
  const auto a = reinterpret_cast<uintptr_t>(x.ptr), b = reinterpret_cast<uintptr_t>(y.ptr);
  return a < b + y.bytes && b < a + x.bytes;
}

// Outputs may not overlap each other or an input, except where the op allows exact aliasing
// (`alias`: the one input the first output may equal).
void check_disjoint(std::initializer_list<Operand> outs, std::initializer_list<Operand> ins,
                    const Operand* alias = nullptr) {
  for (auto o = outs.begin(); o != outs.end(); ++o) {
    for (const Operand& i : ins) {
      if (o == outs.begin() && alias && i.ptr == alias->ptr && o->ptr == alias->ptr) continue;
      if (overlap(*o, i)) fail(BS_STATUS_INVALID_VALUE, o->name, " overlaps ", i.name);
    }
    for (auto o2 = outs.begin(); o2 != o; ++o2)
      if (overlap(*o, *o2)) fail(BS_STATUS_INVALID_VALUE, o->name, " overlaps ", o2->name);
  }
}

void check_workspace(const bst_plan_s& p, bst_op_t op, int64_t batch, const void* ws, size_t ws_bytes) {
  const size_t need = p.backend->workspace_size(op, batch);
  if (ws_bytes < need)
    fail(BS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes is ", ws_bytes, " but this call needs ", need,
         " (see bst_get_workspace_size)");
  if (need > 0) {
    check_not_null(ws, "workspace");
    p.backend->check_tensor(ws, "workspace");
  }
}

void unfused(bst_op_t op, const_bst_plan_t plan, int64_t batch, const void* a, const void* b, void* out, float scale,
             void* ws, size_t ws_bytes, bs_stream_t stream) {
  const bst_plan_s& p = plan_ref(plan);
  check_batch(batch);
  check_finite(scale, "scale");
  const int64_t nq = query_elems(p, batch), nk = key_elems(p, batch), ns = score_elems(p, batch);
  if (batch == 0) return;
  p.backend->check_supported(op);
  const size_t e = dtype_bytes(p.config.dtype);
  switch (op) {
    case BST_OP_SDD:
      check_disjoint({tensor(p, out, ns, e, "scores")}, {tensor(p, a, nq, e, "a"), tensor(p, b, nk, e, "b")});
      break;
    case BST_OP_SOFTMAX: {
      const Operand in = tensor(p, a, ns, e, "scores");
      check_disjoint({tensor(p, out, ns, e, "probs")}, {in}, &in);
      break;
    }
    case BST_OP_SOFTMAX_GRAD: {
      const Operand dprobs = tensor(p, b, ns, e, "dprobs");
      check_disjoint({tensor(p, out, ns, e, "dscores")}, {tensor(p, a, ns, e, "probs"), dprobs}, &dprobs);
      break;
    }
    case BST_OP_DSD:
      check_disjoint({tensor(p, out, nq, e, "out")}, {tensor(p, a, ns, e, "scores"), tensor(p, b, nk, e, "b")});
      break;
    default:  // BST_OP_DSD_T
      check_disjoint({tensor(p, out, nk, e, "out")}, {tensor(p, a, ns, e, "scores"), tensor(p, b, nq, e, "a")});
      break;
  }
  check_workspace(p, op, batch, ws, ws_bytes);
  BstUnfusedArgs args;
  args.op = op;
  args.batch = batch;
  args.a = a;
  args.b = b;
  args.out = out;
  args.scale = scale;
  args.workspace = ws;
  args.workspace_bytes = ws_bytes;
  args.stream = stream;
  p.backend->unfused(args);
}

// Validates scale and dropout arguments; fills the dropout of `a`.
void attention_scalars(const bst_plan_s& p, int64_t batch, float scale, float keep_prob, uint64_t seed,
                       uint64_t offset, BstAttentionArgs& a) {
  check_finite(scale, "scale");
  if (!(keep_prob > 0.0f && keep_prob <= 1.0f))
    fail(BS_STATUS_INVALID_VALUE, "keep_prob must be in (0, 1] (got ", keep_prob, ")");
  a.batch = batch;
  a.scale = scale;
  a.dropout.threshold = static_cast<uint64_t>(std::floor(static_cast<double>(keep_prob) * 4294967296.0));
  a.dropout.scale = 1.0f / keep_prob;
  a.dropout.seed = seed;
  a.dropout.offset = offset;
  if (a.dropout.active())  // the element index of the dense attention matrix must fit
    checked_mul(lse_elems(p, batch), p.config.Sk, "batch*heads*Sq*Sk (dropout elements)");
}

}  // namespace
}  // namespace bs

using namespace bs;

extern "C" {

BS_API bs_status_t bst_params_init(bst_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    check_not_null(params, "params");
    if (struct_size < kParamsV1Size || struct_size > sizeof(bst_params_t))
      fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ", kParamsV1Size,
           "..", sizeof(bst_params_t));
    bst_params_t d{};
    d.struct_size = static_cast<uint32_t>(struct_size);
    d.backend = BS_BACKEND_CPU;
    d.device = 0;
    d.block_size = 64;
    d.heads = 1;
    d.head_dim = 64;
    d.dtype = BS_DTYPE_F32;
    d.format = BST_FORMAT_BSHD;
    d.causal = 0;
    d.num_threads = 0;
    d.autoregress_at_key = 0;
    std::memcpy(params, &d, struct_size);
  });
}

BS_API bs_status_t bst_create(bst_plan_t* plan, const bst_params_t* params, const uint8_t* layout,
                              int64_t layout_heads, int64_t QB, int64_t KB, const uint8_t* block_masks) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const BstConfig config = validate_params(params, layout_heads, QB, KB);
    BstLayout l = BstLayout::from_dense(layout, config.heads, layout_heads, QB, KB, config.block_size);
    finish_create(plan, config, std::move(l), block_masks);
  });
}

BS_API bs_status_t bst_create_kv_blocks(bst_plan_t* plan, const bst_params_t* params, int64_t layout_heads,
                                        int64_t QB, int64_t KB, const int32_t* kv_num_blocks,
                                        const int32_t* kv_indices, int64_t kv_indices_stride,
                                        const uint8_t* block_masks) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const BstConfig config = validate_params(params, layout_heads, QB, KB);
    BstLayout l = BstLayout::from_kv_blocks(kv_num_blocks, kv_indices, kv_indices_stride, config.heads, layout_heads,
                                            QB, KB, config.block_size);
    finish_create(plan, config, std::move(l), block_masks);
  });
}

BS_API bs_status_t bst_destroy(bst_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t bst_get_attr(const_bst_plan_t plan, bst_attr_t attr, int64_t* value) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_not_null(value, "value");
    const BstConfig& c = p.config;
    const BstLayout& l = p.layout;
    const int32_t a = enum_arg(attr);
    switch (a) {
      case BST_ATTR_BLOCK_SIZE: *value = c.block_size; break;
      case BST_ATTR_HEADS: *value = c.heads; break;
      case BST_ATTR_HEAD_DIM: *value = c.head_dim; break;
      case BST_ATTR_LAYOUT_HEADS: *value = l.layout_heads; break;
      case BST_ATTR_QUERY_BLOCKS: *value = l.QB; break;
      case BST_ATTR_KEY_BLOCKS: *value = l.KB; break;
      case BST_ATTR_QUERY_LEN: *value = c.Sq; break;
      case BST_ATTR_KEY_LEN: *value = c.Sk; break;
      case BST_ATTR_LAYOUT_BLOCKS: *value = l.layout_blocks; break;
      case BST_ATTR_SCORE_BLOCKS: *value = l.score_blocks; break;
      case BST_ATTR_MAX_ROW_BLOCKS: *value = l.max_row; break;
      case BST_ATTR_MAX_COL_BLOCKS: *value = l.max_col; break;
      case BST_ATTR_DTYPE: *value = c.dtype; break;
      case BST_ATTR_FORMAT: *value = c.format; break;
      case BST_ATTR_CAUSAL: *value = c.causal.causal; break;
      case BST_ATTR_AUTOREGRESS_AT_KEY: *value = c.causal.prefix; break;
      case BST_ATTR_HAS_BLOCK_MASKS: *value = l.masks.empty() ? 0 : 1; break;
      case BST_ATTR_BACKEND: *value = c.backend; break;
      case BST_ATTR_DEVICE: *value = c.device; break;
      case BST_ATTR_NUM_THREADS: *value = p.backend->num_threads(); break;
      default: fail(BS_STATUS_INVALID_VALUE, "attr is not a bst_attr_t (got ", a, ")");
    }
  });
}

BS_API bs_status_t bst_get_shape(const_bst_plan_t plan, bst_tensor_t tensor, int64_t batch, int64_t shape[4],
                                 int32_t* ndim) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_not_null(shape, "shape");
    check_not_null(ndim, "ndim");
    check_batch(batch);
    const BstConfig& c = p.config;
    const int32_t t = enum_arg(tensor);
    int64_t s[4] = {batch, 1, 1, 1};
    int32_t n = 4;
    switch (t) {
      case BST_TENSOR_QUERY:
      case BST_TENSOR_KEY: {
        t == BST_TENSOR_QUERY ? query_elems(p, batch) : key_elems(p, batch);
        const int64_t S = t == BST_TENSOR_QUERY ? c.Sq : c.Sk;
        s[1] = c.format == BST_FORMAT_BSHD ? S : c.heads;
        s[2] = c.format == BST_FORMAT_BSHD ? c.heads : S;
        s[3] = c.head_dim;
        break;
      }
      case BST_TENSOR_SCORES:
        score_elems(p, batch);
        s[1] = p.layout.score_blocks;
        s[2] = s[3] = p.layout.b;
        break;
      case BST_TENSOR_LSE:
        lse_elems(p, batch);
        s[1] = c.heads;
        s[2] = c.Sq;
        n = 3;
        break;
      default: fail(BS_STATUS_INVALID_VALUE, "tensor is not a bst_tensor_t (got ", t, ")");
    }
    std::memcpy(shape, s, sizeof s);
    *ndim = n;
  });
}

BS_API bs_status_t bst_block_coord(const_bst_plan_t plan, int64_t block, int64_t* head, int64_t* q_block,
                                   int64_t* k_block) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_not_null(head, "head");
    check_not_null(q_block, "q_block");
    check_not_null(k_block, "k_block");
    const BstLayout& l = p.layout;
    if (block < 0 || block >= l.score_blocks)
      fail(BS_STATUS_INVALID_VALUE, "block must be in [0, ", l.score_blocks, ") (got ", block, ")");
    int64_t h = 0;
    while (l.head_base[static_cast<size_t>(h + 1)] <= block) ++h;
    const int64_t g = l.first_block(l.layout_head(h)) + block - l.head_base[static_cast<size_t>(h)];
    *head = h;
    *q_block = l.row_of[static_cast<size_t>(g)];
    *k_block = l.col_of[static_cast<size_t>(g)];
  });
}

BS_API bs_status_t bst_get_layout(const_bst_plan_t plan, uint8_t* layout, int64_t layout_len) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_not_null(layout, "layout");
    const BstLayout& l = p.layout;
    const int64_t need = l.layout_heads * l.QB * l.KB;
    if (layout_len < need)
      fail(BS_STATUS_SHAPE_MISMATCH, "layout_len is ", layout_len, " but layout_heads*QB*KB = ", need);
    std::memset(layout, 0, static_cast<size_t>(need));
    for (int64_t lh = 0; lh < l.layout_heads; ++lh)
      for (int64_t g = l.first_block(lh); g < l.row_ptr[static_cast<size_t>((lh + 1) * l.QB)]; ++g)
        layout[(lh * l.QB + l.row_of[static_cast<size_t>(g)]) * l.KB + l.col_of[static_cast<size_t>(g)]] = 1;
  });
}

BS_API bs_status_t bst_get_workspace_size(const_bst_plan_t plan, bst_op_t op, int64_t batch, size_t* bytes) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_not_null(bytes, "bytes");
    check_batch(batch);
    const int32_t o = enum_arg(op);
    if (o < BST_OP_SDD || o > BST_OP_ATTENTION_BPROP)
      fail(BS_STATUS_INVALID_VALUE, "op is not a bst_op_t (got ", o, ")");
    *bytes = p.backend->workspace_size(static_cast<bst_op_t>(o), batch);
  });
}

BS_API bs_status_t bst_sdd(const_bst_plan_t plan, int64_t batch, const void* a, const void* b, void* scores,
                           void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    unfused(BST_OP_SDD, plan, batch, a, b, scores, 1.0f, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bst_softmax(const_bst_plan_t plan, int64_t batch, const void* scores, float scale, void* probs,
                               void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    unfused(BST_OP_SOFTMAX, plan, batch, scores, nullptr, probs, scale, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bst_softmax_grad(const_bst_plan_t plan, int64_t batch, const void* probs, const void* dprobs,
                                    float scale, void* dscores, void* workspace, size_t workspace_bytes,
                                    bs_stream_t stream) {
  return translate(__func__, [&] {
    unfused(BST_OP_SOFTMAX_GRAD, plan, batch, probs, dprobs, dscores, scale, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bst_dsd(const_bst_plan_t plan, int64_t batch, const void* scores, const void* b, void* out,
                           void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    unfused(BST_OP_DSD, plan, batch, scores, b, out, 1.0f, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bst_dsd_t(const_bst_plan_t plan, int64_t batch, const void* scores, const void* a, void* out,
                             void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    unfused(BST_OP_DSD_T, plan, batch, scores, a, out, 1.0f, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bst_attention_fprop(const_bst_plan_t plan, int64_t batch, const void* q, const void* k,
                                       const void* v, float scale, float keep_prob, uint64_t seed, uint64_t offset,
                                       void* o, float* lse, void* workspace, size_t workspace_bytes,
                                       bs_stream_t stream) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_batch(batch);
    BstAttentionArgs a;
    attention_scalars(p, batch, scale, keep_prob, seed, offset, a);
    const int64_t nq = query_elems(p, batch), nk = key_elems(p, batch), nl = lse_elems(p, batch);
    if (batch == 0) return;
    p.backend->check_supported(BST_OP_ATTENTION_FPROP);
    const size_t e = dtype_bytes(p.config.dtype);
    const std::initializer_list<Operand> ins = {tensor(p, q, nq, e, "q"), tensor(p, k, nk, e, "k"),
                                                tensor(p, v, nk, e, "v")};
    const Operand out = tensor(p, o, nq, e, "o");
    if (lse)
      check_disjoint({out, tensor(p, lse, nl, sizeof(float), "lse")}, ins);
    else
      check_disjoint({out}, ins);
    check_workspace(p, BST_OP_ATTENTION_FPROP, batch, workspace, workspace_bytes);
    a.q = q;
    a.k = k;
    a.v = v;
    a.o_out = o;
    a.lse_out = lse;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    p.backend->attention_fprop(a);
  });
}

BS_API bs_status_t bst_attention_bprop(const_bst_plan_t plan, int64_t batch, const void* q, const void* k,
                                       const void* v, const void* o, const void* dout, const float* lse, float scale,
                                       float keep_prob, uint64_t seed, uint64_t offset, void* dq, void* dk, void* dv,
                                       void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bst_plan_s& p = plan_ref(plan);
    check_batch(batch);
    BstAttentionArgs a;
    attention_scalars(p, batch, scale, keep_prob, seed, offset, a);
    const int64_t nq = query_elems(p, batch), nk = key_elems(p, batch), nl = lse_elems(p, batch);
    if (batch == 0) return;
    p.backend->check_supported(BST_OP_ATTENTION_BPROP);
    const size_t e = dtype_bytes(p.config.dtype);
    check_disjoint({tensor(p, dq, nq, e, "dq"), tensor(p, dk, nk, e, "dk"), tensor(p, dv, nk, e, "dv")},
                   {tensor(p, q, nq, e, "q"), tensor(p, k, nk, e, "k"), tensor(p, v, nk, e, "v"),
                    tensor(p, o, nq, e, "o"), tensor(p, dout, nq, e, "dout"),
                    tensor(p, lse, nl, sizeof(float), "lse")});
    check_workspace(p, BST_OP_ATTENTION_BPROP, batch, workspace, workspace_bytes);
    a.q = q;
    a.k = k;
    a.v = v;
    a.o = o;
    a.dout = dout;
    a.lse = lse;
    a.dq = dq;
    a.dk = dk;
    a.dv = dv;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    p.backend->attention_bprop(a);
  });
}

}  // extern "C"
