"""blocksparse: block-sparse neural-network primitives (a ctypes binding of libblocksparse).

Quick start::

    import numpy as np
    import blocksparse as bs

    layout = np.random.randint(2, size=(128, 128))          # (CB, KB) block layout
    bsmm = bs.BlocksparseMatMul(layout, block_size=32)       # C = K = 4096
    w = np.random.randn(*bsmm.w_shape).astype(np.float32)    # (nnz, 32, 32)
    x = np.random.randn(64, bsmm.C).astype(np.float32)       # (N, C)
    y = bsmm(x, w)                                           # (N, K) = x @ W

The shared library is found through the environment variable BLOCKSPARSE_LIBRARY, else the copy
bundled by ``pip install``, else the repository's ``build/lib/``.
"""
from __future__ import annotations

import ctypes

from . import _library, ops, optim  # ops: layer norm and the small fused ops; optim: fused optimizers
from .bf16 import bf16_bits_to_float32, float32_to_bf16_bits
from .errors import (BlocksparseError, InvalidArgumentError, Status, SystemFailureError, UnsupportedError,
                     status_description, status_name)
from .errors import check as _check
from .matmul import BlocksparseMatMul
from .transformer import BlocksparseTransformer
from .types import Backend, DType, MathMode, Op, parse_backend

__all__ = [
    "BlocksparseMatMul", "BlocksparseTransformer", "BlocksparseError", "InvalidArgumentError", "UnsupportedError", "SystemFailureError",
    "Status", "DType", "Backend", "MathMode", "Op", "version", "build_info", "device_count", "library_path",
    "status_name", "status_description", "float32_to_bf16_bits", "bf16_bits_to_float32",
]


def version() -> str:
    """Version of the loaded library, "major.minor.patch" (bs_get_version_string)."""
    return _library.load().bs_get_version_string().decode()


def build_info() -> dict:
    """The loaded library's build description (bs_get_build_info) as a dict of strings."""
    text = _library.load().bs_get_build_info().decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def device_count(backend="cuda") -> int:
    """Devices a backend can run on: 1 for "cpu"; visible GPUs for "cuda" (0 without CUDA support)."""
    n = ctypes.c_int32()
    _check(_library.load().bs_get_device_count(parse_backend(backend), ctypes.byref(n)))
    return n.value


def library_path() -> str:
    """Path of the loaded shared library."""
    return _library.library_path()
