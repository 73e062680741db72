"""Which public functions each binding reaches: a call from its hand-written (not generated) source,
comments and strings stripped. The conventions the scan relies on, one per binding:

- Python (bindings/python/blocksparse/*.py): an attribute access `lib.NAME` / `_lib().NAME`;
- Rust (bindings/rust/blocksparse/src/**/*.rs): a path `sys::NAME` (the safe crate imports
  blocksparse-sys as `sys`);
- Go (bindings/go/*.go, tests excluded): a cgo reference `C.NAME`, or a call `NAME(` in the C
  preamble of a file;
- Julia (bindings/julia/src/*.jl, the generated LibBlocksparse.jl excluded): `L.NAME` or
  `LibBlocksparse.NAME`.
"""
from __future__ import annotations

import io
import pathlib
import re
import tokenize

BINDINGS = ("python", "rust", "go", "julia")


def _python_source(path: pathlib.Path) -> str:
    """The code of a Python file without comments and string literals (docstrings name C functions)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.STRING):
            out.append(tok.string)
    return " ".join(out)


def _strip_slashes(text: str) -> str:
    """Drops `//` line comments and "..." strings (Rust, Go)."""
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    return re.sub(r"//[^\n]*", "", text)


def _go_source(path: pathlib.Path) -> str:
    text = path.read_text()
    # The cgo preamble: the comment right before `import "C"` is C code, where calls count.
    preamble = "".join(re.findall(r"/\*(.*?)\*/\s*import \"C\"", text, re.S))
    calls = " ".join(f"C.{m}" for m in re.findall(r"\b(\w+)\s*\(", re.sub(r"//[^\n]*", "", preamble)))
    return _strip_slashes(re.sub(r"/\*.*?\*/", "", text, flags=re.S)) + " " + calls


def _julia_source(path: pathlib.Path) -> str:
    text = re.sub(r'"""(?:.|\n)*?"""', '""', path.read_text())
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    return re.sub(r"#[^\n]*", "", text)


def _sources(root: pathlib.Path, binding: str) -> list:
    if binding == "python":
        return [_python_source(p) for p in sorted((root / "bindings/python/blocksparse").glob("*.py"))
                if p.name != "_ffi.py"]
    if binding == "rust":
        return [_strip_slashes(p.read_text()) for p in sorted((root / "bindings/rust/blocksparse/src").rglob("*.rs"))]
    if binding == "go":
        return [_go_source(p) for p in sorted((root / "bindings/go").glob("*.go")) if not p.name.endswith("_test.go")]
    return [_julia_source(p) for p in sorted((root / "bindings/julia/src").glob("*.jl"))
            if p.name != "LibBlocksparse.jl"]


_PATTERN = {
    "python": r"\.\s*({names})\b",
    "rust": r"\b(?:blocksparse_)?sys::({names})\b",
    "go": r"\bC\.({names})\b",
    "julia": r"\b(?:L|LibBlocksparse)\.({names})\b",
}


def reached(root, names: list) -> dict:
    """{binding: set of the names its sources reach}."""
    root = pathlib.Path(root)
    alternation = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    out = {}
    for binding in BINDINGS:
        pattern = re.compile(_PATTERN[binding].format(names=alternation))
        found = set()
        for text in _sources(root, binding):
            found.update(pattern.findall(text))
        out[binding] = found
    return out


def read_unbound(path) -> dict:
    """{name: reason} of the deliberately unbound list: `name: reason` lines, `#` comments."""
    out = {}
    for n, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, reason = line.partition(":")
        if not sep or not reason.strip():
            raise ValueError(f"{path}:{n}: expected `name: reason`")
        out[name.strip()] = reason.strip()
    return out
