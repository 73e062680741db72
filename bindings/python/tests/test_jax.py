"""The JAX plugin: FFI calls and their custom VJP against a dense float64 NumPy reference (jax.grad
of the library's ops vs the float64 gradients of the dense product), jit, vmap, and the handlers'
own argument checks. CPU always; GPU when JAX sees one and the library has CUDA."""
import os

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
bj = pytest.importorskip("blocksparse.jax")
import blocksparse as bs  # noqa: E402

BOUNDS = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1e-2}


def _platforms():
    out = ["cpu"]
    try:
        if jax.devices("gpu") and bs.device_count("cuda") > 0:
            out.append("gpu")
    except RuntimeError:
        pass
    return out


PLATFORMS = _platforms()


@pytest.fixture
def rng():
    seed = int(os.environ.get("BS_TEST_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    return np.random.default_rng(seed)


def random_layout(rng, CB, KB):
    lay = rng.random((CB, KB)) < 0.4
    lay[rng.integers(CB), rng.integers(KB)] = True
    lay[:, 0] = False  # an empty output block-column
    lay[0, 1] = True
    return lay


def dense(m, w):
    b = m.plan.block_size
    D = np.zeros((m.C, m.K))
    for i in range(m.plan.nnz):
        c, k = m.plan.block_coord(i)
        D[c * b:(c + 1) * b, k * b:(k + 1) * b] = np.asarray(w[i], np.float64)
    return D


def rel_err(got, ref):
    got = np.asarray(got, np.float64)
    assert not np.isnan(got).any()
    return np.linalg.norm(got - ref) / np.linalg.norm(ref)


def put(a, dtype, platform):
    return jax.device_put(jnp.asarray(a, dtype), jax.devices(platform)[0])


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("lead", [(1,), (3, 13)])
def test_value_and_grad_match_float64(rng, platform, dtype, lead):
    m = bj.BlockSparseMatMul(random_layout(rng, 3, 4), block_size=16, dtype=dtype, platform=platform)
    x = put(rng.standard_normal(lead + (m.C,)), dtype, platform)
    w = put(rng.standard_normal(m.w_shape), dtype, platform)
    g = put(rng.standard_normal(lead + (m.K,)), dtype, platform)

    def loss(x, w):
        return (m(x, w).astype(jnp.float32) * g.astype(jnp.float32)).sum()

    y = jax.jit(m)(x, w)
    dx, dw = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, w)

    D = dense(m, w)
    x64 = np.asarray(x, np.float64).reshape(-1, m.C)
    g64 = np.asarray(g, np.float64).reshape(-1, m.K)
    bound = BOUNDS[dtype]
    assert y.shape == lead + (m.K,) and y.dtype == jnp.dtype(dtype)
    assert rel_err(np.asarray(y).reshape(-1, m.K), x64 @ D) <= bound
    assert np.all(np.asarray(y)[..., :16] == 0)  # the empty block-column
    assert rel_err(np.asarray(dx).reshape(-1, m.C), g64 @ D.T) <= bound
    dW = x64.T @ g64
    b = m.plan.block_size
    ref_blocks = np.stack([dW[c * b:(c + 1) * b, k * b:(k + 1) * b] for c, k in
                           (m.plan.block_coord(i) for i in range(m.plan.nnz))])
    assert dw.shape == m.w_shape and rel_err(dw, ref_blocks) <= bound


def test_eager_jit_and_vmap_agree(rng):
    m = bj.BlockSparseMatMul(random_layout(rng, 2, 2), block_size=8, platform="cpu")
    x = put(rng.standard_normal((4, 5, m.C)), jnp.float32, "cpu")
    w = put(rng.standard_normal(m.w_shape), jnp.float32, "cpu")
    eager = m(x, w)
    assert np.array_equal(eager, jax.jit(m)(x, w))  # deterministic library: bitwise equal
    assert np.array_equal(eager, jax.vmap(m, in_axes=(0, None))(x, w))


def test_errors(rng):
    with jax.default_device(jax.devices("cpu")[0]):  # CPU plans take CPU arrays
        _check_errors()


def _check_errors():
    with pytest.raises(bs.BlocksparseError, match="INVALID_LAYOUT"):
        bj.BlockSparseMatMul(np.zeros((2, 2)), block_size=8, platform="cpu")
    with pytest.raises(bs.BlocksparseError, match="block_size"):
        bj.BlockSparseMatMul(np.ones((2, 2)), block_size=12, platform="cpu")
    m = bj.BlockSparseMatMul(np.ones((2, 2)), block_size=8, platform="cpu")
    w = jnp.ones(m.w_shape, jnp.float32)
    with pytest.raises(bs.BlocksparseError, match="expected"):
        m(jnp.ones((3, m.C + 1), jnp.float32), w)
    with pytest.raises(bs.BlocksparseError, match="dtype"):
        m(jnp.ones((3, m.C), jnp.float16), w)
    # The handler's own checks, bypassing the Python ones: a wrong shape comes back as an error.
    bad = jax.ffi.ffi_call("blocksparse_bsmm_fprop", (jax.ShapeDtypeStruct((3, m.K), jnp.float32),
                                                      jax.ShapeDtypeStruct((4096,), jnp.uint8)))
    with pytest.raises(Exception, match="does not have the shape the plan expects"):
        jax.block_until_ready(bad(jnp.ones((3, m.C), jnp.float32), jnp.ones((1, 8, 8), jnp.float32),
                                  plan=np.int64(m._handle())))


@pytest.mark.skipif("gpu" not in PLATFORMS, reason="needs a GPU visible to JAX and a CUDA build of the library")
def test_cpu_plan_refuses_gpu_arrays(rng):
    m = bj.BlockSparseMatMul(np.ones((2, 2)), block_size=8, platform="cpu")
    bj._register("CUDA")  # the GPU handler exists, so XLA routes GPU arrays to it
    x, w = put(np.ones((3, m.C)), jnp.float32, "gpu"), put(np.ones(m.w_shape), jnp.float32, "gpu")
    with pytest.raises(Exception, match="a CPU plan was called with GPU arrays"):
        jax.block_until_ready(m._call(bj.Op.FPROP, x, w, (3, m.K)))
