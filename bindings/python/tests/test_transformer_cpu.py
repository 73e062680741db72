"""BlocksparseTransformer (bst.h) on the CPU against a float64 PyTorch reference (dense masked
attention, gradients by autograd), on layouts with an empty row, unequal heads and Sq != Sk."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the float64 reference uses autograd

import blocksparse as bs  # noqa: E402
from blocksparse.transformer import BlocksparseTransformer  # noqa: E402


def make_layout(rng, H, QB, KB):
    lay = (rng.random((H, QB, KB)) < 0.5).astype(np.uint8)
    lay[0, 0] = 0          # empty query block row
    lay[0, -1] = 1         # dense row
    lay[-1, 0, 0] = 1
    return lay


def allowed(lay, b, H, causal, prefix):
    """Dense (H, Sq, Sk) boolean mask of the layout (and causality)."""
    m = np.kron(lay if lay.shape[0] == H else np.repeat(lay, H, 0), np.ones((b, b), np.uint8)).astype(bool)
    if causal:
        s = np.arange(m.shape[1])[:, None]
        t = np.arange(m.shape[2])[None, :]
        m &= (t <= s) | (t < prefix)
    return m


def to_bhsd(x, fmt):
    return x if fmt == "bhsd" else x.transpose(0, 2, 1, 3)


def ref_attention(q, k, v, do, mask, scale, fmt):
    """o, lse, dq, dk, dv in float64 (rows without an allowed key: o = 0, lse = -inf, grads 0)."""
    tq, tk, tv = (torch.tensor(to_bhsd(x.astype(np.float64), fmt), requires_grad=True) for x in (q, k, v))
    m = torch.tensor(mask)[None]
    s = (tq @ tk.transpose(-1, -2) * scale).masked_fill(~m, float("-inf"))
    lse = torch.logsumexp(s, -1)
    p = torch.where(m, torch.exp(s - lse[..., None].clamp(min=-1e300)), torch.zeros(()))
    p = torch.nan_to_num(p)
    o = p @ tv
    o.backward(torch.tensor(to_bhsd(do.astype(np.float64), fmt)))
    back = lambda t: to_bhsd(t.detach().numpy(), fmt)  # noqa: E731
    return back(o), lse.detach().numpy(), back(tq.grad), back(tk.grad), back(tv.grad)


def rel(out, ref):
    out = np.asarray(out, np.float64)
    assert np.isfinite(out).all()
    n = np.linalg.norm(ref)
    return np.linalg.norm(out - ref) / (n if n > 0 else 1.0)


@pytest.mark.parametrize("fmt", ["bshd", "bhsd"])
@pytest.mark.parametrize("b,causal,prefix,dtype", [(8, False, 0, np.float32), (16, True, 0, np.float32),
                                                    (16, True, 20, np.float32), (32, True, 0, np.float16)])
def test_fused_and_unfused_match_reference(fmt, b, causal, prefix, dtype):
    rng = np.random.default_rng()
    H, QB, KB, D, N = 2, 3, 4, 16, 2
    lay = make_layout(rng, H, QB, KB)
    bt = BlocksparseTransformer(lay, block_size=b, heads=H, head_dim=D, dtype=dtype, format=fmt, causal=causal,
                                autoregress_at_key=prefix, num_threads=2)
    q = rng.uniform(-1, 1, bt.shape("query", N)).astype(dtype)
    k, v = (rng.uniform(-1, 1, bt.shape("key", N)).astype(dtype) for _ in range(2))
    do = rng.uniform(-1, 1, q.shape).astype(dtype)
    scale = 0.5
    mask = allowed(lay, b, H, causal, prefix)
    ro, rlse, rdq, rdk, rdv = ref_attention(q, k, v, do, mask, scale, fmt)
    tol = 1e-5 if dtype == np.float32 else 1e-2

    o, lse = bt.attention(q, k, v, scale=scale)
    assert rel(o, ro) <= tol
    fin = np.isfinite(rlse)
    assert np.array_equal(np.isfinite(lse), fin) and (lse[~fin] < 0).all()
    assert rel(lse[fin], rlse[fin]) <= 1e-5
    dq, dk, dv = bt.attention_grad(q, k, v, o, do, lse, scale=scale)
    for name, out, ref in (("dq", dq, rdq), ("dk", dk, rdk), ("dv", dv, rdv)):
        assert rel(out, ref) <= tol, name

    # The unfused chain (the original's ops) gives the same attention output.
    scores = bt.query_key_op(q, k)
    probs = bt.masked_softmax(scores, scale)
    o2 = bt.weight_value_op(probs, v)
    assert rel(o2, ro) <= (1e-5 if dtype == np.float32 else 2e-2)
    # Block coordinates match the score tensor: a block's scores are q_i·k_jᵀ.
    h, i, j = bt.block_coord(bt.score_blocks - 1)
    qb, kb = to_bhsd(q, fmt)[0, h, i * b:(i + 1) * b], to_bhsd(k, fmt)[0, h, j * b:(j + 1) * b]
    assert rel(scores[0, -1], qb.astype(np.float64) @ kb.astype(np.float64).T) <= tol


def test_bad_input_raises_with_library_status():
    lay = np.ones((1, 2, 2), np.uint8)
    with pytest.raises(bs.BlocksparseError) as e:
        BlocksparseTransformer(lay, block_size=12, head_dim=8)
    assert e.value.status == bs.Status.INVALID_VALUE
    with pytest.raises(bs.BlocksparseError) as e:
        BlocksparseTransformer(np.zeros((1, 2, 2)), block_size=8, head_dim=8)
    assert e.value.status == bs.Status.INVALID_LAYOUT
    bt = BlocksparseTransformer(lay, block_size=8, head_dim=8)
    q = np.zeros((1, 16, 1, 8), np.float32)
    with pytest.raises(bs.BlocksparseError):
        bt.attention(q, q, q, keep_prob=0.0)
    with pytest.raises(bs.BlocksparseError):
        bt.attention(q.astype(np.float16), q, q)
    with pytest.raises(bs.BlocksparseError):
        bt.attention(q[:, :8], q, q)
    bt.close()
    with pytest.raises(bs.BlocksparseError):
        bt.attention(q, q, q)
