"""Enums of the C API (bs_types.h, bsmm.h) and the parsing of user-facing spellings."""
from __future__ import annotations

import enum

import numpy as np

from . import _ffi
from .errors import InvalidArgumentError, Status


class DType(enum.IntEnum):
    """``bs_dtype_t``: storage type of activations and weights (fp32 accumulation always)."""

    FLOAT32 = _ffi.BS_DTYPE_F32
    FLOAT16 = _ffi.BS_DTYPE_F16
    BFLOAT16 = _ffi.BS_DTYPE_BF16

    @property
    def itemsize(self) -> int:
        return 4 if self is DType.FLOAT32 else 2


def _c_enum(name: str, c_name: str, prefix: str, doc: str) -> type:
    """An IntEnum of the members of a C enum (from the generated declarations), prefix removed."""
    members = {k.removeprefix(prefix): v for k, v in _ffi.ENUMS[c_name].items()}
    cls = enum.IntEnum(name, members, module=__name__, qualname=name)
    cls.__doc__ = doc
    return cls


Backend = _c_enum("Backend", "bs_backend_t", "BS_BACKEND_", "``bs_backend_t``.")
MathMode = _c_enum("MathMode", "bs_math_mode_t", "BS_MATH_",
                   "``bs_math_mode_t``: DEFAULT multiplies fp32 exactly; TF32 lets CUDA plans use TF32 tensor cores.")
Op = _c_enum("Op", "bsmm_op_t", "BSMM_OP_", "``bsmm_op_t``: the execute functions, for workspace queries.")
Attr = _c_enum("Attr", "bsmm_attr_t", "BSMM_ATTR_", "``bsmm_attr_t``.")


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
