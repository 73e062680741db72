"""Block-sparse convolution on the CPU backend (bsconv.h), over ctypes, in the spirit of the
original's ``BlocksparseConv``: ``i_shape``, ``o_shape``, ``f_shape``, ``fprop/bprop/updat``,
``l2_normalize`` and the edge bias. NumPy arrays only (CUDA plans are not implemented yet)."""
import ctypes

import numpy as np

from . import _library
from .errors import check

_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_F = ctypes.c_float
_FP = ctypes.POINTER(ctypes.c_float)


class _Params(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("backend", ctypes.c_int32), ("device", ctypes.c_int32),
                ("dtype", ctypes.c_int32), ("layout", ctypes.c_int32), ("deconv", ctypes.c_int32),
                ("padding", ctypes.c_int32), ("num_threads", ctypes.c_int32), ("C", _I64), ("K", _I64),
                ("filter", ctypes.c_int32 * 3), ("stride", ctypes.c_int32 * 3), ("dilation", ctypes.c_int32 * 3),
                ("pad", ctypes.c_int32 * 3), ("input", _I64 * 3), ("output", _I64 * 3)]


# name: (restype, argtypes); one table so that a generated one can replace it.
PROTOTYPES = {
    "bsconv_params_init": (ctypes.c_int, [ctypes.POINTER(_Params), ctypes.c_size_t]),
    "bsconv_create": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.POINTER(_Params), _I64, _P, _P, _P, _P]),
    "bsconv_destroy": (ctypes.c_int, [_P]),
    "bsconv_get_attr": (ctypes.c_int, [_P, ctypes.c_int, ctypes.POINTER(_I64)]),
    "bsconv_get_input_shape": (ctypes.c_int, [_P, _I64, _I64 * 5]),
    "bsconv_get_output_shape": (ctypes.c_int, [_P, _I64, _I64 * 5]),
    "bsconv_get_block": (ctypes.c_int, [_P, _I64, ctypes.POINTER(_I64), _I64 * 5]),
    "bsconv_get_workspace_size": (ctypes.c_int, [_P, ctypes.c_int, _I64, ctypes.POINTER(ctypes.c_size_t)]),
    "bsconv_fprop": (ctypes.c_int, [_P, _I64, _P, _P, _P, _F, _F, _P, ctypes.c_size_t, _P]),
    "bsconv_bprop": (ctypes.c_int, [_P, _I64, _P, _P, _P, _F, _F, _P, ctypes.c_size_t, _P]),
    "bsconv_updat": (ctypes.c_int, [_P, _I64, _P, _P, _P, _F, _F, _P, ctypes.c_size_t, _P]),
    "bsconv_edge_bias_fprop": (ctypes.c_int, [_P, _I64, _P, _FP, _FP, _P, _P, ctypes.c_size_t, _P]),
    "bsconv_edge_bias_bprop": (ctypes.c_int, [_P, _I64, _P, _P, _FP, _P, _FP, _FP, _P, ctypes.c_size_t, _P]),
    "bsconv_l2_normalize": (ctypes.c_int, [_P, _P, _FP, _P, _F, _P, ctypes.c_size_t, _P]),
    "bsconv_l2_normalize_grad": (ctypes.c_int, [_P, _P, _P, _FP, _P, _FP, _F, _P, ctypes.c_size_t, _P]),
}

_DTYPES = {"float32": 0, "float16": 1, "bfloat16": 2}
_PADDING = {"SAME": 0, "VALID": 1}
ATTR_FILTER_SIZE, ATTR_EDGE_ENTRIES = 3, 8


def _lib():
    lib = _library.load()
    if not getattr(lib, "_bsconv_ready", False):
        for name, (res, args) in PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        lib._bsconv_ready = True
    return lib


def _three(v, fill):
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return [fill] * (3 - len(v)) + v


def _ptr(a):
    return None if a is None else a.ctypes.data_as(_P)


def _fptr(a):
    return None if a is None else a.ctypes.data_as(_FP)


class BlocksparseConv:
    """``BCK``: list of blocks ``[[c0, c1, ...], [k0, k1, ...]]``; ``TRS``, ``DHW``, optional ``MPQ``:
    1 to 3 sizes (leading dims padded with 1); ``padding``: "SAME", "VALID" or a tuple of explicit
    pads. ``channels_last`` picks ``(N, D, H, W, C)`` over the original's ``(N, C, D, H, W)``.
    Activations keep the caller's rank (``NCW``/``NCHW``/``NCDHW`` or channels last)."""

    def __init__(self, BCK, TRS, DHW, MPQ=None, strides=1, dilates=1, padding="SAME", deconv=False,
                 dtype=np.float32, channels_last=False, C=0, K=0, num_threads=0):
        lib = _lib()
        self.rank = len(DHW) if isinstance(DHW, (list, tuple)) else 1
        self.dtype = np.dtype(dtype)
        p = _Params()
        check(lib.bsconv_params_init(ctypes.byref(p), ctypes.sizeof(p)))
        p.dtype = _DTYPES[self.dtype.name]
        p.layout = 1 if channels_last else 0
        p.deconv = 1 if deconv else 0
        p.num_threads = num_threads
        p.C, p.K = C, K
        if isinstance(padding, str):
            p.padding = _PADDING[padding]
        else:
            p.padding = 2
            p.pad[:] = _three(padding, 0)
        p.filter[:] = _three(TRS, 1)
        p.stride[:] = _three(strides, 1) if isinstance(strides, (list, tuple)) else [strides] * 3
        p.dilation[:] = _three(dilates, 1) if isinstance(dilates, (list, tuple)) else [dilates] * 3
        p.input[:] = _three(DHW, 1)
        if MPQ is not None:
            p.output[:] = _three(MPQ, 1)
        c_ptr, k_ptr, c_idx, k_idx = [0], [0], [], []
        for cs, ks in BCK:
            c_idx += list(cs)
            k_idx += list(ks)
            c_ptr.append(len(c_idx))
            k_ptr.append(len(k_idx))
        arrs = [np.asarray(a, dtype=np.int64) for a in (c_ptr, c_idx, k_ptr, k_idx)]
        plan = _P()
        check(lib.bsconv_create(ctypes.byref(plan), ctypes.byref(p), len(BCK), *[_ptr(a) for a in arrs]))
        self._plan = plan
        self.channels_last = channels_last
        self.i_shape_full = self._shape(lib.bsconv_get_input_shape, 1)
        self.o_shape_full = self._shape(lib.bsconv_get_output_shape, 1)
        self.filter_size = self.attr(ATTR_FILTER_SIZE)
        self.edge_entries = self.attr(ATTR_EDGE_ENTRIES)
        self.C = self.i_shape_full[4 if channels_last else 1]
        self.K = self.o_shape_full[4 if channels_last else 1]

    def __del__(self):
        plan = getattr(self, "_plan", None)
        if plan is not None and plan.value:
            _lib().bsconv_destroy(plan)

    def attr(self, a):
        v = _I64()
        check(_lib().bsconv_get_attr(self._plan, a, ctypes.byref(v)))
        return v.value

    def _shape(self, fn, N):
        s = (_I64 * 5)()
        check(fn(self._plan, N, s))
        return list(s)

    def _ranked(self, full, N):
        sp = full[1:4] if self.channels_last else full[2:5]
        ch = full[4] if self.channels_last else full[1]
        sp = sp[3 - self.rank:]
        return tuple([N] + sp + [ch]) if self.channels_last else tuple([N, ch] + sp)

    def i_shape(self, N):
        return self._ranked(self.i_shape_full, N)

    def o_shape(self, N):
        return self._ranked(self.o_shape_full, N)

    def f_shape(self, block=None):
        """Shape of one block's filter, or of the whole flat filter."""
        if block is None:
            return (self.filter_size,)
        off, s = _I64(), (_I64 * 5)()
        check(_lib().bsconv_get_block(self._plan, block, ctypes.byref(off), s))
        return tuple(s)

    def block_offset(self, block):
        off, s = _I64(), (_I64 * 5)()
        check(_lib().bsconv_get_block(self._plan, block, ctypes.byref(off), s))
        return off.value

    def _arr(self, a, shape, name):
        if not (isinstance(a, np.ndarray) and a.dtype == self.dtype and a.flags.c_contiguous and a.shape == shape):
            raise ValueError(f"{name} must be a C-contiguous {self.dtype} array of shape {shape}")
        return a

    def _out(self, out, shape, name):
        return np.empty(shape, self.dtype) if out is None else self._arr(out, shape, name)

    def fprop(self, F, I, O=None, alpha=1.0, beta=0.0):
        N = I.shape[0]
        self._arr(I, self.i_shape(N), "I")
        self._arr(F, self.f_shape(), "F")
        O = self._out(O, self.o_shape(N), "O")
        check(_lib().bsconv_fprop(self._plan, N, _ptr(I), _ptr(F), _ptr(O), alpha, beta, None, 0, None))
        return O

    def bprop(self, F, E, B=None, alpha=1.0, beta=0.0):
        N = E.shape[0]
        self._arr(E, self.o_shape(N), "E")
        self._arr(F, self.f_shape(), "F")
        B = self._out(B, self.i_shape(N), "B")
        check(_lib().bsconv_bprop(self._plan, N, _ptr(E), _ptr(F), _ptr(B), alpha, beta, None, 0, None))
        return B

    def updat(self, I, E, U=None, alpha=1.0, beta=0.0):
        N = I.shape[0]
        self._arr(I, self.i_shape(N), "I")
        self._arr(E, self.o_shape(N), "E")
        U = self._out(U, self.f_shape(), "U")
        check(_lib().bsconv_updat(self._plan, N, _ptr(I), _ptr(E), _ptr(U), alpha, beta, None, 0, None))
        return U

    def edge_shape(self):
        return (self.edge_entries, self.K) if self.channels_last else (self.K, self.edge_entries)

    def edge_bias(self, x, g, b):
        y = np.empty_like(x)
        check(_lib().bsconv_edge_bias_fprop(self._plan, x.shape[0], _ptr(self._arr(x, self.o_shape(x.shape[0]), "x")),
                                            _fptr(np.ascontiguousarray(g, np.float32)),
                                            _fptr(np.ascontiguousarray(b, np.float32)), _ptr(y), None, 0, None))
        return y

    def edge_bias_grad(self, dy, x, g):
        N = dy.shape[0]
        dx = np.empty_like(dy)
        dg = np.empty(self.edge_shape(), np.float32)
        db = np.empty(self.edge_shape(), np.float32)
        check(_lib().bsconv_edge_bias_bprop(self._plan, N, _ptr(self._arr(dy, self.o_shape(N), "dy")),
                                            _ptr(self._arr(x, self.o_shape(N), "x")),
                                            _fptr(np.ascontiguousarray(g, np.float32)), _ptr(dx), _fptr(dg),
                                            _fptr(db), None, 0, None))
        return dx, dg, db

    def l2_normalize(self, F, gain=None, epsilon=1e-12):
        y = np.empty_like(self._arr(F, self.f_shape(), "F"))
        g = None if gain is None else np.ascontiguousarray(gain, np.float32)
        check(_lib().bsconv_l2_normalize(self._plan, _ptr(F), _fptr(g), _ptr(y), epsilon, None, 0, None))
        return y

    def l2_normalize_grad(self, dy, F, gain=None, epsilon=1e-12):
        df = np.empty_like(self._arr(F, self.f_shape(), "F"))
        g = None if gain is None else np.ascontiguousarray(gain, np.float32)
        dg = None if gain is None else np.empty(self.K, np.float32)
        check(_lib().bsconv_l2_normalize_grad(self._plan, _ptr(self._arr(dy, self.f_shape(), "dy")), _ptr(F),
                                              _fptr(g), _ptr(df), _fptr(dg), epsilon, None, 0, None))
        return df, dg
