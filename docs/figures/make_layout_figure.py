#!/usr/bin/env python3
"""Draws docs/figures/layout_block_order.svg: a 3 x 4 block layout, the index of each nonzero block
in the weight array W (row-major order of (c, k)), and W itself as nnz stacked b x b blocks.

Run from anywhere: python3 docs/figures/make_layout_figure.py (standard library only).
"""
import pathlib

LAYOUT = [[1, 0, 1, 0],
          [0, 1, 1, 0],
          [1, 0, 0, 1]]
CELL = 56          # pixels per block in the layout
W_CELL = 34        # pixels per block in the W strip
FILL = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"]


def text(x, y, s, size=14, anchor="middle", weight="normal", fill="#222"):
    return (f'<text x="{x}" y="{y}" font-family="sans-serif" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{s}</text>')


def main():
    cb, kb = len(LAYOUT), len(LAYOUT[0])
    x0, y0 = 120, 70
    parts = []
    parts.append(text(x0 + kb * CELL / 2, 24, "layout (CB = 3, KB = 4): 1 = block present", 15, weight="bold"))
    parts.append(text(x0 + kb * CELL / 2, 50, "output block k  (output features k·b … k·b+b−1)", 13))
    for k in range(kb):
        parts.append(text(x0 + k * CELL + CELL / 2, y0 - 4, f"k={k}", 12))
    parts.append(f'<g transform="translate(62,{y0 + cb * CELL / 2}) rotate(-90)">'
                 + text(0, 0, "input block c", 13) + "</g>")
    coords = []
    for c in range(cb):
        parts.append(text(x0 - 10, y0 + c * CELL + CELL / 2 + 5, f"c={c}", 12, anchor="end"))
        for k in range(kb):
            x, y = x0 + k * CELL, y0 + c * CELL
            if LAYOUT[c][k]:
                i = len(coords)
                coords.append((c, k))
                parts.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{FILL[i]}" stroke="#333"/>')
                parts.append(text(x + CELL / 2, y + CELL / 2 + 6, f"W[{i}]", 15, weight="bold", fill="#fff"))
            else:
                parts.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="#f4f4f4" stroke="#bbb"/>')
                parts.append(text(x + CELL / 2, y + CELL / 2 + 5, "0", 13, fill="#aaa"))
    # The weight array: nnz blocks of b x b, in row-major order of (c, k).
    wx, wy = x0 + kb * CELL + 110, y0
    parts.append(text(wx + W_CELL / 2 + 40, 24, "W: (nnz, b, b)", 15, weight="bold"))
    parts.append(text(wx + W_CELL / 2 + 40, 50, "row-major order of (c, k)", 13))
    for i, (c, k) in enumerate(coords):
        y = wy + i * W_CELL
        parts.append(f'<rect x="{wx}" y="{y}" width="{W_CELL}" height="{W_CELL}" fill="{FILL[i]}" stroke="#333"/>')
        parts.append(text(wx + W_CELL / 2, y + W_CELL / 2 + 5, str(i), 13, weight="bold", fill="#fff"))
        parts.append(text(wx + W_CELL + 8, y + W_CELL / 2 + 5, f"(c={c}, k={k})", 12, anchor="start"))
    row_ptr = [0]
    for row in LAYOUT:
        row_ptr.append(row_ptr[-1] + sum(row))
    col_idx = [k for row in LAYOUT for k, v in enumerate(row) if v]
    by = max(y0 + cb * CELL, wy + len(coords) * W_CELL) + 34
    parts.append(text(x0, by, f"BSR form: row_ptr = {row_ptr},  col_idx = {col_idx}", 13, anchor="start"))
    parts.append(text(x0, by + 22, "block i = entry i of col_idx; W is the data array of the BSR matrix (C, K)",
                      13, anchor="start"))
    width, height = max(wx + W_CELL + 130, x0 + 600), by + 36
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">\n<rect width="100%" height="100%" fill="#fff"/>\n'
           + "\n".join(parts) + "\n</svg>\n")
    out = pathlib.Path(__file__).with_name("layout_block_order.svg")
    out.write_text(svg)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
