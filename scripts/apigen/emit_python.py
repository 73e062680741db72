"""bindings/python/blocksparse/_ffi.py: the ctypes prototypes, struct mirrors and constants."""
from __future__ import annotations

from . import cheader
from .common import NOTICE, docstring_lines, wrap_items

PATH = "bindings/python/blocksparse/_ffi.py"

_SCALARS = {
    "char": "ctypes.c_char", "int": "ctypes.c_int", "float": "ctypes.c_float", "double": "ctypes.c_double",
    "size_t": "ctypes.c_size_t", "int8_t": "ctypes.c_int8", "uint8_t": "ctypes.c_uint8",
    "int16_t": "ctypes.c_int16", "uint16_t": "ctypes.c_uint16", "int32_t": "ctypes.c_int32",
    "uint32_t": "ctypes.c_uint32", "int64_t": "ctypes.c_int64", "uint64_t": "ctypes.c_uint64",
}
# Enums are 32 bits wide on every compiler (each has a *_FORCE_INT32 = 0x7fffffff sentinel).
_ENUM = "ctypes.c_int32"


def ctype_of(api: cheader.Api, t: cheader.CType, where: str, is_return: bool = False, field: bool = False) -> str:
    """The ctypes type of a parameter, field or return value.

    Data pointers are c_void_p, which takes an int address, None, a ctypes array or byref(); only
    pointers the wrappers pass as ctypes objects are typed: params structs (POINTER(struct)), the
    plan out-parameter of *_create (POINTER(c_void_p)), pointer arrays (POINTER(c_void_p)) and
    strings (c_char_p)."""
    kind, target, ptrs = api.resolve(t, where)
    if not ptrs:
        if kind == "builtin":
            if target == "void":
                if is_return:
                    return "None"
                raise cheader.ParseError(f"{where}: void parameter")
            return _SCALARS[target]
        if kind == "enum":
            return _ENUM
        if kind == "handle":
            return "ctypes.c_void_p"
        if field:
            return target  # a struct member of a struct (defined earlier in the header)
        raise cheader.ParseError(f"{where}: struct {target} passed by value (the C ABI rules forbid it)")
    if len(ptrs) == 1:
        if kind == "builtin" and target == "char":
            return "ctypes.c_char_p"
        if kind == "struct" and not is_return:
            return f"ctypes.POINTER({target})"
        if kind == "handle":
            return "ctypes.POINTER(ctypes.c_void_p)"
        return "ctypes.c_void_p"
    return "ctypes.POINTER(ctypes.c_void_p)"


def _field_type(api, f: cheader.Field, where: str) -> str:
    base = ctype_of(api, cheader.CType(f.type.base, f.type.const, f.type.ptrs), where, field=True)
    for n in reversed(f.type.array):
        base = f"{base} * {n}"
    return base


def emit(api: cheader.Api) -> str:
    out = [
        f"# {NOTICE}",
        '"""ctypes declarations of the blocksparse C API, generated from its public headers.',
        "",
        "- one constant per enum value and ``#define`` constant (``BS_STATUS_SHAPE_MISMATCH = 3``), and",
        "  ``ENUMS``: {enum typedef: {member: value}} (the ``*_FORCE_INT32`` sentinels left out);",
        "- one ``ctypes.Structure`` per params struct, named as its C typedef (``bsmm_params_t``);",
        "- ``PROTOTYPES``: {function: (restype, argtypes)} of every ``BS_API`` function, and",
        "  ``EXPERIMENTAL``: the functions declared in ``BLOCKSPARSE_EXPERIMENTAL`` sections (bound all",
        "  the same: the tests reach them through Python).",
        '"""',
        "import ctypes",
    ]
    enums = {}
    for h in api.headers:
        section = []
        for d in h.defines:
            section.append(f"{d.name} = {d.value!r}  # {d.brief}" if d.brief else f"{d.name} = {d.value!r}")
        for e in h.enums:
            section.append(f"# {e.name}: {e.brief}" if e.brief else f"# {e.name}")
            for m in e.values:
                section.append(f"{m.name} = {m.value}")
            enums[e.name] = e
        for s in h.structs:
            where = f"{h.name}: {s.name}"
            section += ["", "", f"class {s.name}(ctypes.Structure):"]
            section += docstring_lines(s.brief or s.name, "    ")
            section += ["", "    _fields_ = ["]
            for f in s.fields:
                section.append(f'        ("{f.name}", {_field_type(api, f, where)}),')
            section += ["    ]", ""]
        if section:
            out += ["", "", f"# {h.name} " + "-" * max(0, 96 - len(h.name))]
            out.extend(section)
            if section[-1] == "":
                out.pop()
    out += ["", ""]
    out.append("ENUMS = {")
    for name, e in enums.items():
        items = [f'"{m.name}": {m.value}' for m in e.values]
        out.extend(wrap_items(f'    "{name}": {{', items, "},", " " * 8))
    out.append("}")
    out.append("")
    out.append("PROTOTYPES = {")
    for f in api.functions:
        where = f"{f.header}: {f.name}"
        res = ctype_of(api, f.returns, where, is_return=True)
        args = [ctype_of(api, p.type, f"{where}({p.name})") for p in f.params]
        out.extend(wrap_items(f'    "{f.name}": ({res}, [', args, "]),", " " * 8))
    out.append("}")
    out.append("")
    exp = sorted(f.name for f in api.functions if f.experimental)
    if exp:
        out.extend(wrap_items("EXPERIMENTAL = frozenset({", [f'"{n}"' for n in exp], "})", "    "))
    else:
        out.append("EXPERIMENTAL = frozenset()")
    return "\n".join(out) + "\n"
