"""bindings/rust/blocksparse-sys/src/lib.rs: the raw extern "C" declarations of the -sys crate.

Pre-generated and committed (as zstd-sys does), never run at cargo build time. Only names of the
library's families are emitted (bs_, bsmm_, bsconv_, bst_, layernorm_, in any case), so nothing of
the C library headers leaks in. Enums are `pub type X = i32` plus constants, not Rust enums: a
later library may return a value this crate does not know, and an unknown discriminant of a Rust
enum is undefined behaviour. Items of BLOCKSPARSE_EXPERIMENTAL sections need the cargo feature
`experimental` (zstd-sys's model for ZSTD_STATIC_LINKING_ONLY).
"""
from __future__ import annotations

import re

from . import cheader
from .common import NOTICE, comment_lines

PATH = "bindings/rust/blocksparse-sys/src/lib.rs"
ALLOWLIST = re.compile(r"^(const_)?(bs|bsmm|bsconv|bst|layernorm)_", re.I)

_SCALARS = {
    "void": "c_void", "char": "c_char", "int": "c_int", "float": "f32", "double": "f64", "size_t": "usize",
    "int8_t": "i8", "uint8_t": "u8", "int16_t": "i16", "uint16_t": "u16", "int32_t": "i32", "uint32_t": "u32",
    "int64_t": "i64", "uint64_t": "u64",
}
_KEYWORDS = frozenset("""as async await break const continue crate dyn else enum extern false fn for if impl in let
    loop match mod move mut pub ref return self static struct super trait true type unsafe use where while abstract
    become box do final macro override priv try typeof unsized virtual yield""".split())
_FFI_NAMES = ("c_void", "c_char", "c_int")


def _ident(name: str) -> str:
    return f"r#{name}" if name in _KEYWORDS else name


def rust_type(t: cheader.CType) -> str:
    """The Rust spelling of a C type; typedef names are kept (the crate declares each of them)."""
    t = t.decayed()
    base = _SCALARS.get(t.base, t.base)
    out = ""
    for level in range(len(t.ptrs)):
        out += "*const " if t.pointee_const(level) else "*mut "
    return out + base


def _field_type(t: cheader.CType) -> str:
    inner = rust_type(cheader.CType(t.base, t.const, t.ptrs))
    for n in reversed(t.array):
        inner = f"[{inner}; {n}]"
    return inner


def _doc(lines: list, text: str, indent: str = "") -> None:
    if text:
        lines.extend(comment_lines(text, indent + "/// "))


def _cfg(lines: list, experimental: bool, indent: str = "") -> None:
    if experimental:
        lines.append(indent + '#[cfg(feature = "experimental")]')


def _check_allowed(name: str, header: str) -> None:
    if not ALLOWLIST.match(name):
        raise cheader.ParseError(f"{header}: {name} has none of the prefixes of the Rust allowlist "
                                 f"({ALLOWLIST.pattern}); extend it in scripts/apigen/emit_rust.py")


def _define(d: cheader.Define) -> str:
    if isinstance(d.value, tuple):
        return f"pub const {d.name}: [i32; {len(d.value)}] = [{', '.join(str(v) for v in d.value)}];"
    if isinstance(d.value, str):
        return f'pub const {d.name}: &str = "{d.value}";'
    ty = "i32" if -2**31 <= d.value < 2**31 else "i64"
    return f"pub const {d.name}: {ty} = {d.value};"


def _function(lines: list, f: cheader.Function) -> None:
    _doc(lines, f.brief, "    ")
    if f.deprecated:
        lines.append(f'    #[deprecated(note = "{f.deprecated}")]')
    _cfg(lines, f.experimental, "    ")
    params = [f"{_ident(p.name)}: {rust_type(p.type)}" for p in f.params]
    ret = "" if rust_type(f.returns) == "c_void" and not f.returns.ptrs else f" -> {rust_type(f.returns)}"
    one = f"    pub fn {f.name}({', '.join(params)}){ret};"
    if len(one) <= 120:
        lines.append(one)
    else:  # rustfmt's layout: one parameter per line
        lines.append(f"    pub fn {f.name}(")
        lines.extend(f"        {p}," for p in params)
        lines.append(f"    ){ret};")


def _params_init_tests(api: cheader.Api) -> list:
    """A test per params struct with an `*_params_init(params*, size_t)`: the library accepts this
    crate's struct size, so the mirror has the C layout the library was built with."""
    inits = {f.name: f for f in api.functions}
    tests = []
    for s in api.structs:
        init = inits.get(s.name.removesuffix("_t") + "_init")
        if init is None or not s.fields or s.fields[0].name != "struct_size":
            continue
        tests += ["", _cfg_line(s.experimental or init.experimental) + "    #[test]",
                  f"    fn {s.name.removesuffix('_t')}_has_the_library_layout() {{",
                  f"        let mut p = {s.name}::default();",
                  f"        let st = unsafe {{ {init.name}(&mut p, std::mem::size_of::<{s.name}>()) }};",
                  "        assert_eq!(st, BS_STATUS_SUCCESS);",
                  f"        assert_eq!(p.struct_size as usize, std::mem::size_of::<{s.name}>());",
                  "    }"]
    return tests


def _cfg_line(experimental: bool) -> str:
    return '    #[cfg(feature = "experimental")]\n' if experimental else ""


def emit(api: cheader.Api) -> str:
    body = []
    for h in api.headers:
        section = []
        for d in h.defines:
            _check_allowed(d.name, h.name)
            _doc(section, d.brief)
            _cfg(section, d.experimental)
            section.append(_define(d))
        for a in h.aliases:
            _check_allowed(a.name, h.name)
            _doc(section, a.brief)
            _cfg(section, a.experimental)
            section.append(f"pub type {a.name} = {rust_type(a.type)};")
        for tag in dict.fromkeys(x.tag for x in h.handles):
            group = [x for x in h.handles if x.tag == tag]
            exp = any(x.experimental for x in group)
            section.append("/// The opaque object behind " + " and ".join(f"`{x.name}`" for x in group)
                           + " (never constructed in Rust).")
            _cfg(section, exp)
            section += ["#[repr(C)]", f"pub struct {tag} {{", "    _data: [u8; 0],",
                        "    _marker: PhantomData<(*mut u8, PhantomPinned)>,", "}"]
            for x in group:
                _check_allowed(x.name, h.name)
                _doc(section, x.brief)
                _cfg(section, x.experimental)
                section.append(f"pub type {x.name} = {'*const' if x.const else '*mut'} {tag};")
        for e in h.enums:
            _check_allowed(e.name, h.name)
            _doc(section, e.brief)
            _cfg(section, e.experimental)
            section.append(f"pub type {e.name} = i32;")
            for m in e.values:
                _doc(section, m.doc)
                _cfg(section, e.experimental)
                section.append(f"pub const {m.name}: {e.name} = {m.value};")
        for s in h.structs:
            _check_allowed(s.name, h.name)
            _doc(section, s.brief)
            floats = any(f.type.base in ("float", "double") for f in s.fields)
            pointers = any(f.type.ptrs for f in s.fields)
            derives = ["Clone", "Copy", "Debug"] + ([] if pointers else ["Default"]) + ["PartialEq"]
            derives += [] if floats else ["Eq"]
            _cfg(section, s.experimental)
            section += ["#[repr(C)]", f"#[derive({', '.join(derives)})]", f"pub struct {s.name} {{"]
            for f in s.fields:
                _doc(section, f.doc, "    ")
                section.append(f"    pub {_ident(f.name)}: {_field_type(f.type)},")
            section.append("}")
        if h.functions:
            section.append("")
            section.append("extern \"C\" {")
            for f in h.functions:
                _check_allowed(f.name, h.name)
                _function(section, f)
            section.append("}")
        if section:
            body += [""] + comment_lines(f"{h.name}: {h.brief}" if h.brief else h.name, "// ")
            body += section
    text = "\n".join(body)
    uses = [n for n in _FFI_NAMES if re.search(rf"\b{n}\b", text)]
    head = [f"//! {NOTICE}", "//!",
            "//! Raw declarations of the blocksparse C ABI (`include/blocksparse/*.h`): see the `blocksparse` crate",
            "//! for the safe API. Enums are plain `i32` constants, not Rust enums, because a later library may",
            "//! return values this crate does not know (an unknown discriminant of a Rust enum is undefined",
            "//! behaviour). Items of the headers' `BLOCKSPARSE_EXPERIMENTAL` sections need the cargo feature",
            "//! `experimental`.",
            "#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, clippy::all)]"]
    if "c_void" in uses:
        head.append("use std::ffi::c_void;")
    if "PhantomData" in text:
        head.append("use std::marker::{PhantomData, PhantomPinned};")
    raw = [n for n in uses if n != "c_void"]
    if raw:
        head.append(f"use std::os::raw::{{{', '.join(raw)}}};" if len(raw) > 1 else f"use std::os::raw::{raw[0]};")
    tests = _params_init_tests(api)
    tail = []
    if tests:
        tail = ["", "#[cfg(test)]", "mod tests {", "    use super::*;"]
        for line in tests:
            tail.extend(line.split("\n") if line else [""])
        tail.append("}")
    return "\n".join(head + body + tail) + "\n"
