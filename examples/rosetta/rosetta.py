"""The Rosetta example, Python versions (see README.md): the same layer through NumPy
(blocksparse.BlocksparseMatMul), PyTorch (blocksparse.torch.BlockSparseLinear) or JAX
(blocksparse.jax.BlockSparseMatMul); each prints the checksum line of rosetta.c.

Usage: python rosetta.py numpy|torch|jax
"""
import sys

import numpy as np

SEED, B, CB, KB, N = 2024, 16, 6, 5, 7
M32 = 0xFFFFFFFF


def rosetta_hash(seed: int, i: np.ndarray) -> np.ndarray:
    """lowbias32 of (seed, i), vectorised; uint64 arithmetic masked to 32 bits."""
    x = (i.astype(np.uint64) * 0x9E3779B1 + seed) & M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def value(stream: int, n: int) -> np.ndarray:
    """The first n values of a stream: multiples of 1/8 in [-1, 1], as float32."""
    h = rosetta_hash(SEED * 4 + stream, np.arange(n))
    return (((h >> 8) % 17).astype(np.int64) - 8).astype(np.float32) / 8


def layout() -> np.ndarray:
    c, k = np.meshgrid(np.arange(CB), np.arange(KB), indexing="ij")
    return ((rosetta_hash(SEED * 4, (c * KB + k).ravel()) % 3 == 0).reshape(CB, KB)
            | (c % KB == k % CB)).astype(np.uint8)


def run_numpy(lay):
    import blocksparse as bs
    m = bs.BlocksparseMatMul(lay, block_size=B)
    w = value(1, m.nnz * B * B).reshape(m.w_shape)
    return m.fprop(value(2, N * m.C).reshape(N, m.C), w), m.C, m.K, m.nnz


def run_torch(lay):
    import torch
    from blocksparse.torch import BlockSparseLinear
    layer = BlockSparseLinear(CB * B, KB * B, lay, block_size=B, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(value(1, layer.weight.numel())).reshape(layer.weight.shape))
        y = layer(torch.from_numpy(value(2, N * CB * B)).reshape(N, CB * B))
    return y.numpy(), CB * B, KB * B, layer.weight.shape[0]


def run_jax(lay):
    import jax
    import jax.numpy as jnp
    from blocksparse.jax import BlockSparseMatMul
    m = BlockSparseMatMul(lay, block_size=B, platform="cpu")
    with jax.default_device(jax.devices("cpu")[0]):  # the CPU plan takes CPU arrays
        w = jnp.asarray(value(1, int(np.prod(m.w_shape))).reshape(m.w_shape))
        y = jax.jit(m)(jnp.asarray(value(2, N * m.C).reshape(N, m.C)), w)
    return np.asarray(y), m.C, m.K, m.w_shape[0]


def main():
    via = sys.argv[1] if len(sys.argv) > 1 else "numpy"
    y, C, K, nnz = {"numpy": run_numpy, "torch": run_torch, "jax": run_jax}[via](layout())
    flat = np.asarray(y, np.float64).ravel()
    checksum = float(np.sum(flat * (np.arange(flat.size) % 7 + 1)))
    print(f"rosetta N={N} C={C} K={K} nnz={nnz} checksum={checksum:.6f}")


if __name__ == "__main__":
    main()
