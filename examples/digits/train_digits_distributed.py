#!/usr/bin/env python3
"""Trains the digits classifier of train_digits.py in PyTorch on several processes (torchrun).

    input 64 --Linear--> H --bsmm--> H --bsmm--> H --Linear--> 10 classes

--mode ddp: data parallel. Every rank holds the whole model (BlockSparseLinear hidden layers) under
    DistributedDataParallel and takes its share of each global batch; DDP all-reduces the gradients.
--mode tp: tensor parallel. The first hidden layer is a ColumnParallelBlockSparseLinear keeping its
    output shards, the second a RowParallelBlockSparseLinear over the same features (one all-reduce in
    forward, one in backward); every rank sees the whole batch, the dense layers are replicated.

Both train on the same global batches as one process, so the accuracy is that of one process up to
float rounding. NCCL on GPUs (one per rank, LOCAL_RANK), gloo on CPUs:

    torchrun --standalone --nproc-per-node 2 examples/digits/train_digits_distributed.py --mode ddp
    torchrun --standalone --nproc-per-node 2 examples/digits/train_digits_distributed.py --mode tp

Exits non-zero if the final test accuracy is below --target.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # tiny products on shared cores (see train_digits.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

try:
    import blocksparse.torch  # noqa: F401
except ImportError:  # run from a source tree without installing: use bindings/python (and build/lib)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))
from blocksparse.torch import BlockSparseLinear  # noqa: E402
from blocksparse.torch_parallel import ColumnParallelBlockSparseLinear, RowParallelBlockSparseLinear  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["ddp", "tp"], default="ddp")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--density", type=float, default=0.25)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=32, help="global batch (split across the ranks with ddp)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=0.95)
    return p.parse_args()


def random_layout(rng, blocks: int, density: float) -> np.ndarray:
    layout = (rng.random((blocks, blocks)) < density).astype(np.uint8)
    np.fill_diagonal(layout, 1)
    return layout


def model(args, device):
    """The network; the same on every rank (one seed), its hidden layers sharded with --mode tp."""
    rng, H, b = np.random.default_rng(args.seed), args.hidden, args.block_size
    layouts = [random_layout(rng, H // b, args.density) for _ in range(2)]
    torch.manual_seed(args.seed)
    if args.mode == "ddp":
        hidden = [BlockSparseLinear(H, H, lay, b, device=device) for lay in layouts]
    else:  # seeded alike, the shards are those of the BlockSparseLinear layers above
        first = ColumnParallelBlockSparseLinear(H, H, layouts[0], b, gather_output=False, device=device)
        hidden = [first, RowParallelBlockSparseLinear(H, H, layouts[1], b, bounds=first.bounds, device=device)]
    relu = torch.nn.ReLU
    net = torch.nn.Sequential(torch.nn.Linear(64, H, device=device), relu(), hidden[0], relu(), hidden[1], relu(),
                              torch.nn.Linear(H, 10, device=device))
    return torch.nn.parallel.DistributedDataParallel(net) if args.mode == "ddp" else net


def main() -> int:
    args = parse_args()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    if not cuda:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=args.seed,
                                                        stratify=digits.target)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-3
    x_train, x_test = (torch.from_numpy((v - mean) / std).to(device) for v in (x_train, x_test))
    y_train, y_test = (torch.from_numpy(v).to(device) for v in (y_train, y_test))

    net = model(args, device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    if rank == 0:
        print(f"{args.mode} on {world} process(es), {dist.get_backend()} on {device.type}; "
              f"network 64-{args.hidden}-{args.hidden}-{args.hidden}-10, hidden block-sparse "
              f"(block {args.block_size}, density {args.density})", flush=True)

    order_gen = torch.Generator().manual_seed(args.seed)  # the same global batches on every rank
    for epoch in range(1, args.epochs + 1):
        t0, losses = time.perf_counter(), []
        net.train()
        order = torch.randperm(len(x_train), generator=order_gen).to(device)
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            if args.mode == "ddp":  # this rank's share, weighted so that DDP's mean is the batch's mean
                share = idx.tensor_split(world)[rank]
                loss = torch.nn.functional.cross_entropy(net(x_train[share]), y_train[share], reduction="sum")
                loss = loss * world / len(idx)
            else:
                loss = torch.nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        net.eval()
        with torch.no_grad():
            test_acc = float((net(x_test).argmax(dim=1) == y_test).float().mean())
        if rank == 0:
            print(f"epoch {epoch:2d}/{args.epochs}  loss {np.mean(losses):.4f}  test acc {test_acc:6.2%}  "
                  f"time {time.perf_counter() - t0:.2f}s", flush=True)
    dist.destroy_process_group()
    if test_acc < args.target:
        print(f"rank {rank}: FAILED: test accuracy {test_acc:.2%} is below the target {args.target:.0%}",
              file=sys.stderr)
        return 1
    if rank == 0:
        print(f"OK: test accuracy {test_acc:.2%} >= {args.target:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
