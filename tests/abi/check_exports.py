#!/usr/bin/env python3
"""Label "abi": the shared library exports exactly the functions the public headers declare BS_API.

Parses every include/blocksparse/*.h (so headers added later are covered), lists the dynamic
symbols the library defines (nm -D --defined-only), and fails on a difference either way: a
declared function that is not exported (or not built), or an exported symbol no header declares
(a leak through the visibility settings or the version script lib/blocksparse.map). Also checks
the SONAME: lib<name>.so.<ABI major version>.

usage: check_exports.py --library LIB --headers DIR --soname SONAME
"""
import argparse
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from apigen import cheader  # noqa: E402


def declared_functions(header_dir):
    """{name: header} of the BS_API functions of the headers of header_dir (the one header parse
    that the bindings are generated from, scripts/apigen/cheader.py; experimental ones included:
    they are exported whether or not a caller defines BLOCKSPARSE_EXPERIMENTAL)."""
    return {f.name: f.header for f in cheader.parse(header_dir).functions}


def exported_symbols(library):
    """Names of the dynamic symbols the library defines, without version suffixes (the version
    node itself, type A, is not a symbol of the API)."""
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True,
                         text=True).stdout
    symbols = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] != "A":
            symbols.add(fields[2].split("@")[0])
    return symbols


def soname(library):
    out = subprocess.run(["readelf", "-d", library], check=True, capture_output=True, text=True).stdout
    match = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return match.group(1) if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--headers", required=True)
    parser.add_argument("--soname", required=True)
    args = parser.parse_args()

    declared = declared_functions(args.headers)
    exported = exported_symbols(args.library)
    errors = []
    if not declared:
        errors.append(f"no BS_API function found in {args.headers}/*.h")
    for name in sorted(set(declared) - exported):
        errors.append(f"declared BS_API in {declared[name]} but not exported: {name}")
    for name in sorted(exported - set(declared)):
        errors.append(f"exported but declared BS_API in no public header: {name}")
    actual_soname = soname(args.library)
    if actual_soname != args.soname:
        errors.append(f"SONAME is {actual_soname}, expected {args.soname}")

    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"{len(exported)} exported symbols = {len(declared)} BS_API functions of the headers; "
          f"SONAME {actual_soname}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
