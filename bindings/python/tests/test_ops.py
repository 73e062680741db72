"""blocksparse.ops on the CPU backend (NumPy) against float64 NumPy references.

Every output is poisoned (NaN inside a NaN guard zone) before the call; the tests check that every
element was written, nothing outside it, and that failing calls raise the package's error classes
and leave their outputs untouched.
"""
import numpy as np
import pytest

import blocksparse as bs
from blocksparse import ops
from bsref import BOUNDS, Guarded, fresh_rng, plan_kwargs, random, rel_err, to_f64, to_storage

KINDS = ["float32", "float16", "bfloat16"]
F32 = "float32"


def kind_of(kind):
    plan_kwargs(kind)  # skips bfloat16 without ml_dtypes
    return kind


def guarded(shape, kind):
    return Guarded(shape, kind)


def check_out(g: Guarded, got, ref64, bound):
    """`got` is the guarded array, fully written, with intact guards, close to the reference."""
    assert got is g.array
    assert g.guards_intact()
    assert rel_err(to_f64(got, g.kind), ref64) <= bound


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------------------------------
# layer norm
# --------------------------------------------------------------------------------------------------


def ln_ref(x64, gain, bias, S, eps, relu):
    """x64 (N, K) -> y, mean (S, N), rstd (S, N), xhat, z, all float64."""
    N, K = x64.shape
    xs = x64.reshape(N, S, K // S)
    mean = xs.mean(axis=2)
    var = ((xs - mean[..., None]) ** 2).mean(axis=2)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = ((xs - mean[..., None]) * rstd[..., None]).reshape(N, K)
    z = xhat * gain + bias
    y = np.maximum(z, 0) if relu else z
    return y, mean.T, rstd.T, xhat, z


def ln_grad_ref(dy64, xhat, z, gain, rstd, S, relu):
    N, K = dy64.shape
    g = dy64 * (z > 0) if relu else dy64
    dbias = g.sum(axis=0)
    dgain = (g * xhat).sum(axis=0)
    u = (g * gain).reshape(N, S, K // S)
    xh = xhat.reshape(N, S, K // S)
    dx = rstd.T[..., None] * (u - u.mean(axis=2, keepdims=True) - xh * (u * xh).mean(axis=2, keepdims=True))
    return dx.reshape(N, K), dgain, dbias


def nk(a64, axis):
    """An activation as (N, K): features last (axis 1) or first (axis 0)."""
    return a64.reshape(-1, a64.shape[-1]) if axis == 1 else a64.reshape(a64.shape[0], -1).T


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("S,relu", [(1, False), (4, False), (2, True)])
def test_layernorm(kind, axis, S, relu):
    kind_of(kind)
    rng = fresh_rng()
    K, N = 48, 37
    shape = (N, K) if axis == 1 else (K, N)
    x = random(rng, shape, kind)
    gain = rng.standard_normal(K).astype(np.float32)
    bias = rng.standard_normal(K).astype(np.float32)
    plan = ops.LayerNorm(K, dtype=kind, feature_axis=axis, segments=S, epsilon=1e-5, relu=relu)
    y, mean, rstd = guarded(shape, kind), guarded((S, N), F32), guarded((S, N), F32)
    got = plan.fprop(x, gain, bias, out=y.array, mean=mean.array, rstd=rstd.array)
    x64 = nk(to_f64(x, kind), axis)
    yr, mr, rr, xhat, z = ln_ref(x64, gain.astype(np.float64), bias.astype(np.float64), S, 1e-5, relu)
    check_out(y, got[0], yr if axis == 1 else yr.T, BOUNDS[kind])
    check_out(mean, got[1], mr, 1e-5)
    check_out(rstd, got[2], rr, 1e-5)

    dy = random(rng, shape, kind)
    dx, dgain, dbias = guarded(shape, kind), guarded((K,), F32), guarded((K,), F32)
    res = plan.bprop(dy, x, got[1], got[2], gain, bias, dx=dx.array, dgain=dgain.array, dbias=dbias.array)
    dxr, dgr, dbr = ln_grad_ref(nk(to_f64(dy, kind), axis), xhat, z, gain.astype(np.float64), rr, S, relu)
    check_out(dx, res[0], dxr if axis == 1 else dxr.T, max(BOUNDS[kind], 1e-4))
    check_out(dgain, res[1], dgr, 1e-5)
    check_out(dbias, res[2], dbr, 1e-5)


def test_layer_norm_functional_defaults():
    rng = fresh_rng()
    x = random(rng, (5, 7, 32), F32)
    y, mean, rstd = ops.layer_norm(x)
    assert y.shape == x.shape and mean.shape == (1, 35) and rstd.shape == (1, 35)
    yr, _, _, xhat, z = ln_ref(x.reshape(-1, 32).astype(np.float64), 1.0, 0.0, 1, 1e-6, False)
    assert rel_err(y.reshape(-1, 32), yr) <= 1e-5
    dy = random(rng, x.shape, F32)
    dx, dgain, dbias = ops.layer_norm_grad(dy, x, mean, rstd)
    dxr, dgr, dbr = ln_grad_ref(dy.reshape(-1, 32).astype(np.float64), xhat, z, 1.0, rstd.astype(np.float64), 1,
                                False)
    assert rel_err(dx.reshape(-1, 32), dxr) <= 1e-4
    assert rel_err(dgain, dgr) <= 1e-5 and rel_err(dbias, dbr) <= 1e-5


def test_layernorm_bprop_deterministic_and_threads():
    rng = fresh_rng()
    x, dy = random(rng, (300, 64), F32), random(rng, (300, 64), F32)
    plan = ops.LayerNorm(64, num_threads=3)
    _, mean, rstd = plan.fprop(x)
    a = plan.bprop(dy, x, mean, rstd)
    b = plan.bprop(dy, x, mean, rstd)
    for u, v in zip(a, b):
        assert np.array_equal(u.view(np.uint32), v.view(np.uint32))


def test_layernorm_errors_leave_outputs_untouched():
    rng = fresh_rng()
    plan = ops.LayerNorm(16)
    x = random(rng, (4, 16), F32)
    y = guarded((4, 16), F32)
    with pytest.raises(bs.InvalidArgumentError) as e:
        plan.fprop(x, gain=np.ones(15), out=y.array)
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        plan.fprop(random(rng, (4, 16), "float16"), out=y.array)
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        plan.fprop(random(rng, (4, 17), F32))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError):
        plan.fprop(np.asfortranarray(random(rng, (16, 16), F32)))
    with pytest.raises(bs.InvalidArgumentError):
        plan.fprop([[0.0] * 16])
    assert np.all(np.isnan(y.array)) and y.guards_intact()
    # The library's own checks: bad plan parameters.
    for kw, status in (({"segments": 3}, bs.Status.INVALID_VALUE), ({"epsilon": -1.0}, bs.Status.INVALID_VALUE),
                       ({"epsilon": float("nan")}, bs.Status.INVALID_VALUE), ({"dtype": "int8"}, bs.Status.INVALID_VALUE),
                       ({"feature_axis": 2}, bs.Status.INVALID_VALUE), ({"num_threads": -1}, bs.Status.INVALID_VALUE)):
        with pytest.raises(bs.InvalidArgumentError) as e:
            ops.LayerNorm(16, **kw)
        assert e.value.status == status, kw
    with pytest.raises(bs.InvalidArgumentError):
        ops.LayerNorm(0)
    with pytest.raises(bs.UnsupportedError if bs.device_count("cuda") == 0 else bs.InvalidArgumentError):
        ops.LayerNorm(16, backend="cuda", device=1 << 20)
    plan.close()
    plan.close()
    with pytest.raises(bs.InvalidArgumentError, match="closed"):
        plan.fprop(x)
    with pytest.raises(bs.InvalidArgumentError):
        ops.LayerNorm(16).workspace_size("updat", 4)


# --------------------------------------------------------------------------------------------------
# element-wise
# --------------------------------------------------------------------------------------------------

BIN_REF = {
    "add": (lambda x, y: x + y, lambda x, y, d: (d, d)),
    "subtract": (lambda x, y: x - y, lambda x, y, d: (d, -d)),
    "multiply": (lambda x, y: x * y, lambda x, y, d: (d * y, d * x)),
    "divide": (lambda x, y: x / y, lambda x, y, d: (d / y, -d * x / (y * y))),
    "maximum": (lambda x, y: np.where(x >= y, x, y), lambda x, y, d: (np.where(x >= y, d, 0), np.where(x >= y, 0, d))),
    "minimum": (lambda x, y: np.where(x <= y, x, y), lambda x, y, d: (np.where(x <= y, d, 0), np.where(x <= y, 0, d))),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", sorted(BIN_REF))
@pytest.mark.parametrize("vector", [False, True])
def test_ew_binary(kind, op, vector):
    kind_of(kind)
    rng = fresh_rng()
    shape = (3, 5, 24)
    x = random(rng, shape, kind)
    yshape = (24,) if vector else shape
    y = to_storage(rng.uniform(0.5, 2.0, yshape) * rng.choice([-1, 1], yshape), kind)
    z = guarded(shape, kind)
    fwd, grad = BIN_REF[op]
    x64, y64 = to_f64(x, kind), to_f64(y, kind)
    check_out(z, ops.ew_binary(op, x, y, out=z.array), fwd(x64, y64), BOUNDS[kind])
    dz = random(rng, shape, kind)
    dx, dy = guarded(shape, kind), guarded(yshape, kind)
    got = ops.ew_binary_grad(op, dz, x, y, dx=dx.array, dy=dy.array)
    dxr, dyr = grad(x64, np.broadcast_to(y64, shape), to_f64(dz, kind))
    check_out(dx, got[0], dxr, BOUNDS[kind])
    check_out(dy, got[1], dyr.reshape(-1, 24).sum(axis=0) if vector else dyr, BOUNDS[kind])


def unary_ref(op, x, a):
    """(forward, derivative) in float64."""
    t = np.tanh(x)
    s = sig(a * x)
    k = np.sqrt(2 / np.pi)
    tg = np.tanh(k * (x + a * x ** 3))
    return {
        "negative": (-x, -np.ones_like(x)), "reciprocal": (1 / x, -1 / x ** 2), "square": (x * x, 2 * x),
        "sqrt": (np.sqrt(np.abs(x)), 0.5 / np.sqrt(np.abs(x))), "exp": (np.exp(x), np.exp(x)),
        "log": (np.log(np.abs(x)), 1 / x), "sigmoid": (sig(x), sig(x) * (1 - sig(x))), "tanh": (t, 1 - t * t),
        "relu": (np.maximum(x, 0), (x > 0) * 1.0), "elu": (np.where(x > 0, x, a * (np.exp(x) - 1)),
                                                          np.where(x > 0, 1.0, a * np.exp(x))),
        "gelu": (0.5 * x * (1 + tg), 0.5 * (1 + tg) + 0.5 * x * (1 - tg * tg) * k * (1 + 3 * a * x * x)),
        "swish": (x * s, s + a * x * s * (1 - s)),
    }[op]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", sorted(ops.UNARY_OPS))
def test_ew_unary(kind, op):
    kind_of(kind)
    rng = fresh_rng()
    n = 301
    raw = rng.standard_normal(n)
    if op in ("sqrt", "log", "reciprocal"):
        raw = rng.uniform(0.5, 3.0, n)
    x = to_storage(raw, kind)
    alpha = None if op not in ops.UNARY_ALPHA else float(rng.uniform(0.5, 1.5)) if op != "gelu" else None
    a = ops.UNARY_ALPHA.get(op, 0.0) if alpha is None else alpha
    x64 = to_f64(x, kind)
    fwd, der = unary_ref(op, x64, np.float64(np.float32(a)))
    y = guarded((n,), kind)
    check_out(y, ops.ew_unary(op, x, alpha=alpha, out=y.array), fwd, BOUNDS[kind])
    dy = random(rng, (n,), kind)
    dx = guarded((n,), kind)
    check_out(dx, ops.ew_unary_grad(op, dy, x, alpha=alpha, out=dx.array), to_f64(dy, kind) * der, BOUNDS[kind])


ACT_REF = {"relu": lambda z: unary_ref("relu", z, 0), "gelu": lambda z: unary_ref("gelu", z, 0.044715),
           "fast_gelu": lambda z: unary_ref("swish", z, np.float64(np.float32(1.702)))}


def act_ref(act, z):
    if act == "none":
        return z, np.ones_like(z)
    return ACT_REF[act](z)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("act", sorted(ops.ACTIVATIONS))
@pytest.mark.parametrize("axis", [0, 1])
def test_bias_act(kind, act, axis):
    kind_of(kind)
    rng = fresh_rng()
    N, K = 29, 40
    shape = (N, K) if axis == 1 else (K, N)
    x = random(rng, shape, kind)
    bias = rng.standard_normal(K).astype(np.float32)
    z = nk(to_f64(x, kind), axis) + bias.astype(np.float64)
    f, d = act_ref(act, z)
    y = guarded(shape, kind)
    got = ops.bias_act(x, bias, act=act, feature_axis=axis, out=y.array)
    check_out(y, got, f if axis == 1 else f.T, BOUNDS[kind])
    dy = random(rng, shape, kind)
    dx, dbias = guarded(shape, kind), guarded((K,), F32)
    got = ops.bias_act_grad(dy, x, bias, act=act, feature_axis=axis, dx=dx.array, dbias=dbias.array)
    dxr = nk(to_f64(dy, kind), axis) * d
    check_out(dx, got[0], dxr if axis == 1 else dxr.T, BOUNDS[kind])
    # dbias sums the fp32 dx before rounding: compare with the unrounded reference.
    check_out(dbias, got[1], dxr.sum(axis=0), 1e-5)


@pytest.mark.parametrize("src", KINDS)
@pytest.mark.parametrize("dst", KINDS)
def test_float_cast_bits(src, dst):
    kind_of(src), kind_of(dst)
    rng = fresh_rng()
    x = random(rng, (7, 33), src) * to_storage(np.full((7, 33), 3.0), src)
    y = guarded((7, 33), dst)
    got = ops.float_cast(x, dst, out=y.array)
    ref = to_storage(x.astype(np.float32), dst)  # every source value is exact in fp32; one rounding
    assert got is y.array and y.guards_intact()
    assert np.array_equal(got.view(np.uint8), ref.view(np.uint8))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("count", [1, 3, 9])
def test_add_n(kind, count):
    kind_of(kind)
    rng = fresh_rng()
    xs = [random(rng, (11, 13), kind) for _ in range(count)]
    y = guarded((11, 13), kind)
    check_out(y, ops.add_n(xs, out=y.array), sum(to_f64(x, kind) for x in xs), BOUNDS[kind])


def test_ew_errors():
    rng = fresh_rng()
    x = random(rng, (4, 8), F32)
    out = guarded((4, 8), F32)
    cases = [
        (lambda: ops.ew_binary("power", x, x, out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_binary("add", x, random(rng, (4, 7), F32), out=out.array), bs.Status.SHAPE_MISMATCH),
        (lambda: ops.ew_binary("add", x, random(rng, (4, 8), "float16"), out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_binary("add", x, x, out=guarded((4, 9), F32).array), bs.Status.SHAPE_MISMATCH),
        (lambda: ops.ew_unary("gelu", x, alpha=float("inf"), out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_unary("cosh", x, out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_unary("exp", x.astype(np.float64), out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_unary("exp", x[:, ::2], out=guarded((4, 4), F32).array), bs.Status.INVALID_VALUE),
        (lambda: ops.bias_act(x, np.ones(3), out=out.array), bs.Status.SHAPE_MISMATCH),
        (lambda: ops.bias_act(x, act="tanh", out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.bias_act(x, feature_axis=2, out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.float_cast(x, "int32"), bs.Status.INVALID_VALUE),
        (lambda: ops.float_cast(x, F32, out=x), None),  # same dtype in place is allowed
        (lambda: ops.add_n([x] * 65, out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.add_n([x, random(rng, (4, 7), F32)], out=out.array), bs.Status.SHAPE_MISMATCH),
        (lambda: ops.add_n([], out=out.array), bs.Status.INVALID_VALUE),
        (lambda: ops.ew_unary("exp", [1.0, 2.0]), bs.Status.INVALID_VALUE),
    ]
    for fn, status in cases:
        if status is None:
            fn()
            continue
        with pytest.raises(bs.InvalidArgumentError) as e:
            fn()
        assert e.value.status == status, e.value
    assert np.all(np.isnan(out.array)) and out.guards_intact()
    ro = np.zeros((4, 8), np.float32)
    ro.flags.writeable = False
    with pytest.raises(bs.InvalidArgumentError, match="read-only"):
        ops.ew_unary("exp", x, out=ro)


def test_float_cast_aliasing_rejected_by_library():
    buf = np.zeros(16, dtype=np.float32)
    half_view = buf.view(np.float16)[:16]
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.float_cast(half_view, F32, out=buf)
    assert e.value.status == bs.Status.INVALID_VALUE and "alias" in e.value.message
    assert np.all(buf == 0)


# --------------------------------------------------------------------------------------------------
# batch norm, channel-wise linear
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(6, 5, 3, 4), (17, 9)])
def test_batch_norm(kind, shape):
    kind_of(kind)
    rng = fresh_rng()
    C = shape[1]
    x = random(rng, shape, kind)
    gain = rng.standard_normal(C).astype(np.float32)
    bias = rng.standard_normal(C).astype(np.float32)
    eps = 1e-3
    axes = (0,) + tuple(range(2, len(shape)))
    bc = (1, C) + (1,) * (len(shape) - 2)
    x64 = to_f64(x, kind)
    m = x64.mean(axis=axes)
    v = ((x64 - m.reshape(bc)) ** 2).mean(axis=axes)
    rstd = 1 / np.sqrt(v + eps)
    xhat = (x64 - m.reshape(bc)) * rstd.reshape(bc)
    y, mean, var = ops.batch_norm(x, gain, bias, epsilon=eps)
    assert rel_err(to_f64(y, kind), xhat * gain.reshape(bc) + bias.reshape(bc)) <= BOUNDS[kind]
    assert rel_err(mean, m) <= 1e-5 and rel_err(var, v) <= 1e-5

    yi = guarded(shape, kind)
    check_out(yi, ops.batch_norm_inference(x, m, v, gain, bias, epsilon=eps, out=yi.array),
              xhat * gain.reshape(bc) + bias.reshape(bc), BOUNDS[kind])

    dy = random(rng, shape, kind)
    dy64 = to_f64(dy, kind)
    M = x64.size / C
    dbr = dy64.sum(axis=axes)
    dgr = (dy64 * xhat).sum(axis=axes)
    for training in (True, False):
        dx = guarded(shape, kind)
        got = ops.batch_norm_grad(dy, x, m, v, gain, epsilon=eps, training=training, dx=dx.array)
        inner = dy64 - (dbr.reshape(bc) + xhat * dgr.reshape(bc)) / M if training else dy64
        check_out(dx, got[0], (gain * rstd).reshape(bc) * inner, max(BOUNDS[kind], 1e-4))
        assert rel_err(got[1], dgr) <= 1e-5 and rel_err(got[2], dbr) <= 1e-5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("bias_first", [False, True])
def test_cwise_linear(kind, relu, bias_first):
    kind_of(kind)
    rng = fresh_rng()
    shape = (5, 7, 9)
    x = random(rng, shape, kind)
    a = rng.standard_normal(7).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    x64, a64, b64 = to_f64(x, kind), a.astype(np.float64)[:, None], b.astype(np.float64)[:, None]
    pre = a64 * (x64 + b64) if bias_first else a64 * x64 + b64
    y = guarded(shape, kind)
    check_out(y, ops.cwise_linear(x, a, b, relu, bias_first, out=y.array), np.maximum(pre, 0) if relu else pre,
              BOUNDS[kind])
    dy = random(rng, shape, kind)
    g = to_f64(dy, kind) * ((pre > 0) if relu else 1.0)
    dx = guarded(shape, kind)
    got = ops.cwise_linear_grad(dy, x, a, b, relu, bias_first, dx=dx.array)
    check_out(dx, got[0], a64 * g, BOUNDS[kind])
    da = (g * (x64 + b64 if bias_first else x64)).sum(axis=(0, 2))
    db = (a64 * g).sum(axis=(0, 2)) if bias_first else g.sum(axis=(0, 2))
    assert rel_err(got[1], da) <= 1e-5 and rel_err(got[2], db) <= 1e-5


def test_norms_errors():
    rng = fresh_rng()
    x = random(rng, (4, 3, 2), F32)
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.batch_norm(x, epsilon=-1.0)
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.batch_norm(random(rng, (0, 3), F32))  # statistics of no sample
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.batch_norm(random(rng, (5,), F32))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.batch_norm_inference(x, None, np.ones(3))
    assert e.value.status == bs.Status.NULL_POINTER
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.cwise_linear(x, a=np.ones(4))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.cwise_linear(x, relu=2)
    assert e.value.status == bs.Status.INVALID_VALUE


# --------------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------------


def philox_ref(counter, key):
    """Philox4x32-10 in NumPy (Salmon et al. 2011), vectorised over columns of counter (4, m)."""
    m32 = np.uint64(0xFFFFFFFF)
    c = [np.asarray(w, dtype=np.uint64) for w in counter]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(0x9E3779B9)) & m32, (k1 + np.uint64(0xBB67AE85)) & m32
        p0, p1 = np.uint64(0xD2511F53) * c[0], np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & m32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & m32]
    return [w.astype(np.uint32) for w in c]


def test_philox_known_answers():
    # Random123's known-answer vectors for philox4x32_10.
    kat = [([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
           ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
           ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1])]
    for ctr, key, want in kat:
        assert list(ops.philox4x32_10(ctr, key)) == want
        assert [int(w) for w in philox_ref(ctr, key)] == want
    with pytest.raises(bs.InvalidArgumentError):
        ops.philox4x32_10([1, 2, 3], [0, 0])


def mask_ref(n, keep_prob, seed, offset):
    i = np.arange(n, dtype=np.uint64)
    c = (np.uint64(offset) + i // np.uint64(4)) & np.uint64(2**64 - 1)
    words = philox_ref([c & np.uint64(0xFFFFFFFF), c >> np.uint64(32), np.zeros_like(c), np.zeros_like(c)],
                       [seed & 0xFFFFFFFF, seed >> 32])
    r = np.choose((i % np.uint64(4)).astype(np.int64), words).astype(np.uint64)
    keep = r < np.uint64(np.floor(float(np.float32(keep_prob)) * 2.0**32))
    bits = np.zeros((n + 31) // 32 * 32, dtype=np.uint64)
    bits[:n] = keep
    return keep, (bits.reshape(-1, 32) << np.arange(32, dtype=np.uint64)).sum(axis=1).astype(np.uint32)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 100, 1027])
def test_dropout(kind, n):
    kind_of(kind)
    rng = fresh_rng()
    seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    keep_prob = 0.7
    keep, words = mask_ref(n, keep_prob, seed, offset)
    mask = Guarded(((n + 31) // 32,), F32)  # uint32 words in a float32 NaN buffer
    got = ops.dropout_mask(n, keep_prob, seed, offset, out=mask.array.view(np.uint32))
    assert mask.guards_intact() and np.array_equal(got, words)
    x = random(rng, (n,), kind)
    scale = np.float64(np.float32(1.0) / np.float32(keep_prob))
    y = guarded((n,), kind)
    yy, m2 = ops.dropout(x, keep_prob, seed, offset, out=y.array)
    check_out(y, yy, to_f64(x, kind) * keep * scale, BOUNDS[kind])
    assert np.array_equal(m2, words)
    dy = random(rng, (n,), kind)
    dx = guarded((n,), kind)
    check_out(dx, ops.dropout_apply(dy, words, keep_prob, out=dx.array), to_f64(dy, kind) * keep * scale,
              BOUNDS[kind])
    assert 0.5 < keep.mean() < 0.9 or n < 200


def test_dropout_errors():
    x = np.ones(40, np.float32)
    y = guarded((40,), F32)
    for kp in (0.0, 1.5, float("nan")):
        with pytest.raises(bs.InvalidArgumentError) as e:
            ops.dropout(x, kp, 1, out=y.array)
        assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.dropout_apply(x, np.zeros(1, np.uint32), 0.5, out=y.array)
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError):
        ops.dropout(x, 0.5, -1, out=y.array)
    with pytest.raises(bs.InvalidArgumentError):
        ops.dropout_mask(-1, 0.5, 1)
    assert np.all(np.isnan(y.array)) and y.guards_intact()


# --------------------------------------------------------------------------------------------------
# LSTM gates, split4, concat4
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_bias", [False, True])
def test_lstm_gates(kind, with_bias):
    kind_of(kind)
    rng = fresh_rng()
    N, K = 13, 24
    c, h = random(rng, (N, K), kind), random(rng, (N, 4 * K), kind)
    bias = rng.standard_normal(4 * K).astype(np.float32) if with_bias else None
    fb = 1.0
    hb = to_f64(h, kind) + (bias.astype(np.float64) if with_bias else 0)
    i, u, f, o = (hb[:, g * K:(g + 1) * K] for g in range(4))
    f = f + fb
    c64 = to_f64(c, kind)
    cn = sig(f) * c64 + sig(i) * np.tanh(u)
    t = np.tanh(cn)
    hn = sig(o) * t
    gc, gh = guarded((N, K), kind), guarded((N, K), kind)
    got = ops.lstm_gates(c, h, bias, fb, c_next=gc.array, h_next=gh.array)
    check_out(gc, got[0], cn, BOUNDS[kind])
    check_out(gh, got[1], hn, BOUNDS[kind])

    dcn, dhn = random(rng, (N, K), kind), random(rng, (N, K), kind)
    dct = to_f64(dcn, kind) + to_f64(dhn, kind) * sig(o) * (1 - t * t)
    d = [dct * np.tanh(u) * sig(i) * (1 - sig(i)), dct * sig(i) * (1 - np.tanh(u) ** 2),
         dct * c64 * sig(f) * (1 - sig(f)), to_f64(dhn, kind) * t * sig(o) * (1 - sig(o))]
    dhr = np.concatenate(d, axis=1)
    gdc, gdh, gdb = guarded((N, K), kind), guarded((N, 4 * K), kind), guarded((4 * K,), F32)
    got = ops.lstm_gates_grad(dcn, dhn, c, h, bias, fb, dc=gdc.array, dh=gdh.array, dbias=gdb.array)
    check_out(gdc, got[0], dct * sig(f), BOUNDS[kind])
    check_out(gdh, got[1], dhr, BOUNDS[kind])
    # dbias sums the rounded dh (as the C header says), in fp32.
    check_out(gdb, got[2], to_f64(got[1], kind).sum(axis=0), 1e-5)
    # dc_next = None counts as zero.
    got = ops.lstm_gates_grad(None, dhn, c, h, bias, fb)
    assert rel_err(to_f64(got[0], kind), (dct - to_f64(dcn, kind)) * sig(f)) <= BOUNDS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_split4_concat4(kind):
    kind_of(kind)
    rng = fresh_rng()
    x = random(rng, (3, 5, 4 * 6), kind)
    outs = [guarded((3, 5, 6), kind) for _ in range(4)]
    parts = ops.split4(x, outs=[g.array for g in outs])
    for g, (o, p) in enumerate(zip(outs, parts)):
        assert p is o.array and o.guards_intact()
        assert np.array_equal(p.view(np.uint8), np.ascontiguousarray(x[..., g * 6:(g + 1) * 6]).view(np.uint8))
    y = guarded(x.shape, kind)
    got = ops.concat4(parts, out=y.array)
    assert got is y.array and y.guards_intact() and np.array_equal(got.view(np.uint8), x.view(np.uint8))


def test_lstm_errors():
    rng = fresh_rng()
    c, h = random(rng, (4, 8), F32), random(rng, (4, 32), F32)
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.lstm_gates(c, random(rng, (4, 31), F32))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.lstm_gates(c, h, forget_bias=float("nan"))
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.lstm_gates(c, h, bias=np.ones(8))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.split4(random(rng, (4, 30), F32))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.concat4([c, c, c])
    assert e.value.status == bs.Status.SHAPE_MISMATCH


# --------------------------------------------------------------------------------------------------
# sparse projections
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("axis", [0, 1])
def test_sparse_proj(kind, axis):
    kind_of(kind)
    rng = fresh_rng()
    nh, npj, N = 40, 15, 9
    lut = rng.permutation(nh)[:npj]
    sp = ops.SparseProj(lut, nh, dtype=kind, feature_axis=axis)
    hs, ps = ((nh, N), (npj, N)) if axis == 0 else ((N, nh), (N, npj))
    x, y = random(rng, hs, kind), random(rng, ps, kind)
    X, Y = nk(to_f64(x, kind), axis), nk(to_f64(y, kind), axis)  # (N, features)

    def back(a):
        return a if axis == 1 else a.T

    o = guarded(ps, kind)
    check_out(o, sp.gather(x, out=o.array), back(X[:, lut]), BOUNDS[kind])
    ref = np.zeros((N, nh))
    ref[:, lut] = Y
    o = guarded(hs, kind)
    check_out(o, sp.scatter(y, out=o.array), back(ref), BOUNDS[kind])
    ref = X.copy()
    ref[:, lut] += Y
    o = guarded(hs, kind)
    check_out(o, sp.scatter_add(x, y, out=o.array), back(ref), BOUNDS[kind])
    ref = X.copy()
    ref[:, lut] *= Y
    o = guarded(hs, kind)
    check_out(o, sp.scatter_mul(x, y, out=o.array), back(ref), BOUNDS[kind])
    dz = random(rng, hs, kind)
    DZ = nk(to_f64(dz, kind), axis)
    gx, gy = guarded(hs, kind), guarded(ps, kind)
    got = sp.scatter_add_grad(dz, dx=gx.array, dy=gy.array)
    check_out(gx, got[0], back(DZ), BOUNDS[kind])
    check_out(gy, got[1], back(DZ[:, lut]), BOUNDS[kind])
    gx, gy = guarded(hs, kind), guarded(ps, kind)
    got = sp.scatter_mul_grad(dz, x, y, dx=gx.array, dy=gy.array)
    ref = DZ.copy()
    ref[:, lut] *= Y
    check_out(gx, got[0], back(ref), BOUNDS[kind])
    check_out(gy, got[1], back(DZ[:, lut] * X[:, lut]), BOUNDS[kind])
    # In place, as the original's scatter_add.
    xi = x.copy()
    assert sp.scatter_add(xi, y, out=xi) is xi
    ref = X.copy()
    ref[:, lut] += Y
    assert rel_err(nk(to_f64(xi, kind), axis), ref) <= BOUNDS[kind]


def test_sparse_proj_errors():
    for lut, nh in (([0, 0], 4), ([0, 4], 4), ([], 4), ([-1], 4)):
        with pytest.raises(bs.InvalidArgumentError) as e:
            ops.SparseProj(lut, nh)
        assert e.value.status == bs.Status.INVALID_VALUE, lut
    with pytest.raises(bs.InvalidArgumentError) as e:
        ops.SparseProj([[0, 1]], 4)
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    sp = ops.SparseProj([2, 0], 4)
    x = np.ones((4, 3), np.float32)
    out = guarded((2, 3), F32)
    with pytest.raises(bs.InvalidArgumentError) as e:
        sp.gather(np.ones((5, 3), np.float32), out=out.array)
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    with pytest.raises(bs.InvalidArgumentError) as e:
        sp.gather(x.astype(np.float16), out=out.array)
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.InvalidArgumentError) as e:
        sp.scatter_add(x, np.ones((3, 3), np.float32))
    assert e.value.status == bs.Status.SHAPE_MISMATCH
    assert np.all(np.isnan(out.array)) and out.guards_intact()
    sp.close()
    with pytest.raises(bs.InvalidArgumentError, match="closed"):
        sp.gather(x)


def test_zero_sizes_are_no_ops():
    e = np.empty((0, 8), np.float32)
    assert ops.ew_unary("exp", e).shape == (0, 8)
    assert ops.layer_norm(e)[0].shape == (0, 8)
    assert ops.dropout(np.empty(0, np.float32), 0.5, 3)[1].shape == (0,)
    dx, dg, db = ops.layer_norm_grad(e, e, np.empty((1, 0), np.float32), np.empty((1, 0), np.float32))
    assert np.all(dg == 0) and np.all(db == 0)
