"""Fused optimizers of libblocksparse (bs_optim.h) on lists of NumPy arrays, and a
``torch.optim.Optimizer`` over them (CPU tensors).

Only the library's CPU backend exists so far: CUDA plans raise :class:`~blocksparse.UnsupportedError`.
Parameters and gradients are C-contiguous float32, float16 or bfloat16 arrays (ml_dtypes), optimizer
states float32; every update is in place. The math is documented in bs_optim.h (Adam/AdamW as
``torch.optim``; the original's ``clip_by_global_norm`` sentinel: a zero ``norm_scale`` skips the step).
"""
from __future__ import annotations

import ctypes
import functools
import weakref

import numpy as np

from . import _library
from ._plan import OwnedPlan
from .errors import InvalidArgumentError, Status, check
from .types import DTYPE_NAMES, parse_dtype

__all__ = ["OptimPlan", "GradFilter", "AdamHParams", "FusedAdamW"]

_st, _p, _i32, _i64, _f, _size = (ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64,
                                  ctypes.c_float, ctypes.c_size_t)
_pp = ctypes.POINTER(ctypes.c_void_p)


class OptimParams(ctypes.Structure):
    """Mirror of ``bs_optim_params_t``."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("backend", ctypes.c_int32), ("device", ctypes.c_int32),
                ("num_threads", ctypes.c_int32)]


class GradFilter(ctypes.Structure):
    """Mirror of ``bs_grad_filter_t``."""
    _fields_ = [("grad_scale", ctypes.c_float), ("saturate", ctypes.c_float), ("zero_infs", ctypes.c_int32),
                ("zero_nans", ctypes.c_int32)]


class AdamHParams(ctypes.Structure):
    """Mirror of ``bs_adam_hparams_t``."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("mode", ctypes.c_int32), ("lr", ctypes.c_float),
                ("beta1", ctypes.c_float), ("beta2", ctypes.c_float), ("epsilon", ctypes.c_float),
                ("weight_decay", ctypes.c_float), ("step", ctypes.c_int64), ("bias_correction", ctypes.c_int32),
                ("eps_mode", ctypes.c_int32), ("clip_sigma", ctypes.c_float), ("lr_selected", ctypes.c_float),
                ("filter", GradFilter)]


# One table of prototypes, to be replaced by the generated ctypes declarations when they land.
_PROTOTYPES = {
    "bs_optim_params_init": [ctypes.POINTER(OptimParams), _size],
    "bs_adam_hparams_init": [ctypes.POINTER(AdamHParams), _size],
    "bs_optim_create": [ctypes.POINTER(_p), ctypes.POINTER(OptimParams), _i32, _p, _p, _p, _p],
    "bs_optim_destroy": [_p],
    "bs_optim_get_workspace_size": [_p, _i32, ctypes.POINTER(_size)],
    "bs_optim_adam": [_p, ctypes.POINTER(AdamHParams), _pp, _pp, _pp, _pp, _pp, _pp, _p, _p, _size, _p],
    "bs_optim_ema": [_p, _f, _pp, _pp, _pp, _p],
    "bs_optim_global_norm": [_p, _pp, ctypes.POINTER(GradFilter), _f, _p, _p, _p, _size, _p],
}

_OP_GLOBAL_NORM = 3
_ADAM_MODES = {"adam": 0, "adamw": 1}
_EPS_MODES = {"torch": 0, "original": 1}


@functools.lru_cache(maxsize=None)
def _lib() -> ctypes.CDLL:
    lib = _library.load()
    for name, argtypes in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = _st
        fn.argtypes = argtypes
    return lib


def _ptrs(arrays):
    """A C array of the data pointers of `arrays` (None -> NULL)."""
    return (ctypes.c_void_p * len(arrays))(*[None if a is None else a.ctypes.data for a in arrays])


def _destroy(plan):
    _lib().bs_optim_destroy(plan)


class OptimPlan(OwnedPlan):
    """A plan over a fixed list of parameter arrays (their shapes and dtypes), CPU backend.

    ``shapes``: one shape per tensor (1-D tensors have rows = 1; more than two dims fold into
    (shape[0], rest)). ``dtypes``: one dtype per tensor. ``block_elems``: optional per-tensor block
    size in elements (0 = no blocks), for gates.
    """

    def __init__(self, shapes, dtypes, block_elems=None, num_threads: int = 0):
        lib = _lib()
        n = len(shapes)
        rows, cols = [], []
        for s in shapes:
            s = tuple(int(d) for d in s) or (1,)
            rows.append(1 if len(s) == 1 else s[0])
            cols.append(int(np.prod(s)) // rows[-1] if rows[-1] else 0)
        self.numels = [r * c for r, c in zip(rows, cols)]
        self.dtypes = [parse_dtype(d) for d in dtypes]
        params = OptimParams()
        check(lib.bs_optim_params_init(ctypes.byref(params), ctypes.sizeof(params)))
        params.num_threads = int(num_threads)
        r = (ctypes.c_int64 * n)(*rows)
        c = (ctypes.c_int64 * n)(*cols)
        d = (ctypes.c_int32 * n)(*[int(x) for x in self.dtypes])
        b = None if block_elems is None else (ctypes.c_int64 * n)(*[int(x) for x in block_elems])
        plan = ctypes.c_void_p()
        check(lib.bs_optim_create(ctypes.byref(plan), ctypes.byref(params), n, r, c, d, b))
        self._plan = plan
        self._finalizer = weakref.finalize(self, _destroy, plan)
        self.n_tensors = n

    def _check_list(self, arrays, what, dtypes=None, allow_none=False):
        if len(arrays) != self.n_tensors:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"{what}: {len(arrays)} arrays for a plan of "
                                       f"{self.n_tensors} tensors")
        for i, a in enumerate(arrays):
            if a is None and allow_none:
                continue
            if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
                raise InvalidArgumentError(Status.INVALID_VALUE, f"{what}[{i}] must be a C-contiguous NumPy array")
            want = DTYPE_NAMES[self.dtypes[i]] if dtypes is None else dtypes
            if a.dtype != _np_dtype(want) or a.size != self.numels[i]:
                raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{what}[{i}] is {a.dtype} with {a.size} "
                                           f"elements; the plan expects {want} with {self.numels[i]}")

    def adam(self, params, grads, exp_avg, exp_avg_sq, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
             weight_decay=0.0, step=1, mode="adamw", eps_mode="torch", bias_correction=True, clip_sigma=0.0,
             grad_scale=1.0, saturate=0.0, zero_infs=False, zero_nans=False, gates=None, norm_scale=None):
        """One fused Adam/AdamW step over every tensor, in place (``bs_optim_adam``).

        ``norm_scale``: optional float32 array of one element, as written by :meth:`global_norm`
        (0 skips the step)."""
        self._check_list(params, "params")
        self._check_list(grads, "grads")
        self._check_list(exp_avg, "exp_avg", "float32")
        self._check_list(exp_avg_sq, "exp_avg_sq", "float32")
        if gates is not None and len(gates) != self.n_tensors:
            raise InvalidArgumentError(Status.INVALID_VALUE, "gates: one entry (or None) per tensor")
        if mode not in _ADAM_MODES or eps_mode not in _EPS_MODES:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"mode must be one of {list(_ADAM_MODES)} and "
                                       f"eps_mode one of {list(_EPS_MODES)}")
        lib = _lib()
        hp = AdamHParams()
        check(lib.bs_adam_hparams_init(ctypes.byref(hp), ctypes.sizeof(hp)))
        hp.mode, hp.eps_mode = _ADAM_MODES[mode], _EPS_MODES[eps_mode]
        hp.lr = hp.lr_selected = lr
        hp.beta1, hp.beta2 = betas
        hp.epsilon, hp.weight_decay, hp.step = eps, weight_decay, int(step)
        hp.bias_correction, hp.clip_sigma = int(bool(bias_correction)), clip_sigma
        hp.filter = GradFilter(grad_scale, saturate, int(bool(zero_infs)), int(bool(zero_nans)))
        ns = _scalar_ptr(norm_scale, "norm_scale")
        check(lib.bs_optim_adam(self._handle, ctypes.byref(hp), _ptrs(params), _ptrs(grads), _ptrs(exp_avg),
                                _ptrs(exp_avg_sq), None if gates is None else _ptrs(gates), None, ns, None, 0, None))

    def ema(self, ema, params, decay: float, gates=None):
        """``ema -= (1-decay)·(ema - p)`` for every tensor, in place (``bs_optim_ema``)."""
        self._check_list(ema, "ema", "float32")
        self._check_list(params, "params")
        check(_lib().bs_optim_ema(self._handle, decay, _ptrs(ema), _ptrs(params),
                                  None if gates is None else _ptrs(gates), None))

    def global_norm(self, grads, clip_norm=float("inf"), *, grad_scale=1.0, saturate=0.0, zero_infs=False,
                    zero_nans=False):
        """Returns ``(norm, norm_scale)`` as float32 arrays of one element (``bs_optim_global_norm``);
        ``norm_scale`` is 0 when the norm is not finite."""
        self._check_list(grads, "grads")
        lib = _lib()
        ws_bytes = ctypes.c_size_t()
        check(lib.bs_optim_get_workspace_size(self._handle, _OP_GLOBAL_NORM, ctypes.byref(ws_bytes)))
        ws = np.empty(max(1, ws_bytes.value // 8), np.float64)
        norm, scale = np.empty(1, np.float32), np.empty(1, np.float32)
        f = GradFilter(grad_scale, saturate, int(bool(zero_infs)), int(bool(zero_nans)))
        check(lib.bs_optim_global_norm(self._handle, _ptrs(grads), ctypes.byref(f), clip_norm, norm.ctypes.data,
                                       scale.ctypes.data, ws.ctypes.data, ws_bytes.value, None))
        return norm, scale


def _np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _scalar_ptr(a, what):
    if a is None:
        return None
    if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.size != 1:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{what} must be a float32 NumPy array of one element")
    return a.ctypes.data


def _torch_to_numpy(t):
    """A NumPy view of a contiguous CPU tensor (bfloat16 through ml_dtypes)."""
    import torch
    if t.device.type != "cpu" or not t.is_contiguous():
        raise InvalidArgumentError(Status.INVALID_VALUE, "FusedAdamW takes contiguous CPU tensors (the library's "
                                   "optimizers have no CUDA backend yet)")
    if t.dtype == torch.bfloat16:
        import ml_dtypes
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()



def _make_torch_optimizer():
    import torch

    class FusedAdamW(torch.optim.Optimizer):
        """``torch.optim.AdamW`` (or Adam with ``decoupled=False``) over one fused library call per
        parameter group and step, with optional global-norm clipping (``max_norm``): a non-finite
        gradient norm skips the step (the original's fp16 loss-scaling sentinel). CPU tensors."""

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, decoupled=True,
                     max_norm=None):
            super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                          decoupled=decoupled, max_norm=max_norm))
            self._plans = {}
            self.skipped_steps = 0

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for gi, group in enumerate(self.param_groups):
                ps = [p for p in group["params"] if p.grad is not None]
                if not ps:
                    continue
                key = (gi, tuple((tuple(p.shape), p.dtype) for p in ps))
                if key not in self._plans:
                    self._plans[key] = OptimPlan([p.shape for p in ps], [_dtype_name(p.dtype) for p in ps])
                plan = self._plans[key]
                for p in ps:
                    st = self.state[p]
                    if not st:
                        st["step"] = 0
                        st["exp_avg"] = torch.zeros(p.shape, dtype=torch.float32)
                        st["exp_avg_sq"] = torch.zeros(p.shape, dtype=torch.float32)
                grads = [_torch_to_numpy(p.grad.contiguous()) for p in ps]
                ns = None
                if group["max_norm"] is not None:
                    _, ns = plan.global_norm(grads, float(group["max_norm"]))
                    if ns[0] == 0:
                        self.skipped_steps += 1
                for p in ps:
                    self.state[p]["step"] += 1
                plan.adam([_torch_to_numpy(p.data) for p in ps], grads,
                          [_torch_to_numpy(self.state[p]["exp_avg"]) for p in ps],
                          [_torch_to_numpy(self.state[p]["exp_avg_sq"]) for p in ps],
                          lr=group["lr"], betas=group["betas"], eps=group["eps"],
                          weight_decay=group["weight_decay"], step=self.state[ps[0]]["step"],
                          mode="adamw" if group["decoupled"] else "adam", norm_scale=ns)
            return loss

    return FusedAdamW


def _dtype_name(torch_dtype):
    import torch
    return {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[torch_dtype]


def __getattr__(name):
    if name == "FusedAdamW":  # torch is imported only when the optimizer is asked for
        cls = _make_torch_optimizer()
        globals()["FusedAdamW"] = cls
        return cls
    raise AttributeError(name)
