"""The small fused ops of libblocksparse (layernorm.h, bs_ew.h, bs_norms.h, bs_dropout.h, bs_lstm.h,
bs_sparse_proj.h) on NumPy arrays (CPU backend) and PyTorch tensors / CuPy arrays on a GPU (CUDA
backend).

Conventions, shared by every function here:

- The backend follows the arrays: NumPy arrays run on the CPU; PyTorch tensors or CuPy arrays in GPU
  memory run on the CUDA backend, on their GPU, on the framework's current stream unless ``stream``
  is given (an int handle, a ``torch.cuda.Stream`` or a ``cupy.cuda.Stream``). Every array argument
  of one call lives in the same place.
- Activations are C-contiguous float32, float16 or bfloat16 arrays (NumPy bfloat16 comes from
  ml_dtypes); the first activation argument fixes the dtype of the call. Per-feature vectors (gain,
  bias, statistics, their gradients) are float32; a NumPy array or list given for a CUDA call is
  uploaded.
- Outputs are returned; an ``out=`` (or ``dx=``, ``dgain=`` ...) argument writes into that array
  instead (it must have the exact shape and dtype). The library validates every argument before it
  writes anything: on error no output is touched and a :class:`~blocksparse.BlocksparseError`
  subclass is raised (:class:`~blocksparse.InvalidArgumentError` for bad arguments).
- Every op is deterministic (fixed reduction order, no atomics) unless its docstring says otherwise.
  The math of each op is documented in its C header; docstrings here give shapes and defaults.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import weakref

import numpy as np

from . import _ffi, _library, _tensors
from ._plan import OwnedPlan
from ._tensors import Tensor
from .errors import InvalidArgumentError, Status, check
from .matmul import _stream_handle
from .types import DTYPE_NAMES, Backend, DType, parse_backend, parse_dtype

__all__ = [
    "LayerNorm", "layer_norm", "layer_norm_grad",
    "batch_norm", "batch_norm_inference", "batch_norm_grad", "cwise_linear", "cwise_linear_grad",
    "ew_binary", "ew_binary_grad", "ew_unary", "ew_unary_grad", "bias_act", "bias_act_grad", "float_cast",
    "add_n", "ADD_N_MAX_INPUTS", "philox4x32_10", "dropout_mask", "dropout", "dropout_apply",
    "lstm_gates", "lstm_gates_grad", "split4", "concat4", "SparseProj",
    "BINARY_OPS", "UNARY_OPS", "UNARY_ALPHA", "ACTIVATIONS",
]

# --------------------------------------------------------------------------------------------------
# C declarations (generated from the headers: _ffi.py) and the spellings of the enums
# --------------------------------------------------------------------------------------------------

LayerNormParams = _ffi.layernorm_params_t
SparseProjParams = _ffi.bs_sparse_proj_params_t


def _lib() -> ctypes.CDLL:
    """The library, with every prototype declared (_library.load)."""
    return _library.load()


def _spellings(enum: str, prefix: str) -> dict:
    """{lower-case name without prefix: value} of a C enum: BS_EW_ADD -> "add"."""
    return {name[len(prefix):].lower(): value for name, value in _ffi.ENUMS[enum].items()}


#: ``bs_ew_binary_op_t`` values by name.
BINARY_OPS = _spellings("bs_ew_binary_op_t", "BS_EW_")
#: ``bs_ew_unary_op_t`` values by name.
UNARY_OPS = _spellings("bs_ew_unary_op_t", "BS_EW_")
#: The default ``alpha`` of the unary ops that use one (the original's values).
UNARY_ALPHA = {"elu": 1.0, "gelu": 0.044715, "swish": 1.0}
#: ``bs_act_t`` values by name (None means "none").
ACTIVATIONS = _spellings("bs_act_t", "BS_ACT_")
#: Most inputs add_n() takes (``BS_ADD_N_MAX_INPUTS``).
ADD_N_MAX_INPUTS = _ffi.BS_ADD_N_MAX_INPUTS

_ACT_DTYPES = ("float32", "float16", "bfloat16")
_LN_FPROP, _LN_BPROP = _ffi.LAYERNORM_OP_FPROP, _ffi.LAYERNORM_OP_BPROP


def _choice(fn: str, what: str, value, table: dict) -> int:
    key = "none" if value is None else value
    if isinstance(key, str) and key.lower() in table:
        return table[key.lower()]
    raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: {what} must be one of {sorted(table)} (got {value!r})")


def _flag(fn: str, name: str, value) -> int:
    if value not in (0, 1, False, True):
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: {name} must be a bool (got {value!r})")
    return int(bool(value))


def _feature_axis(fn: str, axis) -> int:
    if axis not in (0, 1):
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: feature_axis must be 0 or 1 (got {axis!r})")
    return int(axis)


def _split_features(shape: tuple, axis: int) -> tuple:
    """(N, K) of an activation: K the feature dimension (last for axis 1, first for axis 0)."""
    if len(shape) == 0:
        return 1, 1
    if axis == 1:
        return math.prod(shape[:-1]), shape[-1]
    return math.prod(shape[1:]), shape[0]


# --------------------------------------------------------------------------------------------------
# One call: where it runs, its arguments and outputs
# --------------------------------------------------------------------------------------------------


def _device_scope(fw, device: int):
    """Makes `device` the calling thread's current CUDA device (the plain C ops run on it)."""
    if fw is _tensors.TORCH:
        return fw._torch().cuda.device(device)
    if fw is _tensors.CUPY:
        return fw._cupy().cuda.Device(device)
    return contextlib.nullcontext()


class _Call:
    """The backend, device, framework and stream of one call, found from its first array argument,
    with checks for the other arguments and allocation of the outputs."""

    def __init__(self, fn: str, first, stream=None, dtype_from_first=True):
        self.fn = fn
        fw = _tensors.framework_of(first)
        if fw is None:
            raise self.fail(Status.INVALID_VALUE, f"arrays must be numpy.ndarray (CPU) or PyTorch tensors / CuPy "
                            f"arrays on a GPU (got {type(first).__name__})")
        t = fw.describe(first)
        self.cuda = t.device is not None
        self.device = t.device if self.cuda else 0
        self.backend = Backend.CUDA if self.cuda else Backend.CPU
        self.fw = fw if self.cuda else _tensors.NUMPY
        self.dtype = None
        if dtype_from_first:
            self.dtype = self._dtype_of(self.describe(first, "first argument"), "first argument")
        self.keep = []  # uploaded vectors and workspaces: alive until the call returns
        if not self.cuda:
            self.stream, self.scope = 0, contextlib.nullcontext()
        elif stream is None:
            self.stream, self.scope = fw.current_stream(self.device), contextlib.nullcontext()
        else:
            self.stream = _stream_handle(stream)
            self.scope = fw.allocation_scope(self.stream, self.device)

    def fail(self, status: Status, message: str) -> InvalidArgumentError:
        return InvalidArgumentError(status, f"{self.fn}: {message}")

    def describe(self, obj, name: str) -> Tensor:
        try:
            return _tensors.describe(obj, name, self.cuda, self.device)
        except InvalidArgumentError as e:
            raise self.fail(e.status, e.message) from None

    def _dtype_of(self, t: Tensor, name: str) -> DType:
        if t.dtype not in _ACT_DTYPES:
            raise self.fail(Status.INVALID_VALUE, f"{name} has dtype {t.dtype}; expected one of {_ACT_DTYPES}")
        return parse_dtype(t.dtype)

    def tensor(self, obj, name: str, shape=None, dtype: DType | str | None = None, output=False) -> Tensor:
        """Checks one array argument: place, dtype (default: the call's), contiguity, shape."""
        if obj is None:
            raise self.fail(Status.NULL_POINTER, f"{name} is required")
        t = self.describe(obj, name)
        want = dtype if dtype is not None else self.dtype
        want = DTYPE_NAMES[want] if isinstance(want, DType) else want
        if t.dtype != want:
            raise self.fail(Status.INVALID_VALUE, f"{name} has dtype {t.dtype}, expected {want}")
        if not t.contiguous:
            raise self.fail(Status.INVALID_VALUE, f"{name} is not C-contiguous (make a contiguous copy)")
        if output and not t.writeable:
            raise self.fail(Status.INVALID_VALUE, f"{name} is read-only")
        if shape is not None and t.shape != tuple(shape):
            raise self.fail(Status.SHAPE_MISMATCH, f"{name} has shape {t.shape}, expected {tuple(shape)}")
        return t

    def output(self, out, name: str, shape, dtype: DType | str | None = None):
        """(array, pointer): `out` checked, or a new array of `shape` and `dtype` (default: the call's)."""
        want = dtype if dtype is not None else self.dtype
        if out is None:
            out = self.fw.empty(tuple(shape), DTYPE_NAMES[want] if isinstance(want, DType) else want, self.device)
        return out, self.tensor(out, name, shape, want, output=True).ptr

    def optional_output(self, out, want: bool, name: str, shape, dtype=None):
        """(array or None, pointer or None): an output computed only when given or wanted."""
        if out is None and not want:
            return None, None
        return self.output(out, name, shape, dtype)

    def vector(self, v, name: str, length: int):
        """Pointer of an optional float32 vector input (None -> None). Host data for a CUDA call is
        converted and uploaded; device arrays must already be contiguous float32 of `length`."""
        if v is None:
            return None
        if _tensors.framework_of(v) not in (None, _tensors.NUMPY):
            return self.tensor(v, name, (length,), "float32").ptr
        host = np.ascontiguousarray(v, dtype=np.float32)  # no copy for a contiguous float32 array
        if host.shape != (length,):
            raise self.fail(Status.SHAPE_MISMATCH, f"{name} has shape {host.shape}, expected ({length},)")
        arr = self.fw.from_host(host, self.device) if self.cuda else host
        self.keep.append(arr)
        return self.fw.describe(arr).ptr

    def workspace(self, nbytes: int):
        """(pointer, bytes) of a scratch buffer."""
        if nbytes == 0:
            return None, 0
        ws = self.fw.empty((nbytes,), "uint8", self.device)
        self.keep.append(ws)
        return self.fw.describe(ws).ptr, nbytes

    def run(self, cfn, *args) -> None:
        """Calls a C function on the call's device and raises its error, if any."""
        with _device_scope(self.fw, self.device) if self.cuda else contextlib.nullcontext():
            check(cfn(*args))


def _first(*objs):
    return next((o for o in objs if o is not None), None)


# --------------------------------------------------------------------------------------------------
# Layer norm (layernorm.h)
# --------------------------------------------------------------------------------------------------


class LayerNorm(OwnedPlan):
    """A layer-norm plan: normalisation over K features, forward and backward (layernorm.h).

    Args:
        K: number of features.
        dtype: storage of x, y, dy, dx: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        feature_axis: 1: activations ``(..., K)`` (features last); 0: ``(K, ...)``.
        segments: S, dividing K: each of the S contiguous slices of K/S features is normalised alone.
        epsilon: added to the variance (default 1e-6, the original's).
        relu: apply a fused ReLU after the affine step.
        deterministic: bitwise repeatable dgain/dbias (the default); False lets CUDA use atomics.
        backend: ``"cpu"`` (NumPy arrays) or ``"cuda"`` (PyTorch / CuPy arrays on ``device``).
        device: CUDA device ordinal (0 for CPU plans).
        num_threads: CPU threads per call, 0 = OpenMP default (must be 0 for CUDA plans).

    mean and rstd are float32 ``(S, N)`` arrays, N the product of the non-feature dimensions. The
    plan is immutable: its methods may run concurrently from several threads.
    """

    def __init__(self, K, dtype="float32", feature_axis=1, segments=1, epsilon=1e-6, relu=False,
                 deterministic=True, backend="cpu", device=0, num_threads=0):
        self._plan = None
        lib = _lib()
        params = LayerNormParams()
        check(lib.layernorm_params_init(ctypes.byref(params), ctypes.sizeof(params)))
        params.backend = parse_backend(backend)
        params.dtype = parse_dtype(dtype)
        for name, value in (("device", device), ("feature_axis", feature_axis), ("segments", segments),
                            ("num_threads", num_threads)):
            if not -2**31 <= int(value) < 2**31:  # ctypes would wrap it silently
                raise InvalidArgumentError(Status.INVALID_VALUE, f"LayerNorm: {name} = {value} does not fit in int32")
            setattr(params, name, int(value))
        if not -2**63 <= int(K) < 2**63:
            raise InvalidArgumentError(Status.OVERFLOW, f"LayerNorm: K = {K} does not fit in int64")
        params.K = int(K)
        params.epsilon = float(epsilon)
        params.relu = _flag("LayerNorm", "relu", relu)
        params.deterministic = _flag("LayerNorm", "deterministic", deterministic)
        plan = ctypes.c_void_p()
        check(lib.layernorm_create(ctypes.byref(plan), ctypes.byref(params)))
        self._lib = lib
        self._plan = plan
        self._finalizer = weakref.finalize(self, lib.layernorm_destroy, plan)
        self.K, self.segments, self.feature_axis = int(K), int(segments), int(feature_axis)
        self.epsilon, self.relu, self.deterministic = float(params.epsilon), bool(relu), bool(deterministic)
        self.dtype, self.backend, self.device = DType(params.dtype), Backend(params.backend), int(device)


    def __repr__(self) -> str:
        return (f"LayerNorm(K={self.K}, dtype={DTYPE_NAMES[self.dtype]}, feature_axis={self.feature_axis}, "
                f"segments={self.segments}, epsilon={self.epsilon}, relu={self.relu}, "
                f"backend={self.backend.name.lower()}, device={self.device})")

    def workspace_size(self, op: str, N: int) -> int:
        """Workspace bytes of ``"fprop"`` or ``"bprop"`` for minibatch N (the methods allocate it)."""
        code = {"fprop": _LN_FPROP, "bprop": _LN_BPROP}.get(op)
        if code is None:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"LayerNorm.workspace_size: op must be 'fprop' or "
                                       f"'bprop' (got {op!r})")
        n = ctypes.c_size_t()
        check(self._lib.layernorm_get_workspace_size(self._handle, code, int(N), ctypes.byref(n)))
        return n.value

    def _begin(self, fn: str, first, name: str, stream) -> tuple:
        """(call, activation tensor, N) of a method whose first activation is `first`."""
        c = _Call(f"LayerNorm.{fn}", first, stream, dtype_from_first=False)
        if c.backend is not self.backend or (c.cuda and c.device != self.device):
            where = f"GPU {c.device}" if c.cuda else "host memory"
            raise c.fail(Status.WRONG_BACKEND if c.backend is not self.backend else Status.WRONG_DEVICE,
                         f"{name} is in {where} but the plan is {self.backend.name.lower()} (device {self.device})")
        c.dtype = self.dtype
        t = c.tensor(first, name)
        N, K = _split_features(t.shape, self.feature_axis)
        if len(t.shape) < 1 or K != self.K:
            raise c.fail(Status.SHAPE_MISMATCH, f"{name} has shape {t.shape}; its feature dimension "
                         f"({'last' if self.feature_axis == 1 else 'first'}) must be K = {self.K}")
        return c, t, N

    def fprop(self, x, gain=None, bias=None, out=None, mean=None, rstd=None, save_stats=True, stream=None):
        """``y = relu?(gain·(x-mean)·rstd + bias)``. Returns ``(y, mean, rstd)``; mean and rstd are
        float32 ``(S, N)`` (None when ``save_stats`` is False and they are not given)."""
        c, tx, N = self._begin("fprop", x, "x", stream)
        with c.scope:
            y, y_ptr = c.output(out, "out", tx.shape)
            want = save_stats or mean is not None or rstd is not None
            mean, m_ptr = c.optional_output(mean, want, "mean", (self.segments, N), "float32")
            rstd, r_ptr = c.optional_output(rstd, want, "rstd", (self.segments, N), "float32")
            g, b = c.vector(gain, "gain", self.K), c.vector(bias, "bias", self.K)
            ws, ws_bytes = c.workspace(self.workspace_size("fprop", N))
            c.run(self._lib.layernorm_fprop, self._handle, N, tx.ptr, g, b, y_ptr, m_ptr, r_ptr, ws, ws_bytes,
                  c.stream)
        return y, mean, rstd

    __call__ = fprop

    def bprop(self, dy, x, mean, rstd, gain=None, bias=None, dx=None, dgain=None, dbias=None, param_grads=True,
              stream=None):
        """Backward of :meth:`fprop` from its saved ``mean`` and ``rstd``. Returns ``(dx, dgain, dbias)``;
        dgain and dbias (float32 ``(K,)``, overwritten) are None when ``param_grads`` is False and
        they are not given. ``bias`` is only read by plans with relu."""
        c, tdy, N = self._begin("bprop", dy, "dy", stream)
        tx = c.tensor(x, "x", tdy.shape)
        stat = (self.segments, N)
        tm, tr = c.tensor(mean, "mean", stat, "float32"), c.tensor(rstd, "rstd", stat, "float32")
        with c.scope:
            dx, dx_ptr = c.output(dx, "dx", tdy.shape)
            dgain, dg_ptr = c.optional_output(dgain, param_grads, "dgain", (self.K,), "float32")
            dbias, db_ptr = c.optional_output(dbias, param_grads, "dbias", (self.K,), "float32")
            g, b = c.vector(gain, "gain", self.K), c.vector(bias, "bias", self.K)
            ws, ws_bytes = c.workspace(self.workspace_size("bprop", N))
            c.run(self._lib.layernorm_bprop, self._handle, N, tdy.ptr, tx.ptr, g, b, tm.ptr, tr.ptr, dx_ptr,
                  dg_ptr, db_ptr, ws, ws_bytes, c.stream)
        return dx, dgain, dbias


@functools.lru_cache(maxsize=32)
def _layernorm_plan(K, dtype, feature_axis, segments, epsilon, relu, backend, device) -> LayerNorm:
    return LayerNorm(K, dtype, feature_axis, segments, epsilon, relu, True, backend, device)


def _plan_for(fn: str, x, feature_axis, segments, epsilon, relu) -> LayerNorm:
    c = _Call(fn, x)
    axis = _feature_axis(fn, feature_axis)
    shape = c.describe(x, "x").shape
    if len(shape) < 1:
        raise c.fail(Status.SHAPE_MISMATCH, "x must have at least one dimension")
    K = shape[-1] if axis == 1 else shape[0]
    return _layernorm_plan(K, c.dtype, axis, int(segments), float(epsilon), bool(relu), c.backend, c.device)


def layer_norm(x, gain=None, bias=None, epsilon=1e-6, feature_axis=1, segments=1, relu=False, out=None,
               stream=None):
    """Layer norm of ``x`` over its feature dimension (last for ``feature_axis=1``, first for 0).
    Returns ``(y, mean, rstd)`` (statistics float32 ``(segments, N)``). Plans are cached."""
    plan = _plan_for("layer_norm", x, feature_axis, segments, epsilon, relu)
    return plan.fprop(x, gain, bias, out=out, stream=stream)


def layer_norm_grad(dy, x, mean, rstd, gain=None, bias=None, epsilon=1e-6, feature_axis=1, segments=1, relu=False,
                    dx=None, stream=None):
    """Gradients of :func:`layer_norm`: ``(dx, dgain, dbias)``."""
    plan = _plan_for("layer_norm_grad", x, feature_axis, segments, epsilon, relu)
    return plan.bprop(dy, x, mean, rstd, gain, bias, dx=dx, stream=stream)


# --------------------------------------------------------------------------------------------------
# Element-wise ops (bs_ew.h)
# --------------------------------------------------------------------------------------------------


def _rows_cols(shape: tuple) -> tuple:
    return (math.prod(shape[:-1]), shape[-1]) if len(shape) else (1, 1)


def ew_binary(op, x, y, out=None, stream=None):
    """``z = op(x, y)`` for op in :data:`BINARY_OPS`; ``y`` has x's shape, or is a vector of
    ``x.shape[-1]`` broadcast along the last axis. Returns z (x's shape and dtype)."""
    fn = "ew_binary"
    code = _choice(fn, "op", op, BINARY_OPS)
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    rows, cols = _rows_cols(tx.shape)
    ty = c.tensor(y, "y")
    vec = ty.shape != tx.shape
    if vec and ty.shape != (cols,):
        raise c.fail(Status.SHAPE_MISMATCH, f"y has shape {ty.shape}: expected x's {tx.shape} or ({cols},)")
    with c.scope:
        out, z = c.output(out, "out", tx.shape)
        c.run(_lib().bs_ew_binary, c.backend, code, c.dtype, rows, cols, tx.ptr, ty.ptr, int(vec), z, c.stream)
    return out


def ew_binary_grad(op, dz, x, y, dx=None, dy=None, need_dx=True, need_dy=True, stream=None):
    """Gradients of :func:`ew_binary`: ``(dx, dy)`` (dy summed over rows when y is a vector); an
    output not needed and not given is skipped (None)."""
    fn = "ew_binary_grad"
    code = _choice(fn, "op", op, BINARY_OPS)
    c = _Call(fn, dz, stream)
    tdz = c.tensor(dz, "dz")
    rows, cols = _rows_cols(tdz.shape)
    tx = c.tensor(x, "x", tdz.shape)
    ty = c.tensor(y, "y")
    vec = ty.shape != tdz.shape
    if vec and ty.shape != (cols,):
        raise c.fail(Status.SHAPE_MISMATCH, f"y has shape {ty.shape}: expected dz's {tdz.shape} or ({cols},)")
    with c.scope:
        dx, dx_ptr = c.optional_output(dx, need_dx, "dx", tdz.shape)
        dy, dy_ptr = c.optional_output(dy, need_dy, "dy", ty.shape)
        c.run(_lib().bs_ew_binary_grad, c.backend, code, c.dtype, rows, cols, tdz.ptr, tx.ptr, ty.ptr, int(vec),
              dx_ptr, dy_ptr, c.stream)
    return dx, dy


def _alpha(op: str, alpha) -> float:
    return UNARY_ALPHA.get(op.lower(), 0.0) if alpha is None else float(alpha)


def ew_unary(op, x, alpha=None, out=None, stream=None):
    """``y = op(x)`` for op in :data:`UNARY_OPS`; ``alpha`` defaults to :data:`UNARY_ALPHA`."""
    fn = "ew_unary"
    code = _choice(fn, "op", op, UNARY_OPS)
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        c.run(_lib().bs_ew_unary, c.backend, code, c.dtype, math.prod(tx.shape), tx.ptr, _alpha(op, alpha), y,
              c.stream)
    return out


def ew_unary_grad(op, dy, x, alpha=None, out=None, stream=None):
    """Gradient of :func:`ew_unary` from the forward's input: ``dx = dy·op'(x)``."""
    fn = "ew_unary_grad"
    code = _choice(fn, "op", op, UNARY_OPS)
    c = _Call(fn, dy, stream)
    tdy = c.tensor(dy, "dy")
    tx = c.tensor(x, "x", tdy.shape)
    with c.scope:
        out, dx = c.output(out, "out", tdy.shape)
        c.run(_lib().bs_ew_unary_grad, c.backend, code, c.dtype, math.prod(tdy.shape), tdy.ptr, tx.ptr,
              _alpha(op, alpha), dx, c.stream)
    return out


def bias_act(x, bias=None, act="relu", feature_axis=1, out=None, stream=None):
    """``y = act(x + bias)`` for act in :data:`ACTIVATIONS` (None = "none"); bias is float32 of the
    feature dimension (last for ``feature_axis=1``, first for 0) or None."""
    fn = "bias_act"
    code = _choice(fn, "act", act, ACTIVATIONS)
    axis = _feature_axis(fn, feature_axis)
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    N, K = _split_features(tx.shape, axis)
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        c.run(_lib().bs_bias_act, c.backend, code, c.dtype, axis, N, K, tx.ptr, c.vector(bias, "bias", K), y,
              c.stream)
    return out


def bias_act_grad(dy, x, bias=None, act="relu", feature_axis=1, dx=None, dbias=None, need_dbias=True, stream=None):
    """Gradient of :func:`bias_act`: ``(dx, dbias)``; dbias float32 ``(K,)`` (None when not needed)."""
    fn = "bias_act_grad"
    code = _choice(fn, "act", act, ACTIVATIONS)
    axis = _feature_axis(fn, feature_axis)
    c = _Call(fn, dy, stream)
    tdy = c.tensor(dy, "dy")
    tx = c.tensor(x, "x", tdy.shape)
    N, K = _split_features(tdy.shape, axis)
    with c.scope:
        dx, dx_ptr = c.output(dx, "dx", tdy.shape)
        dbias, db_ptr = c.optional_output(dbias, need_dbias, "dbias", (K,), "float32")
        c.run(_lib().bs_bias_act_grad, c.backend, code, c.dtype, axis, N, K, tdy.ptr, tx.ptr,
              c.vector(bias, "bias", K), dx_ptr, db_ptr, c.stream)
    return dx, dbias


def float_cast(x, dtype, out=None, stream=None):
    """``x`` converted to ``dtype`` (round-to-nearest-even). Returns a new array (or ``out``)."""
    fn = "float_cast"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    dst = parse_dtype(dtype)
    with c.scope:
        out, y = c.output(out, "out", tx.shape, dst)
        c.run(_lib().bs_float_cast, c.backend, c.dtype, dst, math.prod(tx.shape), tx.ptr, y, c.stream)
    return out


def add_n(xs, out=None, stream=None):
    """``Σ xs`` over 1 .. :data:`ADD_N_MAX_INPUTS` arrays of one shape, summed in fp32 in order."""
    fn = "add_n"
    xs = list(xs)
    if not xs:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: xs must hold at least one array")
    c = _Call(fn, xs[0], stream)
    ts = [c.tensor(v, f"xs[{i}]", c.tensor(xs[0], "xs[0]").shape) for i, v in enumerate(xs)]
    if len(ts) > ADD_N_MAX_INPUTS:
        raise c.fail(Status.INVALID_VALUE, f"at most {ADD_N_MAX_INPUTS} inputs (got {len(ts)})")
    with c.scope:
        out, y = c.output(out, "out", ts[0].shape)
        ptrs = (ctypes.c_void_p * len(ts))(*[t.ptr for t in ts])
        c.run(_lib().bs_add_n, c.backend, c.dtype, math.prod(ts[0].shape), len(ts), ptrs, y, c.stream)
    return out


# --------------------------------------------------------------------------------------------------
# Batch norm and channel-wise linear (bs_norms.h): x is (N, C, *spatial)
# --------------------------------------------------------------------------------------------------


def _ncs(c: _Call, t: Tensor, name: str) -> tuple:
    if len(t.shape) < 2:
        raise c.fail(Status.SHAPE_MISMATCH, f"{name} has shape {t.shape}; expected (N, C, *spatial)")
    return t.shape[0], t.shape[1], math.prod(t.shape[2:])


def batch_norm(x, gain=None, bias=None, epsilon=1e-5, out=None, stream=None):
    """Batch norm in training mode over ``x (N, C, *spatial)``: statistics per channel C over N and
    the spatial dimensions. Returns ``(y, mean, var)``, mean and var float32 ``(C,)`` (var biased)."""
    fn = "batch_norm"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    N, C, S = _ncs(c, tx, "x")
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        mean, m = c.output(None, "mean", (C,), "float32")
        var, v = c.output(None, "var", (C,), "float32")
        c.run(_lib().bs_batchnorm_fprop_train, c.backend, c.dtype, N, C, S, tx.ptr, c.vector(gain, "gain", C),
              c.vector(bias, "bias", C), float(epsilon), y, m, v, c.stream)
    return out, mean, var


def batch_norm_inference(x, mean, var, gain=None, bias=None, epsilon=1e-5, out=None, stream=None):
    """Batch norm with given float32 ``(C,)`` statistics: ``y = gain·(x-mean)/sqrt(var+eps) + bias``."""
    fn = "batch_norm_inference"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    N, C, S = _ncs(c, tx, "x")
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        m, v = c.vector(mean, "mean", C), c.vector(var, "var", C)
        if m is None or v is None:
            raise c.fail(Status.NULL_POINTER, "mean and var are required")
        c.run(_lib().bs_batchnorm_fprop_infer, c.backend, c.dtype, N, C, S, tx.ptr, c.vector(gain, "gain", C),
              c.vector(bias, "bias", C), m, v, float(epsilon), y, c.stream)
    return out


def batch_norm_grad(dy, x, mean, var, gain=None, epsilon=1e-5, training=True, dx=None, stream=None):
    """Gradients of :func:`batch_norm` (``training=True``) or :func:`batch_norm_inference`:
    ``(dx, dgain, dbias)``, dgain and dbias float32 ``(C,)``."""
    fn = "batch_norm_grad"
    c = _Call(fn, dy, stream)
    tdy = c.tensor(dy, "dy")
    tx = c.tensor(x, "x", tdy.shape)
    N, C, S = _ncs(c, tdy, "dy")
    with c.scope:
        dx, dx_ptr = c.output(dx, "dx", tdy.shape)
        dgain, dg = c.output(None, "dgain", (C,), "float32")
        dbias, db = c.output(None, "dbias", (C,), "float32")
        m, v = c.vector(mean, "mean", C), c.vector(var, "var", C)
        if m is None or v is None:
            raise c.fail(Status.NULL_POINTER, "mean and var are required")
        c.run(_lib().bs_batchnorm_bprop, c.backend, c.dtype, _flag(fn, "training", training), N, C, S, tdy.ptr,
              tx.ptr, c.vector(gain, "gain", C), m, v, float(epsilon), dx_ptr, dg, db, c.stream)
    return dx, dgain, dbias


def cwise_linear(x, a=None, b=None, relu=False, bias_first=False, out=None, stream=None):
    """Channel-wise linear over ``x (N, C, *spatial)``: ``y = relu?(a·x + b)`` (``a·(x + b)`` with
    ``bias_first``); a and b float32 ``(C,)`` or None (ones / zeros)."""
    fn = "cwise_linear"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    N, C, S = _ncs(c, tx, "x")
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        c.run(_lib().bs_cwise_linear_fprop, c.backend, c.dtype, N, C, S, tx.ptr, c.vector(a, "a", C),
              c.vector(b, "b", C), _flag(fn, "relu", relu), _flag(fn, "bias_first", bias_first), y, c.stream)
    return out


def cwise_linear_grad(dy, x, a=None, b=None, relu=False, bias_first=False, dx=None, stream=None):
    """Gradients of :func:`cwise_linear`: ``(dx, da, db)``, da and db float32 ``(C,)``."""
    fn = "cwise_linear_grad"
    c = _Call(fn, dy, stream)
    tdy = c.tensor(dy, "dy")
    tx = c.tensor(x, "x", tdy.shape)
    N, C, S = _ncs(c, tdy, "dy")
    with c.scope:
        dx, dx_ptr = c.output(dx, "dx", tdy.shape)
        da, da_ptr = c.output(None, "da", (C,), "float32")
        db, db_ptr = c.output(None, "db", (C,), "float32")
        c.run(_lib().bs_cwise_linear_bprop, c.backend, c.dtype, N, C, S, tdy.ptr, tx.ptr, c.vector(a, "a", C),
              c.vector(b, "b", C), _flag(fn, "relu", relu), _flag(fn, "bias_first", bias_first), dx_ptr, da_ptr,
              db_ptr, c.stream)
    return dx, da, db


# --------------------------------------------------------------------------------------------------
# Dropout (bs_dropout.h)
# --------------------------------------------------------------------------------------------------


def _u64(fn: str, name: str, v) -> int:
    if not 0 <= int(v) < 2**64:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: {name} = {v} must be in [0, 2**64)")
    return int(v)


def philox4x32_10(counter, key) -> np.ndarray:
    """One Philox4x32-10 block: 4 uint32 words from a 4-word counter and a 2-word key."""
    ctr = np.ascontiguousarray(counter, dtype=np.uint32)
    k = np.ascontiguousarray(key, dtype=np.uint32)
    if ctr.shape != (4,) or k.shape != (2,):
        raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"philox4x32_10: counter must have 4 words and key 2 "
                                   f"(got {ctr.shape} and {k.shape})")
    out = np.empty(4, dtype=np.uint32)
    check(_lib().bs_philox4x32_10(ctr.ctypes.data, k.ctypes.data, out.ctypes.data))
    return out


def _mask_words(n: int) -> int:
    return (n + 31) // 32


def dropout_mask(n, keep_prob, seed, offset=0, out=None, stream=None):
    """The bit-packed keep mask of ``n`` elements: uint32 ``(ceil(n/32),)``, element i is bit i % 32
    of word i // 32. Runs where ``out`` lives; without ``out`` on the CPU (NumPy)."""
    fn = "dropout_mask"
    n = int(n)
    if n < 0:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{fn}: n must be >= 0 (got {n})")
    words = _mask_words(n)
    c = _Call(fn, out if out is not None else np.empty(0, np.uint32), stream, dtype_from_first=False)
    with c.scope:
        out, m = c.output(out, "out", (words,), "uint32")
        c.run(_lib().bs_dropout_mask, c.backend, n, float(keep_prob), _u64(fn, "seed", seed),
              _u64(fn, "offset", offset), m, c.stream)
    return out


def dropout(x, keep_prob, seed, offset=0, out=None, mask=None, return_mask=True, stream=None):
    """``y = x·mask/keep_prob`` with the mask drawn from ``(seed, offset)`` (one call consumes
    ``ceil(x.size/4)`` counters). Returns ``(y, mask)`` (mask None when not wanted and not given)."""
    fn = "dropout"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    n = math.prod(tx.shape)
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        mask, m = c.optional_output(mask, return_mask, "mask", (_mask_words(n),), "uint32")
        c.run(_lib().bs_dropout_fprop, c.backend, c.dtype, n, tx.ptr, float(keep_prob), _u64(fn, "seed", seed),
              _u64(fn, "offset", offset), y, m, c.stream)
    return out, mask


def dropout_apply(x, mask, keep_prob, out=None, stream=None):
    """``y = x·mask/keep_prob`` with a given uint32 mask: dropout's backward (x = dy)."""
    fn = "dropout_apply"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    n = math.prod(tx.shape)
    tm = c.tensor(mask, "mask", (_mask_words(n),), "uint32")
    with c.scope:
        out, y = c.output(out, "out", tx.shape)
        c.run(_lib().bs_dropout_apply, c.backend, c.dtype, n, tx.ptr, tm.ptr, float(keep_prob), y, c.stream)
    return out


# --------------------------------------------------------------------------------------------------
# LSTM gates, split4 / concat4 (bs_lstm.h): c (..., K), h (..., 4K) in gate order [i, u, f, o]
# --------------------------------------------------------------------------------------------------


def _lstm_shapes(c: _Call, tc: Tensor, name: str) -> tuple:
    if len(tc.shape) < 1:
        raise c.fail(Status.SHAPE_MISMATCH, f"{name} must have at least one dimension")
    N, K = _rows_cols(tc.shape)
    return N, K, tc.shape[:-1] + (4 * K,)


def lstm_gates(c, h, bias=None, forget_bias=1.0, c_next=None, h_next=None, stream=None):
    """LSTM cell: ``c' = σ(f + forget_bias)·c + σ(i)·tanh(u)``, ``h' = σ(o)·tanh(c')`` from the gate
    pre-activations ``h (..., 4K)`` (order i, u, f, o) plus the optional float32 bias ``(4K,)``.
    Returns ``(c_next, h_next)``, each of c's shape ``(..., K)``."""
    fn = "lstm_gates"
    call = _Call(fn, c, stream)
    tc = call.tensor(c, "c")
    N, K, hshape = _lstm_shapes(call, tc, "c")
    th = call.tensor(h, "h", hshape)
    with call.scope:
        c_next, cn = call.output(c_next, "c_next", tc.shape)
        h_next, hn = call.output(h_next, "h_next", tc.shape)
        call.run(_lib().bs_lstm_gates_fprop, call.backend, call.dtype, N, K, tc.ptr, th.ptr,
                 call.vector(bias, "bias", 4 * K), float(forget_bias), cn, hn, call.stream)
    return c_next, h_next


def lstm_gates_grad(dc_next, dh_next, c, h, bias=None, forget_bias=1.0, dc=None, dh=None, dbias=None,
                    need_dbias=True, stream=None):
    """Gradients of :func:`lstm_gates` (``dc_next`` / ``dh_next`` may be None = zero). Returns
    ``(dc, dh, dbias)``: dc ``(..., K)``, dh ``(..., 4K)``, dbias float32 ``(4K,)`` or None."""
    fn = "lstm_gates_grad"
    call = _Call(fn, c, stream)
    tc = call.tensor(c, "c")
    N, K, hshape = _lstm_shapes(call, tc, "c")
    th = call.tensor(h, "h", hshape)
    tdc = call.tensor(dc_next, "dc_next", tc.shape) if dc_next is not None else None
    tdh = call.tensor(dh_next, "dh_next", tc.shape) if dh_next is not None else None
    with call.scope:
        dc, dc_ptr = call.output(dc, "dc", tc.shape)
        dh, dh_ptr = call.output(dh, "dh", hshape)
        dbias, db_ptr = call.optional_output(dbias, need_dbias, "dbias", (4 * K,), "float32")
        call.run(_lib().bs_lstm_gates_bprop, call.backend, call.dtype, N, K, tdc.ptr if tdc else None,
                 tdh.ptr if tdh else None, tc.ptr, th.ptr, call.vector(bias, "bias", 4 * K), float(forget_bias),
                 dc_ptr, dh_ptr, db_ptr, call.stream)
    return dc, dh, dbias


def split4(x, outs=None, stream=None):
    """Splits ``x (..., 4K)`` into four ``(..., K)`` arrays along the last axis. Returns a list."""
    fn = "split4"
    c = _Call(fn, x, stream)
    tx = c.tensor(x, "x")
    N, K4 = _rows_cols(tx.shape)
    if K4 % 4:
        raise c.fail(Status.SHAPE_MISMATCH, f"x's last dimension ({K4}) must be a multiple of 4")
    part = tx.shape[:-1] + (K4 // 4,)
    outs = list(outs) if outs is not None else [None] * 4
    if len(outs) != 4:
        raise c.fail(Status.SHAPE_MISMATCH, f"outs must hold 4 arrays (got {len(outs)})")
    with c.scope:
        pairs = [c.output(o, f"outs[{g}]", part) for g, o in enumerate(outs)]
        ptrs = (ctypes.c_void_p * 4)(*[p for _, p in pairs])
        c.run(_lib().bs_split4, c.backend, c.dtype, N, K4 // 4, tx.ptr, ptrs, c.stream)
    return [o for o, _ in pairs]


def concat4(xs, out=None, stream=None):
    """Concatenates four ``(..., K)`` arrays into ``(..., 4K)`` along the last axis."""
    fn = "concat4"
    xs = list(xs)
    if len(xs) != 4:
        raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{fn}: xs must hold 4 arrays (got {len(xs)})")
    c = _Call(fn, xs[0], stream)
    t0 = c.tensor(xs[0], "xs[0]")
    if len(t0.shape) < 1:
        raise c.fail(Status.SHAPE_MISMATCH, "xs[0] must have at least one dimension")
    ts = [c.tensor(v, f"xs[{g}]", t0.shape) for g, v in enumerate(xs)]
    N, K = _rows_cols(t0.shape)
    with c.scope:
        out, y = c.output(out, "out", t0.shape[:-1] + (4 * K,))
        ptrs = (ctypes.c_void_p * 4)(*[t.ptr for t in ts])
        c.run(_lib().bs_concat4, c.backend, c.dtype, N, K, ptrs, y, c.stream)
    return out


# --------------------------------------------------------------------------------------------------
# Sparse projections (bs_sparse_proj.h)
# --------------------------------------------------------------------------------------------------


def _destroy_proj(lib, plan, sync) -> None:
    for fw, device in sync:
        try:
            fw.synchronize(device)  # queued work may still read the plan's index maps
        except Exception:  # noqa: BLE001 - at interpreter exit the framework may already be torn down
            pass
    lib.bs_sparse_proj_destroy(plan)


class SparseProj(OwnedPlan):
    """Sparse projection between ``nhidden`` features and the ``nproj = len(lut)`` features
    ``lut`` selects (distinct indices in ``[0, nhidden)``), the original's ``SparseProj``.

    ``feature_axis=0`` (default, the original's): hidden arrays ``(nhidden, ...)``, projected
    ``(nproj, ...)``; ``feature_axis=1``: ``(..., nhidden)`` and ``(..., nproj)``. Other arguments as
    :class:`LayerNorm`.
    """

    def __init__(self, lut, nhidden, dtype="float32", feature_axis=0, backend="cpu", device=0):
        self._plan = None
        lib = _lib()
        idx = np.ascontiguousarray(lut, dtype=np.int64)
        if idx.ndim != 1:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"SparseProj: lut must be 1-D (got shape {idx.shape})")
        params = SparseProjParams()
        check(lib.bs_sparse_proj_params_init(ctypes.byref(params), ctypes.sizeof(params)))
        params.backend = parse_backend(backend)
        params.dtype = parse_dtype(dtype)
        for name, value in (("device", device), ("feature_axis", feature_axis)):
            if not -2**31 <= int(value) < 2**31:
                raise InvalidArgumentError(Status.INVALID_VALUE, f"SparseProj: {name} = {value} does not fit in int32")
            setattr(params, name, int(value))
        params.nhidden = int(nhidden)
        params.nproj = idx.size
        plan = ctypes.c_void_p()
        check(lib.bs_sparse_proj_create(ctypes.byref(plan), ctypes.byref(params), idx.ctypes.data))
        self._lib, self._plan = lib, plan
        self._sync = set()
        self._finalizer = weakref.finalize(self, _destroy_proj, lib, plan, self._sync)
        self.lut = idx.copy()
        self.nhidden, self.nproj, self.feature_axis = int(nhidden), idx.size, int(feature_axis)
        self.dtype, self.backend, self.device = DType(params.dtype), Backend(params.backend), int(device)


    def _begin(self, fn: str, first, name: str, features: int, stream):
        """(call, tensor, N, shape maker) for a method whose first array has `features` features."""
        c = _Call(f"SparseProj.{fn}", first, stream, dtype_from_first=False)
        if c.backend is not self.backend or (c.cuda and c.device != self.device):
            raise c.fail(Status.WRONG_BACKEND if c.backend is not self.backend else Status.WRONG_DEVICE,
                         f"{name} does not live where the plan does ({self.backend.name.lower()}, "
                         f"device {self.device})")
        c.dtype = self.dtype
        if self.backend is Backend.CUDA:
            self._sync.add((c.fw, self.device))
        t = c.tensor(first, name)
        N, F = _split_features(t.shape, self.feature_axis)
        if len(t.shape) < 1 or F != features:
            raise c.fail(Status.SHAPE_MISMATCH, f"{name} has shape {t.shape}; its feature dimension "
                         f"({'last' if self.feature_axis == 1 else 'first'}) must be {features}")

        def shape(f):
            return t.shape[:-1] + (f,) if self.feature_axis == 1 else (f,) + t.shape[1:]
        return c, t, N, shape

    def gather(self, x, out=None, stream=None):
        """``y = x[lut]`` along the feature axis (hidden -> projected)."""
        c, tx, N, shape = self._begin("gather", x, "x", self.nhidden, stream)
        with c.scope:
            out, y = c.output(out, "out", shape(self.nproj))
            c.run(self._lib.bs_sparse_proj_gather, self._handle, N, tx.ptr, y, c.stream)
        return out

    def scatter(self, x, out=None, stream=None):
        """``y = 0; y[lut] = x`` (projected -> hidden)."""
        c, tx, N, shape = self._begin("scatter", x, "x", self.nproj, stream)
        with c.scope:
            out, y = c.output(out, "out", shape(self.nhidden))
            c.run(self._lib.bs_sparse_proj_scatter, self._handle, N, tx.ptr, y, c.stream)
        return out

    def _scatter_op(self, fn, cfn, x, y, out, stream):
        c, tx, N, shape = self._begin(fn, x, "x", self.nhidden, stream)
        ty = c.tensor(y, "y", shape(self.nproj))
        with c.scope:
            out, z = c.output(out, "out", tx.shape)
            c.run(cfn, self._handle, N, tx.ptr, ty.ptr, z, c.stream)
        return out

    def scatter_add(self, x, y, out=None, stream=None):
        """``z = x; z[lut] += y``; ``out`` may be x (in place)."""
        return self._scatter_op("scatter_add", self._lib.bs_sparse_proj_scatter_add, x, y, out, stream)

    def scatter_mul(self, x, y, out=None, stream=None):
        """``z = x; z[lut] *= y``; ``out`` may be x (in place)."""
        return self._scatter_op("scatter_mul", self._lib.bs_sparse_proj_scatter_mul, x, y, out, stream)

    def scatter_add_grad(self, dz, dx=None, dy=None, stream=None):
        """Gradient of :meth:`scatter_add`: ``(dx, dy) = (dz, dz[lut])``."""
        c, tdz, N, shape = self._begin("scatter_add_grad", dz, "dz", self.nhidden, stream)
        with c.scope:
            dx, dx_ptr = c.output(dx, "dx", tdz.shape)
            dy, dy_ptr = c.output(dy, "dy", shape(self.nproj))
            c.run(self._lib.bs_sparse_proj_scatter_add_grad, self._handle, N, tdz.ptr, dx_ptr, dy_ptr, c.stream)
        return dx, dy

    def scatter_mul_grad(self, dz, x, y, dx=None, dy=None, stream=None):
        """Gradient of :meth:`scatter_mul`: ``dx = dz`` with ``dx[lut] *= y``, ``dy = dz[lut]·x[lut]``."""
        c, tdz, N, shape = self._begin("scatter_mul_grad", dz, "dz", self.nhidden, stream)
        tx = c.tensor(x, "x", tdz.shape)
        ty = c.tensor(y, "y", shape(self.nproj))
        with c.scope:
            dx, dx_ptr = c.output(dx, "dx", tdz.shape)
            dy, dy_ptr = c.output(dy, "dy", shape(self.nproj))
            c.run(self._lib.bs_sparse_proj_scatter_mul_grad, self._handle, N, tdz.ptr, tx.ptr, ty.ptr, dx_ptr,
                  dy_ptr, c.stream)
        return dx, dy
