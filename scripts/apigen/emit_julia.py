"""bindings/julia/src/LibBlocksparse.jl: the ccall layer of the Julia binding.

One Julia function per C function, named as in C, taking the C arguments in order and returning
the C result (a status, or a Cstring); the safe layer (Blocksparse.jl and its family files) calls
these and checks the statuses. Function pointers are looked up once, when the module is loaded
(`__init__`), from the library named by `BLOCKSPARSE_LIBRARY` (else `libblocksparse` on the
loader path), so that later calls, finalizers included, take no lock. A function the loaded
library lacks (an older build) throws when called.
"""
from __future__ import annotations

from . import cheader
from .common import NOTICE, comment_lines, docstring_lines, wrap_items

PATH = "bindings/julia/src/LibBlocksparse.jl"

_SCALARS = {
    "void": "Cvoid", "char": "UInt8", "int": "Cint", "float": "Float32", "double": "Float64", "size_t": "Csize_t",
    "int8_t": "Int8", "uint8_t": "UInt8", "int16_t": "Int16", "uint16_t": "UInt16", "int32_t": "Int32",
    "uint32_t": "UInt32", "int64_t": "Int64", "uint64_t": "UInt64",
}
_KEYWORDS = frozenset("""baremodule begin break catch const continue do else elseif end export false finally for
    function global if import let local macro module quote return struct true try using while in isa where outer
    abstract mutable primitive type""".split())


def _jdoc(text: str) -> list:
    """Docstring lines (Julia interpolates `$` in strings: escaped)."""
    return [ln.replace("$", "\\$") for ln in docstring_lines(text, "")]


def _ident(name: str) -> str:
    return name + "_" if name in _KEYWORDS else name


def julia_type(api: cheader.Api, t: cheader.CType, where: str, is_return: bool = False, field: bool = False) -> str:
    """The ccall type of a C type. Params structs go by `Ref{T}` (T is a mutable struct, so a
    `T` or a `Ref{T}` may be passed); data pointers are typed `Ptr{T}` (arrays and Refs convert)."""
    t = t.decayed()
    kind, target, ptrs = api.resolve(t, where)
    if is_return and kind == "builtin" and target == "char" and len(ptrs) == 1:
        return "Cstring"
    if kind == "struct":
        if field and not ptrs:
            return target  # a struct field by value: an immutable (inline, isbits) Julia struct
        if len(ptrs) != 1:
            raise cheader.ParseError(f"{where}: struct {target} must be passed by pointer")
        inner = f"Ref{{{target}}}"
        return inner
    # Typedef names are kept where the module defines them (handles, enums, bs_stream_t).
    named = t.base if api.typedef(t.base) is not None else _SCALARS[target]
    out = named
    for _ in t.ptrs:
        out = f"Ptr{{{out}}}"
    return out


def _julia_field(api, f: cheader.Field, where: str) -> str:
    t = cheader.CType(f.type.base, f.type.const, f.type.ptrs)
    base = julia_type(api, t, where, field=True)
    for n in reversed(f.type.array):
        base = f"NTuple{{{n},{base}}}"
    return base


def _zero(api, f: cheader.Field, where: str) -> str:
    ty = _julia_field(api, f, where)
    if f.type.array:
        return f"ntuple(_ -> zero({julia_type(api, cheader.CType(f.type.base), where)}), {f.type.array[0]})"
    if ty.startswith("Ptr{"):
        return "C_NULL"
    return f"{ty}()" if api.resolve(f.type.decayed(), where)[0] == "struct" else f"zero({ty})"


def _ccall(sig: str, fp: str, name: str, ret: str, types: list, names: list) -> list:
    """`sig = ccall(fptr, ret, (types...), args...)` on one line, else laid out over several."""
    tup = "(" + ", ".join(types) + ("," if len(types) == 1 else "") + ")"
    head = f"ccall(_fptr({fp}, :{name}), {ret}, "
    one = f"{sig} = {head}{tup}" + "".join(f", {n}" for n in names) + ")"
    if len(one) <= 120:
        return [one]
    lines = [f"{sig} =", f"    {head.rstrip()}"]
    if len(types) == 1:
        lines += [f"          {tup}" + ("," if names else ")")]
    else:
        lines += wrap_items("          (", types, ")" + ("," if names else "))"), "           ")
    if names:
        lines += wrap_items("          ", names, ")", "          ")
    return lines


def _define(d: cheader.Define) -> str:
    if isinstance(d.value, tuple):
        return f"const {d.name} = ({', '.join(str(v) for v in d.value)},)"
    if isinstance(d.value, str):
        return f'const {d.name} = "{d.value}"'
    return f"const {d.name} = {d.value}"


def emit(api: cheader.Api) -> str:
    out = [f"# {NOTICE}", '"""', "    LibBlocksparse", "",
           "The `ccall` layer of the blocksparse C API, generated from its public headers: the enum and",
           "`#define` constants, one mutable struct per params struct (zero-filled by its no-argument",
           "constructor; fill it with the C `*_params_init`), and one function per C function, named and",
           "ordered as in C, returning the C result. `EXPERIMENTAL` names the functions of the headers'",
           "`BLOCKSPARSE_EXPERIMENTAL` sections. The safe API is the enclosing module `Blocksparse`.",
           '"""', "module LibBlocksparse", "", "using Libdl"]
    fptrs = []
    # Structs that other structs hold by value are immutable in Julia, so that they are stored inline
    # (a mutable struct field would be a reference, not the C layout).
    inline = {f.type.base for h in api.headers for st in h.structs for f in st.fields
              if not f.type.ptrs and api.resolve(cheader.CType(f.type.base), st.name)[0] == "struct"}
    for h in api.headers:
        section = []
        for d in h.defines:
            if d.brief:
                section += _jdoc(d.brief)
            section.append(_define(d))
        for a in h.aliases:
            section += _jdoc(a.brief) if a.brief else []
            section.append(f"const {a.name} = {julia_type(api, a.type, h.name)}")
        for x in h.handles:
            section += _jdoc(x.brief) if x.brief else []
            section.append(f"const {x.name} = Ptr{{Cvoid}}")
        for e in h.enums:
            section += _jdoc(e.brief) if e.brief else []
            section.append(f"const {e.name} = Int32")
            for m in e.values:
                section.append(f"const {m.name} = {e.name}({m.value})")
        for s in h.structs:
            where = f"{h.name}: {s.name}"
            section += _jdoc(s.brief or s.name)
            section.append(f"{'struct' if s.name in inline else 'mutable struct'} {s.name}")
            section += [f"    {_ident(f.name)}::{_julia_field(api, f, where)}" for f in s.fields]
            section.append("end")
            zeros = [_zero(api, f, where) for f in s.fields]
            section += wrap_items(f"{s.name}() = {s.name}(", zeros, ")", "    ")
        for f in h.functions:
            where = f"{h.name}: {f.name}"
            fp = f"_fp_{f.name}"
            fptrs.append((f.name, fp))
            names = [_ident(p.name) for p in f.params]
            types = [julia_type(api, p.type, f"{where}({p.name})") for p in f.params]
            ret = julia_type(api, f.returns, where, is_return=True)
            sig = f"{f.name}(" + ", ".join(names) + ")"
            section.append(f"const {fp} = Ref{{Ptr{{Cvoid}}}}(C_NULL)")
            doc = f"    {sig}\n\n" + "\n".join(comment_lines(f.brief, "")) if f.brief else f"    {sig}"
            if f.experimental:
                doc += "\n\nExperimental (a `BLOCKSPARSE_EXPERIMENTAL` section of the headers)."
            section += ['"""', *doc.replace("\\", "\\\\").replace("$", "\\$").split("\n"), '"""']
            section += _ccall(sig, fp, f.name, ret, types, names)
        if section:
            out += ["", f"# {h.name} " + "-" * max(0, 96 - len(h.name))]
            out += section
    exp = [f":{f.name}" for f in api.functions if f.experimental]
    out += ["", "# Loading " + "-" * 89, ""]
    out += wrap_items("const EXPERIMENTAL = (", exp, ",)" if len(exp) == 1 else ")", "    ")
    out += ["", "const _FPTRS = ("]
    out += [f"    :{name} => {fp}," for name, fp in fptrs]
    out += [")", "",
            "function _fptr(ref::Base.RefValue{Ptr{Cvoid}}, name::Symbol)",
            "    p = ref[]",
            "    p == C_NULL && error(\"libblocksparse: the loaded library has no function $name\")",
            "    return p",
            "end",
            "",
            "function __init__()",
            "    lib = Libdl.dlopen(get(ENV, \"BLOCKSPARSE_LIBRARY\", \"libblocksparse\"))",
            "    for (name, ref) in _FPTRS",
            "        p = Libdl.dlsym(lib, name; throw_error = false)",
            "        ref[] = p === nothing ? C_NULL : p",
            "    end",
            "end",
            "",
            "end # module"]
    return "\n".join(out) + "\n"
