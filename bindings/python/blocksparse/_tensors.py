"""Zero-copy views of the arrays the binding accepts, and allocation of outputs and workspaces.

CPU plans take NumPy arrays (host memory). CUDA plans take PyTorch tensors and CuPy arrays on the
plan's GPU; their data pointers are passed to the library as they are (no copy), and calls run on the
framework's current stream. Each framework is imported only when the caller already uses it (its
module is in ``sys.modules``) or when an output must be allocated for a CUDA plan.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
from dataclasses import dataclass

import numpy as np

from .errors import InvalidArgumentError, Status, UnsupportedError


@dataclass
class Tensor:
    """What the binding needs to know about one array argument."""

    obj: object
    ptr: int
    shape: tuple
    dtype: str  # "float32", "float16", "bfloat16", "uint16", ... ("torch." stripped)
    contiguous: bool
    writeable: bool
    device: int | None  # CUDA ordinal; None for host memory
    framework: "Framework"


class Framework:
    """An array library: how to read its arrays, allocate them and find its current stream."""

    name = ""
    is_cuda = False

    def accepts(self, obj) -> bool:
        raise NotImplementedError

    def describe(self, obj) -> Tensor:
        raise NotImplementedError

    def empty(self, shape, dtype: str, device: int):
        raise NotImplementedError

    def from_host(self, array: np.ndarray, device: int):
        """A copy of a host array in this framework's memory (used for gates and gains given as lists)."""
        raise NotImplementedError

    def current_stream(self, device: int) -> int:
        return 0

    def allocation_scope(self, stream: int, device: int):
        """Context in which allocations belong to `stream`, so that the caching allocators of PyTorch
        and CuPy do not hand a temporary (workspace, uploaded gates) to other work while a kernel
        enqueued on `stream` may still read it."""
        return contextlib.nullcontext()

    def synchronize(self, device: int) -> None:
        pass


class NumpyFramework(Framework):
    name = "NumPy"

    def accepts(self, obj) -> bool:
        return isinstance(obj, np.ndarray)

    def describe(self, obj) -> Tensor:
        return Tensor(obj, obj.__array_interface__["data"][0], tuple(obj.shape), obj.dtype.name,
                      bool(obj.flags.c_contiguous), bool(obj.flags.writeable), None, self)

    def empty(self, shape, dtype: str, device: int):
        return np.empty(shape, dtype=numpy_dtype(dtype))

    def from_host(self, array: np.ndarray, device: int):
        return array


class TorchFramework(Framework):
    name = "PyTorch"
    is_cuda = True

    @staticmethod
    def _torch():
        return importlib.import_module("torch")

    def accepts(self, obj) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(obj, torch.Tensor)

    def describe(self, obj) -> Tensor:
        device = obj.device.index if obj.is_cuda else None
        return Tensor(obj, obj.data_ptr(), tuple(obj.shape), str(obj.dtype).removeprefix("torch."),
                      obj.is_contiguous(), True, device, self)

    def empty(self, shape, dtype: str, device: int):
        torch = self._torch()
        return torch.empty(tuple(shape), dtype=getattr(torch, dtype), device=torch.device("cuda", device))

    def from_host(self, array: np.ndarray, device: int):
        torch = self._torch()
        return torch.from_numpy(array).to(torch.device("cuda", device))

    def current_stream(self, device: int) -> int:
        return self._torch().cuda.current_stream(device).cuda_stream

    def allocation_scope(self, stream: int, device: int):
        torch = self._torch()
        return torch.cuda.stream(torch.cuda.ExternalStream(stream, device=torch.device("cuda", device)))

    def synchronize(self, device: int) -> None:
        self._torch().cuda.synchronize(device)


class CupyFramework(Framework):
    name = "CuPy"
    is_cuda = True

    @staticmethod
    def _cupy():
        return importlib.import_module("cupy")

    def accepts(self, obj) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(obj, cupy.ndarray)

    def describe(self, obj) -> Tensor:
        return Tensor(obj, obj.data.ptr, tuple(obj.shape), obj.dtype.name, bool(obj.flags.c_contiguous), True,
                      obj.device.id, self)

    def empty(self, shape, dtype: str, device: int):
        cupy = self._cupy()
        if dtype == "bfloat16":
            raise UnsupportedError(Status.NOT_SUPPORTED, "CuPy has no bfloat16 arrays: create the plan with "
                                   "bf16_bits=True (uint16 arrays holding bfloat16 bits) or use PyTorch tensors")
        with cupy.cuda.Device(device):
            return cupy.empty(tuple(shape), dtype=dtype)

    def from_host(self, array: np.ndarray, device: int):
        cupy = self._cupy()
        with cupy.cuda.Device(device):
            return cupy.asarray(array)

    def current_stream(self, device: int) -> int:
        cupy = self._cupy()
        with cupy.cuda.Device(device):
            return cupy.cuda.get_current_stream().ptr

    def allocation_scope(self, stream: int, device: int):
        cupy = self._cupy()
        scope = contextlib.ExitStack()
        scope.enter_context(cupy.cuda.Device(device))
        scope.enter_context(cupy.cuda.ExternalStream(stream))
        return scope

    def synchronize(self, device: int) -> None:
        cupy = self._cupy()
        with cupy.cuda.Device(device):
            cupy.cuda.Device(device).synchronize()


NUMPY = NumpyFramework()
TORCH = TorchFramework()
CUPY = CupyFramework()
CUDA_FRAMEWORKS = (TORCH, CUPY)


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a dtype name; bfloat16 needs the ml_dtypes package."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise UnsupportedError(Status.NOT_SUPPORTED, "NumPy has no bfloat16: install ml_dtypes "
                                   "(pip install ml_dtypes) or create the plan with bf16_bits=True "
                                   "(uint16 arrays holding bfloat16 bits)") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def framework_of(obj) -> Framework | None:
    for fw in (NUMPY, TORCH, CUPY):
        if fw.accepts(obj):
            return fw
    return None


def default_cuda_framework() -> Framework:
    """The framework that allocates CUDA outputs when no argument says which: PyTorch, else CuPy."""
    for fw, module in ((TORCH, "torch"), (CUPY, "cupy")):
        if module in sys.modules:
            return fw
    for fw, module in ((TORCH, "torch"), (CUPY, "cupy")):
        try:
            importlib.import_module(module)
            return fw
        except ImportError:
            continue
    raise UnsupportedError(Status.NOT_SUPPORTED, "CUDA plans allocate their outputs with PyTorch or CuPy; "
                           "neither is installed")


def describe(obj, name: str, cuda: bool, device: int) -> Tensor:
    """Describes an array argument of a plan of the given backend; raises on the wrong kind of array."""
    fw = framework_of(obj)
    if fw is None:
        kinds = "a PyTorch tensor or a CuPy array on the GPU" if cuda else "a numpy.ndarray"
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} must be {kinds} (got {type(obj).__name__})")
    t = fw.describe(obj)
    if cuda and t.device is None:
        raise InvalidArgumentError(Status.WRONG_BACKEND, f"{name} is in host memory but this is a CUDA plan "
                                   f"(device {device}): pass a PyTorch tensor or CuPy array on that GPU")
    if not cuda and t.device is not None:
        raise InvalidArgumentError(Status.WRONG_BACKEND, f"{name} is in GPU memory but this is a CPU plan")
    if not cuda and fw is not NUMPY:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} must be a numpy.ndarray for a CPU plan "
                                   f"(got a {fw.name} array; convert it to NumPy)")
    if cuda and t.device != device:
        raise InvalidArgumentError(Status.WRONG_DEVICE, f"{name} is on GPU {t.device} but the plan is on GPU {device}")
    return t
