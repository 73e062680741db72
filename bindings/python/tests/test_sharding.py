"""blocksparse.sharding: nnz-balanced contiguous ranges of block columns/rows, and the weight blocks of a
sub-layout. The partition is checked against an exhaustive search over every split of small inputs."""
import itertools

import numpy as np
import pytest

import blocksparse as bs
from blocksparse import sharding
from bsref import fresh_rng


def optimum(counts, parts):
    """(largest range total, widest range) minimised lexicographically over every contiguous split."""
    n = len(counts)
    prefix = np.concatenate(([0], np.cumsum(counts)))
    best = None
    for cuts in itertools.combinations_with_replacement(range(n + 1), parts - 1):
        b = (0, *cuts, n)
        cost = (max(prefix[b[i + 1]] - prefix[b[i]] for i in range(parts)), max(b[i + 1] - b[i] for i in range(parts)))
        best = cost if best is None or cost < best else best
    return best


def range_sums(counts, bounds):
    prefix = np.concatenate(([0], np.cumsum(counts)))
    return prefix[bounds[1:]] - prefix[bounds[:-1]]


def check_bounds(bounds, n, parts):
    assert bounds.dtype == np.int64 and bounds.shape == (parts + 1,)
    assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) >= 0)
    if n >= parts:
        assert np.all(np.diff(bounds) >= 1), "every rank gets a range when there are enough items"


@pytest.mark.parametrize("parts", [1, 2, 3, 4])
def test_bounds_are_optimal_against_exhaustive_search(parts):
    rng = fresh_rng()
    for _ in range(60):
        n = int(rng.integers(1, 9))
        # Skewed counts: mostly light columns, a few heavy ones, some empty.
        counts = rng.integers(0, 3, n) + (rng.random(n) < 0.2) * rng.integers(5, 30, n)
        bounds = sharding.balanced_bounds(counts, parts)
        check_bounds(bounds, n, parts)
        got = (int(range_sums(counts, bounds).max()), int(np.diff(bounds).max()))
        assert got == optimum(counts, parts), (counts.tolist(), bounds.tolist())


def test_balanced_by_nnz_not_by_count():
    counts = np.array([40, 40, 1, 1, 1, 1, 1, 1, 1, 1])  # two dense columns first
    bounds = sharding.balanced_bounds(counts, 2)
    assert bounds.tolist() == [0, 1, 10]  # nnz 40 / 48; five columns each would give 84 / 4


def test_more_parts_than_items_and_empty_columns():
    check_bounds(b := sharding.balanced_bounds([3, 0, 2], 5), 3, 5)
    assert b.tolist() == [0, 1, 2, 3, 3, 3]
    assert sharding.balanced_bounds([0, 0, 0, 0], 2).tolist() == [0, 2, 4]
    assert sharding.balanced_bounds([], 3).tolist() == [0, 0, 0, 0]
    assert sharding.balanced_bounds([5], 1).tolist() == [0, 1]


def test_large_layout_is_fast_and_balanced():
    rng = fresh_rng()
    layout = bs_random_skewed(rng, 256, 1024)
    counts = layout.sum(axis=0)
    for parts in (2, 8, 64):
        bounds = sharding.column_bounds(layout, parts)
        check_bounds(bounds, 1024, parts)
        sums = range_sums(counts, bounds)
        # Never worse than the heaviest column or the mean plus one column.
        assert sums.max() <= max(counts.max(), counts.sum() / parts + counts.max())


def bs_random_skewed(rng, CB, KB):
    lay = (rng.random((CB, KB)) < 0.05).astype(np.uint8)
    lay[:, rng.integers(KB, size=KB // 32)] = 1  # dense columns
    return lay


def test_row_and_column_bounds_use_the_layout_axis():
    lay = np.zeros((4, 6), dtype=np.uint8)
    lay[:, 0] = 1
    lay[0, :] = 1
    assert sharding.column_bounds(lay, 2).tolist() == sharding.balanced_bounds(lay.sum(axis=0), 2).tolist()
    assert sharding.row_bounds(lay, 2).tolist() == sharding.balanced_bounds(lay.sum(axis=1), 2).tolist()


def test_block_indices_select_the_plan_weights_of_a_sub_layout():
    rng = fresh_rng()
    lay = (rng.random((5, 7)) < 0.5).astype(np.uint8)
    lay[0, 0] = lay[4, 6] = 1
    full = bs.BlocksparseMatMul(lay, block_size=8)
    w = rng.standard_normal(full.w_shape).astype(np.float32)
    pieces = []
    for rows, cols in ((slice(None), slice(2, 5)), (slice(1, 4), slice(None)), (slice(0, 2), slice(3, 7))):
        sub = lay[rows, cols]
        idx = sharding.block_indices(lay, rows, cols)
        assert idx.dtype == np.int64 and idx.size == sub.sum()
        if sub.sum():
            part = bs.BlocksparseMatMul(sub, block_size=8)
            dense = full.to_dense(w).reshape(5, 8, 7, 8)[rows, :, cols, :]
            assert np.array_equal(part.to_dense(w[idx]), dense.reshape(part.C, part.K))
        pieces.append(idx)
    # Column ranges cover every block exactly once.
    cover = np.concatenate([sharding.block_indices(lay, cols=slice(a, b)) for a, b in ((0, 3), (3, 4), (4, 7))])
    assert np.array_equal(np.sort(cover), np.arange(full.nnz))


def test_bad_input():
    with pytest.raises(bs.BlocksparseError, match="parts"):
        sharding.balanced_bounds([1, 2], 0)
    with pytest.raises(bs.BlocksparseError, match="non-negative integers"):
        sharding.balanced_bounds([1, -2], 2)
    with pytest.raises(bs.BlocksparseError, match="non-negative integers"):
        sharding.balanced_bounds([1.5, 2.0], 2)
    with pytest.raises(bs.BlocksparseError, match="non-negative integers"):
        sharding.balanced_bounds([[1, 2]], 2)
    with pytest.raises(bs.BlocksparseError, match="INVALID_LAYOUT"):
        sharding.column_bounds([[0, 2]], 2)
    with pytest.raises(bs.BlocksparseError, match="SHAPE_MISMATCH"):
        sharding.block_indices([1, 0, 1])
