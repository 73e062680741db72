"""bindings/go/api_gen.go: the Go constants of the C API (every enum as a Go type, every #define).

cgo reads the functions and structs from the headers itself (the hand-written files call them as
`C.name`); what it cannot give is idiomatic Go names with documentation, so the enums and
constants come from here, with their values written out (pure Go, no cgo in this file: an
experimental value needs no `BLOCKSPARSE_EXPERIMENTAL` to compile, and go doc shows the values).

Naming: an enum `foo_bar_t` becomes the Go type `FooBar`, its member `FOO_BAR_BAZ_QUX` the
constant `FooBarBazQux` (the members' common prefix replaced by the type name); `_GO_ENUMS` keeps
the names the binding had before generation, or unexported ones for enums only the binding itself
uses. A header added later needs no entry here: its enums get the default names.
"""
from __future__ import annotations

from . import cheader
from .common import NOTICE, comment_lines

PATH = "bindings/go/api_gen.go"

# typedef -> (Go type, constant prefix, constant suffix, String from the C names).
_GO_ENUMS = {
    "bs_status_t": ("Status", "Status", "", False),  # Status.String asks the library (blocksparse.go)
    "bs_dtype_t": ("DType", "", "", True),
    "bs_backend_t": ("Backend", "", "", True),
    "bs_math_mode_t": ("MathMode", "Math", "", True),
    "bsmm_attr_t": ("bsmmAttr", "bsmmAttr", "", False),
    "bsmm_op_t": ("bsmmOp", "bsmmOp", "", False),
    "layernorm_op_t": ("LayerNormOp", "LayerNorm", "Op", True),
    "bs_ew_binary_op_t": ("BinaryOp", "Binary", "", True),
    "bs_ew_unary_op_t": ("UnaryOp", "Unary", "", True),
    "bs_act_t": ("Activation", "Act", "", True),
}
# Words kept upper-case in Go names.
_ACRONYMS = frozenset({"CPU", "CUDA", "TF32", "F32", "F16", "BF16", "LSTM", "ID"})


def camel(words) -> str:
    return "".join(w if w in _ACRONYMS else w[:1].upper() + w[1:].lower() for w in words)


def _common_prefix(names: list) -> int:
    """How many leading `_` words all names share (at least one word of each is kept)."""
    split = [n.split("_") for n in names]
    n = 0
    while all(len(s) > n + 1 for s in split) and len({s[n] for s in split}) == 1:
        n += 1
    return n


def go_enum(e: cheader.Enum) -> tuple:
    if e.name in _GO_ENUMS:
        return _GO_ENUMS[e.name]
    base = e.name[:-2] if e.name.endswith("_t") else e.name
    words = [w for w in base.split("_") if w]
    gotype = camel(words[1:] if words[0] == "bs" and len(words) > 1 else words)
    return gotype, gotype, "", True


def _lower(text: str | None) -> str:
    """A brief continuing a sentence: first letter lower-case unless it starts an acronym."""
    text = text or ""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _doc(text: str, name: str, indent: str = "") -> list:
    """A Go doc comment that starts with the name it documents (go vet's convention)."""
    text = " ".join(text.split())
    return comment_lines(f"{name} {text}" if text else name, indent + "// ")


def emit(api: cheader.Api) -> str:
    out = [f"// {NOTICE}", "", "package blocksparse", "", 'import "strconv"']
    for h in api.headers:
        section = []
        for e in h.enums:
            gotype, prefix, suffix, stringer = go_enum(e)
            names = [m.name for m in e.values]
            skip = _common_prefix(names)
            consts = [(prefix + camel(m.name.split("_")[skip:]) + suffix, m) for m in e.values]
            exp = " Experimental (a BLOCKSPARSE_EXPERIMENTAL section of the headers)." if e.experimental else ""
            section += [""] + _doc(f"is {e.name}: {_lower(e.brief)}{exp}", gotype)
            section.append(f"type {gotype} int32")
            section += ["", f"// The values of {e.name}.", "const ("]
            for goname, m in consts:
                if m.doc:
                    section += comment_lines(m.doc, "\t// ")
                section.append(f"\t{goname} {gotype} = {m.value} // {m.name}")
            section.append(")")
            if stringer:
                section += ["", f"// String is the C name of the value (\"{names[0]}\").",
                            f"func (v {gotype}) String() string {{", "\tswitch v {"]
                for goname, m in consts:
                    section += [f"\tcase {goname}:", f'\t\treturn "{m.name}"']
                section += ["\t}", f'\treturn "{e.name}(" + strconv.Itoa(int(v)) + ")"', "}"]
        for d in h.defines:
            words = d.name.split("_")
            goname = camel(words[1:] if words[0] == "BS" else words)
            exp = " Experimental." if d.experimental else ""
            section += [""] + _doc(f"is {d.name}: {_lower(d.brief)}{exp}", goname)
            if isinstance(d.value, tuple):
                section += [f"func {goname}() []int {{ return []int{{{', '.join(map(str, d.value))}}} }}"]
            elif isinstance(d.value, str):
                section.append(f'const {goname} = "{d.value}"')
            else:
                section.append(f"const {goname} = {d.value}")
        if section:
            out += ["", f"// {h.name} " + "-" * max(0, 96 - len(h.name))] + section
    return "\n".join(out) + "\n"
