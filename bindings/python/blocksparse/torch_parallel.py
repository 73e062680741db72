"""Tensor-parallel (sharded) block-sparse layers over ``torch.distributed``.

The block layout of one layer is split across the ranks of a process group into contiguous ranges
balanced by their number of nonzero blocks (:mod:`blocksparse.sharding`); each rank stores only its
blocks and runs a bsmm plan over its slice of the layout. The two layers pair as Megatron-LM's
column- and row-parallel linear layers (Shoeybi et al., 2019, arXiv:1909.08053):

- :class:`ColumnParallelBlockSparseLinear` splits the block **columns** (output features). The input
  ``x`` is replicated; rank ``r`` computes its output columns ``y_r = x·W_r`` and either keeps them
  (``gather_output=False``) or all-gathers the full ``y``. Backward: ``dW_r = xᵀ·dy_r`` stays local and
  ``dx = Σ_r dy_r·W_rᵀ`` is all-reduced, so every rank gets the full input gradient.
- :class:`RowParallelBlockSparseLinear` splits the block **rows** (input features). The input is this
  rank's feature shard ``x_r`` (the kept output of a column-parallel layer, through element-wise ops);
  ``y = Σ_r x_r·W_r`` is all-reduced in forward, and backward is local.

A column-parallel layer keeping its shards followed by a row-parallel layer over the same feature
ranges (``bounds=column.bounds``) costs one all-reduce in forward and one in backward, as in Megatron's
MLP. Everything outside these layers is replicated: every rank runs it on the same data, so its
gradients are the same on every rank and need no reduction.

Collectives go through ``torch.distributed`` (NCCL on GPUs, gloo on CPUs) as synchronous calls on the
default stream order: PyTorch's NCCL backend orders each collective after the work already queued on
the caller's current stream and makes that stream wait for it, without blocking the host. Which
process group, and so which communicator, is the caller's (``group``); the library owns none.

Weights are ``(nnz_r, b, b)``: the blocks of this rank's sub-layout in its own row-major order, which
are the blocks ``block_index`` of the full layer's weight (:func:`blocksparse.sharding.block_indices`).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributed as dist

from . import sharding
from .errors import InvalidArgumentError, Status
from .torch import BlockSparseLinear, _layout_of, _PlanCache

__all__ = ["ColumnParallelBlockSparseLinear", "RowParallelBlockSparseLinear"]


def _fprop(x, w, plan, features):
    """The local ``x·W_r``, zeros for a rank whose slice has no blocks."""
    if plan is None:
        return x.new_zeros((*x.shape[:-1], features))
    return torch.ops.blocksparse.bsmm_fprop(x, w, plan)


def _backward_local(ctx, dy):
    """(dx, dW) of the local product, as far as autograd needs them."""
    x, w = ctx.saved_tensors
    dx = dw = None
    if ctx.needs_input_grad[0]:
        dx = (x.new_zeros(x.shape) if ctx.plan is None else torch.ops.blocksparse.bsmm_bprop(dy, w, ctx.plan))
    if ctx.needs_input_grad[1]:
        dw = w.new_zeros(w.shape) if ctx.plan is None else torch.ops.blocksparse.bsmm_updat(x, dy, ctx.plan)
    return dx, dw


class _ColumnParallelBsmm(torch.autograd.Function):
    """``y_r = x·W_r`` for a replicated ``x``; backward all-reduces ``dx = Σ_r dy_r·W_rᵀ``."""

    @staticmethod
    def forward(ctx, x, w, plan, features, group):
        ctx.save_for_backward(x, w)
        ctx.plan, ctx.group = plan, group
        return _fprop(x, w, plan, features)

    @staticmethod
    def backward(ctx, dy):
        dx, dw = _backward_local(ctx, dy)
        if dx is not None:  # x requires grad on every rank or on none: the ranks agree
            dist.all_reduce(dx, group=ctx.group)  # a fresh tensor of ours: reduced in place
        return dx, dw, None, None, None


class _RowParallelBsmm(torch.autograd.Function):
    """``y = Σ_r x_r·W_r`` (all-reduced) for feature shards ``x_r``; backward is local, since the
    consumers of ``y`` are replicated and every rank holds the whole ``dy``."""

    @staticmethod
    def forward(ctx, x, w, plan, features, group):
        ctx.save_for_backward(x, w)
        ctx.plan = plan
        y = _fprop(x, w, plan, features)
        dist.all_reduce(y, group=group)
        return y

    @staticmethod
    def backward(ctx, dy):
        dx, dw = _backward_local(ctx, dy)
        return dx, dw, None, None, None


def _all_gather_padded(t: torch.Tensor, sizes, group) -> list:
    """Every rank's ``(rows, sizes[r])`` tensor from this rank's ``t``: one all-gather of buffers padded
    to the largest size (gloo and NCCL want equal sizes). Returns views into the gathered buffer."""
    rows, widest = t.shape[0], max(sizes)
    if t.shape[1] != widest:
        padded = t.new_zeros((rows, widest))
        padded[:, :t.shape[1]] = t
        t = padded
    buf = t.new_empty(len(sizes) * rows * widest)
    if buf.numel():
        dist.all_gather_into_tensor(buf, t.contiguous().view(-1), group=group)
    parts = buf.view(len(sizes), rows, widest)
    return [parts[r, :, :sizes[r]] for r in range(len(sizes))]


class _GatherColumns(torch.autograd.Function):
    """The full ``(*, K)`` output from every rank's columns; backward keeps this rank's columns of the
    gradient (the consumers of the gathered output are replicated: each rank holds all of ``dy``)."""

    @staticmethod
    def forward(ctx, y, widths, rank, group):
        ctx.lo, ctx.hi = sum(widths[:rank]), sum(widths[:rank + 1])
        lead = y.shape[:-1]
        parts = _all_gather_padded(y.reshape(math.prod(lead), widths[rank]), widths, group)
        return torch.cat(parts, dim=1).view(*lead, sum(widths))

    @staticmethod
    def backward(ctx, dy):
        return dy[..., ctx.lo:ctx.hi].contiguous(), None, None, None


class _ShardedBlockSparse(torch.nn.Module):
    """What both layers share: the split of the layout (``axis`` 1: block columns, 0: block rows), this
    rank's weight blocks and plans, initialisation and conversion from and to :class:`BlockSparseLinear`."""

    axis = 1
    _bounds_of = staticmethod(sharding.column_bounds)

    def __init__(self, in_features, out_features, layout, block_size, bias, group, bounds, device, dtype):
        super().__init__()
        if not (dist.is_available() and dist.is_initialized()):
            raise InvalidArgumentError(Status.INVALID_VALUE, f"{type(self).__name__} needs an initialised "
                                       "torch.distributed process group (torch.distributed.init_process_group)")
        b = int(block_size)
        self.in_features, self.out_features, self.block_size = in_features, out_features, b
        self._layout = _layout_of(layout, in_features, out_features, b)
        self.group = group if group is not None else dist.group.WORLD
        self.rank, self.world_size = dist.get_rank(self.group), dist.get_world_size(self.group)
        self.bounds = self._check_bounds(self._bounds_of(self._layout, self.world_size) if bounds is None else bounds)
        lo, hi = self.bounds[self.rank], self.bounds[self.rank + 1]
        self._block_indices = [sharding.block_indices(self._layout, **self._slice(r))
                               for r in range(self.world_size)]
        self.block_index = self._block_indices[self.rank]
        self.shard_layout = np.ascontiguousarray(self._layout[:, lo:hi] if self.axis == 1 else self._layout[lo:hi])
        # This rank's features along the split axis (output features for columns, input for rows).
        self.features = (lo * b, hi * b)
        kw = {"device": device, "dtype": dtype}
        self.weight = torch.nn.Parameter(torch.empty((self.block_index.size, b, b), **kw))
        self.bias = torch.nn.Parameter(torch.empty(self._bias_features(), **kw)) if bias else None
        self.reset_parameters()
        self._plans = _PlanCache(self.shard_layout, b, allow_empty=True)
        self._plans(self.weight)

    def _slice(self, r: int) -> dict:
        s = slice(self.bounds[r], self.bounds[r + 1])
        return {"cols": s} if self.axis == 1 else {"rows": s}

    def _check_bounds(self, bounds) -> tuple:
        n = self._layout.shape[self.axis]
        v = np.asarray(bounds)
        if (v.shape != (self.world_size + 1,) or not np.issubdtype(v.dtype, np.integer) or v[0] != 0
                or v[-1] != n or np.any(np.diff(v) < 0)):
            what = "block columns" if self.axis == 1 else "block rows"
            raise InvalidArgumentError(Status.INVALID_VALUE, f"bounds must be {self.world_size + 1} non-decreasing "
                                       f"integers from 0 to {n} (the {what}), one range per rank (got {v.tolist()})")
        return tuple(int(i) for i in v)

    def _bias_features(self) -> int:
        raise NotImplementedError

    def _bias_slice(self) -> slice:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        """This rank's part of what :meth:`BlockSparseLinear.reset_parameters` draws for the whole layer.
        The whole weight is drawn (and dropped but for this rank's blocks), so that every rank's random
        generator advances alike: seeded alike, the ranks hold the shards of one BlockSparseLinear made
        after the same seed, and the replicated layers made after this one stay identical across ranks."""
        if self.weight.device.type == "meta":
            return
        b, nnz = self.block_size, int(self._layout.sum())
        bound = 1.0 / math.sqrt(max(1, nnz * b // self._layout.shape[1]))
        with torch.no_grad():
            full = torch.empty((nnz, b, b), device=self.weight.device, dtype=self.weight.dtype).uniform_(-bound, bound)
            self.weight.copy_(full[torch.from_numpy(self.block_index).to(full.device)])
            if self.bias is not None:
                full_bias = torch.empty(self.out_features, device=self.bias.device, dtype=self.bias.dtype)
                self.bias.copy_(full_bias.uniform_(-bound, bound)[self._bias_slice()])

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._plans(self.weight)
        return self

    @property
    def layout(self) -> torch.Tensor:
        """The full ``(CB, KB)`` 0/1 layout (a copy)."""
        return torch.from_numpy(self._layout.copy())

    @classmethod
    def from_full(cls, layer: BlockSparseLinear, group=None, bounds=None, **options):
        """This rank's shard of ``layer`` (same layout, block size, dtype and device; its weights copied).
        ``options``: ``gather_output`` for a column-parallel layer."""
        self = cls(layer.in_features, layer.out_features, layer._layout, layer.block_size, layer.bias is not None,
                   group=group, bounds=bounds, device="meta", dtype=layer.weight.dtype, **options)
        self.to_empty(device=layer.weight.device)
        with torch.no_grad():
            self.weight.copy_(layer.weight[torch.from_numpy(self.block_index).to(layer.weight.device)])
            if self.bias is not None:
                self.bias.copy_(layer.bias[self._bias_slice()])
        return self

    def to_full(self) -> BlockSparseLinear:
        """The whole layer as a :class:`BlockSparseLinear` on every rank (a collective: every rank of the
        group calls it), e.g. to save a checkpoint or to compare with a single-process run."""
        w = self.weight.detach()
        b = self.block_size
        full = BlockSparseLinear(self.in_features, self.out_features, self._layout, b, self.bias is not None,
                                 device="meta", dtype=w.dtype).to_empty(device=w.device)
        sizes = [idx.size * b * b for idx in self._block_indices]
        parts = _all_gather_padded(w.reshape(1, -1), sizes, self.group)
        with torch.no_grad():
            for idx, part in zip(self._block_indices, parts):
                full.weight[torch.from_numpy(idx).to(w.device)] = part.reshape(-1, b, b)
            if self.bias is not None:
                full.bias.copy_(self._full_bias())
        return full

    def _full_bias(self) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, block_size={self.block_size}, "
                f"rank={self.rank}/{self.world_size}, features={self.features[0]}:{self.features[1]}, "
                f"blocks={self.block_index.size}/{int(self._layout.sum())}, bias={self.bias is not None}")


class ColumnParallelBlockSparseLinear(_ShardedBlockSparse):
    """``y = x·W + bias`` with the block columns of ``W`` (output features) split across the ranks.

    Args:
        in_features, out_features, layout, block_size, bias: as :class:`BlockSparseLinear` (the whole
            layer's).
        gather_output: return the full ``(*, out_features)`` output on every rank (an all-gather), or
            keep this rank's ``(*, features[1] - features[0])`` columns (for a row-parallel layer next).
        group: the process group (default: the world).
        bounds: block-column ranges per rank, ``world_size + 1`` integers from 0 to ``KB``; default
            :func:`blocksparse.sharding.column_bounds` (balanced by nnz).

    Input ``x``: ``(*, in_features)``, the same on every rank. Attributes: ``bounds``, ``features``
    (this rank's output features, ``(begin, end)``), ``block_index`` (this rank's blocks in the full
    weight), ``shard_layout``. The bias is sharded with the output features.
    """

    def __init__(self, in_features: int, out_features: int, layout, block_size: int = 32, bias: bool = True,
                 gather_output: bool = True, group=None, bounds=None, device=None, dtype=None):
        self.gather_output = bool(gather_output)
        super().__init__(in_features, out_features, layout, block_size, bias, group, bounds, device, dtype)
        b = self.block_size
        self._widths = tuple((self.bounds[r + 1] - self.bounds[r]) * b for r in range(self.world_size))

    def _bias_features(self) -> int:
        return self.features[1] - self.features[0]

    def _bias_slice(self) -> slice:
        return slice(*self.features)

    def _full_bias(self) -> torch.Tensor:
        return torch.cat(_all_gather_padded(self.bias.detach().reshape(1, -1), self._widths, self.group), dim=1)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"input has shape {tuple(x.shape)}, expected "
                                       f"(*, {self.in_features})")
        w = self.weight
        y = _ColumnParallelBsmm.apply(x, w, self._plans(w), self._widths[self.rank], self.group)
        if self.bias is not None:
            y = y + self.bias
        return _GatherColumns.apply(y, self._widths, self.rank, self.group) if self.gather_output else y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", gather_output={self.gather_output}"


class RowParallelBlockSparseLinear(_ShardedBlockSparse):
    """``y = x·W + bias`` with the block rows of ``W`` (input features) split across the ranks; the
    input is this rank's shard of the features.

    Args:
        in_features, out_features, layout, block_size, bias: as :class:`BlockSparseLinear` (the whole
            layer's).
        group: the process group (default: the world).
        bounds: block-row ranges per rank, ``world_size + 1`` integers from 0 to ``CB``. After a
            :class:`ColumnParallelBlockSparseLinear` that keeps its output shards, pass its ``bounds``
            (same block size) so that each rank's input is the previous layer's output shard; default
            :func:`blocksparse.sharding.row_bounds` (balanced by nnz).

    Input ``x``: ``(*, features[1] - features[0])``, input features ``features[0]:features[1]`` of
    the layer. Output ``(*, out_features)``, the same on every rank (an all-reduce). The bias is
    replicated: made alike on every rank seeded alike, and given the same gradient on every rank.
    """

    axis = 0
    _bounds_of = staticmethod(sharding.row_bounds)

    def __init__(self, in_features: int, out_features: int, layout, block_size: int = 32, bias: bool = True,
                 group=None, bounds=None, device=None, dtype=None):
        super().__init__(in_features, out_features, layout, block_size, bias, group, bounds, device, dtype)

    def _bias_features(self) -> int:
        return self.out_features

    def _bias_slice(self) -> slice:
        return slice(None)

    def _full_bias(self) -> torch.Tensor:
        return self.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = self.features[1] - self.features[0]
        if x.dim() < 1 or x.shape[-1] != local:
            raise InvalidArgumentError(Status.SHAPE_MISMATCH, f"input has shape {tuple(x.shape)}, expected "
                                       f"(*, {local}): input features {self.features[0]}:{self.features[1]} of "
                                       f"{self.in_features} on rank {self.rank}")
        w = self.weight
        y = _RowParallelBsmm.apply(x, w, self._plans(w), self.out_features, self.group)
        return y if self.bias is None else y + self.bias
