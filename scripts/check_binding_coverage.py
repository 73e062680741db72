#!/usr/bin/env python3
"""CTest bindings_coverage: every public function is reached by at least one binding, or listed
with a reason in bindings/unbound.txt.

Also fails on a stale list: a listed name that no header declares, or that a binding now reaches.
Prints, per binding, how many functions it reaches (and with --verbose the whole matrix).

usage: check_binding_coverage.py [--verbose] [--require BINDING...]
  --require  also fail when one of these bindings misses a non-experimental function
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from apigen import cheader, coverage  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
UNBOUND = ROOT / "bindings" / "unbound.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--require", nargs="*", default=[], choices=coverage.BINDINGS)
    args = parser.parse_args()
    api = cheader.parse(ROOT / "include" / "blocksparse")
    names = [f.name for f in api.functions]
    reached = coverage.reached(ROOT, names)
    unbound = coverage.read_unbound(UNBOUND)
    errors = []
    for f in api.functions:
        by = [b for b in coverage.BINDINGS if f.name in reached[b]]
        if args.verbose:
            print(f"{f.name:36s} {' '.join(b if b in by else '-' * len(b) for b in coverage.BINDINGS)}")
        if not by and f.name not in unbound:
            errors.append(f"{f.name} ({f.header}) is reached by no binding: bind it (Python at least, which the "
                          f"tests use) or list it in bindings/unbound.txt with the reason")
        if by and f.name in unbound:
            errors.append(f"{f.name} is listed in bindings/unbound.txt but {', '.join(by)} reach(es) it: "
                          f"drop it from the list")
        for b in args.require:
            if f.name not in reached[b] and not f.experimental:
                errors.append(f"{f.name} ({f.header}) is not reached by the {b} binding")
    for name in sorted(set(unbound) - set(names)):
        errors.append(f"bindings/unbound.txt lists {name}, which no public header declares")
    total = len(names)
    print("reached: " + ", ".join(f"{b} {len(reached[b])}/{total}" for b in coverage.BINDINGS)
          + f"; deliberately unbound: {len(unbound)}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
