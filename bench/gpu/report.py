#!/usr/bin/env python3
"""Merges bench_bsmm_gpu / torch_peers CSVs into one Markdown report and PNG plots.

Markdown: per (precision, N, C, K) a table of effective TFLOP/s and speedup over dense for every
(b, density, op) and library, the dense times, and the break-even density (speedup = 1, linear
interpolation) per library. PNG (when matplotlib is installed): per (precision, N, C, K) a grid
with one column per b and, per op, a row of effective TFLOP/s and a row of speedup over dense
against density, one line per library. The GPU name is in every title.
"""
import argparse
import csv
import os
import sys
from collections import defaultdict

LIB_ORDER = ["blocksparse", "cusparse-bell", "cusparse-bsr", "cusparse-sddmm-bsr", "torch-bsr", "torch-bsr-tuned",
             "torch-linear-bsr", "torch-sampled-addmm"]
DENSE_LIBS = ["cublas-dense", "torch-dense"]
OPS = ["fprop", "bprop", "updat"]
PREC_ORDER = ["bf16", "fp16", "fp32-FFMA", "fp32-TF32"]
SHORT_STATUS = {"unsupported": "unsup.", "check_failed": "WRONG", "error": "error"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def load(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows.extend(csv.DictReader(f))
    for r in rows:
        for k in ("N", "C", "K", "b"):
            r[k] = int(r[k]) if r.get(k) else 0
        for k in ("density", "median_ms", "eff_tflops", "speedup_vs_dense", "rel_err"):
            r[k] = num(r.get(k))
    return rows


def order(seq, preferred):
    return sorted(set(seq), key=lambda x: (preferred.index(x) if x in preferred else len(preferred), x))


def group_key(r):
    return (r["prec"], r["N"], r["C"], r["K"])


def sort_groups(keys):
    return sorted(keys, key=lambda k: (PREC_ORDER.index(k[0]) if k[0] in PREC_ORDER else 9, -k[1], -k[2], -k[3]))


def break_even(points):
    """Density where speedup crosses 1 going up in density (linear between measured points)."""
    pts = sorted(p for p in points if p[1] is not None)
    if not pts:
        return ""
    if all(s >= 1 for _, s in pts):
        return f"> {pts[-1][0]:g}"
    if all(s < 1 for _, s in pts):
        return f"< {pts[0][0]:g}"
    for (d0, s0), (d1, s1) in zip(pts, pts[1:]):
        if s0 >= 1 > s1:
            return f"{d0 + (s0 - 1) * (d1 - d0) / (s0 - s1):.3f}"
    return "n/a"


def cell(r):
    if r is None:
        return ""
    if r["status"] != "ok":
        short = SHORT_STATUS.get(r["status"], r["status"])
        if r["status"] == "check_failed" and r["eff_tflops"] is not None:
            return f"{short} ({r['eff_tflops']:.0f})"
        return short
    sp = f" ×{r['speedup_vs_dense']:.2f}" if r["speedup_vs_dense"] is not None else ""
    return f"{r['eff_tflops']:.1f}{sp}"


def markdown(rows, gpus, setup):
    out = [f"# bsmm GPU benchmark: {', '.join(gpus)}", ""]
    out += [f"- {line}" for line in setup] + ([""] if setup else [])
    out.append("Effective TFLOP/s = 2·N·nnz·b²/time (the useful work of the non-zero blocks); ×s = speedup over "
               "dense in the same process and precision (cuBLAS for the C++ rows, torch.matmul for the torch rows). "
               "Layout: balanced random (same for every library). unsup. = the library cannot run it; WRONG = "
               "output failed the check against the fp32 reference (time in parentheses).")
    if len(gpus) > 1:
        out.append("")
        out.append("**Warning: these CSVs come from different GPUs; compare only within one GPU.**")
    groups = defaultdict(list)
    for r in rows:
        groups[group_key(r)].append(r)
    for key in sort_groups(groups):
        prec, N, C, K = key
        g = groups[key]
        out += ["", f"## {prec}, N = {N}, C = {C}, K = {K}", ""]
        dense = [r for r in g if r["library"] in DENSE_LIBS and r["status"] == "ok"]
        for r in sorted(dense, key=lambda r: (r["library"], OPS.index(r["op"]) if r["op"] in OPS else 9)):
            out.append(f"- dense {r['library']} {r['op']}: {r['median_ms']:.4f} ms = {r['eff_tflops']:.1f} TFLOP/s")
        sparse = [r for r in g if r["b"]]
        if not sparse:
            continue
        libs = order([r["library"] for r in sparse], LIB_ORDER)
        out += ["", "| b | d | op | " + " | ".join(libs) + " |", "|---|---|---|" + "---|" * len(libs)]
        index = {(r["b"], r["density"], r["op"], r["library"]): r for r in sparse}
        for b in sorted({r["b"] for r in sparse}):
            for d in sorted({r["density"] for r in sparse if r["b"] == b}):
                for op in order([r["op"] for r in sparse if r["b"] == b and r["density"] == d], OPS):
                    out.append(f"| {b} | {d:g} | {op} | " +
                               " | ".join(cell(index.get((b, d, op, lib))) for lib in libs) + " |")
        densities = {r["density"] for r in sparse}
        if len(densities) > 1:
            out += ["", "Break-even density (speedup = 1):", "", "| b | op | " + " | ".join(libs) + " |",
                    "|---|---|" + "---|" * len(libs)]
            for b in sorted({r["b"] for r in sparse}):
                for op in order([r["op"] for r in sparse if r["b"] == b], OPS):
                    cells = []
                    for lib in libs:
                        pts = [(r["density"], r["speedup_vs_dense"]) for r in sparse
                               if r["b"] == b and r["op"] == op and r["library"] == lib and r["status"] == "ok"]
                        cells.append(break_even(pts))
                    out.append(f"| {b} | {op} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def plots(rows, gpus, stem):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib not installed; PNG plots skipped (pip install matplotlib)")
        return []
    written = []
    groups = defaultdict(list)
    for r in rows:
        groups[group_key(r)].append(r)
    for key in sort_groups(groups):
        prec, N, C, K = key
        g = groups[key]
        sparse = [r for r in g if r["b"] and r["status"] == "ok" and r["eff_tflops"]]
        if not sparse:
            continue
        bs = sorted({r["b"] for r in sparse})
        ops = order([r["op"] for r in sparse], OPS)
        libs = order([r["library"] for r in sparse], LIB_ORDER)
        colors = {lib: f"C{i}" for i, lib in enumerate(libs)}
        fig, axes = plt.subplots(2 * len(ops), len(bs), figsize=(4.2 * len(bs), 3.0 * 2 * len(ops)), squeeze=False)
        for j, b in enumerate(bs):
            for i, op in enumerate(ops):
                ax_t, ax_s = axes[2 * i][j], axes[2 * i + 1][j]
                for lib in libs:
                    pts = sorted((r["density"], r["eff_tflops"], r["speedup_vs_dense"]) for r in sparse
                                 if r["b"] == b and r["op"] == op and r["library"] == lib)
                    if not pts:
                        continue
                    ax_t.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colors[lib], label=lib)
                    sp = [(p[0], p[2]) for p in pts if p[2] is not None]
                    if sp:
                        ax_s.plot([p[0] for p in sp], [p[1] for p in sp], "o-", color=colors[lib], label=lib)
                for r in g:
                    if r["library"] == "cublas-dense" and r["op"] == op and r["status"] == "ok":
                        ax_t.axhline(r["eff_tflops"], color="k", ls="--", lw=1, label="dense cuBLAS (whole W)")
                ax_s.axhline(1.0, color="k", ls="--", lw=1)
                ax_t.set_ylim(bottom=0)
                ax_s.set_ylim(bottom=0)
                ax_t.set_title(f"{op}, b = {b}: effective TFLOP/s", fontsize=9)
                ax_s.set_title(f"{op}, b = {b}: speedup over dense", fontsize=9)
                for ax in (ax_t, ax_s):
                    ax.set_xlabel("density", fontsize=8)
                    ax.grid(alpha=0.3)
                    ax.tick_params(labelsize=7)
        handles = {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=min(5, len(handles)),
                   fontsize=8)
        fig.suptitle(f"bsmm on {', '.join(gpus)}: {prec}, N = {N}, C = {C}, K = {K}", fontsize=11)
        fig.tight_layout(rect=(0, 0.04, 1, 0.97))
        path = f"{stem}_{prec}_N{N}_C{C}_K{K}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", nargs="+", help="CSV files of bench_bsmm_gpu and torch_peers.py")
    p.add_argument("--out", help="output stem (default: <dir of the first CSV>/report): <stem>.md, <stem>_*.png")
    args = p.parse_args()
    rows = load(args.csv)
    if not rows:
        print("report: no rows in", ", ".join(args.csv))
        return 1
    gpus = sorted({r["gpu"] for r in rows if r.get("gpu")}) or ["unknown GPU"]
    stem = args.out or os.path.join(os.path.dirname(os.path.abspath(args.csv[0])), "report")
    setup = []  # the harness's description of the run (versions, timing method), where present
    for path in args.csv:
        meta = os.path.splitext(path)[0] + "_meta.txt"
        if os.path.exists(meta):
            with open(meta) as f:
                setup += [line.strip() for line in f if line.strip() and line.strip() not in setup]
    with open(stem + ".md", "w") as f:
        f.write(markdown(rows, gpus, setup))
    print(f"report: wrote {stem}.md")
    for path in plots(rows, gpus, stem):
        print(f"report: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
