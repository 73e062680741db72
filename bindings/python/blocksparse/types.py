"""Enums of the C API (bs_types.h, bsmm.h) and the parsing of user-facing spellings."""
from __future__ import annotations

import enum

import numpy as np

from .errors import InvalidArgumentError, Status


class DType(enum.IntEnum):
    """``bs_dtype_t``: storage type of activations and weights (fp32 accumulation always)."""

    FLOAT32 = 0
    FLOAT16 = 1
    BFLOAT16 = 2

    @property
    def itemsize(self) -> int:
        return 4 if self is DType.FLOAT32 else 2


class Backend(enum.IntEnum):
    """``bs_backend_t``."""

    CPU = 0
    CUDA = 1


class MathMode(enum.IntEnum):
    """``bs_math_mode_t``: DEFAULT multiplies fp32 exactly; TF32 lets CUDA plans use TF32 tensor cores."""

    DEFAULT = 0
    TF32 = 1


class Op(enum.IntEnum):
    """``bsmm_op_t``: the execute functions, for workspace queries."""

    FPROP = 0
    BPROP = 1
    UPDAT = 2
    L2_NORMALIZE = 3
    L2_NORMALIZE_GRAD = 4
    IDENTITY_INIT = 5


class Attr(enum.IntEnum):
    """``bsmm_attr_t``."""

    C = 0
    K = 1
    CB = 2
    KB = 3
    BLOCK_SIZE = 4
    NNZ_BLOCKS = 5
    FEATURE_AXIS = 6
    DTYPE = 7
    BACKEND = 8
    DEVICE = 9
    MATH_MODE = 10
    NUM_THREADS = 11


# The array dtype names (NumPy / ml_dtypes / PyTorch / CuPy spelling, "torch." stripped) of each DType.
DTYPE_NAMES = {DType.FLOAT32: "float32", DType.FLOAT16: "float16", DType.BFLOAT16: "bfloat16"}
_DTYPE_ALIASES = {
    "float32": DType.FLOAT32, "fp32": DType.FLOAT32, "f32": DType.FLOAT32, "float": DType.FLOAT32,
    "float16": DType.FLOAT16, "fp16": DType.FLOAT16, "f16": DType.FLOAT16, "half": DType.FLOAT16,
    "bfloat16": DType.BFLOAT16, "bf16": DType.BFLOAT16,
}


def _bad(what: str, value, choices) -> InvalidArgumentError:
    return InvalidArgumentError(Status.INVALID_VALUE, f"{what} must be one of {choices} (got {value!r})")


def parse_dtype(spec) -> DType:
    """A DType from ``"float32"``/``"fp16"``/``"bf16"``..., a NumPy or ml_dtypes dtype, a torch dtype
    or a DType."""
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, str):
        name = spec
    elif str(spec).startswith("torch."):
        name = str(spec)
    else:
        try:
            name = np.dtype(spec).name
        except TypeError:
            raise _bad("dtype", spec, sorted(_DTYPE_ALIASES)) from None
    name = name.lower().removeprefix("torch.")
    if name not in _DTYPE_ALIASES:
        raise _bad("dtype", spec, sorted(_DTYPE_ALIASES))
    return _DTYPE_ALIASES[name]


def parse_backend(spec) -> Backend:
    """A Backend from ``"cpu"``, ``"cuda"`` or a Backend."""
    if isinstance(spec, Backend):
        return spec
    if isinstance(spec, str) and spec.lower() in ("cpu", "cuda"):
        return Backend[spec.upper()]
    raise _bad("backend", spec, ["cpu", "cuda"])


def parse_math(spec) -> MathMode:
    """A MathMode from ``"default"``, ``"tf32"``, None or a MathMode."""
    if spec is None:
        return MathMode.DEFAULT
    if isinstance(spec, MathMode):
        return spec
    if isinstance(spec, str) and spec.lower() in ("default", "tf32"):
        return MathMode[spec.upper()]
    raise _bad("math", spec, ["default", "tf32"])
