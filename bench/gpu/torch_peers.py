#!/usr/bin/env python3
"""PyTorch's BSR kernels as peers of bsmm, appended to the CSV of bench_bsmm_gpu.

Runs every block-sparse case that the C++ harness wrote to the CSV, on the same layout (the .npy
file named in the row), with the same timing method (triton.testing.do_bench: L2 flushed before
every run by zeroing a 256 MB buffer, CUDA events, median), input sets rotated between runs, and
the output checked against an fp32 product on the masked dense weight.

Libraries (rows of the same schema as the C++ harness):
  torch-dense        torch.matmul on the whole weight, this process (the denominator of x dense)
  torch-bsr          torch.sparse._triton_ops.bsr_dense_mm, untuned (fprop: Wᵀ_bsr @ xᵀ; bprop: W_bsr @ dyᵀ)
  torch-linear-bsr   F.linear(x, Wᵀ_bsr) / F.linear(dy, W_bsr): what a user gets (transposes included)
  torch-sampled-addmm  torch.sparse._triton_ops.sampled_addmm on the layout (updat)
  torch-bsr-tuned    bsr_dense_addmm(..., meta=tune_bsr_dense_addmm(...)) under --tune (tuning
                     time in setup_s; minutes per shape)
fp32 rows are labelled fp32-FFMA: torch's BSR kernels do not use tensor cores for fp32.
"""
import argparse
import csv
import importlib.util
import os
import sys
import time
import warnings

SKIP_PRECS = {"fp32-TF32"}  # torch BSR has no TF32 path; fp32 runs under fp32-FFMA
TOL = {"bf16": 1e-2, "fp16": 1e-2, "fp32-FFMA": 1e-5}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", required=True, help="CSV written by bench_bsmm_gpu (rows are appended to it)")
    p.add_argument("--ops", default="fprop,bprop,updat")
    p.add_argument("--tune", action="store_true",
                   help="also time tuned bsr_dense_addmm for bf16 N=C=K=8192 b in {32,64} d=0.25 (minutes each)")
    p.add_argument("--tune-all", action="store_true", help="tune every fprop case (slow)")
    p.add_argument("--sets", type=int, default=3, help="input sets rotated between runs")
    p.add_argument("--rep-ms", type=float, default=100, help="do_bench rep (ms of timed runs)")
    p.add_argument("--warmup-ms", type=float, default=25, help="do_bench warmup (ms)")
    return p.parse_args()


def cases_from_csv(path):
    """Distinct block-sparse cases (one per prec, shape, b, d, layout) of the C++ rows, in CSV order."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    seen, cases = set(), []
    for r in rows:
        if not r["b"] or not r["layout_file"] or r["library"].startswith("torch"):
            continue
        key = (r["prec"], r["N"], r["C"], r["K"], r["b"], r["density"], r["layout_file"], r["feature_axis"])
        if key in seen:
            continue
        seen.add(key)
        cases.append(dict(prec=r["prec"], N=int(r["N"]), C=int(r["C"]), K=int(r["K"]), b=int(r["b"]),
                          density=float(r["density"]), layout_file=r["layout_file"], seed=int(r["seed"] or 0),
                          feature_axis=int(r["feature_axis"]), gpu=r["gpu"]))
    return header, cases


class Peers:
    def __init__(self, args, header, out_path):
        import torch
        import triton
        from triton.testing import do_bench
        self.torch, self.do_bench = torch, do_bench
        self.args, self.header, self.out_path = args, header, out_path
        self.gpu = torch.cuda.get_device_name()
        self.dense_ms = {}
        self.versions = f"torch {torch.__version__}, triton {triton.__version__}"
        print(f"torch peers on {self.gpu} ({self.versions})", flush=True)

    # -- output -----------------------------------------------------------------------------
    def emit(self, row):
        full = {k: "" for k in self.header}
        full.update({k: ("" if v is None else v) for k, v in row.items()})
        with open(self.out_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.header, extrasaction="ignore").writerow(full)
        ms = row.get("median_ms")
        print(f"{row['prec']:9} {row['op']:5} N={row['N']:<5} C={row['C']:<5} K={row['K']:<5} b={row.get('b', '')!s:<3} "
              f"d={row.get('density', '')!s:<4} {row['library']:20} "
              + (f"{ms:10.4f} ms {row['eff_tflops']:8.1f} TFLOP/s x{row.get('speedup_vs_dense') or 0:.3f} "
                 if isinstance(ms, float) else "")
              + f"{row['status']} {row.get('note', '') if row['status'] != 'ok' else ''}", flush=True)

    # -- timing -----------------------------------------------------------------------------
    def time_fn(self, fns):
        """Median / min / max ms of do_bench over the functions of `fns`, one per input set, rotated."""
        state = {"i": 0}

        def run():
            fns[state["i"] % len(fns)]()
            state["i"] += 1

        try:
            times = self.do_bench(run, warmup=self.args.warmup_ms, rep=self.args.rep_ms, return_mode="all")
            times = sorted(float(t) for t in times)
            n = len(times)
            med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
            return med, times[0], times[-1], n
        except TypeError:  # older triton without return_mode="all"
            med = float(self.do_bench(run, warmup=self.args.warmup_ms, rep=self.args.rep_ms, return_mode="median"))
            return med, None, None, None

    # -- one case ---------------------------------------------------------------------------
    def run_case(self, case, csv_dir, ops, tune):
        torch = self.torch
        import numpy as np
        F = torch.nn.functional
        from torch.sparse import _triton_ops as tops

        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32-FFMA": torch.float32}[case["prec"]]
        N, C, K, b = case["N"], case["C"], case["K"], case["b"]
        mask = torch.from_numpy(np.load(os.path.join(csv_dir, case["layout_file"]))).to("cuda", torch.bool)
        nnz = int(mask.sum())
        full = mask.repeat_interleave(b, 0).repeat_interleave(b, 1)
        g = torch.Generator(device="cuda").manual_seed(case["seed"] or 1)

        def rand(*shape):
            return (torch.rand(*shape, generator=g, device="cuda") * 2 - 1).to(dtype)

        sets = []
        for _ in range(max(1, self.args.sets)):
            W = rand(C, K) * full  # masked dense weight (C, K)
            x, dy = rand(N, C), rand(N, K)
            sets.append(dict(W=W, x=x, dy=dy, xT=x.t().contiguous(), dyT=dy.t().contiguous(),
                             W_bsr=W.to_sparse_bsr((b, b)), WT_bsr=W.t().contiguous().to_sparse_bsr((b, b))))
        s0 = sets[0]
        torch.backends.cuda.matmul.allow_tf32 = False
        ref = {
            "fprop": s0["x"].float() @ s0["W"].float(),
            "bprop": s0["dy"].float() @ s0["W"].float().t(),
            "updat": (s0["x"].float().t() @ s0["dy"].float()) * full,
        }
        flops = 2.0 * N * nnz * b * b
        base = dict(gpu=self.gpu, prec=case["prec"], N=N, C=C, K=K, b=b, density=case["density"], nnz_blocks=nnz,
                    layout="balanced", layout_file=case["layout_file"], seed=case["seed"],
                    feature_axis=case["feature_axis"], tol=TOL[case["prec"]])

        # dense torch.matmul on a full random weight, once per (prec, shape, op), this process
        dkey = (case["prec"], N, C, K)
        if dkey not in self.dense_ms:
            self.dense_ms[dkey] = {}
            Wd = [rand(C, K) for _ in sets]
            dense_fns = {
                "fprop": [lambda s=s, w=w: s["x"] @ w for s, w in zip(sets, Wd)],
                "bprop": [lambda s=s, w=w: s["dy"] @ w.t() for s, w in zip(sets, Wd)],
                "updat": [lambda s=s: s["x"].t() @ s["dy"] for s in sets],
            }
            for op in ops:
                med, mn, mx, n = self.time_fn(dense_fns[op])
                self.dense_ms[dkey][op] = med
                row = dict(base, op=op, library="torch-dense", b="", density=1, nnz_blocks="", layout="dense",
                           layout_file="", seed="", status="ok", median_ms=med, min_ms=mn, max_ms=mx, runs=n,
                           eff_tflops=2.0 * N * C * K / (med * 1e9), dense_ms=med, speedup_vs_dense=1.0, tol="",
                           note="torch.matmul (cuBLAS), allow_tf32=False")
                self.emit(row)
            del Wd

        def measure(op, library, fns, check, note="", setup_s=None):
            row = dict(base, op=op, library=library, note=note, setup_s=setup_s)
            try:
                err = check()
                row["rel_err"] = err
                row["status"] = "ok" if err <= TOL[case["prec"]] else "check_failed"
                med, mn, mx, n = self.time_fn(fns)
                dense = self.dense_ms.get(dkey, {}).get(op)
                row.update(median_ms=med, min_ms=mn, max_ms=mx, runs=n, eff_tflops=flops / (med * 1e9),
                           dense_ms=dense, speedup_vs_dense=(dense / med) if dense else None)
            except NotImplementedError as e:
                row.update(status="unsupported", note=repr(e)[:300])
            except Exception as e:  # a peer that fails is recorded, never fatal
                row.update(status="error", note=repr(e)[:300])
            self.emit(row)

        def rel(out, r):
            out = out.float()
            if not torch.isfinite(out).all():
                return float("inf")
            return float((out - r).norm() / r.norm())

        if "fprop" in ops:
            measure("fprop", "torch-bsr", [lambda s=s: tops.bsr_dense_mm(s["WT_bsr"], s["xT"]) for s in sets],
                    lambda: rel(tops.bsr_dense_mm(s0["WT_bsr"], s0["xT"]).t(), ref["fprop"]),
                    note="bsr_dense_mm(W^T bsr, x^T), default meta; x^T made outside the timing")
            measure("fprop", "torch-linear-bsr", [lambda s=s: F.linear(s["x"], s["WT_bsr"]) for s in sets],
                    lambda: rel(F.linear(s0["x"], s0["WT_bsr"]), ref["fprop"]), note="F.linear(x, W^T bsr)")
        if "bprop" in ops:
            measure("bprop", "torch-bsr", [lambda s=s: tops.bsr_dense_mm(s["W_bsr"], s["dyT"]) for s in sets],
                    lambda: rel(tops.bsr_dense_mm(s0["W_bsr"], s0["dyT"]).t(), ref["bprop"]),
                    note="bsr_dense_mm(W bsr, dy^T), default meta; dy^T made outside the timing")
            measure("bprop", "torch-linear-bsr", [lambda s=s: F.linear(s["dy"], s["W_bsr"]) for s in sets],
                    lambda: rel(F.linear(s0["dy"], s0["W_bsr"]), ref["bprop"]), note="F.linear(dy, W bsr)")
        if "updat" in ops:
            pattern = torch.ones_like(s0["W"]).mul_(full).to_sparse_bsr((b, b))

            def sddmm(s):
                return tops.sampled_addmm(pattern, s["xT"], s["dy"], beta=0.0, alpha=1.0)

            measure("updat", "torch-sampled-addmm", [lambda s=s: sddmm(s) for s in sets],
                    lambda: rel(sddmm(s0).to_dense(), ref["updat"]),
                    note="_triton_ops.sampled_addmm(layout bsr, x^T, dy)")
        if tune and "fprop" in ops:
            self.run_tuned(case, sets, s0, ref, measure, rel, ops, C == K)

    def run_tuned(self, case, sets, s0, ref, measure, rel, ops, square):
        torch = self.torch
        from torch.sparse._triton_ops import bsr_dense_addmm
        from torch.sparse._triton_ops_meta import tune_bsr_dense_addmm
        out = torch.empty(case["K"], case["N"], device="cuda", dtype=s0["x"].dtype)
        t0 = time.time()
        try:
            meta = tune_bsr_dense_addmm(out, s0["WT_bsr"], s0["xT"], beta=0, alpha=1, out=out)
        except Exception as e:
            error = e

            def tuning_failed():
                raise error
            measure("fprop", "torch-bsr-tuned", [], tuning_failed, note="tune_bsr_dense_addmm failed")
            return
        tune_s = time.time() - t0
        note = f"bsr_dense_addmm meta={meta} (tuned in {tune_s:.0f} s)"

        def addmm(bsr, dense):
            return bsr_dense_addmm(out, bsr, dense, beta=0, alpha=1, out=out, meta=meta)

        measure("fprop", "torch-bsr-tuned", [lambda s=s: addmm(s["WT_bsr"], s["xT"]) for s in sets],
                lambda: rel(addmm(s0["WT_bsr"], s0["xT"]).t(), ref["fprop"]), note=note, setup_s=tune_s)
        if "bprop" in ops and square:  # bprop has the fprop's shapes when C = K: the same meta applies
            measure("bprop", "torch-bsr-tuned", [lambda s=s: addmm(s["W_bsr"], s["dyT"]) for s in sets],
                    lambda: rel(addmm(s0["W_bsr"], s0["dyT"]).t(), ref["bprop"]),
                    note=note + ", fprop meta reused", setup_s=tune_s)


def wants_tuning(case, args):
    if args.tune_all:
        return True
    return args.tune and case["prec"] == "bf16" and case["N"] == case["C"] == case["K"] == 8192 \
        and case["b"] in (32, 64) and abs(case["density"] - 0.25) < 1e-9


def main():
    args = parse_args()
    missing = [m for m in ("torch", "triton", "numpy") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"torch_peers: skipped ({', '.join(missing)} not installed)")
        return 0
    import torch
    if not torch.cuda.is_available():
        print("torch_peers: skipped (no CUDA device visible to torch)")
        return 0
    warnings.filterwarnings("ignore")  # torch warns once per shape that its Triton meta is untuned
    header, cases = cases_from_csv(args.csv)
    if not cases:
        print("torch_peers: no block-sparse cases in", args.csv)
        return 0
    ops = [o for o in args.ops.split(",") if o]
    peers = Peers(args, header, args.csv)
    meta = os.path.splitext(args.csv)[0] + "_meta.txt"
    with open(meta, "a") as f:  # read by report.py
        f.write(f"torch peers: {peers.versions}; timing triton.testing.do_bench (L2 flushed, CUDA events, median), "
                f"warmup {args.warmup_ms:g} ms, rep {args.rep_ms:g} ms, {args.sets} input sets rotated\n")
    csv_dir = os.path.dirname(os.path.abspath(args.csv))
    for case in cases:
        if case["prec"] in SKIP_PRECS:
            continue
        if case["feature_axis"] != 1:
            print(f"torch_peers: skip feature_axis {case['feature_axis']} case (torch peers use (N, C) activations)")
            continue
        if case["gpu"] != peers.gpu:
            print(f"torch_peers: warning: CSV rows were measured on {case['gpu']}, this is {peers.gpu}")
        try:
            peers.run_case(case, csv_dir, ops, wants_tuning(case, args))
        except Exception as e:  # e.g. out of memory for one case: record nothing, go on
            print(f"torch_peers: case {case} failed: {e!r}"[:400], flush=True)
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
