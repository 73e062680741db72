"""BlockSparseLinear under DDP and FSDP2, and the tensor-parallel layers of blocksparse.torch_parallel,
on torch.distributed with the gloo backend: 2 and 3 CPU processes (spawned), one process group each.

Every check runs on every rank of one world (a spawn per world size, shared by the tests); a rank that
fails writes its traceback and ends its world, so the checks after it report "not run". References:

- what is not reduced across ranks (the column-parallel output and dW, the row-parallel dx and dW) is
  compared **bitwise** with the single-process BlockSparseLinear: each rank's plan over its slice of
  the layout sums the same blocks in the same order;
- what is all-reduced (DDP/FSDP2 gradients, the column-parallel dx, the row-parallel output) against a
  float64 dense computation of the whole batch, within the fp32 bound 1e-5 (1e-2 for bfloat16).
"""
import os
import traceback
from datetime import timedelta

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available in this PyTorch build", allow_module_level=True)
bt = pytest.importorskip("blocksparse.torch")
tp = pytest.importorskip("blocksparse.torch_parallel")
import blocksparse as bs  # noqa: E402

WORLDS = (2, 3)
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------------------------------- helpers

def rel_err(got, ref) -> float:
    got = got.detach().double()
    assert not torch.isnan(got).any()
    return float((got - ref).norm() / ref.norm())


def dense64(w, layout, b):
    """The dense (C, K) float64 weight of (nnz, b, b) blocks on a layout, differentiable in w."""
    lay = np.asarray(layout)
    c, k = (torch.from_numpy(i) for i in np.nonzero(lay))
    d = w.new_zeros((lay.shape[0], lay.shape[1], b, b)).index_put((c, k), w)
    return d.permute(0, 2, 1, 3).reshape(lay.shape[0] * b, lay.shape[1] * b)


def random_layout(gen, CB, KB, density=0.4):
    lay = torch.rand(CB, KB, generator=gen) < density
    lay[0, :] = True  # every block column has a block (a skewed layout: row 0 is dense)
    return lay.numpy().astype(np.uint8)


def all_equal_across_ranks(t, group=None) -> bool:
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, t.detach().contiguous(), group=group)
    return all(torch.equal(p, parts[0]) for p in parts)


class MLP(torch.nn.Module):
    """Two block-sparse layers with a ReLU between them, and its float64 dense twin."""

    def __init__(self, gen, C=64, H=96, K=32, b=16):
        super().__init__()
        self.b = b
        self.l1 = bt.BlockSparseLinear(C, H, random_layout(gen, C // b, H // b), b)
        self.l2 = bt.BlockSparseLinear(H, K, random_layout(gen, H // b, K // b), b)

    def forward(self, x):
        return self.l2(torch.relu(self.l1(x)))

    def float64_twin(self, storage=torch.float32):
        """(parameters, forward) in float64 of the parameters as rounded to ``storage``."""
        p = {n: v.detach().to(storage).double().requires_grad_() for n, v in self.named_parameters()}

        def forward(x):
            h = x @ dense64(p["l1.weight"], self.l1._layout, self.b) + p["l1.bias"]
            return torch.relu(h) @ dense64(p["l2.weight"], self.l2._layout, self.b) + p["l2.bias"]
        return p, forward


def batch(gen, world, per_rank=6, C=64, K=32):
    x = torch.randn(world * per_rank, C, generator=gen)
    t = torch.randn(world * per_rank, K, generator=gen)
    return x, t


def mean_grads_of_whole_batch(model, x, t, storage=torch.float32):
    p, forward = model.float64_twin(storage)
    torch.nn.functional.mse_loss(forward(x.to(storage).double()), t.double()).backward()
    return {n: v.grad for n, v in p.items()}


# ------------------------------------------------------------------------------- data parallel

@check
def ddp_gradients_are_those_of_the_whole_batch(rank, world, gen):
    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))  # the same model on every rank
    model = MLP(gen)
    x, t = batch(gen, world)
    ref = mean_grads_of_whole_batch(model, x, t)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    mine = slice(rank * 6, (rank + 1) * 6)
    torch.nn.functional.mse_loss(ddp(x[mine]), t[mine]).backward()  # DDP averages the ranks' gradients
    for n, p in model.named_parameters():
        assert rel_err(p.grad, ref[n]) <= 1e-5, n
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for p in model.parameters():
        assert all_equal_across_ranks(p)


@check
def fsdp2_gradients_are_those_of_the_whole_batch(rank, world, gen):
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    seed = int(torch.randint(2**31, (1,), generator=gen))
    x, t = batch(gen, world)
    mine = slice(rank * 6, (rank + 1) * 6)
    for dtype, bound in ((torch.float32, 1e-5), (torch.bfloat16, 1e-2)):
        torch.manual_seed(seed)
        model = MLP(torch.Generator().manual_seed(seed))
        ref = mean_grads_of_whole_batch(model, x, t, dtype)
        policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
        for layer in (model.l1, model.l2):
            fully_shard(layer, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
        for _ in range(2):  # the second step runs on plans made at the first (and freed parameters)
            model.zero_grad()
            torch.nn.functional.mse_loss(model(x[mine].to(dtype)).float(), t[mine]).backward()
        for n, p in model.named_parameters():
            assert p.grad.full_tensor().dtype == torch.float32
            err = rel_err(p.grad.full_tensor(), ref[n])
            assert err <= bound, (n, dtype, err)


# ----------------------------------------------------------------------------- tensor parallel

def full_layer_and_grads(gen, C=64, K=96, b=16, N=5):
    """A seeded single-process layer, an input, an output gradient and that layer's gradients."""
    full = bt.BlockSparseLinear(C, K, random_layout(gen, C // b, K // b), b)
    x = torch.randn(2, N, C, generator=gen).requires_grad_()
    g = torch.randn(2, N, K, generator=gen)
    y = full(x)
    (y * g).sum().backward()
    return full, x, g, y.detach()


def float64_reference(layer, x, g):
    w = layer.weight.detach().double().requires_grad_()
    x64 = x.detach().double().requires_grad_()
    y = x64 @ dense64(w, layer._layout, layer.block_size) + layer.bias.detach().double()
    (y * g.double()).sum().backward()
    return y.detach(), x64.grad, w.grad


def index(t):
    return torch.from_numpy(t)


@check
def column_parallel_matches_one_process(rank, world, gen):
    full, x, g, y_full = full_layer_and_grads(gen)
    _, dx64, _ = float64_reference(full, x, g)
    for gather in (True, False):
        col = tp.ColumnParallelBlockSparseLinear.from_full(full, gather_output=gather)
        lo, hi = col.features
        assert col.bounds == tuple(bs.sharding.column_bounds(full._layout, world))
        xr = x.detach().clone().requires_grad_()
        y = col(xr)
        (y * (g if gather else g[..., lo:hi])).sum().backward()
        assert torch.equal(y.detach(), y_full if gather else y_full[..., lo:hi])
        assert torch.equal(col.weight.grad, full.weight.grad[index(col.block_index)])
        assert rel_err(col.bias.grad, g.double().sum((0, 1))[lo:hi]) <= 1e-5  # torch's sum of strided columns
        assert rel_err(xr.grad, dx64) <= 1e-5  # all-reduced over the ranks' dx
        assert all_equal_across_ranks(xr.grad)


@check
def row_parallel_matches_one_process(rank, world, gen):
    full, x, g, _ = full_layer_and_grads(gen)
    y64, dx64, _ = float64_reference(full, x, g)
    row = tp.RowParallelBlockSparseLinear.from_full(full)
    lo, hi = row.features
    xr = x.detach()[..., lo:hi].clone().requires_grad_()
    y = row(xr)
    (y * g).sum().backward()
    assert rel_err(y, y64) <= 1e-5 and all_equal_across_ranks(y)  # all-reduced
    assert torch.equal(xr.grad, x.grad[..., lo:hi])
    assert torch.equal(row.weight.grad, full.weight.grad[index(row.block_index)])
    assert rel_err(row.bias.grad, g.double().sum((0, 1))) <= 1e-5


@check
def megatron_mlp_trains_as_one_process(rank, world, gen):
    """Column-parallel (shards kept) -> GELU -> row-parallel over the same features, three SGD steps."""
    b = 16
    up = bt.BlockSparseLinear(64, 128, random_layout(gen, 4, 8), b)
    down = bt.BlockSparseLinear(128, 32, random_layout(gen, 8, 2), b)
    col = tp.ColumnParallelBlockSparseLinear.from_full(up, gather_output=False)
    row = tp.RowParallelBlockSparseLinear.from_full(down, bounds=col.bounds)
    params = {"up": (up.weight, up.bias), "down": (down.weight, down.bias)}
    w64 = {k: [p.detach().double().clone().requires_grad_() for p in v] for k, v in params.items()}
    sharded = list(col.parameters()) + list(row.parameters())
    opt = torch.optim.SGD(sharded, lr=0.05)
    opt64 = torch.optim.SGD([p for v in w64.values() for p in v], lr=0.05)
    for _ in range(3):
        x = torch.randn(7, 64, generator=gen)
        t = torch.randn(7, 32, generator=gen)
        opt.zero_grad()
        y = row(torch.nn.functional.gelu(col(x)))
        torch.nn.functional.mse_loss(y, t).backward()
        opt.step()
        opt64.zero_grad()
        h = x.double() @ dense64(w64["up"][0], up._layout, b) + w64["up"][1]
        y64 = torch.nn.functional.gelu(h) @ dense64(w64["down"][0], down._layout, b) + w64["down"][1]
        torch.nn.functional.mse_loss(y64, t.double()).backward()
        opt64.step()
        assert rel_err(y, y64.detach()) <= 1e-5
    for layer, key in ((col, "up"), (row, "down")):
        whole = layer.to_full()
        assert rel_err(whole.weight, w64[key][0].detach()) <= 1e-5
        assert rel_err(whole.bias, w64[key][1].detach()) <= 1e-5
        assert all_equal_across_ranks(whole.weight)


@check
def ranks_without_blocks(rank, world, gen):
    """Rank 0 owns only empty block columns (rows), the last rank owns none: zeros, empty weights."""
    b, n = 8, 2 * world
    lay = random_layout(gen, n, n)
    lay[:2, :] = lay[:, :2] = 0  # block rows and columns 0 and 1 are empty
    lay[2:, 2] = lay[2, 2:] = 1
    full = bt.BlockSparseLinear(n * b, n * b, lay, b)
    x = torch.randn(2, 5, n * b, generator=gen).requires_grad_()
    g = torch.randn(2, 5, n * b, generator=gen)
    (full(x) * g).sum().backward()
    y64, dx64, _ = float64_reference(full, x, g)
    middle = [2 + (n - 2) * i // (world - 2) for i in range(1, world - 1)]
    bounds = [0, 2] + middle + [n]  # world 3: [0, 2, 6, 6]; world 2: [0, 2, 4]
    empty = {0} | ({world - 1} if world > 2 else set())
    for cls in (tp.ColumnParallelBlockSparseLinear, tp.RowParallelBlockSparseLinear):
        layer = cls.from_full(full, bounds=bounds)
        assert (layer.weight.shape[0] == 0) == (rank in empty)
        lo, hi = layer.features
        xr = (x.detach() if cls is tp.ColumnParallelBlockSparseLinear else x.detach()[..., lo:hi]).clone()
        xr.requires_grad_()
        y = layer(xr)
        (y * g).sum().backward()
        assert rel_err(y, y64) <= 1e-5
        assert layer.weight.grad.shape == layer.weight.shape
        if cls is tp.ColumnParallelBlockSparseLinear:
            assert rel_err(xr.grad, dx64) <= 1e-5
        else:
            assert torch.equal(xr.grad, x.grad[..., lo:hi])


@check
def seeded_alike_the_shards_make_one_layer(rank, world, gen):
    seed = int(torch.randint(2**31, (1,), generator=gen))
    lay = random_layout(gen, 4, 6)
    torch.manual_seed(seed)
    full = bt.BlockSparseLinear(64, 96, lay, 16)
    after_full = torch.rand(4)
    for cls in (tp.ColumnParallelBlockSparseLinear, tp.RowParallelBlockSparseLinear):
        torch.manual_seed(seed)
        layer = cls(64, 96, lay, 16)
        assert torch.equal(torch.rand(4), after_full)  # the generator advanced as for the whole layer
        whole = layer.to_full()
        assert torch.equal(whole.weight, full.weight) and torch.equal(whole.bias, full.bias)
        assert torch.equal(cls.from_full(whole).weight, layer.weight)


@check
def a_subgroup_is_its_own_world(rank, world, gen):
    """Layers on the group of ranks 1.. (group rank != global rank); rank 0 takes no part."""
    ranks = list(range(1, world))
    group = dist.new_group(ranks)  # every rank calls new_group
    full, x, g, y_full = full_layer_and_grads(gen)
    _, dx64, _ = float64_reference(full, x, g)
    if rank == 0:
        return
    col = tp.ColumnParallelBlockSparseLinear.from_full(full, group=group)
    assert col.rank == rank - 1 and col.world_size == len(ranks)
    xr = x.detach().clone().requires_grad_()
    y = col(xr)
    (y * g).sum().backward()
    assert torch.equal(y.detach(), y_full)
    assert rel_err(xr.grad, dx64) <= 1e-5


@check
def bad_input_is_reported(rank, world, gen):
    lay = random_layout(gen, 4, 6)
    C = tp.ColumnParallelBlockSparseLinear
    for bounds in ([0, 6], [0] * world + [5], [0] + [7] * (world - 1) + [6], np.linspace(0, 6, world + 1)):
        with pytest.raises(bs.BlocksparseError, match="bounds must be"):
            C(64, 96, lay, 16, bounds=bounds)
    with pytest.raises(bs.BlocksparseError, match="SHAPE_MISMATCH"):
        C(64, 80, lay, 16)
    layer = C(64, 96, lay, 16)
    with pytest.raises(bs.BlocksparseError, match=r"expected \(\*, 64\)"):
        layer(torch.randn(3, 63))
    row = tp.RowParallelBlockSparseLinear(64, 96, lay, 16)
    with pytest.raises(bs.BlocksparseError, match=f"on rank {rank}"):
        row(torch.randn(3, 64 + 16))
    with pytest.raises(bs.BlocksparseError, match="dtype"):
        layer(torch.randn(3, 64, dtype=torch.float64))


# ----------------------------------------------------------------------------------- harness

def _worker(rank, world, init_file, out_dir, seed):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=120))
    for i, (name, fn) in enumerate(CHECKS.items()):
        try:
            fn(rank, world, torch.Generator().manual_seed(seed + i))
            dist.barrier()
            status = "ok"
        except BaseException:  # noqa: BLE001 - reported by the test of this check
            status = traceback.format_exc()
        with open(os.path.join(out_dir, f"{name}.{rank}"), "w") as f:
            f.write(status)
        if status != "ok":
            os._exit(1)  # the other ranks' collectives fail: the world ends here
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    seed = int(os.environ.get("BS_TEST_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    ctx = torch.multiprocessing.get_context("spawn")
    dirs = {}
    for world in WORLDS:
        d = dirs[world] = tmp_path_factory.mktemp(f"world{world}")
        procs = [ctx.Process(target=_worker, args=(r, world, str(d / "init"), str(d), seed)) for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=600)
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    return dirs, seed


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("name", list(CHECKS))
def test_distributed(results, world, name):
    dirs, seed = results
    for rank in range(world):
        path = dirs[world] / f"{name}.{rank}"
        assert path.exists(), f"rank {rank} of {world} did not run {name} (an earlier check failed; seed={seed})"
        status = path.read_text()
        assert status == "ok", f"rank {rank} of {world} (seed={seed}):\n{status}"


def test_needs_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(bs.BlocksparseError, match="init_process_group"):
        tp.ColumnParallelBlockSparseLinear(16, 16, np.ones((2, 2)), 8)
