"""BlocksparseTransformer: block-sparse attention (bst.h) on NumPy arrays, CPU plans.

Conventions (the C API's, see bst.h):

- layout: ``(heads, QB, KB)`` or ``(QB, KB)`` (one layout for every head) 0/1 array; query block
  ``i`` attends key block ``j`` where it is 1. ``Sq = QB * block_size``, ``Sk = KB * block_size``.
- q, o: ``(batch, Sq, heads, head_dim)`` (``format="bshd"``, the original's ``(batch, ctx,
  heads*head_dim)``) or ``(batch, heads, Sq, head_dim)`` (``format="bhsd"``, PyTorch SDPA's); k, v
  the same with Sk. Scores: ``(batch, score_blocks, b, b)``, blocks in ``block_coord`` order.
- A query row with no allowed key gives probabilities and output 0 (not NaN) and lse ``-inf``.

Only CPU plans exist so far (the library's bst CUDA backend is not written: creating a CUDA plan
raises ``UnsupportedError``). The ctypes prototypes are declared here, in one table, until the
generated bindings replace them.
"""
from __future__ import annotations

import ctypes
import weakref

import numpy as np

from . import _library
from ._plan import OwnedPlan
from .errors import InvalidArgumentError, Status, check

c_status, c_enum, c_ptr, c_i64, c_size = ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t
c_f32, c_u64 = ctypes.c_float, ctypes.c_uint64


class BstParams(ctypes.Structure):
    """Mirror of ``bst_params_t`` (bst.h); always filled by ``bst_params_init``."""

    _fields_ = [("struct_size", ctypes.c_uint32), ("backend", ctypes.c_int32), ("device", ctypes.c_int32),
                ("block_size", ctypes.c_int32), ("heads", ctypes.c_int32), ("head_dim", ctypes.c_int32),
                ("dtype", ctypes.c_int32), ("format", ctypes.c_int32), ("causal", ctypes.c_int32),
                ("num_threads", ctypes.c_int32), ("autoregress_at_key", ctypes.c_int64)]


_P = ctypes.POINTER
_PROTOTYPES = {
    "bst_params_init": (c_status, [_P(BstParams), c_size]),
    "bst_create": (c_status, [_P(c_ptr), _P(BstParams), c_ptr, c_i64, c_i64, c_i64, c_ptr]),
    "bst_create_kv_blocks": (c_status, [_P(c_ptr), _P(BstParams), c_i64, c_i64, c_i64, c_ptr, c_ptr, c_i64, c_ptr]),
    "bst_destroy": (c_status, [c_ptr]),
    "bst_get_attr": (c_status, [c_ptr, c_enum, _P(c_i64)]),
    "bst_get_shape": (c_status, [c_ptr, c_enum, c_i64, _P(c_i64), _P(ctypes.c_int32)]),
    "bst_block_coord": (c_status, [c_ptr, c_i64, _P(c_i64), _P(c_i64), _P(c_i64)]),
    "bst_get_workspace_size": (c_status, [c_ptr, c_enum, c_i64, _P(c_size)]),
    "bst_sdd": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_ptr, c_ptr, c_size, c_ptr]),
    "bst_softmax": (c_status, [c_ptr, c_i64, c_ptr, c_f32, c_ptr, c_ptr, c_size, c_ptr]),
    "bst_softmax_grad": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_f32, c_ptr, c_ptr, c_size, c_ptr]),
    "bst_dsd": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_ptr, c_ptr, c_size, c_ptr]),
    "bst_dsd_t": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_ptr, c_ptr, c_size, c_ptr]),
    "bst_attention_fprop": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_ptr, c_f32, c_f32, c_u64, c_u64, c_ptr, c_ptr,
                                       c_ptr, c_size, c_ptr]),
    "bst_attention_bprop": (c_status, [c_ptr, c_i64, c_ptr, c_ptr, c_ptr, c_ptr, c_ptr, c_ptr, c_f32, c_f32, c_u64,
                                       c_u64, c_ptr, c_ptr, c_ptr, c_ptr, c_size, c_ptr]),
}

# bst.h enums
_ATTR = {"score_blocks": 9, "num_threads": 19}
_TENSOR = {"query": 0, "key": 1, "scores": 2, "lse": 3}
_OP = {"sdd": 0, "softmax": 1, "softmax_grad": 2, "dsd": 3, "dsd_t": 4, "fprop": 5, "bprop": 6}
_FORMATS = {"bshd": 0, "bhsd": 1}


def _dtypes():
    d = {np.dtype(np.float32): 0, np.dtype(np.float16): 1}
    try:
        import ml_dtypes
        d[np.dtype(ml_dtypes.bfloat16)] = 2
    except ImportError:  # bfloat16 plans need ml_dtypes for their NumPy arrays
        pass
    return d


def _lib():
    lib = _library.load()
    if not getattr(lib, "_bst_declared", False):
        for name, (res, args) in _PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        lib._bst_declared = True
    return lib


class BlocksparseTransformer(OwnedPlan):
    """Block-sparse attention on a fixed layout (a bst plan), in the spirit of the original's class.

    Args:
        layout: ``(heads, QB, KB)`` or ``(QB, KB)`` array of 0/1.
        block_size: b, one of 8, 16, 32, 64, 128.
        heads, head_dim: H and D (D a multiple of 8 in [8, 256]).
        dtype: ``np.float32``, ``np.float16`` or ``ml_dtypes.bfloat16``.
        format: ``"bshd"`` or ``"bhsd"``.
        causal: mask keys after the query's position; ``autoregress_at_key``: with causal, keys
            before this position are visible to every query (the original's option).
        block_masks: optional ``(layout_blocks, b, b // 8)`` uint8 bit masks inside blocks (bst.h).
        num_threads: CPU threads per call, 0 = one per hardware thread.

    Every method validates its arguments before writing; errors raise ``BlocksparseError`` with
    the library's status and message. A plan is immutable and may be used from several threads.
    """

    def __init__(self, layout, block_size=64, heads=1, head_dim=64, dtype=np.float32, format="bshd", causal=False,
                 autoregress_at_key=0, block_masks=None, num_threads=0):
        lay = np.ascontiguousarray(np.asarray(layout), dtype=np.uint8)
        if lay.ndim == 2:
            lay = lay[None]
        if lay.ndim != 3:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"layout must be (heads, QB, KB) or (QB, KB) (got {lay.shape})")
        dts = _dtypes()
        self.dtype = np.dtype(dtype)
        if self.dtype not in dts:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"dtype must be one of {list(dts)} (got {self.dtype})")
        if format not in _FORMATS:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"format must be 'bshd' or 'bhsd' (got {format!r})")
        lib = _lib()
        p = BstParams()
        check(lib.bst_params_init(ctypes.byref(p), ctypes.sizeof(p)))
        p.block_size, p.heads, p.head_dim = int(block_size), int(heads), int(head_dim)
        p.dtype, p.format, p.causal = dts[self.dtype], _FORMATS[format], int(bool(causal))
        p.autoregress_at_key, p.num_threads = int(autoregress_at_key), int(num_threads)
        masks = None if block_masks is None else np.ascontiguousarray(block_masks, dtype=np.uint8)
        if masks is not None:
            n = int(lay.sum()) * int(block_size) * (int(block_size) // 8)
            if masks.size != n:
                raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                           f"block_masks must have layout_blocks*b*b/8 = {n} bytes (got {masks.size})")
        plan = c_ptr()
        check(lib.bst_create(ctypes.byref(plan), ctypes.byref(p), lay.ctypes.data, lay.shape[0], lay.shape[1],
                             lay.shape[2], None if masks is None else masks.ctypes.data))
        self._lib, self._plan = lib, plan
        self._finalizer = weakref.finalize(self, lib.bst_destroy, plan)
        self.block_size, self.heads, self.head_dim, self.format = int(block_size), int(heads), int(head_dim), format
        self.layout = lay
        self.score_blocks = self._attr("score_blocks")

    def _attr(self, name):
        v = c_i64()
        check(self._lib.bst_get_attr(self._handle, _ATTR[name], ctypes.byref(v)))
        return v.value

    def shape(self, tensor, batch):
        """Shape of ``"query"``, ``"key"``, ``"scores"`` or ``"lse"`` for ``batch`` sequences."""
        s, nd = (c_i64 * 4)(), ctypes.c_int32()
        check(self._lib.bst_get_shape(self._handle, _TENSOR[tensor], int(batch), s, ctypes.byref(nd)))
        return tuple(s[: nd.value])

    def block_coord(self, block):
        """(head, query block, key block) of score block ``block``."""
        h, i, j = c_i64(), c_i64(), c_i64()
        check(self._lib.bst_block_coord(self._handle, int(block), ctypes.byref(h), ctypes.byref(i), ctypes.byref(j)))
        return h.value, i.value, j.value

    # --- helpers ---------------------------------------------------------------------------------
    def _batch(self, x, tensor, name):
        x = np.asarray(x)
        if x.ndim != 4:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{name} must be 4-D (got shape {x.shape})")
        if x.shape != self.shape(tensor, x.shape[0]):
            raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                       f"{name} has shape {x.shape}; this plan needs {self.shape(tensor, x.shape[0])}")
        return x.shape[0]

    def _in(self, x, name, tensor, batch, dtype=None):
        x = np.asarray(x)
        if x.dtype != (dtype or self.dtype):
            raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} must be {dtype or self.dtype} (got {x.dtype})")
        if x.shape != self.shape(tensor, batch):
            raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                       f"{name} has shape {x.shape}; this plan needs {self.shape(tensor, batch)}")
        return np.ascontiguousarray(x)

    def _out(self, tensor, batch, dtype=None):
        return np.empty(self.shape(tensor, batch), dtype=dtype or self.dtype)

    def _ws(self, op, batch):
        n = c_size()
        check(self._lib.bst_get_workspace_size(self._handle, _OP[op], int(batch), ctypes.byref(n)))
        ws = np.empty(max(n.value, 1), dtype=np.uint8)
        return ws.ctypes.data, n.value, ws

    # --- unfused ops (the original's names) --------------------------------------------------------
    def query_key_op(self, q, k):
        """SDD: block-sparse scores ``q·kᵀ`` (``(batch, score_blocks, b, b)``), unmasked, unscaled."""
        n = self._batch(q, "query", "q")
        q, k = self._in(q, "q", "query", n), self._in(k, "k", "key", n)
        out = self._out("scores", n)
        ptr, nb, _keep = self._ws("sdd", n)
        check(self._lib.bst_sdd(self._handle, n, q.ctypes.data, k.ctypes.data, out.ctypes.data, ptr, nb, None))
        return out

    def masked_softmax(self, scores, scale=1.0):
        """Softmax of ``scale·scores`` over every allowed key of each query row (layout, masks, causal)."""
        n = self._batch(scores, "scores", "scores")
        x = self._in(scores, "scores", "scores", n)
        out = self._out("scores", n)
        ptr, nb, _keep = self._ws("softmax", n)
        check(self._lib.bst_softmax(self._handle, n, x.ctypes.data, float(scale), out.ctypes.data, ptr, nb, None))
        return out

    def masked_softmax_grad(self, probs, dprobs, scale=1.0):
        """Gradient of masked_softmax: ``scale·p∘(dp − Σ_row p∘dp)``."""
        n = self._batch(probs, "scores", "probs")
        p, dp = self._in(probs, "probs", "scores", n), self._in(dprobs, "dprobs", "scores", n)
        out = self._out("scores", n)
        ptr, nb, _keep = self._ws("softmax_grad", n)
        check(self._lib.bst_softmax_grad(self._handle, n, p.ctypes.data, dp.ctypes.data, float(scale), out.ctypes.data,
                                         ptr, nb, None))
        return out

    def weight_value_op(self, probs, v, transpose=False):
        """DSD ``probs·v`` (query side out); with ``transpose=True``, ``probsᵀ·v`` where v is query side."""
        n = self._batch(probs, "scores", "probs")
        p = self._in(probs, "probs", "scores", n)
        x = self._in(v, "v", "query" if transpose else "key", n)
        out = self._out("key" if transpose else "query", n)
        ptr, nb, _keep = self._ws("dsd_t" if transpose else "dsd", n)
        fn = self._lib.bst_dsd_t if transpose else self._lib.bst_dsd
        check(fn(self._handle, n, p.ctypes.data, x.ctypes.data, out.ctypes.data, ptr, nb, None))
        return out

    # --- fused -------------------------------------------------------------------------------------
    def attention(self, q, k, v, scale=None, keep_prob=1.0, seed=0, offset=0):
        """Fused ``softmax(scale·q·kᵀ)·v`` over the plan's blocks; returns ``(o, lse)``."""
        n = self._batch(q, "query", "q")
        q, k, v = self._in(q, "q", "query", n), self._in(k, "k", "key", n), self._in(v, "v", "key", n)
        scale = self.head_dim ** -0.5 if scale is None else scale
        o, lse = self._out("query", n), self._out("lse", n, np.float32)
        ptr, nb, _keep = self._ws("fprop", n)
        check(self._lib.bst_attention_fprop(self._handle, n, q.ctypes.data, k.ctypes.data, v.ctypes.data, float(scale),
                                            float(keep_prob), int(seed), int(offset), o.ctypes.data, lse.ctypes.data,
                                            ptr, nb, None))
        return o, lse

    def attention_grad(self, q, k, v, o, do, lse, scale=None, keep_prob=1.0, seed=0, offset=0):
        """Backward of attention(): returns ``(dq, dk, dv)``."""
        n = self._batch(q, "query", "q")
        q, o, do = (self._in(x, nm, "query", n) for x, nm in ((q, "q"), (o, "o"), (do, "do")))
        k, v = self._in(k, "k", "key", n), self._in(v, "v", "key", n)
        lse = self._in(lse, "lse", "lse", n, np.dtype(np.float32))
        scale = self.head_dim ** -0.5 if scale is None else scale
        dq, dk, dv = self._out("query", n), self._out("key", n), self._out("key", n)
        ptr, nb, _keep = self._ws("bprop", n)
        check(self._lib.bst_attention_bprop(self._handle, n, q.ctypes.data, k.ctypes.data, v.ctypes.data, o.ctypes.data,
                                            do.ctypes.data, lse.ctypes.data, float(scale), float(keep_prob), int(seed),
                                            int(offset), dq.ctypes.data, dk.ctypes.data, dv.ctypes.data, ptr, nb, None))
        return dq, dk, dv
