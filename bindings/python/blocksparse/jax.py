"""JAX plugin: the bsmm products as XLA FFI calls (``jax.ffi``) with a custom VJP.

The handlers live in a small compiled library, ``libblocksparse_jax_ffi.so`` (bindings/jax, built by
CMake when jax is installed), found through the environment variable ``BLOCKSPARSE_JAX_FFI``, else
next to this package, else in the repository's ``build/bindings/jax/``. Plans are made by this
package (ctypes) and handed to the handlers as an integer attribute; they live as long as the
process, because compiled executables keep that attribute.

Quick start::

    import jax, jax.numpy as jnp, numpy as np
    from blocksparse.jax import BlockSparseMatMul

    layout = np.random.rand(16, 16) < 0.25                 # (CB, KB) blocks of 32 -> 512 x 512
    bsmm = BlockSparseMatMul(layout, block_size=32)
    w = jnp.asarray(np.random.randn(*bsmm.w_shape), jnp.float32)   # (nnz, 32, 32)
    x = jnp.ones((8, 512), jnp.float32)
    y = jax.jit(bsmm)(x, w)                                # (8, 512) = x @ W
    dx, dw = jax.grad(lambda x, w: bsmm(x, w).sum(), argnums=(0, 1))(x, w)

Activations are ``(..., C)`` -> ``(..., K)`` (features last); dtypes float32, float16, bfloat16.
CPU arrays run on the CPU backend, GPU arrays on the CUDA backend (XLA's stream).
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import _library
from .errors import InvalidArgumentError, Status, UnsupportedError
from .matmul import BlocksparseMatMul
from .types import Op

__all__ = ["BlockSparseMatMul", "bsmm_fprop", "bsmm_bprop", "bsmm_updat", "ffi_library_path"]

_ENV_VAR = "BLOCKSPARSE_JAX_FFI"
_SHIM = "libblocksparse_jax_ffi.so"
_OPS = ("Fprop", "Bprop", "Updat")
_lock = threading.Lock()
_registered: dict[str, bool] = {}  # platform -> whether its handlers are registered


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    paths = [Path(os.environ[_ENV_VAR])] if os.environ.get(_ENV_VAR) else []
    return paths + [here / _SHIM, here.parents[2] / "build" / "bindings" / "jax" / _SHIM]


@functools.lru_cache(maxsize=None)
def _shim() -> ctypes.CDLL:
    # libblocksparse first: the shim's dependency then resolves (by SONAME) to the very library that
    # made the plans.
    _library.load()
    for path in _candidates():
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            lib.path = str(path)
            return lib
    raise UnsupportedError(Status.NOT_SUPPORTED, f"{_SHIM} not found (searched: "
                           f"{', '.join(map(str, _candidates()))}); build the repository with jax installed "
                           f"or set {_ENV_VAR}")


def ffi_library_path() -> str:
    """Path of the loaded FFI handler library."""
    return _shim().path


def _platform_of(platform: str) -> str:
    return "CUDA" if platform in ("gpu", "cuda") else "cpu"


def _register(platform: str) -> None:
    with _lock:
        if _registered.get(platform):
            return
        lib = _shim()
        suffix = "Cuda" if platform == "CUDA" else "Cpu"
        for op in _OPS:
            jax.ffi.register_ffi_target(f"blocksparse_bsmm_{op.lower()}", jax.ffi.pycapsule(getattr(lib, f"BsJax{op}{suffix}")),
                                        platform=platform)
        _registered[platform] = True


class BlockSparseMatMul:
    """A bsmm plan for JAX: ``y = x·W`` on a fixed ``(CB, KB)`` layout, differentiable (custom VJP).

    Args:
        layout: ``(CB, KB)`` 0/1 array.
        block_size: b, one of 8, 16, 32, 64, 128.
        dtype: ``jnp.float32``, ``jnp.float16`` or ``jnp.bfloat16``.
        platform: ``"cpu"`` or ``"gpu"``; default ``jax.default_backend()``. GPU plans use device 0.

    ``w_shape`` is ``(nnz, b, b)``, the BSR values of the dense ``(C, K)`` weight (blocks in
    row-major order of the layout). Calling the object computes ``bsmm_fprop(x, w)``.
    """

    def __init__(self, layout, block_size: int = 32, dtype=jnp.float32, platform: str | None = None):
        self.platform = _platform_of(platform or jax.default_backend())
        self.dtype = jnp.dtype(dtype)
        self.plan = BlocksparseMatMul(layout, block_size=block_size, dtype=self.dtype.name,
                                      backend="cuda" if self.platform == "CUDA" else "cpu")
        self.C, self.K, self.w_shape = self.plan.C, self.plan.K, self.plan.w_shape
        _register(self.platform)
        # Plans must outlive every executable that bakes in their address (see the module docstring).
        _keep_alive.append(self.plan)

    def _handle(self) -> int:
        return int(self.plan._handle.value)

    def _workspace(self, op: Op, N: int) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((max(1, self.plan.workspace_size(op, N)),), jnp.uint8)

    def _call(self, op: Op, a, b, out_shape):
        name = {Op.FPROP: "fprop", Op.BPROP: "bprop", Op.UPDAT: "updat"}[op]
        out = jax.ShapeDtypeStruct(out_shape, self.dtype)
        y, _ws = jax.ffi.ffi_call(f"blocksparse_bsmm_{name}", (out, self._workspace(op, a.shape[0])),
                                  vmap_method="sequential")(a, b, plan=np.int64(self._handle()))
        return y

    def _check(self, name: str, a, features: int | None = None, shape=None):
        if a.dtype != self.dtype:
            raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} has dtype {a.dtype}, the plan {self.dtype}")
        if features is not None and (a.ndim < 1 or a.shape[-1] != features):
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{name} has shape {a.shape}, expected (..., {features})")
        if shape is not None and tuple(a.shape) != tuple(shape):
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{name} has shape {a.shape}, expected {tuple(shape)}")

    def fprop(self, x, w):
        """``y = x·W``: x ``(..., C)``, w ``(nnz, b, b)`` -> y ``(..., K)``. Differentiable."""
        self._check("x", x, self.C)
        self._check("w", w, shape=self.w_shape)
        lead = x.shape[:-1]
        return _fprop(self, x.reshape(-1, self.C), w).reshape(*lead, self.K)

    __call__ = fprop

    def bprop(self, dy, w):
        """``dx = dy·Wᵀ``: dy ``(N, K)`` -> dx ``(N, C)``."""
        self._check("dy", dy, self.K)
        self._check("w", w, shape=self.w_shape)
        return self._call(Op.BPROP, dy.reshape(-1, self.K), w, (math.prod(dy.shape[:-1]), self.C)).reshape(
            *dy.shape[:-1], self.C)

    def updat(self, x, dy):
        """``dW[i] = x[:, c]ᵀ·dy[:, k]`` on the layout's blocks -> ``(nnz, b, b)``."""
        self._check("x", x, self.C)
        self._check("dy", dy, self.K)
        if x.shape[:-1] != dy.shape[:-1]:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"x {x.shape} and dy {dy.shape} differ in N")
        return self._call(Op.UPDAT, x.reshape(-1, self.C), dy.reshape(-1, self.K), self.w_shape)

    # The plan is static (hashable by identity) for jax.custom_vjp's nondiff argument.
    __hash__ = object.__hash__


_keep_alive: list = []


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fprop(m: BlockSparseMatMul, x, w):
    return m._call(Op.FPROP, x, w, (x.shape[0], m.K))


def _fprop_fwd(m, x, w):
    return _fprop(m, x, w), (x, w)


def _fprop_bwd(m, res, dy):
    x, w = res
    return m._call(Op.BPROP, dy, w, (dy.shape[0], m.C)), m._call(Op.UPDAT, x, dy, m.w_shape)


_fprop.defvjp(_fprop_fwd, _fprop_bwd)


def bsmm_fprop(m: BlockSparseMatMul, x, w):
    """``y = x·W`` (differentiable); same as ``m(x, w)``."""
    return m.fprop(x, w)


def bsmm_bprop(m: BlockSparseMatMul, dy, w):
    """``dx = dy·Wᵀ``."""
    return m.bprop(dy, w)


def bsmm_updat(m: BlockSparseMatMul, x, dy):
    """The weight gradient on the layout, ``(nnz, b, b)``."""
    return m.updat(x, dy)
