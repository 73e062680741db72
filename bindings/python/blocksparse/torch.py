"""PyTorch plugin: the bsmm products as ``torch.library`` custom ops, and :class:`BlockSparseLinear`.

Ops (namespace ``blocksparse``; ``plan`` is an id from :func:`plan_id`):

- ``torch.ops.blocksparse.bsmm_fprop(x, w, plan) -> y``: ``y = x·W``, x ``(*, C)``, y ``(*, K)``;
  differentiable in x and w (its backward calls the two ops below).
- ``torch.ops.blocksparse.bsmm_bprop(dy, w, plan) -> dx``: ``dx = dy·Wᵀ``.
- ``torch.ops.blocksparse.bsmm_updat(x, dy, plan) -> dw``: ``dW`` on the layout's blocks, ``(nnz, b, b)``.

Each op has a fake (meta) implementation, so ``torch.compile`` traces them without graph breaks.
Tensors may be on the CPU or on a GPU (CUDA plans run on PyTorch's current stream of that GPU);
dtypes float32, float16 and bfloat16, accumulated in fp32. Weights ``(nnz, b, b)`` are the values of
the BSR matrix of the dense ``(C, K)`` weight, blocks in row-major order of the layout.

Quick start::

    import torch
    from blocksparse.torch import BlockSparseLinear

    layout = torch.rand(16, 16) < 0.25                     # (CB, KB) blocks of 32 -> 512 x 512
    layer = BlockSparseLinear(512, 512, layout, block_size=32)
    y = layer(torch.randn(8, 512))                         # as nn.Linear: (*, in) -> (*, out)
    y.sum().backward()                                     # grads through bsmm_bprop / bsmm_updat
"""
from __future__ import annotations

import math
import threading

import numpy as np
import torch

from .errors import InvalidArgumentError, Status
from .matmul import BlocksparseMatMul
from .types import DTYPE_NAMES

__all__ = ["BlockSparseLinear", "plan_id", "plan_of", "bsmm_fprop", "bsmm_bprop", "bsmm_updat"]

_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}

# Plans by id, and ids by (layout, block size, dtype, device). Plans live as long as the process:
# compiled graphs keep their ids as constants, so a plan must outlive every graph that uses it.
_lock = threading.Lock()
_plans: dict[int, BlocksparseMatMul] = {}
_ids: dict[tuple, int] = {}


def plan_id(layout, block_size: int, dtype: torch.dtype = torch.float32, device="cpu") -> int:
    """Id of the plan for a ``(CB, KB)`` 0/1 layout (array or tensor), block size, dtype and device;
    the plan is made on first use and cached. Raises BlocksparseError for a bad layout or block size."""
    lay = np.ascontiguousarray(torch.as_tensor(layout).detach().cpu().numpy() if torch.is_tensor(layout)
                               else np.asarray(layout))
    if dtype not in _DTYPES:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"dtype must be float32, float16 or bfloat16 (got {dtype})")
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    key = (lay.shape, lay.astype(np.uint8).tobytes(), int(block_size), dtype, device.type, device.index)
    with _lock:
        pid = _ids.get(key)
        if pid is None:
            cuda = device.type == "cuda"
            plan = BlocksparseMatMul(lay, block_size=block_size, dtype=_DTYPES[dtype],
                                     backend="cuda" if cuda else "cpu", device=device.index if cuda else 0,
                                     bf16_bits=not cuda)  # CPU bf16 goes through uint16 NumPy views
            pid = len(_plans) + 1
            _plans[pid], _ids[key] = plan, pid
    return pid


def plan_of(pid: int) -> BlocksparseMatMul:
    """The plan behind an id from :func:`plan_id`."""
    try:
        return _plans[pid]
    except KeyError:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"no blocksparse plan has id {pid}") from None


def _check(pid: int, name: str, t: torch.Tensor, shape: tuple) -> None:
    """Checks what BlocksparseMatMul cannot see through the views this module hands it."""
    plan = plan_of(pid)
    if _DTYPES.get(t.dtype) != DTYPE_NAMES[plan.dtype]:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"{name} has dtype {t.dtype} but the plan's dtype is "
                                   f"{DTYPE_NAMES[plan.dtype]}")
    if tuple(t.shape) != tuple(shape):
        raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}")


_TYPESTR = {torch.float32: "<f4", torch.float16: "<f2", torch.bfloat16: "<u2"}


class _HostView:
    """A NumPy array interface over a CPU tensor's memory. Not ``Tensor.numpy()``: that marks the
    tensor's storage as not resizable for good, and FSDP2 frees the storage of its all-gathered
    (unsharded) parameters by resizing it to 0 after each forward. The array keeps this object, and
    so the tensor, alive (it is the array's ``base``)."""

    def __init__(self, t: torch.Tensor):
        self.tensor = t
        self.__array_interface__ = {"data": (t.data_ptr(), False), "shape": tuple(t.shape),
                                    "typestr": _TYPESTR[t.dtype], "version": 3}


def _view(t: torch.Tensor):
    """What the plan takes: CUDA tensors as they are, CPU tensors as zero-copy NumPy views
    (bfloat16 as its uint16 bits)."""
    if t.is_cuda:
        return t
    return np.asarray(_HostView(t))


def _activation(pid: int, name: str, t: torch.Tensor, features: int) -> torch.Tensor:
    """A ``(*, features)`` activation as the contiguous ``(N, features)`` matrix the plan takes."""
    if t.dim() < 1 or t.shape[-1] != features:
        raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"{name} has shape {tuple(t.shape)}, expected (*, {features})")
    _check(pid, name, t, t.shape)
    return t.detach().contiguous().view(-1, features)


def _weight(pid: int, w: torch.Tensor) -> torch.Tensor:
    _check(pid, "w", w, plan_of(pid).w_shape)
    return w.detach().contiguous()


@torch.library.custom_op("blocksparse::bsmm_fprop", mutates_args=())
def bsmm_fprop(x: torch.Tensor, w: torch.Tensor, plan: int) -> torch.Tensor:
    """``y = x·W``: x ``(*, C)``, w ``(nnz, b, b)``, returns y ``(*, K)``."""
    p = plan_of(plan)
    x2, w = _activation(plan, "x", x, p.C), _weight(plan, w)
    y = x2.new_empty((*x.shape[:-1], p.K))
    p.fprop(_view(x2), _view(w), out=_view(y.view(-1, p.K)))
    return y


@torch.library.custom_op("blocksparse::bsmm_bprop", mutates_args=())
def bsmm_bprop(dy: torch.Tensor, w: torch.Tensor, plan: int) -> torch.Tensor:
    """``dx = dy·Wᵀ``: dy ``(*, K)``, w ``(nnz, b, b)``, returns dx ``(*, C)``."""
    p = plan_of(plan)
    dy2, w = _activation(plan, "dy", dy, p.K), _weight(plan, w)
    dx = dy2.new_empty((*dy.shape[:-1], p.C))
    p.bprop(_view(dy2), _view(w), out=_view(dx.view(-1, p.C)))
    return dx


@torch.library.custom_op("blocksparse::bsmm_updat", mutates_args=())
def bsmm_updat(x: torch.Tensor, dy: torch.Tensor, plan: int) -> torch.Tensor:
    """``dW[i] = x[:, c]ᵀ·dy[:, k]`` for every block ``i = (c, k)`` of the layout (x ``(*, C)``, dy
    ``(*, K)`` with the same leading dimensions): returns ``(nnz, b, b)``."""
    p = plan_of(plan)
    if x.shape[:-1] != dy.shape[:-1]:
        raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"x has shape {tuple(x.shape)} but dy {tuple(dy.shape)}: "
                                   f"their leading dimensions differ")
    x, dy = _activation(plan, "x", x, p.C), _activation(plan, "dy", dy, p.K)
    dw = x.new_empty(p.w_shape)
    p.updat(_view(x), _view(dy), dw=_view(dw))
    return dw


@bsmm_fprop.register_fake
def _(x, w, plan):
    return x.new_empty((*x.shape[:-1], plan_of(plan).K))


@bsmm_bprop.register_fake
def _(dy, w, plan):
    return dy.new_empty((*dy.shape[:-1], plan_of(plan).C))


@bsmm_updat.register_fake
def _(x, dy, plan):
    return x.new_empty(plan_of(plan).w_shape)


def _setup_context(ctx, inputs, output):
    x, w, plan = inputs
    ctx.save_for_backward(x, w)
    ctx.plan = plan


def _backward(ctx, dy):
    x, w = ctx.saved_tensors
    dx = bsmm_bprop(dy, w, ctx.plan) if ctx.needs_input_grad[0] else None
    dw = bsmm_updat(x, dy, ctx.plan) if ctx.needs_input_grad[1] else None
    return dx, dw, None


bsmm_fprop.register_autograd(_backward, setup_context=_setup_context)


def _layout_of(layout, in_features: int, out_features: int, block_size: int) -> np.ndarray:
    """A layer's ``(in_features/b, out_features/b)`` layout as a uint8 0/1 array (from an array or tensor)."""
    lay = np.asarray(torch.as_tensor(layout).detach().cpu().numpy() if torch.is_tensor(layout) else layout)
    b = int(block_size)
    if lay.ndim != 2 or lay.shape[0] * b != in_features or lay.shape[1] * b != out_features:
        raise InvalidArgumentError(Status.SHAPE_MISMATCH,
                                   f"layout of shape {lay.shape} with block_size {b} does not make a "
                                   f"({in_features}, {out_features}) weight")
    return np.ascontiguousarray(lay != 0, dtype=np.uint8)


class _PlanCache:
    """Plan ids of one layout and block size by the (dtype, device) of the weight that a forward()
    sees. Modules fill it for their weight when made (a bad layout or block size fails there) and
    whenever they move (``_apply``), so that forward() only looks up an int (torch.compile); a weight
    that changes without ``_apply`` (FSDP2's unsharded parameter in its mixed-precision param_dtype)
    gets its plan on first use. ``None`` for a meta weight (deferred init runs nothing), and for a
    layout without blocks where ``allow_empty`` (a tensor-parallel shard may own none)."""

    def __init__(self, layout: np.ndarray, block_size: int, allow_empty: bool = False):
        self.layout, self.block_size, self.ids = layout, block_size, {}
        self.none = allow_empty and not layout.any()

    def __call__(self, w: torch.Tensor) -> int | None:
        key = (w.dtype, w.device)
        pid = self.ids.get(key)
        if pid is None and not self.none and w.device.type != "meta":
            pid = self.ids[key] = plan_id(self.layout, self.block_size, w.dtype, w.device)
        return pid


class BlockSparseLinear(torch.nn.Module):
    """Drop-in for ``nn.Linear`` whose weight is block-sparse on a fixed layout.

    ``y = x·W + bias`` with ``x`` of shape ``(*, in_features)`` and ``y`` of ``(*, out_features)``, as
    ``nn.Linear``; forward and backward run through the ``blocksparse::bsmm_*`` ops.

    Args:
        in_features, out_features: C and K; multiples of ``block_size``.
        layout: ``(in_features/b, out_features/b)`` 0/1 array or tensor; ``layout[c, k]`` connects input
            block ``c`` to output block ``k``.
        block_size: b, one of 8, 16, 32, 64, 128.
        bias: learn an additive bias, as ``nn.Linear``.

    ``weight`` is ``(nnz, b, b)``: block ``i`` is the dense ``W[c*b:(c+1)*b, k*b:(k+1)*b]`` (rows = input
    features) of the ``i``-th nonzero ``(c, k)`` of the layout in row-major order. It is initialised as
    ``nn.Linear`` initialises its weight, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, but with the fan-in
    of the sparse layer (the mean number of inputs connected to an output).
    """

    def __init__(self, in_features: int, out_features: int, layout, block_size: int = 32, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        b = int(block_size)
        self.in_features, self.out_features, self.block_size = in_features, out_features, b
        self._layout = _layout_of(layout, in_features, out_features, b)  # fixed, like in_features
        nnz = int(self._layout.sum())
        kw = {"device": device, "dtype": dtype}
        self.weight = torch.nn.Parameter(torch.empty((nnz, b, b), **kw))
        self.bias = torch.nn.Parameter(torch.empty(out_features, **kw)) if bias else None
        self.reset_parameters()
        self._plans = _PlanCache(self._layout, b)
        self._plans(self.weight)

    def reset_parameters(self) -> None:
        fan_in = max(1, int(self._layout.sum()) * self.block_size // self._layout.shape[1])
        bound = 1.0 / math.sqrt(fan_in)
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.uniform_(self.bias, -bound, bound)

    @property
    def layout(self) -> torch.Tensor:
        """The ``(CB, KB)`` 0/1 layout (a copy)."""
        return torch.from_numpy(self._layout.copy())

    def plan_id(self) -> int:
        """Id of the plan for the weight's current dtype and device."""
        return self._plans(self.weight)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._plans(self.weight)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"input has shape {tuple(x.shape)}, expected "
                                       f"(*, {self.in_features})")
        w = self.weight
        y = torch.ops.blocksparse.bsmm_fprop(x, w, self._plans(w))  # a new tensor, not a view (FSDP2)
        return y if self.bias is None else y + self.bias

    def _coords(self) -> tuple:
        c, k = np.nonzero(self._layout)  # row-major order of (c, k): the order of the weight blocks
        return torch.from_numpy(c), torch.from_numpy(k)

    def dense_weight(self) -> torch.Tensor:
        """The dense weight in ``nn.Linear``'s convention, ``(out_features, in_features)``."""
        b, (c, k) = self.block_size, self._coords()
        dense = self.weight.new_zeros((self._layout.shape[0], self._layout.shape[1], b, b))
        dense[c.to(self.weight.device), k.to(self.weight.device)] = self.weight
        return dense.permute(0, 2, 1, 3).reshape(self.in_features, self.out_features).t()

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, layout, block_size: int = 32) -> "BlockSparseLinear":
        """A layer with ``linear``'s weights on the layout's blocks (the others are dropped)."""
        w = linear.weight.detach()
        layer = cls(linear.in_features, linear.out_features, layout, block_size, linear.bias is not None,
                    device=w.device, dtype=w.dtype)
        b, (c, k) = block_size, layer._coords()
        blocks = w.t().reshape(layer._layout.shape[0], b, layer._layout.shape[1], b).permute(0, 2, 1, 3)
        with torch.no_grad():
            layer.weight.copy_(blocks[c.to(w.device), k.to(w.device)])
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, block_size={self.block_size}, "
                f"blocks={self.weight.shape[0]}/{self._layout.size}, bias={self.bias is not None}")
