#!/usr/bin/env python3
"""Generates the declaration layers of the bindings and the API index from the public headers.

One parse of include/blocksparse/*.h (scripts/apigen/cheader.py) gives:
  python  bindings/python/blocksparse/_ffi.py       ctypes prototypes, struct mirrors, constants
  rust    bindings/rust/blocksparse-sys/src/lib.rs  the -sys crate's extern "C" declarations
  julia   bindings/julia/src/LibBlocksparse.jl      the ccall layer
  go      bindings/go/api_gen.go                    the enums and constants (cgo reads the functions)
  docs    docs/api_index.md                         every public function by header, with its brief
The outputs are committed; run this after changing a public header (`make bindings`).

usage: gen_bindings.py [--check] [--headers DIR] [TARGET...]   (default: every target)
  --check  write nothing; exit 1 (printing a diff) when a committed file differs from what the
           headers generate now (the CTests bindings_generated_current and docs_api_index_current)
"""
from __future__ import annotations

import argparse
import difflib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from apigen import cheader, emit_docs, emit_go, emit_julia, emit_python, emit_rust  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGETS = {"python": emit_python, "rust": emit_rust, "julia": emit_julia, "go": emit_go, "docs": emit_docs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", choices=[[]] + sorted(TARGETS), help="default: all")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--headers", default=str(ROOT / "include" / "blocksparse"))
    args = parser.parse_args()
    try:
        api = cheader.parse(args.headers)
    except cheader.ParseError as e:
        print(f"gen_bindings: {e}", file=sys.stderr)
        return 2
    stale = []
    for name in args.targets or sorted(TARGETS):
        module = TARGETS[name]
        text = module.emit(api)
        path = ROOT / module.PATH
        old = path.read_text() if path.exists() else ""
        if args.check:
            if old != text:
                stale.append(module.PATH)
                diff = difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                            f"{module.PATH} (committed)", f"{module.PATH} (from the headers)")
                sys.stdout.writelines(list(diff)[:200])
        elif old != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {module.PATH}")
    if stale:
        print(f"\nstale: {', '.join(stale)}\nregenerate with `make bindings` (python3 scripts/gen_bindings.py) "
              f"and commit the result", file=sys.stderr)
        return 1
    if args.check:
        print(f"up to date: {len(api.functions)} functions of {len(api.headers)} headers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
