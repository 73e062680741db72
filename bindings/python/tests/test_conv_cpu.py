"""bsconv on the CPU backend against float64 references built with torch (a dense filter that is the
sum of the blocks' filters scattered to their channels), and bad input."""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as tF  # noqa: E402

from blocksparse.conv import BlocksparseConv  # noqa: E402
from blocksparse.errors import BlocksparseError  # noqa: E402

try:
    import ml_dtypes
    DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16]
except ImportError:  # pragma: no cover
    DTYPES = [np.float32, np.float16]
BOUND = {"float32": 1e-5, "float16": 1e-2, "bfloat16": 1e-2}

RNG = np.random.default_rng()


def rnd(shape, dtype):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32).astype(dtype)


def f64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def rel(out, ref):
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert np.all(np.isfinite(out)), "non-finite output"
    return np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-300)


def overlapping_blocks(C, K):
    """Non-uniform, non-contiguous, overlapping blocks (and one uncovered output channel)."""
    perm_c, perm_k = RNG.permutation(C), RNG.permutation(K - 1)
    return [[sorted(perm_c[:3].tolist()), perm_k[:2].tolist()],
            [perm_c[2:6].tolist(), perm_k[1:5].tolist()],
            [list(range(C)), [int(perm_k[-1])]]]


def dense_filter(conv, BCK, F, deconv):
    """(K, C, T, R, S) for conv, (C, K, T, R, S) for deconv (torch's weight orders)."""
    T = conv.f_shape(0)[2:]
    W = torch.zeros(((conv.C, conv.K) if deconv else (conv.K, conv.C)) + tuple(T), dtype=torch.float64)
    for b, (cs, ks) in enumerate(BCK):
        shape = conv.f_shape(b)
        off = conv.block_offset(b)
        blk = f64(F[off:off + int(np.prod(shape))].reshape(shape))
        rows, cols = (cs, ks) if deconv else (ks, cs)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                W[r, c] += blk[i, j]
    return W


def to5(a, last, rank):
    """Caller's rank -> NCDHW float64 tensor."""
    t = f64(a)
    if last:
        t = t.permute(0, t.dim() - 1, *range(1, t.dim() - 1))
    while t.dim() < 5:
        t = t.unsqueeze(2)
    return t


def from5(t, last, rank):
    t = t.reshape(t.shape[:2] + t.shape[5 - rank:])
    if last:
        t = t.permute(0, *range(2, t.dim()), 1)
    return t.contiguous().numpy()


def conv_ref(x5, W, stride, pad, dil):
    return tF.conv3d(x5, W, stride=stride, padding=pad, dilation=dil)


CASES = [  # (TRS, DHW, stride, dilation, padding, deconv)
    ((3,), (11,), 1, 1, "SAME", False),
    ((3, 3), (7, 6), 2, 1, "SAME", False),
    ((2, 3), (6, 7), 1, 2, "VALID", False),
    ((3, 3, 3), (4, 5, 4), 1, 1, (1, 0, 2), False),
    ((3, 3), (4, 5), 2, 1, "SAME", True),
    ((1, 3, 2), (3, 4, 5), (1, 2, 1), (1, 1, 2), "VALID", True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True])
def test_fprop_bprop_updat(case, dtype, last):
    TRS, DHW, stride, dil, padding, deconv = case
    C, K, N = 7, 6, 2
    BCK = overlapping_blocks(C, K)
    conv = BlocksparseConv(BCK, TRS, DHW, strides=stride, dilates=dil, padding=padding, deconv=deconv,
                           dtype=dtype, channels_last=last, C=C, K=K, num_threads=2)
    rank = len(DHW)
    pad = [conv.attr(10 + d) for d in range(3)]
    st = [1] * (3 - rank) + (list(stride) if isinstance(stride, tuple) else [stride] * rank)
    dl = [1] * (3 - rank) + (list(dil) if isinstance(dil, tuple) else [dil] * rank)
    x = rnd(conv.i_shape(N), dtype)
    F = rnd(conv.f_shape(), dtype)
    dy = rnd(conv.o_shape(N), dtype)
    W = dense_filter(conv, BCK, F, deconv).requires_grad_(True)
    x5 = to5(x, last, rank).requires_grad_(True)
    if deconv:
        out_sp = conv.o_shape(1)[1:-1] if last else conv.o_shape(1)[2:]
        out_sp = [1] * (3 - rank) + list(out_sp)
        y5 = torch.nn.grad.conv3d_input([N, K] + out_sp, W, x5, stride=st, padding=pad, dilation=dl)
    else:
        y5 = conv_ref(x5, W, st, pad, dl)
    dy5 = to5(dy, last, rank)
    gx, gW = torch.autograd.grad(y5, (x5, W), dy5)
    b = BOUND[np.dtype(dtype).name]
    y = conv.fprop(F, x, O=np.full(conv.o_shape(N), np.nan, dtype))  # poisoned: every element must be written
    assert rel(y, from5(y5.detach(), last, rank)) <= b
    # beta accumulates into the old contents
    y2 = conv.fprop(F, x, O=y.copy(), alpha=0.5, beta=2.0)
    assert rel(y2, 2.5 * from5(y5.detach(), last, rank)) <= 2 * b
    dx = conv.bprop(F, dy, B=np.full(conv.i_shape(N), np.nan, dtype))
    assert rel(dx, from5(gx, last, rank)) <= b
    dF = conv.updat(x, dy, U=np.full(conv.f_shape(), np.nan, dtype))
    ref = []
    for bi, (cs, ks) in enumerate(BCK):
        rows, cols = (cs, ks) if deconv else (ks, cs)
        ref.append(gW[rows][:, cols].reshape(-1).numpy())
    assert rel(dF, np.concatenate(ref)) <= b


def edge_reference(conv, deconv, TRS, pad, st, dl, out_sp, in_sp):
    """Entry per plan output position, first-occurrence order (restated from bsconv.h)."""
    def taps(d, o):
        s = set()
        for t in range(TRS[d]):
            if not deconv:
                xi = o * st[d] - pad[d] + t * dl[d]
                if xi < 0 or xi >= in_sp[d]:
                    s.add(t)
            else:
                q = o + pad[d] - t * dl[d]
                if q % st[d] == 0 and not (0 <= q // st[d] < in_sp[d]):
                    s.add(t)
        return frozenset(s)
    ids, ent = {}, []
    for pos in itertools.product(*[range(n) for n in out_sp]):
        key = tuple(taps(d, pos[d]) for d in range(3))
        if not any(key):
            ent.append(-1)
            continue
        ent.append(ids.setdefault(key, len(ids)))
    return np.array(ent), len(ids)


@pytest.mark.parametrize("deconv", [False, True])
@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_edge_bias(deconv, last, dtype):
    C, K, N = 3, 4, 2
    TRS, DHW = (1, 3, 3), (1, 5, 6)
    st, dl = (1, 2, 1), (1, 1, 2)
    conv = BlocksparseConv([[list(range(C)), list(range(K))]], TRS, DHW, strides=st, dilates=dl, padding="SAME",
                           deconv=deconv, dtype=dtype, channels_last=last)
    pad = [conv.attr(10 + d) for d in range(3)]
    o_full = conv.o_shape(1)
    out_sp = o_full[1:4] if last else o_full[2:5]
    i_full = conv.i_shape(1)
    # conv: taps index the conv input (plan input); deconv: the conv output (plan input) too
    in_sp = i_full[1:4] if last else i_full[2:5]
    ent, E = edge_reference(conv, deconv, TRS, pad, st, dl, out_sp, in_sp)
    assert conv.edge_entries == E and E > 0
    x = rnd(conv.o_shape(N), dtype)
    dy = rnd(conv.o_shape(N), dtype)
    g = RNG.uniform(0.5, 1.5, conv.edge_shape()).astype(np.float32)
    bb = RNG.uniform(-1, 1, conv.edge_shape()).astype(np.float32)
    # reference in (N, S, K) form
    xs = x.astype(np.float64).reshape(N, -1, K) if last else x.astype(np.float64).reshape(N, K, -1).transpose(0, 2, 1)
    dys = dy.astype(np.float64).reshape(N, -1, K) if last else dy.astype(np.float64).reshape(N, K, -1).transpose(0, 2, 1)
    gE = g if last else g.T
    bE = bb if last else bb.T
    y_ref, dx_ref = xs.copy(), dys.copy()
    dg_ref, db_ref = np.zeros((E, K)), np.zeros((E, K))
    for p, e in enumerate(ent):
        if e < 0:
            continue
        y_ref[:, p] = xs[:, p] * gE[e] + bE[e]
        dx_ref[:, p] = dys[:, p] * gE[e]
        dg_ref[e] += (dys[:, p] * xs[:, p]).sum(0)
        db_ref[e] += dys[:, p].sum(0)

    def back(a):
        return a.reshape(x.shape) if last else a.transpose(0, 2, 1).reshape(x.shape)
    bnd = BOUND[np.dtype(dtype).name]
    assert rel(conv.edge_bias(x, g, bb), back(y_ref)) <= bnd
    dx, dg, db = conv.edge_bias_grad(dy, x, g)
    assert rel(dx, back(dx_ref)) <= bnd
    assert rel(dg, dg_ref if last else dg_ref.T) <= 1e-5
    assert rel(db, db_ref if last else db_ref.T) <= 1e-5


@pytest.mark.parametrize("deconv", [False, True])
@pytest.mark.parametrize("gain", [False, True])
def test_l2_normalize(deconv, gain):
    C, K = 7, 6
    BCK = overlapping_blocks(C, K)
    conv = BlocksparseConv(BCK, (3, 2), (5, 5), deconv=deconv, C=C, K=K)
    F = rnd(conv.f_shape(), np.float32)
    dy = rnd(conv.f_shape(), np.float32)
    g = RNG.uniform(0.5, 2, K).astype(np.float32) if gain else None
    Ft = f64(F).requires_grad_(True)
    gt = f64(g).requires_grad_(True) if gain else None
    parts = []
    for b, (cs, ks) in enumerate(BCK):
        shape = conv.f_shape(b)
        off = conv.block_offset(b)
        blk = Ft[off:off + int(np.prod(shape))].reshape(shape)
        if deconv:  # (C_b, K_b, taps): normalise over C_b and taps per plan output channel k
            nrm = blk.pow(2).sum(dim=(0, 2, 3, 4), keepdim=True).clamp_min(1e-12).sqrt()
            y = blk / nrm
            if gain:
                y = y * gt[ks].reshape(1, -1, 1, 1, 1)
        else:
            nrm = blk.pow(2).sum(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-12).sqrt()
            y = blk / nrm
            if gain:
                y = y * gt[ks].reshape(-1, 1, 1, 1, 1)
        parts.append(y.reshape(-1))
    yref = torch.cat(parts)
    grads = torch.autograd.grad(yref, (Ft, gt) if gain else (Ft,), f64(dy))
    assert rel(conv.l2_normalize(F, g), yref.detach().numpy()) <= 1e-5
    df, dg = conv.l2_normalize_grad(dy, F, g)
    assert rel(df, grads[0].numpy()) <= 1e-5
    if gain:
        assert rel(dg, grads[1].numpy()) <= 1e-5


def test_deterministic_across_threads():
    BCK = overlapping_blocks(7, 6)
    a = BlocksparseConv(BCK, (3, 3), (6, 6), C=7, K=6, num_threads=1)
    b = BlocksparseConv(BCK, (3, 3), (6, 6), C=7, K=6, num_threads=2)
    x, F, dy = rnd(a.i_shape(3), np.float32), rnd(a.f_shape(), np.float32), rnd(a.o_shape(3), np.float32)
    assert a.fprop(F, x).tobytes() == b.fprop(F, x).tobytes()
    assert a.bprop(F, dy).tobytes() == b.bprop(F, dy).tobytes()
    assert a.updat(x, dy).tobytes() == b.updat(x, dy).tobytes()


@pytest.mark.parametrize("kwargs, BCK", [
    (dict(), [[[0, 0], [1]]]),               # duplicated input channel inside a block
    (dict(), [[[], [1]]]),                   # empty block
    (dict(C=2), [[[0, 2], [0]]]),            # channel out of range
    (dict(TRS=(5,), DHW=(3,), padding="VALID"), [[[0], [0]]]),  # filter larger than input
    (dict(MPQ=(9,)), [[[0], [0]]]),          # output size that does not agree
    (dict(DHW=(2 ** 40, 2 ** 40, 2 ** 40)), [[[0], [0]]]),  # overflowing shape
    (dict(strides=0), [[[0], [0]]]),         # bad stride
])
def test_bad_create(kwargs, BCK):
    args = dict(TRS=(3,), DHW=(8,))
    args.update(kwargs)
    with pytest.raises(BlocksparseError):
        BlocksparseConv(BCK, **args)


def test_bad_execute_writes_nothing():
    import ctypes
    from blocksparse import conv as m
    c = BlocksparseConv([[[0, 1], [0, 1, 2]]], (3,), (8,))
    x, F = rnd(c.i_shape(2), np.float32), rnd(c.f_shape(), np.float32)
    y = np.full(c.o_shape(2), 7.0, np.float32)
    lib = m._lib()
    P = m._ptr
    assert lib.bsconv_fprop(c._plan, 2, None, P(F), P(y), 1.0, 0.0, None, 0, None) == 1  # NULL x
    assert lib.bsconv_fprop(c._plan, -1, P(x), P(F), P(y), 1.0, 0.0, None, 0, None) == 2  # N < 0
    assert lib.bsconv_fprop(c._plan, 2, P(x), P(F), P(y), float("nan"), 0.0, None, 0, None) == 2
    assert lib.bsconv_fprop(c._plan, 2 ** 62, P(x), P(F), P(y), 1.0, 0.0, None, 0, None) == 4  # overflow
    mis = ctypes.c_void_p(x.ctypes.data + 1)
    assert lib.bsconv_fprop(c._plan, 2, mis, P(F), P(y), 1.0, 0.0, None, 0, None) == 7  # misaligned
    assert lib.bsconv_fprop(None, 2, P(x), P(F), P(y), 1.0, 0.0, None, 0, None) == 1
    assert lib.bsconv_get_attr(c._plan, 999, ctypes.byref(ctypes.c_int64())) == 2
    assert lib.bsconv_get_workspace_size(c._plan, 99, 1, ctypes.byref(ctypes.c_size_t())) == 2
    assert lib.bsconv_get_block(c._plan, 5, ctypes.byref(ctypes.c_int64()), (ctypes.c_int64 * 5)()) == 2
    g = np.ones(c.K, np.float32)
    assert lib.bsconv_l2_normalize_grad(c._plan, P(F), P(F), m._fptr(g), P(y), None, 0.0, None, 0, None) == 1
    assert lib.bsconv_l2_normalize(c._plan, P(F), None, P(y), -1.0, None, 0, None) == 2
    assert np.all(y == 7.0)
    assert lib.bsconv_destroy(None) == 0


def test_cuda_not_supported():
    import ctypes
    from blocksparse import conv as m
    lib = m._lib()
    p = m._Params()
    assert lib.bsconv_params_init(p, ctypes.sizeof(p)) == 0
    p.backend = 1
    arr = [np.asarray(a, np.int64) for a in ([0, 1], [0], [0, 1], [0])]
    plan = ctypes.c_void_p()
    st = lib.bsconv_create(ctypes.byref(plan), ctypes.byref(p), 1, *[m._ptr(a) for a in arr])
    assert st == 100 and not plan.value  # BS_STATUS_NOT_SUPPORTED
