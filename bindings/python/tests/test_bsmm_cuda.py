"""CUDA plans through PyTorch tensors and CuPy arrays, checked against float64 references computed on
the CPU (and against the CPU backend). Skipped, with the reason, without a GPU or a CUDA build."""
import numpy as np
import pytest

import blocksparse as bs
from blocksparse import Status
from bsref import (BOUNDS, as_nf, dense64, fresh_rng, ml_dtypes, random, random_layout, ref_l2, ref_l2_grad,
                   ref_updat, rel_err, storage_dtype, to_f64)

if bs.device_count("cuda") == 0:
    pytest.skip(f"no CUDA device: this library ({bs.build_info().get('backends')}) was built without CUDA or "
                "no GPU is visible", allow_module_level=True)

GUARD = 64  # elements; keeps the guarded output 16-byte aligned as CUDA plans require


class TorchDev:
    """PyTorch tensors of the storage kinds float32, float16, bfloat16."""

    kinds = ["float32", "float16", "bfloat16"]

    def __init__(self):
        self.torch = pytest.importorskip("torch", reason="PyTorch is not installed")

    def put(self, a: np.ndarray):
        t = self.torch
        if a.dtype.name == "bfloat16":
            return t.from_numpy(a.view(np.int16)).cuda().view(t.bfloat16)
        return t.from_numpy(np.ascontiguousarray(a)).cuda()

    def get(self, d, kind) -> np.ndarray:
        """Device array -> float64 NumPy."""
        return d.float().cpu().numpy().astype(np.float64)

    def guarded(self, shape, kind):
        t = self.torch
        n = int(np.prod(shape))
        buf = t.full((n + 2 * GUARD,), float("nan"), dtype=getattr(t, kind), device="cuda")
        return buf, buf[GUARD:GUARD + n].view(shape)

    def guards_intact(self, buf) -> bool:
        return bool(self.torch.isnan(buf[:GUARD]).all() and self.torch.isnan(buf[-GUARD:]).all())

    def sync(self):
        self.torch.cuda.synchronize()


class CupyDev:
    """CuPy arrays of the storage kinds float32, float16, and bfloat16 as uint16 bits (bf16_bits)."""

    kinds = ["float32", "float16", "bf16bits"]

    def __init__(self):
        self.cupy = pytest.importorskip("cupy", reason="CuPy is not installed")

    def put(self, a: np.ndarray):
        return self.cupy.asarray(a)

    def get(self, d, kind) -> np.ndarray:
        return to_f64(self.cupy.asnumpy(d), kind)

    def guarded(self, shape, kind):
        n = int(np.prod(shape))
        nan = np.full(n + 2 * GUARD, np.nan, np.float32)
        host = bs.float32_to_bf16_bits(nan) if kind == "bf16bits" else nan.astype(storage_dtype(kind))
        buf = self.cupy.asarray(host)
        return buf, buf[GUARD:GUARD + n].reshape(shape)

    def guards_intact(self, buf) -> bool:
        host = np.concatenate([self.cupy.asnumpy(buf[:GUARD]), self.cupy.asnumpy(buf[-GUARD:])])
        return bool(np.isnan(to_f64(host, "bf16bits" if host.dtype == np.uint16 else "float32")).all())

    def sync(self):
        self.cupy.cuda.Device().synchronize()


def kind_cases():
    return [(TorchDev, k) for k in TorchDev.kinds] + [(CupyDev, k) for k in CupyDev.kinds]


def plan(lay, kind, axis, b, **kw):
    if kind == "bfloat16" and ml_dtypes is None:
        pytest.skip("ml_dtypes is needed to make bfloat16 test data on the host")
    extra = {"dtype": "bfloat16", "bf16_bits": True} if kind == "bf16bits" else {"dtype": kind}
    return bs.BlocksparseMatMul(lay, block_size=b, feature_axis=axis, backend="cuda", **extra, **kw)


def host_random(rng, shape, kind):
    return random(rng, shape, "bfloat16" if kind == "bfloat16" else kind)


@pytest.mark.parametrize("dev_cls, kind", kind_cases())
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("b", [16, 32, 64])
@pytest.mark.parametrize("op", ["fprop", "bprop"])
def test_xprop(dev_cls, kind, axis, b, op):
    dev = dev_cls()
    rng = fresh_rng()
    lay = random_layout(rng, 3, 5)
    bsmm = plan(lay, kind, axis, b)
    bprop = op == "bprop"
    N = 77
    shape_in = bsmm.o_shape(N) if bprop else bsmm.i_shape(N)
    shape_out = bsmm.i_shape(N) if bprop else bsmm.o_shape(N)
    x, w = host_random(rng, shape_in, kind), host_random(rng, bsmm.w_shape, kind)
    buf, out = dev.guarded(shape_out, kind)
    got = getattr(bsmm, op)(dev.put(x), dev.put(w), out=out)
    dev.sync()
    assert got is out and dev.guards_intact(buf)
    W = dense64(bsmm, to_f64(w, kind))
    ref = as_nf(to_f64(x, kind), axis) @ (W.T if bprop else W)
    assert rel_err(as_nf(dev.get(got, kind), axis), ref) <= BOUNDS[kind]
    # the CPU backend on the same data agrees to the same bound
    cpu = bs.BlocksparseMatMul(lay, block_size=b, feature_axis=axis, dtype=bsmm.dtype,
                               bf16_bits=kind == "bf16bits")
    cpu_out = getattr(cpu, op)(x, w)
    assert rel_err(as_nf(dev.get(got, kind), axis), as_nf(to_f64(cpu_out, kind), axis)) <= BOUNDS[kind]


@pytest.mark.parametrize("dev_cls, kind", kind_cases())
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("b", [16, 32, 64])
def test_updat(dev_cls, kind, axis, b):
    dev = dev_cls()
    rng = fresh_rng()
    bsmm = plan(random_layout(rng, 4, 3), kind, axis, b)
    N, P = 45, 2
    xs = [host_random(rng, bsmm.i_shape(N), kind) for _ in range(P)]
    dys = [host_random(rng, bsmm.o_shape(N), kind) for _ in range(P)]
    gate = rng.uniform(0.5, 1.5, bsmm.nnz).astype(np.float32)
    gate[::4] = 0
    buf, dw = dev.guarded(bsmm.w_shape, kind)
    bsmm.updat([dev.put(a) for a in xs], [dev.put(a) for a in dys], dw=dw, gate=gate)
    dev.sync()
    assert dev.guards_intact(buf)
    ref = ref_updat(bsmm, [to_f64(a, kind) for a in xs], [to_f64(a, kind) for a in dys], axis)
    assert rel_err(dev.get(dw, kind), ref * gate[:, None, None]) <= BOUNDS[kind]


@pytest.mark.parametrize("N", [0, 1, 3, 200])
def test_minibatch_sizes_and_allocation(N):
    dev = TorchDev()
    torch = dev.torch
    rng = fresh_rng()
    bsmm = plan(random_layout(rng, 3, 3), "float32", 1, 32)
    x, w = host_random(rng, bsmm.i_shape(N), "float32"), host_random(rng, bsmm.w_shape, "float32")
    y = bsmm(dev.put(x), dev.put(w))  # output allocated by PyTorch on the plan's device
    assert isinstance(y, torch.Tensor) and y.is_cuda and tuple(y.shape) == bsmm.o_shape(N)
    assert y.dtype == torch.float32
    if N:
        ref = x.astype(np.float64) @ dense64(bsmm, w.astype(np.float64))
        assert rel_err(dev.get(y, "float32"), ref) <= 1e-5


def test_streams_and_zero_copy():
    dev = TorchDev()
    torch = dev.torch
    rng = fresh_rng()
    bsmm = plan(random_layout(rng, 4, 4), "float16", 1, 32)
    x, w = host_random(rng, bsmm.i_shape(300), "float16"), host_random(rng, bsmm.w_shape, "float16")
    xd, wd = dev.put(x), dev.put(w)
    ref = x.astype(np.float64) @ dense64(bsmm, w.astype(np.float64))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # runs on the framework's current stream
        out = torch.empty(bsmm.o_shape(300), dtype=torch.float16, device="cuda")
        y = bsmm(xd, wd, out=out)
    side.synchronize()
    assert y is out and y.data_ptr() == out.data_ptr()
    assert rel_err(dev.get(y, "float16"), ref) <= BOUNDS["float16"]
    other = torch.cuda.Stream()
    other.wait_stream(torch.cuda.current_stream())
    y2 = bsmm(xd, wd, stream=other)  # an explicit stream object
    other.synchronize()
    assert torch.equal(y2, y)  # deterministic across streams


def test_tf32():
    dev = TorchDev()
    rng = fresh_rng()
    bsmm = plan(random_layout(rng, 3, 3), "float32", 1, 32, math="tf32")
    assert bsmm.math is bs.MathMode.TF32
    x, w = host_random(rng, bsmm.i_shape(64), "float32"), host_random(rng, bsmm.w_shape, "float32")
    y = bsmm(dev.put(x), dev.put(w))
    ref = x.astype(np.float64) @ dense64(bsmm, w.astype(np.float64))
    assert rel_err(dev.get(y, "float32"), ref) <= 1e-3


@pytest.mark.parametrize("dev_cls, kind", kind_cases())
def test_l2_normalize_and_identity(dev_cls, kind):
    dev = dev_cls()
    rng = fresh_rng()
    bsmm = plan(np.maximum(random_layout(rng, 3, 3), np.eye(3, dtype=np.uint8)), kind, 1, 16)
    w, dy = host_random(rng, bsmm.w_shape, kind), host_random(rng, bsmm.w_shape, kind)
    gain = rng.uniform(0.5, 2.0, bsmm.K).astype(np.float32)
    y = bsmm.l2_normalize(dev.put(w), gain=list(gain), epsilon=1e-6)  # host gains are uploaded
    assert rel_err(dev.get(y, kind), ref_l2(bsmm, to_f64(w, kind), gain, 1e-6)) <= BOUNDS[kind]
    dw, dgain = bsmm.l2_normalize_grad(dev.put(dy), dev.put(w), gain=dev.put(gain), epsilon=1e-6)
    ref_dw, ref_dgain = ref_l2_grad(bsmm, to_f64(dy, kind), to_f64(w, kind), gain, 1e-6)
    assert rel_err(dev.get(dw, kind), ref_dw) <= BOUNDS[kind]
    assert rel_err(dev.get(dgain, "float32"), ref_dgain) <= BOUNDS[kind]
    _, out = dev.guarded(bsmm.w_shape, kind)
    ident = bsmm.identity_init(1.0, out=out)
    c, k = bsmm.block_coords()
    expect = np.where(((c % bsmm.KB) == (k % bsmm.CB))[:, None, None], np.eye(16), 0.0)
    assert np.array_equal(dev.get(ident, kind), expect)


def test_wrong_arrays_for_cuda_plans():
    dev = TorchDev()
    torch = dev.torch
    rng = fresh_rng()
    bsmm = plan(random_layout(rng, 2, 2), "float32", 1, 16)
    x, w = host_random(rng, bsmm.i_shape(4), "float32"), host_random(rng, bsmm.w_shape, "float32")
    for args, status, match in [
        ((x, dev.put(w)), Status.WRONG_BACKEND, "x is in host memory"),
        ((torch.from_numpy(x), dev.put(w)), Status.WRONG_BACKEND, "x is in host memory"),
        ((dev.put(x), dev.put(w).half()), Status.INVALID_VALUE, "w has dtype float16"),
        ((dev.put(x.T.copy()).t(), dev.put(w)), Status.INVALID_VALUE, "C-contiguous"),
    ]:
        with pytest.raises(bs.BlocksparseError) as e:
            bsmm(*args)
        assert e.value.status == status and match in e.value.message
    cpu = bs.BlocksparseMatMul(random_layout(rng, 2, 2), block_size=16)
    with pytest.raises(bs.BlocksparseError) as e:
        cpu(dev.put(x), w)
    assert e.value.status == Status.WRONG_BACKEND
    if torch.cuda.device_count() > 1:
        with pytest.raises(bs.BlocksparseError) as e:
            bsmm(dev.put(x).to("cuda:1"), dev.put(w))
        assert e.value.status == Status.WRONG_DEVICE
