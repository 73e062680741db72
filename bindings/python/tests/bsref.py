"""Test helpers: storage dtypes, float64 references, poisoned outputs with guard zones."""
from __future__ import annotations

import os

import numpy as np
import pytest

import blocksparse as bs

try:
    import ml_dtypes
except ImportError:  # the bfloat16 cases then run on uint16 bit patterns only
    ml_dtypes = None

# Storage kinds under test: "bf16bits" is a bfloat16 plan fed uint16 bit patterns (bf16_bits=True).
DTYPES = ["float32", "float16", "bfloat16", "bf16bits"]
# ‖out − ref‖ / ‖ref‖ bounds; the reference uses the rounded inputs, so only the fp32 accumulation and
# the final rounding to the storage type remain (fp16: 2^-11, bf16: 2^-8 relative per element).
BOUNDS = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1e-2, "bf16bits": 1e-2}


def fresh_rng() -> np.random.Generator:
    """A generator with a fresh seed (printed so that a failure can be replayed with BS_TEST_SEED)."""
    seed = int(os.environ.get("BS_TEST_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    return np.random.default_rng(seed)


def plan_kwargs(kind: str) -> dict:
    """BlocksparseMatMul keyword arguments of a storage kind (skips bfloat16 without ml_dtypes)."""
    if kind == "bfloat16" and ml_dtypes is None:
        pytest.skip("ml_dtypes is not installed: NumPy bfloat16 arrays need it (bf16bits covers bf16)")
    if kind == "bf16bits":
        return {"dtype": "bfloat16", "bf16_bits": True}
    return {"dtype": kind}


def storage_dtype(kind: str) -> np.dtype:
    if kind == "bf16bits":
        return np.dtype(np.uint16)
    if kind == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(kind)


def to_storage(a, kind: str) -> np.ndarray:
    """Rounds float values to the storage kind (round-to-nearest-even)."""
    a = np.asarray(a)
    if kind == "bf16bits":
        return bs.float32_to_bf16_bits(a.astype(np.float32))
    return np.ascontiguousarray(a.astype(np.float32).astype(storage_dtype(kind)))


def to_f64(a, kind: str) -> np.ndarray:
    a = np.asarray(a)
    if kind == "bf16bits":
        return bs.bf16_bits_to_float32(a).astype(np.float64)
    return a.astype(np.float64)


def random(rng, shape, kind: str) -> np.ndarray:
    return to_storage(rng.standard_normal(shape), kind)


def poison_bits(kind: str):
    """Bit pattern (as the storage's unsigned int view) of a NaN of the storage kind."""
    if kind == "float32":
        return np.float32(np.nan).view(np.uint32)
    return np.uint16(0x7E00) if kind == "float16" else np.uint16(0x7FC0)


class Guarded:
    """An output array filled with NaN, lying inside a larger NaN buffer whose guard zones must stay
    untouched (proves that nothing outside the output is written)."""

    GUARD = 67

    def __init__(self, shape, kind: str):
        n = int(np.prod(shape))
        self.kind = kind
        dt = storage_dtype(kind)
        self.uint = np.uint32 if dt.itemsize == 4 else np.uint16
        self.buf = np.empty(n + 2 * self.GUARD, dtype=dt)
        self.buf.view(self.uint)[:] = poison_bits(kind)
        self.array = self.buf[self.GUARD:self.GUARD + n].reshape(shape)

    def guards_intact(self) -> bool:
        bits = self.buf.view(self.uint)
        p = poison_bits(self.kind)
        return bool(np.all(bits[:self.GUARD] == p) and np.all(bits[-self.GUARD:] == p))


def random_layout(rng, CB, KB, density=0.5) -> np.ndarray:
    lay = (rng.random((CB, KB)) < density).astype(np.uint8)
    lay[rng.integers(CB), rng.integers(KB)] = 1  # never empty
    return lay


def rel_err(out, ref) -> float:
    """‖out − ref‖ / ‖ref‖ (NaN if out has NaN, which then fails every `<=` bound)."""
    out = np.asarray(out, dtype=np.float64)
    denom = np.linalg.norm(ref)
    return float(np.linalg.norm(out - ref) / (denom if denom > 0 else 1.0))


def as_nf(a64: np.ndarray, axis: int) -> np.ndarray:
    """An activation as a 2-D (N, features) float64 matrix."""
    if axis == 1:
        return a64.reshape(-1, a64.shape[-1])
    return a64.reshape(a64.shape[0], -1).T


def from_nf(m: np.ndarray, axis: int, shape) -> np.ndarray:
    """Inverse of as_nf: an (N, features) matrix back into an activation of `shape`."""
    return m.reshape(shape) if axis == 1 else m.T.reshape(shape)


def dense64(bsmm, w64: np.ndarray, gate=None) -> np.ndarray:
    """The dense (C, K) float64 weight of blocks w64, each scaled by its gate."""
    if gate is not None:
        w64 = w64 * np.asarray(gate, dtype=np.float64)[:, None, None]
    return bsmm.to_dense(w64)


def ref_updat(bsmm, xs64, dys64, axis):
    """float64 dW (nnz, b, b) of several (x, dy) pairs."""
    b = bsmm.block_size
    c, k = bsmm.block_coords()
    full = sum(as_nf(x, axis).T @ as_nf(dy, axis) for x, dy in zip(xs64, dys64))  # (C, K)
    return full.reshape(bsmm.CB, b, bsmm.KB, b)[c, :, k, :]


def ref_l2(bsmm, w64, gain, eps):
    """float64 l2_normalize: every column of the dense weight scaled to unit norm (times gain)."""
    d = bsmm.to_dense(w64)
    s = np.maximum((d * d).sum(axis=0), eps)
    g = np.ones(bsmm.K) if gain is None else np.asarray(gain, dtype=np.float64)
    return bsmm.from_dense(d / np.sqrt(s) * g)


def ref_l2_grad(bsmm, dy64, w64, gain, eps):
    """float64 gradient of ref_l2 (derived by hand; checked against finite differences in the tests)."""
    d, dyd = bsmm.to_dense(w64), bsmm.to_dense(dy64)
    ss = (d * d).sum(axis=0)
    s = np.maximum(ss, eps)
    n = np.sqrt(s)
    g = np.ones(bsmm.K) if gain is None else np.asarray(gain, dtype=np.float64)
    u = dyd * g
    keep = (ss >= eps).astype(np.float64)
    dw = (u - d * keep * (u * d).sum(axis=0) / s) / n
    dgain = (dyd * d).sum(axis=0) / n
    return bsmm.from_dense(dw), dgain
