"""Numerics of BlocksparseMatMul on the CPU backend against float64 NumPy references."""
import threading

import numpy as np
import pytest

import blocksparse as bs
from bsref import (BOUNDS, DTYPES, Guarded, as_nf, dense64, fresh_rng, from_nf, plan_kwargs, random,
                   random_layout, ref_l2, ref_l2_grad, ref_updat, rel_err, to_f64, to_storage)

AXES = [0, 1]
BLOCKS = [8, 32, 64]


def act_shape(bsmm, N, features, axis):
    return (N, features) if axis == 1 else (features, N)


def make(rng, kind, axis, b, CB=3, KB=4, layout=None, **kw):
    lay = random_layout(rng, CB, KB) if layout is None else layout
    return bs.BlocksparseMatMul(lay, block_size=b, feature_axis=axis, **plan_kwargs(kind), **kw)


def run_xprop(rng, bsmm, kind, axis, N, bprop=False, gate=None):
    """Runs fprop or bprop into a guarded NaN output; checks it against the float64 reference."""
    in_f, out_f = (bsmm.K, bsmm.C) if bprop else (bsmm.C, bsmm.K)
    x = random(rng, act_shape(bsmm, N, in_f, axis), kind)
    w = random(rng, bsmm.w_shape, kind)
    out = Guarded(act_shape(bsmm, N, out_f, axis), kind)
    op = bsmm.bprop if bprop else bsmm.fprop
    got = op(x, w, out=out.array, gate=gate)
    assert got is out.array
    assert out.guards_intact()
    W = dense64(bsmm, to_f64(w, kind), gate)
    ref = as_nf(to_f64(x, kind), axis) @ (W.T if bprop else W)
    assert rel_err(as_nf(to_f64(got, kind), axis), ref) <= BOUNDS[kind]
    return got


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("b", BLOCKS)
@pytest.mark.parametrize("op", ["fprop", "bprop"])
def test_xprop(kind, axis, b, op):
    rng = fresh_rng()
    bsmm = make(rng, kind, axis, b)
    run_xprop(rng, bsmm, kind, axis, N=37, bprop=(op == "bprop"))


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("b", BLOCKS)
def test_updat(kind, axis, b):
    rng = fresh_rng()
    bsmm = make(rng, kind, axis, b)
    N = 41
    x = random(rng, bsmm.i_shape(N), kind)
    dy = random(rng, bsmm.o_shape(N), kind)
    dw = Guarded(bsmm.w_shape, kind)
    got = bsmm.updat(x, dy, dw=dw.array)
    assert got is dw.array and dw.guards_intact()
    ref = ref_updat(bsmm, [to_f64(x, kind)], [to_f64(dy, kind)], axis)
    assert rel_err(to_f64(got, kind), ref) <= BOUNDS[kind]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("N", [1, 2, 63, 64, 65, 131])
def test_minibatch_sizes(axis, N):
    """N = 1 (the original failed on it), odd N and N around the CPU row tile (64)."""
    rng = fresh_rng()
    bsmm = make(rng, "float32", axis, 16)
    run_xprop(rng, bsmm, "float32", axis, N)
    run_xprop(rng, bsmm, "float32", axis, N, bprop=True)
    x, dy = random(rng, bsmm.i_shape(N), "float32"), random(rng, bsmm.o_shape(N), "float32")
    ref = ref_updat(bsmm, [x.astype(np.float64)], [dy.astype(np.float64)], axis)
    assert rel_err(bsmm.updat(x, dy), ref) <= 1e-5


@pytest.mark.parametrize("axis", AXES)
def test_empty_minibatch(axis):
    rng = fresh_rng()
    bsmm = make(rng, "float32", axis, 8)
    w = random(rng, bsmm.w_shape, "float32")
    y = bsmm.fprop(np.empty(bsmm.i_shape(0), np.float32), w)
    assert y.shape == bsmm.o_shape(0)
    dx = bsmm.bprop(np.empty(bsmm.o_shape(0), np.float32), w)
    assert dx.shape == bsmm.i_shape(0)
    # N = 0: the sum over the minibatch is empty, so dW = beta·dW.
    dw = Guarded(bsmm.w_shape, "float32")
    bsmm.updat(np.empty(bsmm.i_shape(0), np.float32), np.empty(bsmm.o_shape(0), np.float32), dw=dw.array)
    assert np.all(dw.array == 0) and dw.guards_intact()
    dw0 = random(rng, bsmm.w_shape, "float32")
    dw1 = dw0.copy()
    bsmm.updat(np.empty(bsmm.i_shape(0), np.float32), np.empty(bsmm.o_shape(0), np.float32), dw=dw1, beta=0.5)
    assert np.array_equal(dw1, dw0 * np.float32(0.5))


@pytest.mark.parametrize("axis", AXES)
def test_higher_rank_activations(axis):
    """N is every dimension but the feature dimension (last for axis 1, first for axis 0)."""
    rng = fresh_rng()
    bsmm = make(rng, "float32", axis, 16)
    shape = (2, 5, bsmm.C) if axis == 1 else (bsmm.C, 2, 5)
    x = random(rng, shape, "float32")
    w = random(rng, bsmm.w_shape, "float32")
    y = bsmm(x, w)
    assert y.shape == ((2, 5, bsmm.K) if axis == 1 else (bsmm.K, 2, 5))
    ref = as_nf(x.astype(np.float64), axis) @ dense64(bsmm, w.astype(np.float64))
    assert rel_err(as_nf(y, axis), ref) <= 1e-5
    dy = random(rng, y.shape, "float32")
    assert bsmm.bprop(dy, w).shape == shape
    ref_dw = ref_updat(bsmm, [x.astype(np.float64)], [dy.astype(np.float64)], axis)
    assert rel_err(bsmm.updat(x, dy), ref_dw) <= 1e-5


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_empty_rows_and_columns(kind, axis):
    """Output blocks with no input block give zeros (beta = 0) or keep beta·y."""
    rng = fresh_rng()
    lay = np.array([[1, 0, 1, 0], [0, 0, 1, 0], [1, 0, 0, 0]], dtype=np.uint8)  # column 1, 3 empty
    lay[:, 3] = 0
    lay = np.vstack([lay, np.zeros((1, 4), np.uint8)])  # input block row 3 empty
    bsmm = make(rng, kind, axis, 16, layout=lay)
    y = run_xprop(rng, bsmm, kind, axis, N=19)
    y_nf = as_nf(to_f64(y, kind), axis)
    assert np.all(y_nf[:, 16:32] == 0) and np.all(y_nf[:, 48:64] == 0)
    dx = run_xprop(rng, bsmm, kind, axis, N=19, bprop=True)
    assert np.all(as_nf(to_f64(dx, kind), axis)[:, 48:64] == 0)
    # beta = 1 keeps what was in the empty columns
    x = random(rng, bsmm.i_shape(7), kind)
    w = random(rng, bsmm.w_shape, kind)
    y0 = random(rng, bsmm.o_shape(7), kind)
    y1 = bsmm.fprop(x, w, out=y0.copy(), beta=1.0)
    cols = lambda a: as_nf(to_f64(a, kind), axis)[:, 16:32]  # noqa: E731
    assert np.array_equal(cols(y1), cols(y0))


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_alpha_beta(kind, axis):
    rng = fresh_rng()
    bsmm = make(rng, kind, axis, 16)
    alpha, beta, N = -1.25, 0.75, 23
    x, w = random(rng, bsmm.i_shape(N), kind), random(rng, bsmm.w_shape, kind)
    y0 = random(rng, bsmm.o_shape(N), kind)
    y = bsmm.fprop(x, w, out=y0.copy(), alpha=alpha, beta=beta)
    W = dense64(bsmm, to_f64(w, kind))
    ref = alpha * as_nf(to_f64(x, kind), axis) @ W + beta * as_nf(to_f64(y0, kind), axis)
    assert rel_err(as_nf(to_f64(y, kind), axis), ref) <= BOUNDS[kind]
    dx0 = random(rng, bsmm.i_shape(N), kind)
    dy = random(rng, bsmm.o_shape(N), kind)
    dx = bsmm.bprop(dy, w, out=dx0.copy(), alpha=alpha, beta=beta)
    ref = alpha * as_nf(to_f64(dy, kind), axis) @ W.T + beta * as_nf(to_f64(dx0, kind), axis)
    assert rel_err(as_nf(to_f64(dx, kind), axis), ref) <= BOUNDS[kind]
    dw0 = random(rng, bsmm.w_shape, kind)
    dw = bsmm.updat(x, y0, dw=dw0.copy(), alpha=alpha, beta=beta)
    ref = alpha * ref_updat(bsmm, [to_f64(x, kind)], [to_f64(y0, kind)], axis) + beta * to_f64(dw0, kind)
    assert rel_err(to_f64(dw, kind), ref) <= BOUNDS[kind]


@pytest.mark.parametrize("kind", ["float32", "bf16bits"])
@pytest.mark.parametrize("axis", AXES)
def test_gates(kind, axis):
    """Block i's term is scaled by gate[i]; a zero gate skips the block (even a NaN block)."""
    rng = fresh_rng()
    bsmm = make(rng, kind, axis, 8, CB=4, KB=4, layout=np.ones((4, 4), np.uint8))
    gate = rng.uniform(0.5, 1.5, bsmm.nnz).astype(np.float32)
    gate[::3] = 0.0
    run_xprop(rng, bsmm, kind, axis, N=29, gate=gate)
    run_xprop(rng, bsmm, kind, axis, N=29, bprop=True, gate=list(gate))  # any float sequence is accepted
    x, w = random(rng, bsmm.i_shape(29), kind), random(rng, bsmm.w_shape, kind)
    w_nan = w.copy()
    w_nan[0] = to_storage(np.full((8, 8), np.nan), kind)
    y = bsmm.fprop(x, w_nan, gate=gate)
    ref = as_nf(to_f64(x, kind), axis) @ dense64(bsmm, to_f64(w, kind), gate)
    assert rel_err(as_nf(to_f64(y, kind), axis), ref) <= BOUNDS[kind]
    dy = random(rng, bsmm.o_shape(29), kind)
    dw = Guarded(bsmm.w_shape, kind)
    bsmm.updat(x, dy, dw=dw.array, gate=gate)
    ref = ref_updat(bsmm, [to_f64(x, kind)], [to_f64(dy, kind)], axis) * gate[:, None, None]
    assert rel_err(to_f64(dw.array, kind), ref) <= BOUNDS[kind] and dw.guards_intact()
    assert np.all(to_f64(dw.array, kind)[gate == 0] == 0)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_updat_pairs(kind, axis):
    """Several (x, dy) pairs are summed in one call (group_param_grads)."""
    rng = fresh_rng()
    bsmm = make(rng, kind, axis, 16)
    N, P = 13, 3
    xs = [random(rng, bsmm.i_shape(N), kind) for _ in range(P)]
    dys = [random(rng, bsmm.o_shape(N), kind) for _ in range(P)]
    dw = Guarded(bsmm.w_shape, kind)
    bsmm.updat(xs, tuple(dys), dw=dw.array)
    ref = ref_updat(bsmm, [to_f64(a, kind) for a in xs], [to_f64(a, kind) for a in dys], axis)
    assert rel_err(to_f64(dw.array, kind), ref) <= BOUNDS[kind] and dw.guards_intact()


@pytest.mark.parametrize("layout", ["full", "one_block", "skewed", "wide", "tall"])
def test_layout_shapes(layout):
    rng = fresh_rng()
    lay = {
        "full": np.ones((3, 3)),
        "one_block": np.ones((1, 1)),
        "skewed": np.eye(6) + np.pad(np.ones((6, 1)), ((0, 0), (2, 3))),  # one very dense column
        "wide": random_layout(rng, 1, 7),
        "tall": random_layout(rng, 7, 1),
    }[layout]
    lay = np.minimum(lay, 1)
    for axis in AXES:
        bsmm = make(rng, "float32", axis, 16, layout=lay)
        run_xprop(rng, bsmm, "float32", axis, N=17)
        run_xprop(rng, bsmm, "float32", axis, N=17, bprop=True)


def test_block_size_128():
    rng = fresh_rng()
    bsmm = make(rng, "float32", 1, 128, CB=2, KB=2)
    run_xprop(rng, bsmm, "float32", 1, N=9)


def test_plan_attributes():
    rng = fresh_rng()
    lay = random_layout(rng, 3, 5)
    bsmm = bs.BlocksparseMatMul(lay, block_size=16, feature_axis=0, dtype="float16", num_threads=1)
    assert (bsmm.CB, bsmm.KB, bsmm.C, bsmm.K) == (3, 5, 48, 80)
    assert bsmm.nnz == bsmm.blocks == int(lay.sum())
    assert bsmm.w_shape == (bsmm.nnz, 16, 16)
    assert bsmm.i_shape(7) == (48, 7) and bsmm.o_shape(7) == (80, 7)
    assert bsmm.dtype is bs.DType.FLOAT16 and bsmm.backend is bs.Backend.CPU
    assert bsmm.feature_axis == 0 and bsmm.num_threads == 1 and bsmm.math is bs.MathMode.DEFAULT
    assert np.array_equal(bsmm.layout, lay)
    # blocks in row-major order of (c, k): exactly the order of numpy.nonzero on the layout
    c, k = np.nonzero(lay)
    assert [bsmm.block_coord(i) for i in range(bsmm.nnz)] == list(zip(c.tolist(), k.tolist()))
    assert bsmm.workspace_size("fprop", 64) >= 0 and bsmm.workspace_size(bs.Op.UPDAT, 1) >= 0
    assert "nnz=" in repr(bsmm)


def test_bsr_and_scipy_interop():
    """W is the data array of a BSR matrix of shape (C, K): SciPy's bsr_matrix.data works as is."""
    sp = pytest.importorskip("scipy.sparse")
    rng = fresh_rng()
    b, CB, KB = 16, 4, 3
    lay = random_layout(rng, CB, KB)
    dense = np.kron(lay, np.ones((b, b))) * rng.standard_normal((CB * b, KB * b))
    m = sp.bsr_matrix(dense.astype(np.float32), blocksize=(b, b))
    m.sort_indices()
    a = bs.BlocksparseMatMul.from_bsr_matrix(m)
    assert a.w_shape == m.data.shape and np.array_equal(a.layout, lay)
    x = random(rng, (11, a.C), "float32")
    assert rel_err(a(x, m.data), x.astype(np.float64) @ dense) <= 1e-5
    b2 = bs.BlocksparseMatMul.from_bsr(m.indptr, m.indices, KB, block_size=b)
    assert np.array_equal(b2.layout, lay)
    assert np.array_equal(a.from_dense(dense.astype(np.float32)), m.data)
    assert np.array_equal(a.to_dense(m.data), dense.astype(np.float32))


@pytest.mark.parametrize("kind", DTYPES)
def test_identity_init(kind):
    rng = fresh_rng()
    lay = np.maximum(random_layout(rng, 4, 4), np.eye(4, dtype=np.uint8))
    bsmm = bs.BlocksparseMatMul(lay, block_size=8, **plan_kwargs(kind))
    out = Guarded(bsmm.w_shape, kind)
    w = bsmm.identity_init(2.0, out=out.array)
    assert out.guards_intact()
    c, k = bsmm.block_coords()
    expect = np.where(((c % bsmm.KB) == (k % bsmm.CB))[:, None, None], 2.0 * np.eye(8), 0.0)
    assert np.array_equal(to_f64(w, kind), expect)
    x = random(rng, bsmm.i_shape(5), kind)
    assert np.array_equal(to_f64(bsmm(x, w), kind), 2.0 * to_f64(x, kind))
    assert to_f64(bsmm.identity_init(), kind).shape == bsmm.w_shape


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("with_gain", [False, True])
def test_l2_normalize(kind, with_gain):
    rng = fresh_rng()
    bsmm = make(rng, kind, 1, 8, CB=3, KB=3)
    w = random(rng, bsmm.w_shape, kind)
    w[bsmm.block_coords()[1] == 0, :, 0] = 0  # output feature 0 has an all-zero column: epsilon applies
    gain = rng.uniform(0.5, 2.0, bsmm.K).astype(np.float32) if with_gain else None
    eps = 1e-6
    y = Guarded(bsmm.w_shape, kind)
    bsmm.l2_normalize(w, gain=gain, epsilon=eps, out=y.array)
    assert y.guards_intact()
    assert rel_err(to_f64(y.array, kind), ref_l2(bsmm, to_f64(w, kind), gain, eps)) <= BOUNDS[kind]
    dy = random(rng, bsmm.w_shape, kind)
    dw = Guarded(bsmm.w_shape, kind)
    res = bsmm.l2_normalize_grad(dy, w, gain=gain, epsilon=eps, dw=dw.array)
    ref_dw, ref_dgain = ref_l2_grad(bsmm, to_f64(dy, kind), to_f64(w, kind), gain, eps)
    assert dw.guards_intact()
    assert rel_err(to_f64(dw.array, kind), ref_dw) <= BOUNDS[kind]
    if with_gain:
        assert res[0] is dw.array and res[1].dtype == np.float32
        assert rel_err(res[1], ref_dgain) <= BOUNDS[kind]
    else:
        assert res is dw.array
    # in place (out = w) is allowed
    w2 = w.copy()
    assert bsmm.l2_normalize(w2, gain=gain, epsilon=eps, out=w2) is w2
    assert np.array_equal(w2.view(np.uint8), y.array.view(np.uint8))


def test_l2_grad_reference_matches_finite_differences():
    """Validates the hand-derived float64 gradient used above against central differences."""
    rng = fresh_rng()
    bsmm = make(rng, "float32", 1, 8, CB=2, KB=2)
    w = rng.standard_normal(bsmm.w_shape)
    dy = rng.standard_normal(bsmm.w_shape)
    gain = rng.uniform(0.5, 2.0, bsmm.K)
    v = rng.standard_normal(bsmm.w_shape)
    h = 1e-6
    loss = lambda ww: float((dy * ref_l2(bsmm, ww, gain, 1e-12)).sum())  # noqa: E731
    fd = (loss(w + h * v) - loss(w - h * v)) / (2 * h)
    dw, dgain = ref_l2_grad(bsmm, dy, w, gain, 1e-12)
    assert abs(fd - float((dw * v).sum())) <= 1e-6 * max(1.0, abs(fd))
    gv = rng.standard_normal(bsmm.K)
    fd_g = (float((dy * ref_l2(bsmm, w, gain + h * gv, 1e-12)).sum())
            - float((dy * ref_l2(bsmm, w, gain - h * gv, 1e-12)).sum())) / (2 * h)
    assert abs(fd_g - float(dgain @ gv)) <= 1e-6 * max(1.0, abs(fd_g))


def test_deterministic_and_thread_safe():
    """One plan used from several threads gives bitwise the same results as one call."""
    rng = fresh_rng()
    bsmm = make(rng, "float32", 1, 32, CB=4, KB=4)
    x, w = random(rng, bsmm.i_shape(70), "float32"), random(rng, bsmm.w_shape, "float32")
    expect = bsmm(x, w)
    results = [None] * 4

    def work(i):
        results[i] = bsmm(x, w)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert np.array_equal(r, expect)


def test_close_and_context_manager():
    rng = fresh_rng()
    with make(rng, "float32", 1, 8) as bsmm:
        bsmm.fprop(random(rng, bsmm.i_shape(3), "float32"), random(rng, bsmm.w_shape, "float32"))
    with pytest.raises(bs.BlocksparseError) as e:
        bsmm.i_shape(3)
    assert "closed" in e.value.message
    bsmm.close()  # idempotent


def test_bf16_bits_roundtrip():
    """float32 → bfloat16 bits rounds to nearest even and agrees with ml_dtypes where installed."""
    vals = np.array([1.0, 1.00390625, 1.01171875, -2.5, 3.4e38, 1e-40, np.inf, -np.inf], np.float32)
    bits = bs.float32_to_bf16_bits(vals)
    assert bits.dtype == np.uint16
    assert bits[0] == 0x3F80 and bits[1] == 0x3F80 and bits[2] == 0x3F82  # ties to even
    assert np.isnan(bs.bf16_bits_to_float32(bs.float32_to_bf16_bits(np.float32(np.nan))))
    rng = fresh_rng()
    x = (rng.standard_normal(1000) * 10.0 ** rng.integers(-30, 30, 1000)).astype(np.float32)
    back = bs.bf16_bits_to_float32(bs.float32_to_bf16_bits(x))
    assert np.all(np.abs(back - x) <= np.abs(x) * 2.0 ** -8)
    try:
        import ml_dtypes
    except ImportError:
        return
    assert np.array_equal(bs.float32_to_bf16_bits(x), x.astype(ml_dtypes.bfloat16).view(np.uint16))
