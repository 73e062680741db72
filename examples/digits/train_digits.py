#!/usr/bin/env python3
"""Trains a classifier with block-sparse hidden layers on scikit-learn's 8x8 digits.

    input 64 --dense--> H --bsmm--> H --bsmm--> H --dense--> 10 classes

The two H x H hidden layers are block-sparse: their forward product (fprop), input gradient (bprop)
and weight gradient (updat) all run in libblocksparse through the Python binding. The first and last
layers, the ReLUs, the softmax loss and the Adam optimiser are plain NumPy.

The data set is the 1,797 images bundled with scikit-learn (no download). The script prints one
line per epoch and exits non-zero if the final test accuracy is below --target (95% by default).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

# Every product here takes a millisecond or less: threads that spin while waiting (OpenMP in the
# library, OpenBLAS in NumPy) only lose when the cores are shared, e.g. with other tests under
# `ctest -j`. The dense layers are tiny, so NumPy runs them on one thread. Set before the imports.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

try:
    import blocksparse as bs
except ImportError:  # run from a source tree without installing: use bindings/python (and build/lib)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))
    import blocksparse as bs


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=512, help="width H of the hidden layers")
    p.add_argument("--block-size", type=int, default=32, help="block size b of the sparse layers")
    p.add_argument("--density", type=float, default=0.25, help="fraction of nonzero blocks")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="storage type of the sparse layers' activations and weights (fp32 accumulation); "
                        "bfloat16 needs the ml_dtypes package")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=0, help="CPU threads of the sparse ops (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=0.95, help="test accuracy required to exit 0")
    return p.parse_args()


def random_layout(rng, blocks: int, density: float) -> np.ndarray:
    """A random (blocks x blocks) 0/1 layout of the given density, with its diagonal so that every
    block row and column is used."""
    layout = (rng.random((blocks, blocks)) < density).astype(np.uint8)
    np.fill_diagonal(layout, 1)
    return layout


class SparseLayer:
    """relu(x @ W + bias) with W block-sparse; all three products of W go through libblocksparse."""

    def __init__(self, rng, layout, block_size, dtype, threads):
        self.bsmm = bs.BlocksparseMatMul(layout, block_size=block_size, dtype=dtype, num_threads=threads)
        self.storage = np.dtype(self.bsmm.identity_init().dtype)  # the NumPy dtype the plan takes
        # He initialisation: fan-in of an output feature = (blocks in its block column) * b.
        fan_in = layout.sum(axis=0)[self.bsmm.block_coords()[1]] * block_size
        self.w = (rng.standard_normal(self.bsmm.w_shape) * np.sqrt(2.0 / fan_in)[:, None, None]).astype(np.float32)
        self.b = np.zeros(self.bsmm.K, np.float32)

    def params(self):
        return [self.w, self.b]

    def forward(self, x):
        self.x = x.astype(self.storage)
        self.w_lp = self.w.astype(self.storage)  # fp32 master weights, low-precision copy for the op
        z = self.bsmm.fprop(self.x, self.w_lp).astype(np.float32) + self.b
        self.mask = z > 0
        return z * self.mask

    def backward(self, dy):
        dz = (dy * self.mask).astype(self.storage)
        dw = self.bsmm.updat(self.x, dz).astype(np.float32)
        dx = self.bsmm.bprop(dz, self.w_lp).astype(np.float32)
        return dx, [dw, dz.astype(np.float32).sum(axis=0)]


class DenseLayer:
    def __init__(self, rng, n_in, n_out, relu):
        self.w = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        self.b = np.zeros(n_out, np.float32)
        self.relu = relu

    def params(self):
        return [self.w, self.b]

    def forward(self, x):
        self.x = x
        z = x @ self.w + self.b
        if self.relu:
            self.mask = z > 0
            z = z * self.mask
        return z

    def backward(self, dy):
        if self.relu:
            dy = dy * self.mask
        return dy @ self.w.T, [self.x.T @ dy, dy.sum(axis=0)]


class Adam:
    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def forward(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def softmax_xent(logits, labels):
    """Mean cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.log(p[np.arange(n), labels] + 1e-12).mean()
    p[np.arange(n), labels] -= 1
    return loss, p / n


def accuracy(layers, x, y) -> float:
    return float((forward(layers, x).argmax(axis=1) == y).mean())


def main() -> int:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=args.seed,
                                                        stratify=digits.target)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-3
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    H, b = args.hidden, args.block_size
    if H % b:
        print(f"--hidden ({H}) must be a multiple of --block-size ({b})", file=sys.stderr)
        return 2
    sparse = [SparseLayer(rng, random_layout(rng, H // b, args.density), b, args.dtype, args.threads)
              for _ in range(2)]
    layers = [DenseLayer(rng, x.shape[1], H, relu=True), *sparse, DenseLayer(rng, H, 10, relu=False)]
    params = [p for layer in layers for p in layer.params()]
    opt = Adam(params, args.lr)

    sparse_w = sum(layer.w.size for layer in sparse)
    dense_w = 2 * H * H
    total = sum(p.size for p in params)
    print(f"blocksparse {bs.version()} ({bs.library_path()})")
    print(f"digits: {len(x_train)} train / {len(x_test)} test images of 8x8; network 64-{H}-{H}-{H}-10, "
          f"hidden layers block-sparse (block {b}, {args.dtype}, "
          f"{' and '.join(f'{layer.bsmm.nnz}/{(H // b) ** 2}' for layer in sparse)} blocks)")
    print(f"weights: hidden {sparse_w:,} vs {dense_w:,} dense ({sparse_w / dense_w:.1%}); "
          f"whole network {total:,} vs {total - sparse_w + dense_w:,} dense")

    test_acc = 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            loss, grad = softmax_xent(forward(layers, x_train[idx]), y_train[idx])
            losses.append(loss)
            grads = []
            for layer in reversed(layers):
                grad, g = layer.backward(grad)
                grads = g + grads
            opt.step(grads)
        train_acc, test_acc = accuracy(layers, x_train, y_train), accuracy(layers, x_test, y_test)
        print(f"epoch {epoch:2d}/{args.epochs}  loss {np.mean(losses):.4f}  train acc {train_acc:6.2%}  "
              f"test acc {test_acc:6.2%}  time {time.perf_counter() - t0:.2f}s", flush=True)

    if test_acc < args.target:
        print(f"FAILED: test accuracy {test_acc:.2%} is below the target {args.target:.0%}", file=sys.stderr)
        return 1
    print(f"OK: test accuracy {test_acc:.2%} >= {args.target:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
