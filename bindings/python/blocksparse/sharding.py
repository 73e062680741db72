"""Splitting a block layout across ranks (tensor parallelism): contiguous ranges of block columns
(or rows) balanced by their number of nonzero blocks, and the weight blocks each range owns.

Framework-free (NumPy); the PyTorch layers of :mod:`blocksparse.torch_parallel` are built on it.

The cost of a rank is the number of weight blocks it multiplies: its fprop, bprop and updat each do
``2·N·b²`` FLOP per block, whatever the number of block columns. Splitting by column *count* leaves
the rank with the dense columns of a skewed layout (the few very dense columns of the small-world
layouts of the original paper) doing most of the work; :func:`balanced_bounds` minimises the
largest per-rank total instead (the classic chains-on-chains partitioning problem, solved exactly):

1. the smallest bottleneck ``B`` (largest per-rank nnz) for which a greedy sweep, giving each range
   as many items as fit, needs at most ``parts`` ranges (greedy is optimal for this test, and the
   test is monotone in ``B``, so a binary search finds the smallest);
2. then, keeping ``B``, the smallest widest range ``M`` the same way: the output shards of a
   column-parallel layer are gathered through buffers of the widest shard's size;
3. the ranges themselves by the greedy sweep under ``(B, M)``, each capped so that every later rank
   still gets an item while there are items left (a capped range leaves one item per remaining
   rank, which always fits).

Ranks beyond the number of items get empty ranges; ranges of empty columns have nnz 0.
"""
from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError, Status
from .matmul import _dense_layout

__all__ = ["balanced_bounds", "column_bounds", "row_bounds", "block_indices"]


def _counts(counts) -> np.ndarray:
    c = np.asarray(counts)
    if c.ndim != 1 or (c.size and (not np.issubdtype(c.dtype, np.integer) or c.min() < 0)):
        raise InvalidArgumentError(Status.INVALID_VALUE, f"counts must be a 1-D array of non-negative integers "
                                   f"(got dtype {c.dtype}, shape {c.shape})")
    return c.astype(np.int64)


def _range_end(prefix: np.ndarray, start: int, bottleneck: int, width: int) -> int:
    """The end of the longest range from `start` with total <= bottleneck and at most `width` items."""
    fits = int(np.searchsorted(prefix, prefix[start] + bottleneck, side="right")) - 1
    return min(fits, start + width, len(prefix) - 1)


def _ranges_needed(prefix: np.ndarray, bottleneck: int, width: int, limit: int) -> int:
    """Ranges a greedy sweep needs under (bottleneck, width); stops counting past `limit`."""
    n, start, used = len(prefix) - 1, 0, 0
    while start < n and used <= limit:
        start = _range_end(prefix, start, bottleneck, width)
        used += 1
    return used if start >= n else limit + 1


def _smallest(lo: int, hi: int, feasible) -> int:
    """Smallest v in [lo, hi] with feasible(v), for a monotone predicate true at hi."""
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def balanced_bounds(counts, parts: int) -> np.ndarray:
    """Splits items with non-negative ``counts`` (nonzero blocks per block column, say) into ``parts``
    contiguous ranges, minimising the largest per-range total, then the widest range.

    Returns ``bounds``, ``parts + 1`` int64 with ``bounds[0] = 0``, ``bounds[-1] = len(counts)``,
    non-decreasing: range ``r`` is ``bounds[r]:bounds[r+1]``. Every range is non-empty when there are
    at least ``parts`` items. Deterministic: every rank computes the same bounds.

    Raises:
        InvalidArgumentError: ``parts < 1``, or counts not a 1-D array of non-negative integers.
    """
    c = _counts(counts)
    parts = int(parts)
    if parts < 1:
        raise InvalidArgumentError(Status.INVALID_VALUE, f"parts must be at least 1 (got {parts})")
    n = c.size
    prefix = np.concatenate(([0], np.cumsum(c)))
    if n == 0:
        return np.zeros(parts + 1, dtype=np.int64)
    total, heaviest = int(prefix[-1]), int(c.max())
    bottleneck = _smallest(heaviest, total, lambda v: _ranges_needed(prefix, v, n, parts) <= parts)
    width = _smallest(-(-n // parts), n, lambda v: _ranges_needed(prefix, bottleneck, v, parts) <= parts)
    bounds = np.zeros(parts + 1, dtype=np.int64)
    for r in range(parts):
        start, left = int(bounds[r]), parts - r - 1
        end = min(_range_end(prefix, start, bottleneck, width), n - left) if start < n else n
        bounds[r + 1] = max(end, min(start + 1, n))
    return bounds


def column_bounds(layout, parts: int) -> np.ndarray:
    """:func:`balanced_bounds` of a ``(CB, KB)`` 0/1 layout's block columns by their nnz: rank ``r``
    owns block columns ``bounds[r]:bounds[r+1]`` (output features ``b·bounds[r]`` to ``b·bounds[r+1]``)."""
    return balanced_bounds(_dense_layout(layout).sum(axis=0, dtype=np.int64), parts)


def row_bounds(layout, parts: int) -> np.ndarray:
    """:func:`balanced_bounds` of a layout's block rows (input features) by their nnz."""
    return balanced_bounds(_dense_layout(layout).sum(axis=1, dtype=np.int64), parts)


def block_indices(layout, rows=slice(None), cols=slice(None)) -> np.ndarray:
    """Indices, in the full layout's weight order (row-major over ``(c, k)``), of the blocks of the
    sub-layout ``layout[rows, cols]``, listed in the sub-layout's own weight order.

    So ``w[block_indices(layout, cols=slice(k0, k1))]`` is the ``(nnz', b, b)`` weight of a plan over
    ``layout[:, k0:k1]``, and assigning to that index puts a shard's weight back into the full one."""
    lay = _dense_layout(layout)
    index = np.full(lay.shape, -1, dtype=np.int64)
    index[lay != 0] = np.arange(int(lay.sum()), dtype=np.int64)
    sub = index[rows, cols]
    return np.ascontiguousarray(sub[sub >= 0])
