"""The PyTorch plugin: custom ops (opcheck), autograd against a dense float64 reference, torch.compile,
BlockSparseLinear as a drop-in for nn.Linear. CPU always; CUDA when a GPU is visible.

Gradients: torch.autograd.gradcheck needs float64, which the library does not store. Instead, the
autograd gradients (through bsmm_bprop and bsmm_updat) are compared with the float64 gradients of
the same dense computation, within the fp32 bound ‖got − ref‖/‖ref‖ ≤ 1e-5 (1e-2 for 16-bit types).
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
bt = pytest.importorskip("blocksparse.torch")
import blocksparse as bs  # noqa: E402

BOUNDS = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() and bs.device_count("cuda") > 0 else [])


@pytest.fixture
def gen():
    seed = int(os.environ.get("BS_TEST_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    return torch.Generator().manual_seed(seed)


def random_layout(gen, CB, KB):
    lay = torch.rand(CB, KB, generator=gen) < 0.4
    lay[torch.randint(CB, (1,), generator=gen), torch.randint(KB, (1,), generator=gen)] = True
    lay[:, 0] = False  # an empty output block-column: its outputs must be 0
    lay[0, 1] = True
    return lay


def rel_err(got, ref):
    got = got.detach().double().cpu()
    assert not torch.isnan(got).any()
    return float((got - ref).norm() / ref.norm())


def randn(gen, *shape, dtype=torch.float32, device="cpu"):
    return torch.randn(*shape, generator=gen).to(dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("N", [1, 37])
def test_linear_forward_backward_match_float64(gen, device, dtype, N):
    layer = bt.BlockSparseLinear(3 * 16, 4 * 16, random_layout(gen, 3, 4), block_size=16, device=device, dtype=dtype)
    x = randn(gen, 2, N, 48, dtype=dtype, device=device).requires_grad_()
    g = randn(gen, 2, N, 64, dtype=dtype, device=device)
    y = layer(x)
    (y * g).sum().backward()

    W = layer.dense_weight().detach().double().cpu()  # (out, in), zeros off the layout
    # The layout as a 0/1 dense matrix (not W != 0: a 16-bit uniform init can draw exact zeros).
    ones = bt.BlockSparseLinear(48, 64, layer.layout, block_size=16)
    with torch.no_grad():
        ones.weight.fill_(1.0)
    mask = ones.dense_weight().double()
    x64 = x.detach().double().cpu().requires_grad_()
    W64 = W.clone().requires_grad_()
    b64 = layer.bias.detach().double().cpu().requires_grad_()
    y64 = x64 @ W64.t() + b64
    (y64 * g.double().cpu()).sum().backward()

    bound = BOUNDS[dtype]
    assert y.shape == (2, N, 64) and y.dtype == dtype and y.device.type == device
    assert rel_err(y.detach(), y64.detach()) <= bound
    assert rel_err(x.grad, x64.grad) <= bound
    dense_grad = bt.BlockSparseLinear(48, 64, layer.layout, block_size=16)
    with torch.no_grad():
        dense_grad.weight.copy_(layer.weight.grad.float().cpu())
    dW = dense_grad.dense_weight().double()
    assert rel_err(dW, W64.grad * mask) <= bound
    assert rel_err(layer.bias.grad, b64.grad) <= bound
    assert torch.all(y.detach()[..., :16] == layer.bias.detach()[:16])  # empty block-column 0: bias only


def test_from_linear_is_a_drop_in(gen):
    linear = torch.nn.Linear(32, 24)
    full = torch.ones(4, 3, dtype=torch.bool)
    layer = bt.BlockSparseLinear.from_linear(linear, full, block_size=8)
    x = randn(gen, 5, 32)
    assert rel_err(layer(x).detach(), linear(x).detach().double()) <= 1e-5
    assert torch.equal(layer.dense_weight().detach(), linear.weight.detach())
    assert "blocks=12/12" in repr(layer)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(gen, device):
    pid = bt.plan_id(random_layout(gen, 2, 3), 8, torch.float32, device)
    p = bt.plan_of(pid)
    x = randn(gen, 5, p.C, device=device)
    w = randn(gen, *p.w_shape, device=device)
    dy = randn(gen, 5, p.K, device=device)
    torch.library.opcheck(torch.ops.blocksparse.bsmm_fprop.default, (x.requires_grad_(), w.requires_grad_(), pid))
    torch.library.opcheck(torch.ops.blocksparse.bsmm_bprop.default, (dy, w.detach(), pid))
    torch.library.opcheck(torch.ops.blocksparse.bsmm_updat.default, (x.detach(), dy, pid))


def test_torch_compile_fullgraph(gen):
    layer = bt.BlockSparseLinear(32, 32, random_layout(gen, 4, 4), block_size=8)
    x = randn(gen, 6, 32).requires_grad_()
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)  # fake kernels + AOT autograd
    y = compiled(x)
    y.square().sum().backward()
    gx, gw = x.grad.clone(), layer.weight.grad.clone()
    x.grad, layer.weight.grad = None, None
    layer(x).square().sum().backward()
    assert torch.equal(y, layer(x))  # deterministic library: bitwise equal
    assert torch.equal(gx, x.grad) and torch.equal(gw, layer.weight.grad)


def test_errors_carry_the_library_message(gen):
    with pytest.raises(bs.BlocksparseError, match="INVALID_LAYOUT"):
        bt.BlockSparseLinear(16, 16, torch.zeros(2, 2), block_size=8)
    with pytest.raises(bs.BlocksparseError, match="block_size"):
        bt.BlockSparseLinear(24, 24, torch.ones(2, 2), block_size=12)
    with pytest.raises(bs.BlocksparseError, match="SHAPE_MISMATCH"):
        bt.BlockSparseLinear(16, 16, torch.ones(3, 2), block_size=8)
    layer = bt.BlockSparseLinear(16, 16, torch.ones(2, 2), block_size=8)
    with pytest.raises(bs.BlocksparseError, match="expected"):
        layer(randn(gen, 3, 17))
    with pytest.raises(bs.BlocksparseError, match="dtype"):
        layer(randn(gen, 3, 16, dtype=torch.float16))
    with pytest.raises(bs.BlocksparseError, match="no blocksparse plan"):
        torch.ops.blocksparse.bsmm_fprop(randn(gen, 3, 16), layer.weight, 10**9)


@pytest.mark.skipif("cuda" not in DEVICES, reason="no CUDA GPU, or the library was built without CUDA")
def test_cuda_runs_on_the_current_stream(gen):
    layer = bt.BlockSparseLinear(64, 64, random_layout(gen, 4, 4), block_size=16, device="cuda")
    x = randn(gen, 4096, 64, device="cuda")
    ref = layer(x).detach()
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        for _ in range(3):
            y = layer(x)  # enqueued on s: reading y on s needs no synchronization
        same = torch.equal(y, ref)
    s.synchronize()
    assert same
