"""blocksparse.optim: the fused optimizers against float64 NumPy references and torch.optim.AdamW,
and bad input (clear errors, nothing written)."""
import numpy as np
import pytest

import blocksparse as bs
from blocksparse import optim

ml_dtypes = pytest.importorskip("ml_dtypes")
SHAPES = [(3, 7000), (40,), (16, 8, 8), (5, 3)]
TOL = {"float32": 1e-5, "float16": 3e-3, "bfloat16": 1e-2}


def _np(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.all(np.isfinite(a))
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _tensors(rng, dtype):
    ps = [rng.uniform(-1, 1, s).astype(_np(dtype)) for s in SHAPES]
    gs = [rng.uniform(-1, 1, s).astype(_np(dtype)) for s in SHAPES]
    ms = [rng.uniform(-0.1, 0.1, s).astype(np.float32) for s in SHAPES]
    vs = [rng.uniform(0.01, 0.2, s).astype(np.float32) for s in SHAPES]
    return ps, gs, ms, vs


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["adamw", "adam"])
def test_adam_matches_float64(dtype, mode):
    rng = np.random.default_rng()
    ps, gs, ms, vs = _tensors(rng, dtype)
    plan = optim.OptimPlan([p.shape for p in ps], [dtype] * len(ps))
    ref = [(p.astype(np.float64), g.astype(np.float64), m.astype(np.float64), v.astype(np.float64))
           for p, g, m, v in zip(ps, gs, ms, vs)]
    lr, b1, b2, eps, wd, t = 0.1, 0.9, 0.99, 1e-8, 0.05, 4
    plan.adam(ps, gs, ms, vs, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, step=t, mode=mode)
    for (p, g, m, v), pn, mn, vn in zip(ref, ps, ms, vs):
        if mode == "adamw":
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        v = b2 * v + (1 - b2) * g * g
        m = b1 * m + (1 - b1) * g
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
        assert _rel(pn, p) <= TOL[dtype]
        assert _rel(mn, m) <= 1e-5 and _rel(vn, v) <= 1e-5


def test_global_norm_and_skip():
    rng = np.random.default_rng()
    ps, gs, ms, vs = _tensors(rng, "float32")
    plan = optim.OptimPlan([p.shape for p in ps], ["float32"] * len(ps))
    norm, scale = plan.global_norm(gs, 1.0, grad_scale=0.5)
    ref = np.sqrt(sum(np.sum((0.5 * g.astype(np.float64)) ** 2) for g in gs))
    assert abs(norm[0] - ref) / ref < 1e-6
    assert abs(scale[0] - 1.0 / max(ref, 1.0)) < 1e-6
    gs[1][3] = np.inf
    norm, scale = plan.global_norm(gs, 1.0)
    assert scale[0] == 0 and not np.isfinite(norm[0])
    before = [p.copy() for p in ps]
    plan.adam(ps, gs, ms, vs, norm_scale=scale)  # the sentinel skips the step
    assert all(np.array_equal(a, b) for a, b in zip(ps, before))


def test_ema():
    rng = np.random.default_rng()
    ps = [rng.uniform(-1, 1, s).astype(np.float32) for s in SHAPES]
    es = [rng.uniform(-1, 1, s).astype(np.float32) for s in SHAPES]
    ref = [e.astype(np.float64) - 0.1 * (e.astype(np.float64) - p) for e, p in zip(es, ps)]
    plan = optim.OptimPlan([p.shape for p in ps], ["float32"] * len(ps))
    plan.ema(es, ps, 0.9)
    for e, r in zip(es, ref):
        assert _rel(e, r) <= 1e-5


def test_bad_input_writes_nothing():
    rng = np.random.default_rng()
    ps, gs, ms, vs = _tensors(rng, "float32")
    plan = optim.OptimPlan([p.shape for p in ps], ["float32"] * len(ps))
    before = [p.copy() for p in ps]
    with pytest.raises(bs.InvalidArgumentError):
        plan.adam(ps, gs, ms, vs, betas=(1.0, 0.999))  # beta1 out of [0, 1): the library's check
    with pytest.raises(bs.InvalidArgumentError):
        plan.adam(ps, gs[:-1], ms, vs)
    with pytest.raises(bs.InvalidArgumentError):
        plan.adam(ps, [g.astype(np.float16) for g in gs], ms, vs)
    with pytest.raises(bs.InvalidArgumentError):
        plan.global_norm(gs, 0.0)
    with pytest.raises(bs.InvalidArgumentError):
        optim.OptimPlan([(0, 3)], ["float32"])
    with pytest.raises(bs.InvalidArgumentError):
        optim.OptimPlan([(4, 4)], ["float32"], block_elems=[5])
    assert all(np.array_equal(a, b) for a, b in zip(ps, before))


@pytest.mark.parametrize("decoupled", [True, False])
def test_torch_optimizer_matches_torch(decoupled):
    torch = pytest.importorskip("torch")
    torch.manual_seed(np.random.default_rng().integers(1 << 30))
    model = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.Tanh(), torch.nn.Linear(30, 5))
    twin = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    ours = optim.FusedAdamW(model.parameters(), lr=1e-2, weight_decay=0.1, decoupled=decoupled)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    theirs = cls(twin, lr=1e-2, weight_decay=0.1)
    x = torch.randn(64, 20)
    for _ in range(5):
        for opt, params in ((ours, list(model.parameters())), (theirs, twin)):
            opt.zero_grad()
            h = torch.tanh(x @ params[0].T + params[1]) @ params[2].T + params[3]
            h.pow(2).mean().backward()
            opt.step()
    for a, b in zip(model.parameters(), twin):
        assert _rel(a.detach().numpy(), b.detach().numpy()) <= 1e-5


def test_torch_optimizer_clips_and_skips():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.randn(8, 8))
    opt = optim.FusedAdamW([w], lr=0.1, max_norm=1.0)
    w.grad = torch.full((8, 8), float("nan"))
    before = w.detach().clone()
    opt.step()
    assert opt.skipped_steps == 1 and torch.equal(w.detach(), before)
