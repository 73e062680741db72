"""BlocksparseMatMul: a bsmm plan (bsmm.h) with NumPy / PyTorch / CuPy arrays.

Conventions (the C API's, see bsmm.h):

- layout: a ``(CB, KB)`` 0/1 matrix; ``layout[c, k] = 1`` connects input block ``c`` to output
  block ``k``. ``C = CB * block_size`` input features, ``K = KB * block_size`` output features.
- weights ``w``: ``(nnz, b, b)``; block ``i`` is the dense sub-matrix ``W[c*b:(c+1)*b, k*b:(k+1)*b]``
  with ``(c, k) = block_coord(i)``, blocks in row-major order of ``(c, k)`` (the ``data`` array of a
  SciPy ``bsr_matrix`` of shape ``(C, K)``, or of PyTorch's ``to_sparse_bsr(...).values()``).
- activations: ``feature_axis=1``: ``x`` is ``(..., C)`` and ``y`` is ``(..., K)`` (features last);
  ``feature_axis=0``: ``x`` is ``(C, ...)`` and ``y`` is ``(K, ...)``. N is the product of the other
  dimensions. Every array is C-contiguous and of the plan's dtype.
"""
from __future__ import annotations

import ctypes
import math
import weakref

import numpy as np

from . import _library, _tensors
from ._plan import OwnedPlan
from ._tensors import Tensor
from .errors import InvalidArgumentError, Status, check
from .types import DTYPE_NAMES, Attr, Backend, DType, MathMode, Op, parse_backend, parse_dtype, parse_math


def _dense_layout(layout) -> np.ndarray:
    lay = np.asarray(layout)
    if lay.ndim != 2:
        raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                   f"layout must be a 2-D (CB, KB) array of 0/1 (got shape {lay.shape})")
    bad = np.argwhere((lay != 0) & (lay != 1))
    if bad.size:
        c, k = bad[0]
        raise InvalidArgumentError(Status.INVALID_LAYOUT,
                                   f"layout[{c}][{k}] is {lay[c, k].item()!r}; values must be 0 or 1")
    return np.ascontiguousarray(lay, dtype=np.uint8)


def _stream_handle(stream) -> int:
    """A cudaStream_t as an int from an int, a torch.cuda.Stream or a cupy.cuda.Stream."""
    for attr in ("cuda_stream", "ptr"):
        if hasattr(stream, attr):
            return int(getattr(stream, attr))
    return int(stream)


def _destroy(lib, plan: ctypes.c_void_p, sync) -> None:
    for fw, device in sync:
        try:
            fw.synchronize(device)  # queued work may still read the plan's tables (bsmm_destroy contract)
        except Exception:  # noqa: BLE001 - at interpreter exit the framework may already be torn down
            pass
    lib.bsmm_destroy(plan)


class BlocksparseMatMul(OwnedPlan):
    """A block-sparse weight matrix multiply on a fixed layout (a bsmm plan).

    Args:
        layout: ``(CB, KB)`` array of 0/1 (bool or integers).
        block_size: b, one of 8, 16, 32, 64, 128.
        feature_axis: 1 for ``(N, features)`` activations, 0 for ``(features, N)``.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (also NumPy, ml_dtypes and torch dtypes).
        backend: ``"cpu"`` (NumPy arrays) or ``"cuda"`` (PyTorch tensors / CuPy arrays on ``device``).
        device: CUDA device ordinal (0 for CPU plans).
        math: ``"default"`` (exact fp32) or ``"tf32"`` (CUDA plans may use TF32 tensor cores for fp32).
        num_threads: CPU threads per call, 0 = one per hardware thread (must be 0 for CUDA plans).
        bf16_bits: for bfloat16 plans, also accept uint16 arrays holding bfloat16 bit patterns and
            allocate outputs as such (for NumPy without ml_dtypes, or CuPy, which have no bfloat16).

    Raises:
        BlocksparseError: with the library's status and message (bad layout, block size, no CUDA...).

    A plan is immutable: its methods may run concurrently from several threads. Every method
    validates all of its arguments before writing any output; on error no output is touched.
    """

    def __init__(self, layout, block_size=32, feature_axis=1, dtype="float32", backend="cpu", device=0,
                 math="default", num_threads=0, bf16_bits=False):
        lay = _dense_layout(layout)
        self._create(lambda lib, plan, params: lib.bsmm_create(
            ctypes.byref(plan), ctypes.byref(params), lay.ctypes.data, lay.shape[0], lay.shape[1]),
            block_size, feature_axis, dtype, backend, device, math, num_threads, bf16_bits)

    @classmethod
    def from_bsr(cls, row_ptr, col_idx, KB, **options) -> "BlocksparseMatMul":
        """A plan from a layout in BSR form: input block row ``c`` connects to the output blocks
        ``col_idx[row_ptr[c]:row_ptr[c+1]]`` (strictly increasing); ``CB = len(row_ptr) - 1``.
        Block ``i`` of the weights is entry ``i`` of ``col_idx``. ``options`` as the constructor."""
        rp = np.ascontiguousarray(row_ptr, dtype=np.int64)
        ci = np.ascontiguousarray(col_idx, dtype=np.int64)
        if rp.ndim != 1 or ci.ndim != 1:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, "row_ptr and col_idx must be 1-D")
        if rp.size < 1 or rp[-1] != ci.size:
            raise InvalidArgumentError(Status.INVALID_LAYOUT, f"row_ptr must end with len(col_idx) = {ci.size} "
                                       f"(got {rp[-1] if rp.size else 'an empty row_ptr'})")
        self = cls.__new__(cls)
        self._create(lambda lib, plan, params: lib.bsmm_create_bsr(
            ctypes.byref(plan), ctypes.byref(params), rp.size - 1, int(KB), rp.ctypes.data, ci.ctypes.data),
            **options)
        return self

    @classmethod
    def from_bsr_matrix(cls, matrix, **options) -> "BlocksparseMatMul":
        """A plan with the block pattern of a SciPy BSR matrix of shape ``(C, K)`` and square blocks;
        ``matrix.data`` is then a valid weight array of the plan. Its indices must be sorted."""
        b0, b1 = matrix.blocksize
        if b0 != b1:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"blocks must be square (got {matrix.blocksize})")
        C, K = matrix.shape
        return cls.from_bsr(matrix.indptr, matrix.indices, K // b1, block_size=b0, **options)

    def _create(self, create, block_size=32, feature_axis=1, dtype="float32", backend="cpu", device=0,
                math="default", num_threads=0, bf16_bits=False):
        self._plan = None
        lib = _library.load()
        params = _library.BsmmParams()
        check(lib.bsmm_params_init(ctypes.byref(params), ctypes.sizeof(params)))
        params.backend = parse_backend(backend)
        params.dtype = parse_dtype(dtype)
        params.math_mode = parse_math(math)
        for name, value in (("device", device), ("block_size", block_size), ("feature_axis", feature_axis),
                            ("num_threads", num_threads)):
            if not -2**31 <= int(value) < 2**31:  # ctypes would wrap it silently
                raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} = {value} does not fit in int32")
            setattr(params, name, int(value))
        plan = ctypes.c_void_p()
        check(create(lib, plan, params))
        self._lib = lib
        self._plan = plan
        self._bf16_bits = bool(bf16_bits)
        self._sync = set()  # (framework, device) pairs that enqueued work with this plan
        self._finalizer = weakref.finalize(self, _destroy, lib, plan, self._sync)
        attr = self._attr
        self.C, self.K = attr(Attr.C), attr(Attr.K)
        self.CB, self.KB = attr(Attr.CB), attr(Attr.KB)
        self.block_size = attr(Attr.BLOCK_SIZE)
        self.nnz = self.blocks = attr(Attr.NNZ_BLOCKS)
        self.feature_axis = attr(Attr.FEATURE_AXIS)
        self.dtype = DType(attr(Attr.DTYPE))
        self.backend = Backend(attr(Attr.BACKEND))
        self.device = attr(Attr.DEVICE)
        self.math = MathMode(attr(Attr.MATH_MODE))
        self.num_threads = attr(Attr.NUM_THREADS)
        self.w_shape = (self.nnz, self.block_size, self.block_size)
        self._layout = None
        self._coords = None

    # -- queries ---------------------------------------------------------------------------------

    def _attr(self, attr: Attr) -> int:
        v = ctypes.c_int64()
        check(self._lib.bsmm_get_attr(self._handle, attr, ctypes.byref(v)))
        return v.value

    def _shape_query(self, fn, N) -> tuple:
        shape = (ctypes.c_int64 * 2)()
        check(fn(self._handle, int(N), shape))
        return (shape[0], shape[1])

    def i_shape(self, N: int) -> tuple:
        """Shape of ``x`` (and ``dx``) for minibatch N: ``(N, C)`` or ``(C, N)``."""
        return self._shape_query(self._lib.bsmm_get_input_shape, N)

    def o_shape(self, N: int) -> tuple:
        """Shape of ``y`` (and ``dy``) for minibatch N: ``(N, K)`` or ``(K, N)``."""
        return self._shape_query(self._lib.bsmm_get_output_shape, N)

    def block_coord(self, i: int) -> tuple:
        """Layout coordinates ``(c, k)`` of weight block ``i``."""
        c, k = ctypes.c_int64(), ctypes.c_int64()
        check(self._lib.bsmm_block_coord(self._handle, int(i), ctypes.byref(c), ctypes.byref(k)))
        return (c.value, k.value)

    def block_coords(self) -> tuple:
        """``(c, k)``: two int64 arrays of length nnz, the coordinates of every weight block."""
        if self._coords is None:
            coords = np.array([self.block_coord(i) for i in range(self.nnz)], dtype=np.int64).reshape(-1, 2)
            self._coords = (coords[:, 0].copy(), coords[:, 1].copy())
        return self._coords

    @property
    def layout(self) -> np.ndarray:
        """The plan's layout as a ``(CB, KB)`` uint8 0/1 array (a copy)."""
        if self._layout is None:
            lay = np.empty((self.CB, self.KB), dtype=np.uint8)
            check(self._lib.bsmm_get_layout(self._handle, lay.ctypes.data, lay.size))
            self._layout = lay
        return self._layout.copy()

    def workspace_size(self, op, N: int = 0) -> int:
        """Workspace bytes of an op (an :class:`Op` or its name, e.g. ``"fprop"``) for minibatch N.
        The methods below allocate it themselves."""
        op = Op[op.upper()] if isinstance(op, str) else Op(op)
        n = ctypes.c_size_t()
        check(self._lib.bsmm_get_workspace_size(self._handle, op, int(N), ctypes.byref(n)))
        return n.value

    def __repr__(self) -> str:
        return (f"BlocksparseMatMul(CB={self.CB}, KB={self.KB}, block_size={self.block_size}, nnz={self.nnz}, "
                f"feature_axis={self.feature_axis}, dtype={DTYPE_NAMES[self.dtype]}, "
                f"backend={self.backend.name.lower()}, device={self.device})")

    # -- dense conversions (NumPy) ------------------------------------------------------------------

    def to_dense(self, w) -> np.ndarray:
        """The dense ``(C, K)`` matrix of NumPy weights ``w`` (zeros outside the layout), in w's dtype."""
        w = np.asarray(w)
        if w.shape != self.w_shape:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"w has shape {w.shape}, expected {self.w_shape}")
        b = self.block_size
        dense = np.zeros((self.CB, b, self.KB, b), dtype=w.dtype)
        c, k = self.block_coords()
        dense[c, :, k, :] = w
        return dense.reshape(self.C, self.K)

    def from_dense(self, dense, dtype=None) -> np.ndarray:
        """The ``(nnz, b, b)`` NumPy weights holding the layout's blocks of a dense ``(C, K)`` matrix
        (entries outside the layout are dropped), cast to ``dtype`` (default: dense's dtype)."""
        dense = np.asarray(dense)
        if dense.shape != (self.C, self.K):
            raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                       f"dense has shape {dense.shape}, expected {(self.C, self.K)}")
        b = self.block_size
        c, k = self.block_coords()
        w = dense.reshape(self.CB, b, self.KB, b)[c, :, k, :]
        return np.ascontiguousarray(w, dtype=dtype if dtype is not None else dense.dtype)

    # -- argument checks ---------------------------------------------------------------------------

    def _fail(self, status: Status, fn: str, message: str):
        return InvalidArgumentError(status, f"BlocksparseMatMul.{fn}: {message}")

    def _accepted_dtypes(self) -> tuple:
        name = DTYPE_NAMES[self.dtype]
        return (name, "uint16") if self.dtype is DType.BFLOAT16 and self._bf16_bits else (name,)

    def _describe(self, obj, name: str, fn: str) -> Tensor:
        try:
            return _tensors.describe(obj, name, self.backend is Backend.CUDA, self.device)
        except InvalidArgumentError as e:
            raise self._fail(e.status, fn, e.message) from None

    def _tensor(self, obj, name: str, fn: str, shape=None, output=False) -> Tensor:
        """Describes and checks one plan-dtype tensor argument (backend, device, dtype, contiguity)."""
        t = self._describe(obj, name, fn)
        if t.dtype not in self._accepted_dtypes():
            hint = " (or uint16 bit patterns with bf16_bits=True)" if self.dtype is DType.BFLOAT16 else ""
            raise self._fail(Status.INVALID_VALUE, fn, f"{name} has dtype {t.dtype} but this plan's dtype is "
                             f"{DTYPE_NAMES[self.dtype]}{hint}")
        if not t.contiguous:
            raise self._fail(Status.INVALID_VALUE, fn, f"{name} is not C-contiguous (make a contiguous copy)")
        if output and not t.writeable:
            raise self._fail(Status.INVALID_VALUE, fn, f"{name} is read-only")
        if shape is not None and t.shape != tuple(shape):
            raise self._fail(Status.SHAPE_MISMATCH, fn, f"{name} has shape {t.shape}, expected {tuple(shape)}")
        return t

    def _features(self, t: Tensor, features: int, name: str, fn: str) -> int:
        """Checks the feature dimension of an activation and returns its minibatch N."""
        letter = "C" if features == self.C else "K"
        want = f"(N, {letter}={features})" if self.feature_axis == 1 else f"({letter}={features}, N)"
        if len(t.shape) < 2:
            raise self._fail(Status.SHAPE_MISMATCH, fn, f"{name} has shape {t.shape}; expected {want} "
                             f"(feature_axis={self.feature_axis}, at least 2 dimensions)")
        have = t.shape[-1] if self.feature_axis == 1 else t.shape[0]
        if have != features:
            raise self._fail(Status.SHAPE_MISMATCH, fn, f"{name} has shape {t.shape}; expected {want} "
                             f"(feature_axis={self.feature_axis})")
        return math.prod(t.shape[:-1] if self.feature_axis == 1 else t.shape[1:])

    def _with_features(self, shape: tuple, features: int) -> tuple:
        return shape[:-1] + (features,) if self.feature_axis == 1 else (features,) + shape[1:]

    def _f32_vector(self, v, length: int, name: str, fn: str, fw):
        """A fp32 vector argument (gates, gains): device arrays are checked, host data converted and
        (for CUDA plans) uploaded. Returns (keep-alive object, pointer)."""
        if v is None:
            return None, None
        if _tensors.framework_of(v) not in (None, _tensors.NUMPY):
            t = self._describe(v, name, fn)
            if t.dtype != "float32" or not t.contiguous or t.shape != (length,):
                raise self._fail(Status.INVALID_VALUE, fn, f"{name} must be a contiguous float32 vector of "
                                 f"{length} (got dtype {t.dtype}, shape {t.shape})")
            return v, t.ptr
        host = np.ascontiguousarray(v, dtype=np.float32)
        if host.shape != (length,):
            raise self._fail(Status.SHAPE_MISMATCH, fn, f"{name} has shape {host.shape}, expected ({length},)")
        arr = fw.from_host(host, self.device)
        return arr, fw.describe(arr).ptr

    def _context(self, first: Tensor | None, stream):
        """(framework, stream handle, allocation scope) of a call whose first tensor is `first`."""
        if self.backend is Backend.CPU:
            return _tensors.NUMPY, 0, _tensors.NUMPY.allocation_scope(0, 0)
        fw = first.framework if first is not None else _tensors.default_cuda_framework()
        self._sync.add((fw, self.device))
        if stream is None:
            return fw, fw.current_stream(self.device), _tensors.NUMPY.allocation_scope(0, 0)
        handle = _stream_handle(stream)
        return fw, handle, fw.allocation_scope(handle, self.device)

    def _empty(self, fw, shape):
        name = DTYPE_NAMES[self.dtype]
        if self.dtype is DType.BFLOAT16 and self._bf16_bits:
            name = "uint16"
        return fw.empty(shape, name, self.device)

    def _workspace(self, fw, op: Op, N: int):
        """(keep-alive object, pointer, bytes) of the workspace an op needs."""
        nbytes = self.workspace_size(op, N)
        if nbytes == 0:
            return None, None, 0
        ws = fw.empty((nbytes,), "uint8", self.device)
        return ws, fw.describe(ws).ptr, nbytes

    def _output(self, out, fw, shape, name: str, fn: str, beta: float = 0.0):
        if out is None:
            if beta != 0.0:
                raise self._fail(Status.INVALID_VALUE, fn, f"beta = {beta} accumulates into {name}: pass {name}")
            out = self._empty(fw, shape)
        return out, self._tensor(out, name, fn, shape=shape, output=True)

    # -- ops ---------------------------------------------------------------------------------------

    def fprop(self, x, w, out=None, alpha=1.0, beta=0.0, gate=None, stream=None):
        """``y = alpha·(x·W) + beta·y``; returns y (``out`` when given, else a new array).

        x: ``(..., C)`` (feature_axis 1) or ``(C, ...)``; w: ``(nnz, b, b)``; gate: optional nnz fp32
        gates (block i's term times gate[i]). CUDA plans run on the framework's current stream of
        the plan's device unless ``stream`` is given (an int handle or a torch/CuPy stream)."""
        return self._xprop(False, x, w, out, alpha, beta, gate, stream)

    __call__ = fprop

    def bprop(self, dy, w, out=None, alpha=1.0, beta=0.0, gate=None, stream=None):
        """``dx = alpha·(dy·Wᵀ) + beta·dx``; dy has y's shape, dx x's. Returns dx."""
        return self._xprop(True, dy, w, out, alpha, beta, gate, stream)

    def _xprop(self, bprop, inp, w, out, alpha, beta, gate, stream):
        fn, in_name, out_name = ("bprop", "dy", "dx") if bprop else ("fprop", "x", "y")
        in_f, out_f = (self.K, self.C) if bprop else (self.C, self.K)
        ti = self._tensor(inp, in_name, fn)
        N = self._features(ti, in_f, in_name, fn)
        tw = self._tensor(w, "w", fn, shape=self.w_shape)
        fw, s, scope = self._context(ti, stream)
        with scope:
            out, to = self._output(out, fw, self._with_features(ti.shape, out_f), out_name, fn, beta)
            _gate, gate_ptr = self._f32_vector(gate, self.nnz, "gate", fn, fw)
            _ws, ws_ptr, ws_bytes = self._workspace(fw, Op.BPROP if bprop else Op.FPROP, N)
            call = self._lib.bsmm_bprop if bprop else self._lib.bsmm_fprop
            check(call(self._handle, N, ti.ptr, tw.ptr, to.ptr, alpha, beta, gate_ptr, ws_ptr, ws_bytes, s))
        return out

    def updat(self, x, dy, dw=None, alpha=1.0, beta=0.0, gate=None, stream=None):
        """``dW[i] = alpha·gate[i]·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW[i]`` on the layout's blocks.

        ``x`` and ``dy`` are one array each, or equal-length lists of arrays (several pairs, e.g.
        the time steps of an RNN sharing W, summed in fp32 before one rounding); every x has the
        same shape. Returns dw ``(nnz, b, b)``."""
        fn = "updat"
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        dys = list(dy) if isinstance(dy, (list, tuple)) else [dy]
        if not xs or len(xs) != len(dys):
            raise self._fail(Status.SHAPE_MISMATCH, fn, f"x and dy must be as many arrays, at least one "
                             f"(got {len(xs)} and {len(dys)})")
        tx = [self._tensor(v, f"x[{i}]" if len(xs) > 1 else "x", fn) for i, v in enumerate(xs)]
        N = self._features(tx[0], self.C, "x" if len(xs) == 1 else "x[0]", fn)
        for i, t in enumerate(tx[1:], 1):
            if t.shape != tx[0].shape:
                raise self._fail(Status.SHAPE_MISMATCH, fn, f"x[{i}] has shape {t.shape} but x[0] has {tx[0].shape}")
        dy_shape = self._with_features(tx[0].shape, self.K)
        tdy = [self._tensor(v, f"dy[{i}]" if len(dys) > 1 else "dy", fn, shape=dy_shape) for i, v in enumerate(dys)]
        fw, s, scope = self._context(tx[0], stream)
        with scope:
            dw, tdw = self._output(dw, fw, self.w_shape, "dw", fn, beta)
            _gate, gate_ptr = self._f32_vector(gate, self.nnz, "gate", fn, fw)
            _ws, ws_ptr, ws_bytes = self._workspace(fw, Op.UPDAT, N)
            n = len(xs)
            x_ptrs = (ctypes.c_void_p * n)(*[t.ptr for t in tx])
            dy_ptrs = (ctypes.c_void_p * n)(*[t.ptr for t in tdy])
            check(self._lib.bsmm_updat(self._handle, N, n, x_ptrs, dy_ptrs, tdw.ptr, alpha, beta, gate_ptr,
                                       ws_ptr, ws_bytes, s))
        return dw

    def identity_init(self, scale=1.0, out=None, stream=None):
        """Weights where block ``(c, k)`` is ``scale·I`` if ``c % KB == k % CB``, else 0 (on a square
        layout with its diagonal, ``x·W = scale·x``). Returns ``out`` or a new array (NumPy for CPU
        plans; PyTorch, else CuPy, for CUDA plans unless ``out`` says which)."""
        fn = "identity_init"
        first = self._tensor(out, "out", fn, shape=self.w_shape, output=True) if out is not None else None
        fw, s, scope = self._context(first, stream)
        with scope:
            out, to = self._output(out, fw, self.w_shape, "out", fn)
            check(self._lib.bsmm_identity_init(self._handle, to.ptr, scale, s))
        return out

    def l2_normalize(self, w, gain=None, epsilon=1e-12, out=None, stream=None):
        """Normalises every output feature (column j of the dense ``(C, K)`` weight) to unit L2 norm:
        ``w[:, j] / sqrt(max(Σ w[:, j]², epsilon))``, times ``gain[j]`` when a K-vector of gains is
        given. ``out`` may be ``w`` itself. Returns the normalised weights."""
        fn = "l2_normalize"
        tw = self._tensor(w, "w", fn, shape=self.w_shape)
        fw, s, scope = self._context(tw, stream)
        with scope:
            out, to = self._output(out, fw, self.w_shape, "out", fn)
            _gain, gain_ptr = self._f32_vector(gain, self.K, "gain", fn, fw)
            _ws, ws_ptr, ws_bytes = self._workspace(fw, Op.L2_NORMALIZE, 0)
            check(self._lib.bsmm_l2_normalize(self._handle, tw.ptr, gain_ptr, to.ptr, epsilon, ws_ptr, ws_bytes, s))
        return out

    def l2_normalize_grad(self, dy, w, gain=None, epsilon=1e-12, dw=None, dgain=None, stream=None):
        """Gradient of :meth:`l2_normalize` (formula in bsmm.h) given the gradient ``dy`` of its
        output and the weights ``w`` it normalised. Returns ``dw``, or ``(dw, dgain)`` when a gain
        is given (dgain: K float32)."""
        fn = "l2_normalize_grad"
        tdy = self._tensor(dy, "dy", fn, shape=self.w_shape)
        tw = self._tensor(w, "w", fn, shape=self.w_shape)
        if gain is None and dgain is not None:
            raise self._fail(Status.INVALID_VALUE, fn, "dgain must be None when no gain is given")
        fw, s, scope = self._context(tdy, stream)
        with scope:
            dw, tdw = self._output(dw, fw, self.w_shape, "dw", fn)
            _gain, gain_ptr = self._f32_vector(gain, self.K, "gain", fn, fw)
            dgain_ptr = None
            if gain is not None:
                if dgain is None:
                    dgain = fw.empty((self.K,), "float32", self.device)
                td = self._describe(dgain, "dgain", fn)
                if td.dtype != "float32" or not td.contiguous or td.shape != (self.K,) or not td.writeable:
                    raise self._fail(Status.INVALID_VALUE, fn, f"dgain must be a writable contiguous float32 "
                                     f"vector of {self.K} (got dtype {td.dtype}, shape {td.shape})")
                dgain_ptr = td.ptr
            _ws, ws_ptr, ws_bytes = self._workspace(fw, Op.L2_NORMALIZE_GRAD, 0)
            check(self._lib.bsmm_l2_normalize_grad(self._handle, tdy.ptr, tw.ptr, gain_ptr, tdw.ptr, dgain_ptr,
                                                   epsilon, ws_ptr, ws_bytes, s))
        return dw if gain is None else (dw, dgain)
