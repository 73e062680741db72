"""bfloat16 as uint16 bit patterns, for NumPy without ml_dtypes (and CuPy, which has no bfloat16).

A bfloat16 is the upper 16 bits of an IEEE binary32. Plans created with ``bf16_bits=True`` take
uint16 arrays holding such bits wherever they take bfloat16 arrays.
"""
from __future__ import annotations

import numpy as np


def float32_to_bf16_bits(a) -> np.ndarray:
    """Rounds float32 values to bfloat16 (round-to-nearest-even, NaN stays NaN); returns uint16 bits."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(is_nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)


def bf16_bits_to_float32(bits) -> np.ndarray:
    """The float32 values of uint16 bfloat16 bit patterns (exact)."""
    b = np.ascontiguousarray(bits, dtype=np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)
