"""PyTorch F.layer_norm at 16384 x 4096 (fp32, bf16), timed like bench_ops_gpu (median of 20 samples of
10 back-to-back calls between CUDA events)."""
import torch
import torch.nn.functional as F


BATCH = 10


def median_ms(f):
    for _ in range(3):
        f()
    ts = []
    for _ in range(20):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(BATCH):
            f()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) / BATCH)
    return sorted(ts)[len(ts) // 2]


print(f"# torch {torch.__version__} F.layer_norm on {torch.cuda.get_device_name()}")
for dt in (torch.float32, torch.bfloat16):
    x = torch.randn(16384, 4096, device="cuda", dtype=dt, requires_grad=True)
    w = torch.randn(4096, device="cuda", dtype=dt, requires_grad=True)
    b = torch.randn(4096, device="cuda", dtype=dt, requires_grad=True)
    dy = torch.randn_like(x)
    fwd = median_ms(lambda: F.layer_norm(x, (4096,), w, b))

    def fb():
        y = F.layer_norm(x, (4096,), w, b)
        torch.autograd.grad(y, (x, w, b), dy)

    both = median_ms(fb)
    print(f"| torch {dt} | forward {fwd * 1e3:.1f} us | forward+backward {both * 1e3:.1f} us |")
