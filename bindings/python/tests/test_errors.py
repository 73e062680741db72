"""Bad input raises BlocksparseError with the right status and a clear message, and leaves every
output untouched."""
import numpy as np
import pytest

import blocksparse as bs
from blocksparse import Status
from bsref import fresh_rng, random, random_layout


def expect_error(status, match, fn, *args, **kwargs):
    with pytest.raises(bs.BlocksparseError) as info:
        fn(*args, **kwargs)
    e = info.value
    assert e.status == status and e.status.name == status.name
    assert e.status_name == "BS_STATUS_" + status.name
    assert match in e.message, e.message
    assert e.status_name in str(e) and match in str(e)
    if 1 <= status < 100:
        assert isinstance(e, bs.InvalidArgumentError) and isinstance(e, ValueError)
    elif 100 <= status < 200:
        assert isinstance(e, bs.UnsupportedError)
    return e


@pytest.fixture
def setup():
    rng = fresh_rng()
    bsmm = bs.BlocksparseMatMul(random_layout(rng, 3, 4), block_size=8)
    x = random(rng, bsmm.i_shape(5), "float32")
    w = random(rng, bsmm.w_shape, "float32")
    return rng, bsmm, x, w


# -- plan creation --------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, status, match", [
    (np.zeros((3, 3)), Status.INVALID_LAYOUT, "bsmm_create: layout has no nonzero block"),
    (np.array([[1, 2], [0, 1]]), Status.INVALID_LAYOUT, "layout[0][1] is 2"),
    (np.array([[1, 0.5]]), Status.INVALID_LAYOUT, "values must be 0 or 1"),
    (np.array([[1, -1]]), Status.INVALID_LAYOUT, "values must be 0 or 1"),
    (np.ones(4), Status.SHAPE_MISMATCH, "2-D (CB, KB)"),
])
def test_bad_layout(layout, status, match):
    expect_error(status, match, bs.BlocksparseMatMul, layout)


@pytest.mark.parametrize("kwargs, status, match", [
    ({"block_size": 12}, Status.INVALID_VALUE, "bsmm_create: params->block_size must be 8, 16, 32, 64 or 128"),
    ({"feature_axis": 2}, Status.INVALID_VALUE, "feature_axis must be 0 or 1"),
    ({"num_threads": -1}, Status.INVALID_VALUE, "num_threads must be >= 0"),
    ({"device": 1}, Status.INVALID_VALUE, "device must be 0 for CPU plans"),
    ({"dtype": "float64"}, Status.INVALID_VALUE, "dtype must be one of"),
    ({"dtype": np.int32}, Status.INVALID_VALUE, "dtype must be one of"),
    ({"backend": "tpu"}, Status.INVALID_VALUE, "backend must be one of"),
    ({"math": "fast"}, Status.INVALID_VALUE, "math must be one of"),
])
def test_bad_plan_options(kwargs, status, match):
    expect_error(status, match, bs.BlocksparseMatMul, np.ones((2, 2)), **kwargs)


def test_cuda_without_gpu():
    if bs.device_count("cuda") > 0:
        pytest.skip("a GPU is present: CUDA plans are tested in test_bsmm_cuda.py")
    expect_error(Status.BACKEND_UNAVAILABLE, "bsmm_create", bs.BlocksparseMatMul, np.ones((2, 2)), backend="cuda")


@pytest.mark.parametrize("row_ptr, col_idx, status, match", [
    ([0, 2, 3], [1, 0, 2], Status.INVALID_LAYOUT, "strictly increasing"),
    ([0, 2, 3], [0, 0, 2], Status.INVALID_LAYOUT, "strictly increasing"),
    ([0, 1, 2], [0, 5], Status.INVALID_LAYOUT, "is outside [0, 3)"),
    ([0, 3, 2, 3], [0, 1, 2], Status.INVALID_LAYOUT, "row_ptr decreases at row 1"),
    ([1, 2, 2], [0, 1], Status.INVALID_LAYOUT, "row_ptr[0] must be 0"),
    ([0, 1, 3], [0, 1], Status.INVALID_LAYOUT, "row_ptr must end with len(col_idx)"),
    ([[0, 1]], [0], Status.SHAPE_MISMATCH, "must be 1-D"),
])
def test_bad_bsr(row_ptr, col_idx, status, match):
    expect_error(status, match, bs.BlocksparseMatMul.from_bsr, row_ptr, col_idx, 3, block_size=8)


# -- execution: every failure leaves the outputs untouched ----------------------------------------

def test_outputs_untouched_on_failure(setup):
    rng, bsmm, x, w = setup
    y = random(rng, bsmm.o_shape(5), "float32")
    before = y.copy()
    cases = [
        (Status.INVALID_VALUE, "bsmm_fprop: alpha must be finite", dict(alpha=float("nan"))),
        (Status.INVALID_VALUE, "bsmm_fprop: beta must be finite", dict(beta=float("inf"))),
        (Status.SHAPE_MISMATCH, "gate has shape (2,)", dict(gate=[1.0, 2.0])),
    ]
    for status, match, kw in cases:
        expect_error(status, match, bsmm.fprop, x, w, out=y, **kw)
        assert np.array_equal(y.view(np.uint32), before.view(np.uint32))
    dw = random(rng, bsmm.w_shape, "float32")
    dw0 = dw.copy()
    expect_error(Status.INVALID_VALUE, "bsmm_updat: alpha must be finite", bsmm.updat, x, y, dw=dw,
                 alpha=float("nan"))
    assert np.array_equal(dw.view(np.uint32), dw0.view(np.uint32))


@pytest.mark.parametrize("op", ["fprop", "bprop"])
def test_bad_activation(setup, op):
    rng, bsmm, x, w = setup
    call = getattr(bsmm, op)
    good = x if op == "fprop" else random(rng, bsmm.o_shape(5), "float32")
    name = "x" if op == "fprop" else "dy"
    expect_error(Status.SHAPE_MISMATCH, f"{name} has shape (5, 3)", call, np.zeros((5, 3), np.float32), w)
    expect_error(Status.SHAPE_MISMATCH, "at least 2 dimensions", call, np.zeros(good.shape[1], np.float32), w)
    expect_error(Status.INVALID_VALUE, f"{name} has dtype float64 but this plan's dtype is float32", call,
                 good.astype(np.float64), w)
    expect_error(Status.INVALID_VALUE, f"{name} is not C-contiguous", call, np.asfortranarray(good), w)
    wide = np.zeros((good.shape[0], 2 * good.shape[1]), np.float32)
    expect_error(Status.INVALID_VALUE, "not C-contiguous", call, wide[:, ::2], w)
    expect_error(Status.INVALID_VALUE, "must be a numpy.ndarray", call, good.tolist(), w)
    expect_error(Status.SHAPE_MISMATCH, "w has shape", call, good, w[:-1])
    expect_error(Status.INVALID_VALUE, "w has dtype float16", call, good, w.astype(np.float16))
    out_name = "y" if op == "fprop" else "dx"
    other = bsmm.o_shape(5) if op == "fprop" else bsmm.i_shape(5)
    expect_error(Status.SHAPE_MISMATCH, f"{out_name} has shape", call, good, w,
                 out=np.zeros((other[0] + 1, other[1]), np.float32))
    ro = np.zeros(other, np.float32)
    ro.flags.writeable = False
    expect_error(Status.INVALID_VALUE, f"{out_name} is read-only", call, good, w, out=ro)
    expect_error(Status.INVALID_VALUE, "accumulates into", call, good, w, beta=1.0)


def test_misaligned_pointer_from_library():
    rng = fresh_rng()
    bsmm = bs.BlocksparseMatMul(np.ones((1, 1)), block_size=8, dtype="float16")
    raw = np.zeros(bsmm.C * 3 * 2 + 1, np.uint8)
    x = np.frombuffer(raw.data, dtype=np.float16, count=bsmm.C * 3, offset=1).reshape(3, bsmm.C)
    assert x.ctypes.data % 2 == 1 and x.flags.c_contiguous
    w = random(rng, bsmm.w_shape, "float16")
    expect_error(Status.MISALIGNED_POINTER, "bsmm_fprop", bsmm.fprop, x, w)


def test_bad_updat(setup):
    rng, bsmm, x, w = setup
    dy = random(rng, bsmm.o_shape(5), "float32")
    expect_error(Status.SHAPE_MISMATCH, "as many arrays", bsmm.updat, [x, x], [dy])
    expect_error(Status.SHAPE_MISMATCH, "as many arrays", bsmm.updat, [], [])
    expect_error(Status.SHAPE_MISMATCH, "x[1] has shape", bsmm.updat, [x, x[:3].copy()], [dy, dy])
    expect_error(Status.SHAPE_MISMATCH, "dy has shape", bsmm.updat, x, dy[:4].copy())
    expect_error(Status.SHAPE_MISMATCH, "dw has shape", bsmm.updat, x, dy, dw=np.zeros((1, 8, 8), np.float32))
    expect_error(Status.INVALID_VALUE, "dy[1] has dtype float16", bsmm.updat, [x, x], [dy, dy.astype(np.float16)])


def test_bad_helpers(setup):
    rng, bsmm, x, w = setup
    expect_error(Status.INVALID_VALUE, "bsmm_block_coord: block must be in [0,", bsmm.block_coord, bsmm.nnz)
    expect_error(Status.INVALID_VALUE, "bsmm_block_coord", bsmm.block_coord, -1)
    expect_error(Status.INVALID_VALUE, "bsmm_get_input_shape: N must be >= 0", bsmm.i_shape, -1)
    expect_error(Status.INVALID_VALUE, "bsmm_l2_normalize: epsilon must be >= 0", bsmm.l2_normalize, w, epsilon=-1.0)
    expect_error(Status.SHAPE_MISMATCH, "gain has shape", bsmm.l2_normalize, w, gain=np.ones(3))
    expect_error(Status.INVALID_VALUE, "dgain must be None", bsmm.l2_normalize_grad, w, w, dgain=np.ones(bsmm.K))
    expect_error(Status.INVALID_VALUE, "dgain must be a writable contiguous float32", bsmm.l2_normalize_grad, w, w,
                 gain=np.ones(bsmm.K), dgain=np.ones(bsmm.K))
    expect_error(Status.INVALID_VALUE, "bsmm_identity_init: scale must be finite", bsmm.identity_init, float("nan"))


def test_bf16_needs_flag_for_uint16():
    rng = fresh_rng()
    bsmm = bs.BlocksparseMatMul(np.ones((1, 1)), block_size=8, dtype="bfloat16")
    x = np.zeros(bsmm.i_shape(2), np.uint16)
    w = np.zeros(bsmm.w_shape, np.uint16)
    expect_error(Status.INVALID_VALUE, "bf16_bits=True", bsmm.fprop, x, w)
    flagged = bs.BlocksparseMatMul(np.ones((1, 1)), block_size=8, dtype="bfloat16", bf16_bits=True)
    assert flagged.fprop(bs.float32_to_bf16_bits(rng.standard_normal(x.shape)), w).dtype == np.uint16
